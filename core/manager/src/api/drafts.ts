// Protection-group settings edited as a draft, as the anchor does it: POST /v1/vpgSettings (optionally for
// an existing group) → an id; GET/PUT its parts basic, journal, recovery, networks, bootgroup, vms; then
// commit, which validates the whole through core's settings schema and creates or updates the group.
import { randomUUID } from 'node:crypto';
import { NotFoundError, ValidationError } from '@opencdp/core';
import type { JournalSize, Priority, ProtectionGroupSettings, RecoveryPlan } from '@opencdp/core';
import type { Manager } from '../manager.js';
import { defined } from '../manager.js';
import type { DraftBody, GroupRow } from '../store.js';
import type { RouteSpec } from './routes.js';

const id = { type: 'string', minLength: 1, maxLength: 200 } as const;
const obj = (properties: Record<string, unknown>, required: string[] = []): Record<string, unknown> => ({ type: 'object', additionalProperties: false, properties, ...(required.length ? { required } : {}) });
const PRIORITIES: Priority[] = ['Low', 'Medium', 'High'];

export const draftPartSchemas = {
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
} as const;

type Part = keyof typeof draftPartSchemas;
const PARTS = Object.keys(draftPartSchemas) as Part[];

function emptyDraft(): DraftBody {
  return { basic: {}, journal: {}, recovery: {}, networks: { nics: [] }, bootgroup: { bootGroups: [] }, vms: [] };
}

function sizeFields(size: JournalSize, prefix: 'hardLimit' | 'warningThreshold'): Record<string, number> {
  return 'mb' in size ? { [`${prefix}InMB`]: size.mb } : { [`${prefix}InPercent`]: size.percent };
}

function draftOfGroup(g: GroupRow): DraftBody {
  const s = g.settings;
  return {
    basic: {
      name: s.name, rpoInSeconds: s.rpoTargetSeconds, journalHistoryInHours: s.journalHistoryHours, priority: PRIORITIES.indexOf(s.priority),
      useWanCompression: s.useWanCompression, protectedSiteIdentifier: g.protectedSiteId, recoverySiteIdentifier: g.recoverySiteId,
      checkpointIntervalInMs: s.checkpointIntervalMs, replicationPauseTimeInMinutes: s.replicationPauseTimeMinutes,
    },
    journal: { limitation: { ...sizeFields(s.journal.hardLimit, 'hardLimit'), ...sizeFields(s.journal.warningThreshold, 'warningThreshold') } },
    recovery: defined({ defaultHostIdentifier: g.plan.hostId, defaultDatastoreIdentifier: g.plan.datastoreId }),
    networks: { nics: (g.plan.nics ?? []).map((n) => ({ vmIdentifier: n.vmId, nicIndex: n.nicIndex, liveNetworkIdentifier: n.liveNetworkId, testNetworkIdentifier: n.testNetworkId, ...defined({ liveIpv4: n.liveIpv4, testIpv4: n.testIpv4 }) })) },
    bootgroup: { bootGroups: (g.plan.bootGroups ?? []).map((b) => ({ name: b.name, delayInSeconds: b.delaySeconds, vmIdentifiers: b.vmIds })) },
    vms: g.vmIds.map((vmIdentifier) => ({ vmIdentifier })),
  };
}

/** Turns a draft into the settings input (validated by core at commit), the VM list, the sites and the recovery plan. */
function fromDraft(d: DraftBody): { settings: unknown; vmIds: string[]; protectedSiteId?: string; recoverySiteId: string; plan: RecoveryPlan } {
  const b = d.basic as Record<string, unknown>;
  const lim = ((d.journal as Record<string, unknown>).limitation ?? {}) as Record<string, number | undefined>;
  const size = (mb: number | undefined, percent: number | undefined, field: string): JournalSize | undefined => {
    if (mb !== undefined && percent !== undefined) throw new ValidationError(`give ${field} in MB or in percent, not both`, `journal.limitation.${field}InMB`);
    return mb !== undefined ? { mb } : percent !== undefined ? { percent } : undefined;
  };
  const hardLimit = size(lim.hardLimitInMB, lim.hardLimitInPercent, 'hardLimit');
  const warningThreshold = size(lim.warningThresholdInMB, lim.warningThresholdInPercent, 'warningThreshold');
  if (b.name === undefined) throw new ValidationError('the draft has no name (PUT basic {name})', 'basic.name');
  if (b.recoverySiteIdentifier === undefined) throw new ValidationError('the draft has no recovery site (PUT basic {recoverySiteIdentifier})', 'basic.recoverySiteIdentifier');
  const settings: Partial<ProtectionGroupSettings> & Record<string, unknown> = defined({
    name: b.name as string, rpoTargetSeconds: b.rpoInSeconds as number | undefined, journalHistoryHours: b.journalHistoryInHours as number | undefined,
    priority: b.priority !== undefined ? PRIORITIES[b.priority as number] : undefined, useWanCompression: b.useWanCompression as boolean | undefined,
    checkpointIntervalMs: b.checkpointIntervalInMs as number | undefined, replicationPauseTimeMinutes: b.replicationPauseTimeInMinutes as number | undefined,
  });
  if (hardLimit || warningThreshold) settings.journal = defined({ hardLimit, warningThreshold }) as ProtectionGroupSettings['journal'];
  const r = d.recovery as Record<string, string | undefined>;
  const nics = ((d.networks as { nics?: Array<Record<string, unknown>> }).nics ?? []).map((n) => ({
    vmId: String(n.vmIdentifier), nicIndex: Number(n.nicIndex), liveNetworkId: String(n.liveNetworkIdentifier), testNetworkId: String(n.testNetworkIdentifier),
    ...defined({ liveIpv4: n.liveIpv4 as string | undefined, testIpv4: n.testIpv4 as string | undefined }),
  }));
  const bootGroups = ((d.bootgroup as { bootGroups?: Array<Record<string, unknown>> }).bootGroups ?? []).map((g) => ({ name: String(g.name), delaySeconds: Number(g.delayInSeconds), vmIds: g.vmIdentifiers as string[] }));
  const plan: RecoveryPlan = { ...defined({ hostId: r.defaultHostIdentifier, datastoreId: r.defaultDatastoreIdentifier }), ...(nics.length ? { nics } : {}), ...(bootGroups.length ? { bootGroups } : {}) };
  const vmIds = d.vms.map((v) => String(v.vmIdentifier));
  if (vmIds.length === 0) throw new ValidationError('the draft has no VMs (PUT vms)', 'vms');
  return { settings, vmIds, recoverySiteId: String(b.recoverySiteIdentifier), plan, ...defined({ protectedSiteId: b.protectedSiteIdentifier as string | undefined }) };
}

export function draftRoutes(m: Manager): RouteSpec[] {
  const params = obj({ vpgSettingsIdentifier: id }, ['vpgSettingsIdentifier']);
  const draft = (req: { params: unknown }) => {
    const key = (req.params as { vpgSettingsIdentifier: string }).vpgSettingsIdentifier;
    const d = m.store.getDraft(key);
    if (!d) throw new NotFoundError('vpgSettings', key);
    return d;
  };
  const routes: RouteSpec[] = [
    {
      method: 'POST', url: '/v1/vpgSettings', role: 'operator', tags: ['vpgSettings'], summary: 'Start a settings draft (for a new group, or a copy of an existing one with vpgIdentifier)',
      body: obj({ vpgIdentifier: id }),
      handler: async (req, reply) => {
        const groupId = (req.body as { vpgIdentifier?: string }).vpgIdentifier;
        const body = groupId !== undefined ? draftOfGroup(m.group(groupId)) : emptyDraft();
        const draftId = `settings-${randomUUID()}`;
        m.store.putDraft({ id: draftId, body, createdAt: m.clock.now(), ...defined({ groupId }) });
        return reply.status(201).send({ vpgSettingsIdentifier: draftId });
      },
    },
    { method: 'GET', url: '/v1/vpgSettings/:vpgSettingsIdentifier', role: 'viewer', tags: ['vpgSettings'], summary: 'The whole draft', params, handler: async (req) => ({ vpgSettingsIdentifier: draft(req).id, vpgIdentifier: draft(req).groupId ?? null, ...draft(req).body }) },
    {
      method: 'DELETE', url: '/v1/vpgSettings/:vpgSettingsIdentifier', role: 'operator', tags: ['vpgSettings'], summary: 'Discard the draft', params,
      handler: async (req, reply) => {
        m.store.deleteDraft(draft(req).id);
        return reply.status(204).send();
      },
    },
    {
      method: 'POST', url: '/v1/vpgSettings/:vpgSettingsIdentifier/commit', role: 'operator', tags: ['vpgSettings'], summary: 'Validate the draft and create or update the group', params, body: obj({}),
      handler: async (req) => {
        const d = draft(req);
        const input = fromDraft(d.body);
        const r = d.groupId ? await m.updateGroup(d.groupId, input, req.session?.user) : await m.createGroup(input, req.session?.user);
        m.store.deleteDraft(d.id);
        return { taskIdentifier: r.taskId, vpgIdentifier: r.groupId };
      },
    },
  ];
  for (const part of PARTS) {
    routes.push({
      method: 'GET', url: `/v1/vpgSettings/:vpgSettingsIdentifier/${part}`, role: 'viewer', tags: ['vpgSettings'], summary: `The draft's ${part}`, params,
      handler: async (req) => draft(req).body[part],
    });
    routes.push({
      method: 'PUT', url: `/v1/vpgSettings/:vpgSettingsIdentifier/${part}`, role: 'operator', tags: ['vpgSettings'], summary: `Replace the draft's ${part}`, params, body: draftPartSchemas[part] as Record<string, unknown>,
      handler: async (req) => {
        const d = draft(req);
        (d.body as unknown as Record<string, unknown>)[part] = req.body;
        m.store.putDraft(d);
        return d.body[part];
      },
    });
  }
  return routes;
}
