// Protection-group settings edited as a draft, as the anchor does it: open a draft (empty, or a copy of
// an existing group), replace its parts (basic, journal, recovery, networks, bootgroup, vms) one by
// one, then commit: the whole is validated through core's settings schema and creates or updates the
// group. The parts' JSON Schemas are the REST layer's (api/drafts.ts); this module turns drafts into
// groups and back.
import { randomUUID } from 'node:crypto';
import { NotFoundError, ValidationError } from '@opencdp/core';
import type { Clock, JournalSize, Priority, ProtectionGroupSettings, RecoveryPlan } from '@opencdp/core';
import { defined } from '../defined.js';
import type { DraftBody, DraftRow, GroupRow, Store } from '../store.js';
import type { CreateGroupInput, ProtectionGroups } from './protection-groups.js';

/** The parts of a draft, in the order the REST API lists them. */
export const DRAFT_PARTS = ['basic', 'journal', 'recovery', 'networks', 'bootgroup', 'vms'] as const satisfies readonly (keyof DraftBody)[];
export type DraftPart = (typeof DRAFT_PARTS)[number];

const PRIORITIES: Priority[] = ['Low', 'Medium', 'High'];

export class SettingsDrafts {
  constructor(private readonly store: Store, private readonly clock: Clock, private readonly groups: ProtectionGroups) {}

  /** Opens a draft for a new group, or a copy of an existing group's settings; returns its id. */
  open(groupId?: string): string {
    const body = groupId !== undefined ? draftOfGroup(this.groups.get(groupId)) : emptyDraft();
    const id = `settings-${randomUUID()}`;
    this.store.putDraft({ id, body, createdAt: this.clock.now(), ...defined({ groupId }) });
    return id;
  }

  /** The draft, or NotFoundError. */
  get(id: string): DraftRow {
    const d = this.store.getDraft(id);
    if (!d) throw new NotFoundError('vpgSettings', id);
    return d;
  }

  /** Replaces one part (already checked against its schema by the caller); returns it as stored. */
  setPart<P extends DraftPart>(id: string, part: P, value: DraftBody[P]): DraftBody[P] {
    const d = this.get(id);
    d.body[part] = value;
    this.store.putDraft(d);
    return d.body[part];
  }

  discard(id: string): void {
    this.store.deleteDraft(this.get(id).id);
  }

  /** Validates the whole draft and creates or updates its group; the draft is gone afterwards. */
  async commit(id: string, user?: string): Promise<{ taskId: string; groupId: string }> {
    const d = this.get(id);
    const input = fromDraft(d.body);
    const r = d.groupId ? await this.groups.update(d.groupId, input, user) : await this.groups.create(input, user);
    this.store.deleteDraft(d.id);
    return r;
  }
}

function emptyDraft(): DraftBody {
  return { basic: {}, journal: {}, recovery: {}, networks: { nics: [] }, bootgroup: { bootGroups: [] }, vms: [] };
}

function sizeFields(size: JournalSize, prefix: 'hardLimit' | 'warningThreshold'): Record<string, number> {
  return 'mb' in size ? { [`${prefix}InMB`]: size.mb } : { [`${prefix}InPercent`]: size.percent };
}

/** A draft holding what a group has now. */
export function draftOfGroup(g: GroupRow): DraftBody {
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
export function fromDraft(d: DraftBody): CreateGroupInput & { plan: RecoveryPlan } {
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
