// Protection-group settings edited as a draft, as the anchor does it: open a draft (empty, or a copy of
// an existing group), replace its parts (basic, journal, recovery, networks, bootgroup, scripting, vms,
// and per VM its placement, NICs and volumes) one by one, then commit: the whole is validated through
// core's settings schema and creates or updates the group. The parts' JSON Schemas are the REST layer's
// (api/draft-routes.ts); this module turns drafts into groups and back.
import { randomUUID } from 'node:crypto';
import { NotFoundError, ValidationError } from '@opencdp/core';
import type { Clock, JournalSize, Priority, ProtectionGroupSettings, RecoveryPlan, RecoveryScript, VolumeInfo } from '@opencdp/core';
import type { ApplianceRegistry } from '../appliances/appliance-registry.js';
import { defined } from '../defined.js';
import type { Sites } from '../sites/sites.js';
import type { DraftBody, DraftRow, GroupRow, Store } from '../store.js';
import type { CreateGroupInput, ProtectionGroups } from './protection-groups.js';

/** The parts of a draft, in the order the REST API lists them. */
export const DRAFT_PARTS = ['basic', 'journal', 'recovery', 'networks', 'bootgroup', 'scripting', 'vms'] as const satisfies readonly (keyof DraftBody)[];
export type DraftPart = (typeof DRAFT_PARTS)[number];

const PRIORITIES: Priority[] = ['Low', 'Medium', 'High'];

export class SettingsDrafts {
  constructor(
    private readonly store: Store, private readonly clock: Clock, private readonly groups: ProtectionGroups,
    private readonly appliances: ApplianceRegistry, private readonly sites: Sites,
  ) {}

  /** Every open draft, oldest first. */
  list(): DraftRow[] {
    return this.store.listDrafts().map((d) => ({ ...d, body: withDefaults(d.body) }));
  }

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
    return { ...d, body: withDefaults(d.body) };
  }

  /** One VM of the draft (its placement), or NotFoundError. */
  vm(id: string, vmId: string): Record<string, unknown> {
    const vm = this.get(id).body.vms.find((v) => v.vmIdentifier === vmId);
    if (!vm) throw new NotFoundError('VM of the draft', vmId);
    return vm;
  }

  /** Replaces one VM's placement (host, datastore); the VM must be in the draft. */
  setVm(id: string, vmId: string, placement: { recoveryHostIdentifier?: string; recoveryDatastoreIdentifier?: string }): Record<string, unknown> {
    const d = this.get(id);
    const i = d.body.vms.findIndex((v) => v.vmIdentifier === vmId);
    if (i < 0) throw new NotFoundError('VM of the draft', vmId);
    d.body.vms[i] = { vmIdentifier: vmId, ...defined(placement) };
    this.store.putDraft(d);
    return d.body.vms[i];
  }

  /** The NIC mappings of one VM (from the networks part). */
  vmNics(id: string, vmId: string): Array<Record<string, unknown>> {
    this.vm(id, vmId);
    return nicsOf(this.get(id).body).filter((n) => n.vmIdentifier === vmId).map(({ vmIdentifier: _vm, ...n }) => n);
  }

  /** Replaces the NIC mappings of one VM in the networks part. */
  setVmNics(id: string, vmId: string, nics: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
    this.vm(id, vmId);
    const d = this.get(id);
    d.body.networks = { ...d.body.networks, nics: [...nicsOf(d.body).filter((n) => n.vmIdentifier !== vmId), ...nics.map((n) => ({ vmIdentifier: vmId, ...n }))] };
    this.store.putDraft(d);
    return this.vmNics(id, vmId);
  }

  /** One VM's volumes as its platform reports them, with the datastore each recovers to. */
  async vmVolumes(id: string, vmId: string): Promise<Array<{ volume: VolumeInfo; datastoreIdentifier: string | null }>> {
    const d = this.get(id);
    const vm = this.vm(id, vmId);
    const datastore = (vm.recoveryDatastoreIdentifier as string | undefined) ?? (d.body.recovery.defaultDatastoreIdentifier as string | undefined) ?? null;
    return (await this.volumesOf(d, vmId)).map((volume) => ({ volume, datastoreIdentifier: datastore }));
  }

  /**
   * Sets where one VM's volumes recover to. A recovered VM's disks are placed together, so every volume must
   * name the same datastore; this becomes the VM's recovery datastore.
   */
  async setVmVolumes(id: string, vmId: string, volumes: Array<{ volumeIdentifier: string; datastoreIdentifier: string }>): Promise<Array<{ volume: VolumeInfo; datastoreIdentifier: string | null }>> {
    const d = this.get(id);
    const vm = this.vm(id, vmId);
    const known = await this.volumesOf(d, vmId);
    volumes.forEach((v, i) => {
      if (!known.some((k) => k.id === v.volumeIdentifier)) throw new ValidationError(`volume '${v.volumeIdentifier}' is not a volume of VM '${vmId}'`, `${i}.volumeIdentifier`);
    });
    const datastores = new Set(volumes.map((v) => v.datastoreIdentifier));
    if (datastores.size > 1) throw new ValidationError(`the volumes of VM '${vmId}' name ${datastores.size} datastores; a recovered VM's disks are placed on one`, 'datastoreIdentifier', 'name the same datastore for every volume');
    if (datastores.size === 1) this.setVm(id, vmId, { ...defined({ recoveryHostIdentifier: vm.recoveryHostIdentifier as string | undefined }), recoveryDatastoreIdentifier: [...datastores][0] });
    return this.vmVolumes(id, vmId);
  }

  private async volumesOf(d: DraftRow, vmId: string): Promise<VolumeInfo[]> {
    const siteId = (d.body.basic.protectedSiteIdentifier as string | undefined) ?? this.sites.siteId;
    const inventory = (await this.appliances.inventories()).get(siteId);
    const vm = inventory?.vms.find((v) => v.id === vmId);
    if (!vm) throw new NotFoundError(`VM at site '${siteId}'`, vmId);
    return vm.volumes;
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
  return { basic: {}, journal: {}, recovery: {}, networks: { nics: [] }, bootgroup: { bootGroups: [] }, scripting: {}, vms: [] };
}

/** A stored draft with the parts an older version did not have. */
function withDefaults(b: DraftBody): DraftBody {
  return { ...emptyDraft(), ...b, scripting: b.scripting ?? {} };
}

function nicsOf(d: DraftBody): Array<Record<string, unknown>> {
  return (d.networks as { nics?: Array<Record<string, unknown>> }).nics ?? [];
}

const scriptPart = (s: RecoveryScript | undefined): Record<string, unknown> | undefined => s && { command: s.command, ...defined({ parameters: s.parameters }), timeoutInSeconds: s.timeoutSeconds };
const scriptOf = (p: unknown): RecoveryScript | undefined => {
  const x = p as { command: string; parameters?: string[]; timeoutInSeconds: number } | undefined;
  return x && { command: x.command, ...defined({ parameters: x.parameters }), timeoutSeconds: x.timeoutInSeconds };
};

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
    scripting: defined({ preRecovery: scriptPart(g.plan.scripts?.preRecovery), postRecovery: scriptPart(g.plan.scripts?.postRecovery) }),
    vms: g.vmIds.map((vmIdentifier) => {
      const p = g.plan.vms?.find((x) => x.vmId === vmIdentifier);
      return { vmIdentifier, ...defined({ recoveryHostIdentifier: p?.hostId, recoveryDatastoreIdentifier: p?.datastoreId }) };
    }),
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
  const sc = (d.scripting ?? {}) as Record<string, unknown>;
  const scripts = defined({ preRecovery: scriptOf(sc.preRecovery), postRecovery: scriptOf(sc.postRecovery) });
  const placements = d.vms.filter((v) => v.recoveryHostIdentifier !== undefined || v.recoveryDatastoreIdentifier !== undefined)
    .map((v) => ({ vmId: String(v.vmIdentifier), ...defined({ hostId: v.recoveryHostIdentifier as string | undefined, datastoreId: v.recoveryDatastoreIdentifier as string | undefined }) }));
  const plan: RecoveryPlan = {
    ...defined({ hostId: r.defaultHostIdentifier, datastoreId: r.defaultDatastoreIdentifier }), ...(nics.length ? { nics } : {}), ...(bootGroups.length ? { bootGroups } : {}),
    ...(placements.length ? { vms: placements } : {}), ...(Object.keys(scripts).length ? { scripts } : {}),
  };
  const vmIds = d.vms.map((v) => String(v.vmIdentifier));
  if (vmIds.length === 0) throw new ValidationError('the draft has no VMs (PUT vms)', 'vms');
  return { settings, vmIds, recoverySiteId: String(b.recoverySiteIdentifier), plan, ...defined({ protectedSiteId: b.protectedSiteIdentifier as string | undefined }) };
}
