// /v1 routes of settings drafts (the anchor's /v1/vpgSettings): list, open a draft, read or replace its
// parts (each checked by its JSON Schema here) and, per VM, its placement, NICs and volumes, discard it,
// or commit it into a group (groups/settings-drafts.ts).
import type { ManagerParts } from '../manager-parts.js';
import { DRAFT_PARTS, type DraftPart } from '../groups/settings-drafts.js';
import type { DraftBody } from '../store.js';
import { closed } from './response-schemas.js';
import { body, id, json, listOf, noContent, obj, params, userOf, type RouteSpec, type Schema } from './route-spec.js';
import { iso } from './views.js';

const nicItem = { vmIdentifier: id, nicIndex: { type: 'integer', minimum: 0, maximum: 64 }, liveNetworkIdentifier: id, testNetworkIdentifier: id, liveIpv4: { type: 'string', format: 'ipv4' }, testIpv4: { type: 'string', format: 'ipv4' } };
const script = obj({
  command: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$', description: 'file name of an executable in the recovery appliance\'s scripts folder (no path)' },
  parameters: { type: 'array', maxItems: 32, items: { type: 'string', maxLength: 1024 } },
  timeoutInSeconds: { type: 'integer', minimum: 1, maximum: 3600 },
}, ['command', 'timeoutInSeconds']);
const vmPlacement = { recoveryHostIdentifier: id, recoveryDatastoreIdentifier: id };

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
      items: obj(nicItem, ['vmIdentifier', 'nicIndex', 'liveNetworkIdentifier', 'testNetworkIdentifier']),
    },
  }),
  bootgroup: obj({
    bootGroups: { type: 'array', maxItems: 100, items: obj({ name: { type: 'string', minLength: 1, maxLength: 80 }, delayInSeconds: { type: 'integer', minimum: 0, maximum: 86_400 }, vmIdentifiers: { type: 'array', items: id, maxItems: 1000 } }, ['name', 'delayInSeconds', 'vmIdentifiers']) },
  }),
  scripting: obj({ preRecovery: script, postRecovery: script }),
  vms: { type: 'array', maxItems: 1000, items: obj({ vmIdentifier: id, ...vmPlacement }, ['vmIdentifier']) },
};

export function draftRoutes({ drafts }: Pick<ManagerParts, 'drafts'>): RouteSpec[] {
  const draftParams = obj({ vpgSettingsIdentifier: id }, ['vpgSettingsIdentifier']);
  const vmParams = obj({ vpgSettingsIdentifier: id, vmIdentifier: id }, ['vpgSettingsIdentifier', 'vmIdentifier']);
  const key = (req: Parameters<RouteSpec['handler']>[0]): string => params(req).vpgSettingsIdentifier;
  const vmOf = (req: Parameters<RouteSpec['handler']>[0]): string => params(req).vmIdentifier;
  const { vmIdentifier: _vm, ...nicOfVm } = nicItem;
  const vmNics: Schema = { type: 'array', maxItems: 64, items: obj(nicOfVm, ['nicIndex', 'liveNetworkIdentifier', 'testNetworkIdentifier']) };
  const vmVolumeAnswer: Schema = {
    type: 'array', items: closed({ volumeIdentifier: { type: 'string' }, volumeName: { type: 'string' }, sizeInMB: { type: 'number' }, datastoreIdentifier: { type: ['string', 'null'] } }),
  };
  const volumesView = (rows: Awaited<ReturnType<typeof drafts.vmVolumes>>): unknown => rows.map((r) => ({ volumeIdentifier: r.volume.id, volumeName: r.volume.name, sizeInMB: r.volume.sizeBytes / 1024 / 1024, datastoreIdentifier: r.datastoreIdentifier }));
  const wholeDraft: Schema = closed({ vpgSettingsIdentifier: { type: 'string' }, vpgIdentifier: { type: ['string', 'null'] }, ...Object.fromEntries(DRAFT_PARTS.map((p) => [p, draftPartSchemas[p]])) });
  const routes: RouteSpec[] = [
    {
      method: 'GET', url: '/v1/vpgSettings', role: 'viewer', operationId: 'listVpgSettings', tags: ['vpgSettings'], summary: 'The open settings drafts',
      responses: { 200: listOf('the drafts', 'DraftSummary') },
      handler: async () => drafts.list().map((d) => ({ vpgSettingsIdentifier: d.id, vpgIdentifier: d.groupId ?? null, name: (d.body.basic.name as string | undefined) ?? null, createdAt: iso(d.createdAt) })),
    },
    {
      method: 'POST', url: '/v1/vpgSettings', role: 'operator', operationId: 'createVpgSettings', tags: ['vpgSettings'], summary: 'Start a settings draft (for a new group, or a copy of an existing one with vpgIdentifier)',
      body: obj({ vpgIdentifier: id }),
      responses: { 201: json('the draft was opened', closed({ vpgSettingsIdentifier: { type: 'string' } })) }, errors: [404],
      handler: async (req, reply) => reply.status(201).send({ vpgSettingsIdentifier: drafts.open((req.body as { vpgIdentifier?: string }).vpgIdentifier) }),
    },
    {
      method: 'GET', url: '/v1/vpgSettings/:vpgSettingsIdentifier', role: 'viewer', operationId: 'getVpgSettings', tags: ['vpgSettings'], summary: 'The whole draft', params: draftParams,
      responses: { 200: json('the draft', wholeDraft) }, errors: [404],
      handler: async (req) => {
        const d = drafts.get(key(req));
        return { vpgSettingsIdentifier: d.id, vpgIdentifier: d.groupId ?? null, ...d.body };
      },
    },
    {
      method: 'DELETE', url: '/v1/vpgSettings/:vpgSettingsIdentifier', role: 'operator', operationId: 'deleteVpgSettings', tags: ['vpgSettings'], summary: 'Discard the draft', params: draftParams,
      responses: { 204: noContent('discarded') }, errors: [404],
      handler: async (req, reply) => {
        drafts.discard(key(req));
        return reply.status(204).send();
      },
    },
    {
      method: 'POST', url: '/v1/vpgSettings/:vpgSettingsIdentifier/commit', role: 'operator', operationId: 'commitVpgSettings', tags: ['vpgSettings'],
      summary: 'Validate the draft and create or update the group', params: draftParams, body: obj({}),
      responses: { 200: json('the group\'s task', closed({ taskIdentifier: { type: 'string' }, vpgIdentifier: { type: 'string' } })) }, errors: [404, 409, 503],
      handler: async (req) => {
        const r = await drafts.commit(key(req), userOf(req));
        return { taskIdentifier: r.taskId, vpgIdentifier: r.groupId };
      },
    },
    {
      method: 'GET', url: '/v1/vpgSettings/:vpgSettingsIdentifier/vms/:vmIdentifier', role: 'viewer', operationId: 'getVpgSettingsVm', tags: ['vpgSettings'],
      summary: 'One VM of the draft: where it recovers (host, datastore; the group\'s defaults when absent)', params: vmParams,
      responses: { 200: json('the VM', draftPartSchemas.vms.items as Schema) }, errors: [404],
      handler: async (req) => drafts.vm(key(req), vmOf(req)),
    },
    {
      method: 'PUT', url: '/v1/vpgSettings/:vpgSettingsIdentifier/vms/:vmIdentifier', role: 'operator', operationId: 'putVpgSettingsVm', tags: ['vpgSettings'],
      summary: 'Replace where one VM recovers (host, datastore)', params: vmParams, body: obj(vmPlacement),
      responses: { 200: json('the VM as stored', draftPartSchemas.vms.items as Schema) }, errors: [404],
      handler: async (req) => drafts.setVm(key(req), vmOf(req), body(req) as { recoveryHostIdentifier?: string; recoveryDatastoreIdentifier?: string }),
    },
    {
      method: 'GET', url: '/v1/vpgSettings/:vpgSettingsIdentifier/vms/:vmIdentifier/nics', role: 'viewer', operationId: 'getVpgSettingsVmNics', tags: ['vpgSettings'],
      summary: 'The NIC mappings of one VM (live and test networks, re-IP)', params: vmParams,
      responses: { 200: json('the NICs', vmNics) }, errors: [404],
      handler: async (req) => drafts.vmNics(key(req), vmOf(req)),
    },
    {
      method: 'PUT', url: '/v1/vpgSettings/:vpgSettingsIdentifier/vms/:vmIdentifier/nics', role: 'operator', operationId: 'putVpgSettingsVmNics', tags: ['vpgSettings'],
      summary: 'Replace the NIC mappings of one VM', params: vmParams, body: vmNics,
      responses: { 200: json('the NICs as stored', vmNics) }, errors: [404],
      handler: async (req) => drafts.setVmNics(key(req), vmOf(req), req.body as Array<Record<string, unknown>>),
    },
    {
      method: 'GET', url: '/v1/vpgSettings/:vpgSettingsIdentifier/vms/:vmIdentifier/volumes', role: 'viewer', operationId: 'getVpgSettingsVmVolumes', tags: ['vpgSettings'],
      summary: 'The volumes of one VM as its platform reports them, with the datastore each recovers to', params: vmParams,
      responses: { 200: json('the volumes', vmVolumeAnswer) }, errors: [404, 503],
      handler: async (req) => volumesView(await drafts.vmVolumes(key(req), vmOf(req))),
    },
    {
      method: 'PUT', url: '/v1/vpgSettings/:vpgSettingsIdentifier/vms/:vmIdentifier/volumes', role: 'operator', operationId: 'putVpgSettingsVmVolumes', tags: ['vpgSettings'],
      summary: 'Set the datastore one VM\'s volumes recover to (all on one datastore: a recovered VM\'s disks are placed together)', params: vmParams,
      body: { type: 'array', maxItems: 64, items: obj({ volumeIdentifier: id, datastoreIdentifier: id }, ['volumeIdentifier', 'datastoreIdentifier']) },
      responses: { 200: json('the volumes as they now recover', vmVolumeAnswer) }, errors: [404, 503],
      handler: async (req) => volumesView(await drafts.setVmVolumes(key(req), vmOf(req), req.body as Array<{ volumeIdentifier: string; datastoreIdentifier: string }>)),
    },
  ];
  for (const part of DRAFT_PARTS) {
    const cap = part.charAt(0).toUpperCase() + part.slice(1);
    routes.push({
      method: 'GET', url: `/v1/vpgSettings/:vpgSettingsIdentifier/${part}`, role: 'viewer', operationId: `getVpgSettings${cap}`, tags: ['vpgSettings'], summary: `The draft's ${part}`, params: draftParams,
      responses: { 200: json(`the ${part} part`, draftPartSchemas[part]) }, errors: [404],
      handler: async (req) => drafts.get(key(req)).body[part],
    });
    routes.push({
      method: 'PUT', url: `/v1/vpgSettings/:vpgSettingsIdentifier/${part}`, role: 'operator', operationId: `putVpgSettings${cap}`, tags: ['vpgSettings'], summary: `Replace the draft's ${part}`, params: draftParams, body: draftPartSchemas[part],
      responses: { 200: json(`the ${part} part as stored`, draftPartSchemas[part]) }, errors: [404],
      handler: async (req) => drafts.setPart(key(req), part, req.body as DraftBody[typeof part]),
    });
  }
  return routes;
}
