// /v1 routes of settings drafts (the anchor's /v1/vpgSettings): open a draft, read or replace its parts
// (each checked by its JSON Schema here), discard it, or commit it into a group (groups/settings-drafts.ts).
import type { ManagerParts } from '../manager-parts.js';
import { DRAFT_PARTS, type DraftPart } from '../groups/settings-drafts.js';
import type { DraftBody } from '../store.js';
import { id, obj, params, userOf, type RouteSpec, type Schema } from './route-spec.js';

export const draftPartSchemas: Record<DraftPart, Schema> = {
  basic: obj({
    name: { type: 'string', minLength: 1, maxLength: 80 },
    rpoInSeconds: { type: 'integer', minimum: 1, maximum: 86_400 },
    journalHistoryInHours: { type: 'number', exclusiveMinimum: 0, maximum: 720 },
    testIntervalInMinutes: { type: 'integer', minimum: 0, maximum: 525_600 },
    priority: { enum: [0, 1, 2] },
    useWanCompression: { type: 'boolean' },
    protectedSiteIdentifier: id,
    recoverySiteIdentifier: id,
    checkpointIntervalInMs: { type: 'integer', minimum: 100, maximum: 3_600_000 },
    replicationPauseTimeInMinutes: { type: 'number', minimum: 0, maximum: 1440 },
  }),
  journal: obj({
    datastoreIdentifier: id,
    limitation: obj({
      hardLimitInMB: { type: 'number', exclusiveMinimum: 0 }, hardLimitInPercent: { type: 'number', exclusiveMinimum: 0, maximum: 100 },
      warningThresholdInMB: { type: 'number', exclusiveMinimum: 0 }, warningThresholdInPercent: { type: 'number', exclusiveMinimum: 0, maximum: 100 },
    }),
  }),
  recovery: obj({ defaultHostIdentifier: id, defaultDatastoreIdentifier: id }),
  networks: obj({
    nics: {
      type: 'array', maxItems: 1000,
      items: obj({ vmIdentifier: id, nicIndex: { type: 'integer', minimum: 0, maximum: 64 }, liveNetworkIdentifier: id, testNetworkIdentifier: id, liveIpv4: { type: 'string', format: 'ipv4' }, testIpv4: { type: 'string', format: 'ipv4' } },
        ['vmIdentifier', 'nicIndex', 'liveNetworkIdentifier', 'testNetworkIdentifier']),
    },
  }),
  bootgroup: obj({
    bootGroups: { type: 'array', maxItems: 100, items: obj({ name: { type: 'string', minLength: 1, maxLength: 80 }, delayInSeconds: { type: 'integer', minimum: 0, maximum: 86_400 }, vmIdentifiers: { type: 'array', items: id, maxItems: 1000 } }, ['name', 'delayInSeconds', 'vmIdentifiers']) },
  }),
  vms: { type: 'array', maxItems: 1000, items: obj({ vmIdentifier: id }, ['vmIdentifier']) },
};

export function draftRoutes({ drafts }: Pick<ManagerParts, 'drafts'>): RouteSpec[] {
  const draftParams = obj({ vpgSettingsIdentifier: id }, ['vpgSettingsIdentifier']);
  const key = (req: Parameters<RouteSpec['handler']>[0]): string => params(req).vpgSettingsIdentifier;
  const routes: RouteSpec[] = [
    {
      method: 'POST', url: '/v1/vpgSettings', role: 'operator', tags: ['vpgSettings'], summary: 'Start a settings draft (for a new group, or a copy of an existing one with vpgIdentifier)',
      body: obj({ vpgIdentifier: id }),
      handler: async (req, reply) => reply.status(201).send({ vpgSettingsIdentifier: drafts.open((req.body as { vpgIdentifier?: string }).vpgIdentifier) }),
    },
    {
      method: 'GET', url: '/v1/vpgSettings/:vpgSettingsIdentifier', role: 'viewer', tags: ['vpgSettings'], summary: 'The whole draft', params: draftParams,
      handler: async (req) => {
        const d = drafts.get(key(req));
        return { vpgSettingsIdentifier: d.id, vpgIdentifier: d.groupId ?? null, ...d.body };
      },
    },
    {
      method: 'DELETE', url: '/v1/vpgSettings/:vpgSettingsIdentifier', role: 'operator', tags: ['vpgSettings'], summary: 'Discard the draft', params: draftParams,
      handler: async (req, reply) => {
        drafts.discard(key(req));
        return reply.status(204).send();
      },
    },
    {
      method: 'POST', url: '/v1/vpgSettings/:vpgSettingsIdentifier/commit', role: 'operator', tags: ['vpgSettings'], summary: 'Validate the draft and create or update the group', params: draftParams, body: obj({}),
      handler: async (req) => {
        const r = await drafts.commit(key(req), userOf(req));
        return { taskIdentifier: r.taskId, vpgIdentifier: r.groupId };
      },
    },
  ];
  for (const part of DRAFT_PARTS) {
    routes.push({
      method: 'GET', url: `/v1/vpgSettings/:vpgSettingsIdentifier/${part}`, role: 'viewer', tags: ['vpgSettings'], summary: `The draft's ${part}`, params: draftParams,
      handler: async (req) => drafts.get(key(req)).body[part],
    });
    routes.push({
      method: 'PUT', url: `/v1/vpgSettings/:vpgSettingsIdentifier/${part}`, role: 'operator', tags: ['vpgSettings'], summary: `Replace the draft's ${part}`, params: draftParams, body: draftPartSchemas[part],
      handler: async (req) => drafts.setPart(key(req), part, req.body as DraftBody[typeof part]),
    });
  }
  return routes;
}
