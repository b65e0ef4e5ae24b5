// ApplianceControl for appliances running in this process: the protected role wraps a ProtectedAppliance
// (one GroupSender per group), the recovery role a RecoveryAppliance plus the recovery operations that
// run beside its journals. The control RPC serves this same object to a manager in another process.
import type { Clock } from '../clock.js';
import { ConflictError, NotFoundError, UnsupportedError, ValidationError } from '../errors.js';
import type { Checkpoint, GroupId, Inventory, VmId } from '../model.js';
import type { HypervisorAdapter } from '../ports/hypervisor-adapter.js';
import type { StorageAdapter } from '../ports/storage-adapter.js';
import type { GroupSender, ProtectedAppliance } from '../appliance/protected-appliance.js';
import type { RecoveryAppliance } from '../appliance/recovery-appliance.js';
import { holdMarkRelease } from '../appliance/checkpoint-scheduler.js';
import type { ProgressSink, ProtectedSiteControl, RecoveryOperations, ShutdownPolicy } from '../recovery/recovery-api.js';
import type { RecoveryGroupDefinition } from '../recovery/recovery-platform.js';
import type { ImageOperations } from '../images/image-api.js';
import { replicaVolumeName, seedReplicaVolume } from '../recovery/reverse-protection.js';
import { allocationFileName } from '../journal/replica-allocation.js';
import type { ProtectionGroupSettings } from '../settings.js';
import type { ReplicationPhase } from '../status/group-status.js';
import type {
  ApplianceControl, ApplianceDescription, BarrierHoldRequest, BarrierHoldResult, BarrierReleaseRequest, BarrierReleaseResult, CheckpointCutRequest,
  GroupFacts, GroupFactsEntry, JournalFacts, ProtectGroupSpec, SeedReverseReplicasRequest, SeedReverseReplicasResult,
} from './appliance-control.js';
import { BarrierParticipant, type BarrierHoldFigures } from './barrier-participant.js';

export interface ApplianceServiceOptions {
  siteId: string;
  clock: Clock;
  /** This site's platform (inventory, power actions). */
  hypervisor: HypervisorAdapter;
  /** Present when this appliance protects VMs. */
  protectedAppliance?: ProtectedAppliance;
  /** Present when this appliance keeps journals for groups protected elsewhere. */
  recoveryAppliance?: RecoveryAppliance;
  /** The recovery operations beside `recoveryAppliance`'s journals. */
  recovery?: RecoveryOperations;
  /** Checkpoint images beside the same journals. */
  images?: ImageOperations;
  /** Where `defineRecoveryGroup` keeps definitions (the orchestrator reads the same directory). */
  recoveryGroups?: { set(definition: RecoveryGroupDefinition): void | Promise<void> };
  /** `recoveryAppliance`'s storage and journal root (the same ones it was made with): reverse protection seeds replicas there. */
  recoveryStorage?: { storage: StorageAdapter; journalRoot?: string };
  /** This appliance's name within its site (one appliance per host). */
  applianceId?: string;
  /** The hosts whose VMs this appliance protects; absent: every VM its platform lists. */
  hostIds?: string[];
  /** The site-link address protected appliances send to (recovery role), as `describe` reports it. */
  linkAddress?: string;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

export class ApplianceService implements ApplianceControl {
  private readonly groups = new Map<GroupId, { spec: ProtectGroupSpec; sender: GroupSender }>();
  private readonly lastCheckpoints = new Map<GroupId, Checkpoint>();
  private readonly lastSyncs = new Map<GroupId, ReplicationPhase>();
  /** Settings of every group this appliance protected since it started (kept after unprotect: reverse protection reuses them). */
  private readonly settingsOf = new Map<GroupId, ProtectionGroupSettings>();
  /** Reverse groups whose replicas are being seeded now (claimed synchronously). */
  private readonly seeding = new Set<GroupId>();
  private readonly barrier: BarrierParticipant;

  constructor(private readonly options: ApplianceServiceOptions) {
    this.barrier = new BarrierParticipant({
      clock: options.clock, sender: (groupId) => this.groups.get(groupId)?.sender, ...(options.log ? { log: options.log } : {}),
    });
  }

  get siteId(): string {
    return this.options.siteId;
  }

  get applianceId(): string | undefined {
    return this.options.applianceId;
  }

  get recovery(): RecoveryOperations | undefined {
    return this.options.recovery;
  }

  get images(): ImageOperations | undefined {
    return this.options.images;
  }

  /** Adds checkpoint images once they exist (made beside the recovery role). */
  setImages(images: ImageOperations): void {
    this.options.images = images;
  }

  /** Adds the recovery role once its parts exist (the orchestrator is made after this service). */
  setRecovery(recovery: RecoveryOperations, groups: ApplianceServiceOptions['recoveryGroups'], appliance: RecoveryAppliance, storage?: ApplianceServiceOptions['recoveryStorage']): void {
    this.options.recovery = recovery;
    this.options.recoveryGroups = groups;
    this.options.recoveryAppliance = appliance;
    if (storage) this.options.recoveryStorage = storage;
  }

  async inventory(): Promise<Inventory> {
    const inventory = await this.options.hypervisor.inventory();
    // The manager filters groups by site type; the adapter knows its platform, its inventory need not say it.
    return { ...inventory, platform: inventory.platform ?? this.options.hypervisor.platform };
  }

  /** The sender of a group this appliance protects (tests and the embedded demo read its figures). */
  sender(groupId: GroupId): GroupSender {
    return this.group(groupId).sender;
  }

  async protectGroup(spec: ProtectGroupSpec): Promise<void> {
    const appliance = this.protectedRole();
    if (this.groups.has(spec.groupId)) throw new ValidationError(`group '${spec.groupId}' is already protected by this appliance`, 'groupId');
    const sender = await appliance.protect({ groupId: spec.groupId, settings: spec.settings, vmIds: spec.vmIds, recoveryAddress: spec.recoveryAddress, preseeded: spec.preseeded ?? false });
    sender.on('checkpoint', (cp) => this.lastCheckpoints.set(spec.groupId, cp));
    sender.on('synced', (phase) => this.lastSyncs.set(spec.groupId, phase));
    this.groups.set(spec.groupId, { spec, sender });
    this.settingsOf.set(spec.groupId, structuredClone(spec.settings));
  }

  async unprotectGroup(groupId: GroupId, options: { deleteSourceVms: boolean }): Promise<void> {
    const { spec, sender } = this.group(groupId);
    this.barrier.forget(groupId);
    if (this.options.protectedAppliance) await this.options.protectedAppliance.unprotect(groupId);
    else await sender.stop();
    this.groups.delete(groupId);
    this.lastSyncs.delete(groupId);
    if (options.deleteSourceVms) {
      for (const vmId of spec.vmIds) {
        await this.options.hypervisor.powerOff(vmId);
        await this.options.hypervisor.deleteVm(vmId);
      }
    }
  }

  async pause(groupId: GroupId): Promise<void> {
    this.sender(groupId).pause();
  }

  async resume(groupId: GroupId): Promise<void> {
    this.sender(groupId).resume();
  }

  async forceSync(groupId: GroupId): Promise<void> {
    this.sender(groupId).forceSync();
  }

  /** The barrier across every listed group this appliance protects (J2); a group that cannot be checkpointed now gets undefined. */
  async cutCheckpoints(request: CheckpointCutRequest): Promise<(Checkpoint | undefined)[]> {
    const senders = request.groupIds.map((id) => this.sender(id));
    for (const id of request.groupIds) if (typeof request.ids[id] !== 'string' || request.ids[id] === '') throw new ValidationError(`no checkpoint id for group '${id}'`, `ids.${id}`);
    const ready = senders.filter((s) => s.canCheckpoint);
    const cut = holdMarkRelease(ready.map((s) => ({ senders: [s], id: request.ids[s.groupId] })), request.kind, request.timestamp, request.tag);
    // Change tracking: the cut is fixed once its view is frozen (a caller may thaw quiesced guests after this returns).
    const frozen = await Promise.all(cut.map((cp, i) => ready[i].whenFrozen(cp.id)));
    return senders.map((s) => (ready.includes(s) && frozen[ready.indexOf(s)] ? cut[ready.indexOf(s)] : undefined));
  }

  async holdBarrier(request: BarrierHoldRequest): Promise<BarrierHoldResult> {
    this.protectedRole();
    return this.barrier.hold(request);
  }

  async releaseBarrier(request: BarrierReleaseRequest): Promise<BarrierReleaseResult> {
    return this.barrier.release(request);
  }

  async abortBarrier(roundId: string, reason: string): Promise<void> {
    this.barrier.abort(roundId, reason);
  }

  /** How long rounds of the barrier across appliances held guest writes here (for figures and benchmarks). */
  barrierFigures(): BarrierHoldFigures {
    return this.barrier.holdFigures();
  }

  /** Drops every barrier round under way (call before stopping the appliances). */
  stopBarrier(): void {
    this.barrier.stop();
  }

  async describe(): Promise<ApplianceDescription> {
    const o = this.options;
    return {
      siteId: o.siteId, protectedRole: o.protectedAppliance !== undefined, recoveryRole: o.recoveryAppliance !== undefined,
      ...(o.applianceId !== undefined ? { applianceId: o.applianceId } : {}), ...(o.hostIds ? { hostIds: [...o.hostIds] } : {}),
      ...(o.linkAddress !== undefined ? { linkAddress: o.linkAddress } : {}),
    };
  }

  /** Sets the link address `describe` reports once the recovery role listens. */
  setLinkAddress(address: string): void {
    this.options.linkAddress = address;
  }

  async groupFactsMany(groupIds: GroupId[]): Promise<GroupFactsEntry[]> {
    if (!Array.isArray(groupIds) || !groupIds.every((g) => typeof g === 'string' && g !== '')) throw new ValidationError('groupIds must be a list of group ids', 'groupIds');
    if (groupIds.length > 100_000) throw new ValidationError('at most 100 000 groups per call', 'groupIds');
    const out: GroupFactsEntry[] = [];
    for (const groupId of groupIds) {
      const entry: GroupFactsEntry = { groupId };
      try {
        entry.facts = await this.groupFacts(groupId);
      } catch (e) {
        const err = e as Error & { code?: string };
        entry.error = { code: err.code ?? 'INTERNAL', message: err.message };
      }
      const active = await this.options.recovery?.active(groupId);
      if (active) entry.activeRecovery = active;
      out.push(entry);
    }
    return out;
  }

  async finalCheckpoint(groupId: GroupId, id: string, timestamp: number): Promise<Checkpoint> {
    const sender = this.sender(groupId);
    await sender.whenDrained();
    const [cp] = await this.cutCheckpoints({ groupIds: [groupId], kind: 'tagged', tag: 'final', timestamp, ids: { [groupId]: id } });
    if (!cp) throw new ValidationError(`group '${groupId}' cannot be checkpointed now (${sender.state.phase}${sender.connected ? '' : ', disconnected'})`, 'groupId', 'wait until it streams again');
    await sender.whenDrained();
    return cp;
  }

  async shutdownVms(groupId: GroupId, vmIds: VmId[], policy: ShutdownPolicy): Promise<void> {
    const members = this.knownVms(groupId, vmIds);
    if (policy === 'none') return;
    for (const vmId of members) {
      const vm = await this.options.hypervisor.getVm(vmId);
      if (vm.powerState === 'off') continue;
      if (policy === 'shutdown') await this.options.hypervisor.shutdownGuest(vmId);
      else await this.options.hypervisor.powerOff(vmId);
    }
  }

  async powerOnVms(groupId: GroupId, vmIds: VmId[]): Promise<void> {
    for (const vmId of this.knownVms(groupId, vmIds)) {
      const vm = await this.options.hypervisor.getVm(vmId);
      if (vm.powerState !== 'on') await this.options.hypervisor.powerOn(vmId);
    }
  }

  async defineRecoveryGroup(definition: RecoveryGroupDefinition): Promise<void> {
    if (!this.options.recoveryGroups) throw new UnsupportedError(`recovering groups on appliance of site '${this.siteId}' (it has no recovery role)`);
    if (typeof definition?.groupId !== 'string' || !Array.isArray(definition.vms)) throw new ValidationError('a recovery group definition needs groupId and vms', 'definition');
    await this.options.recoveryGroups.set(structuredClone(definition));
  }

  /**
   * Reverse protection at this (the original) site: copies each original VM's disks into the replica
   * volumes the reverse group's journals will open here — locally, never across the link. Refuses a group
   * whose journals exist already (seeding under a journal would corrupt it). On failure the replicas
   * written so far are removed again, so nothing half-seeded is left for a sender to mistake for a preseed.
   */
  async seedReverseReplicas(request: SeedReverseReplicasRequest, progress?: ProgressSink): Promise<SeedReverseReplicasResult> {
    const appliance = this.options.recoveryAppliance;
    const target = this.options.recoveryStorage;
    if (!appliance || !target) throw new UnsupportedError(`seeding reverse replicas on appliance of site '${this.siteId}' (it keeps no journals)`);
    checkSeedRequest(request);
    const { groupId } = request;
    const root = target.journalRoot ?? 'journals';
    if (this.seeding.has(groupId)) throw new ConflictError(`the replicas of reverse group '${groupId}' are being seeded already`, 'wait for that call to end');
    this.seeding.add(groupId);
    const written: string[] = [];
    try {
      if (appliance.journalsOf(groupId).length > 0) throw new ConflictError(`group '${groupId}' already has journals open at site '${this.siteId}'`, 'delete that group first (recovery.deleteGroup) or use another reverse group id');
      for (const vm of request.vms) {
        if (await target.storage.exists(`${root}/${groupId}/${vm.vmId}/journal.json`)) {
          throw new ConflictError(`a journal of group '${groupId}' for VM '${vm.vmId}' exists at site '${this.siteId}'`, 'delete that group first (recovery.deleteGroup) or use another reverse group id');
        }
      }
      // Every original disk must be here with the recovered disk's size, before anything is written.
      for (const [k, vm] of request.vms.entries()) {
        const source = await this.options.hypervisor.getVm(vm.sourceVmId);
        for (const [i, v] of vm.volumes.entries()) {
          const original = source.volumes.find((x) => x.id === v.sourceVolumeId);
          if (!original) throw new ValidationError(`VM '${vm.sourceVmId}' at site '${this.siteId}' has no volume '${v.sourceVolumeId}'`, `vms[${k}].volumes[${i}].sourceVolumeId`);
          if (original.sizeBytes !== v.sizeBytes) {
            throw new ValidationError(`volume '${v.sourceVolumeId}' of VM '${vm.sourceVmId}' holds ${original.sizeBytes} bytes, the recovered disk ${v.sizeBytes}`, `vms[${k}].volumes[${i}].sizeBytes`);
          }
        }
      }
      const total = request.vms.reduce((n, vm) => n + vm.volumes.reduce((m, v) => m + v.sizeBytes, 0), 0);
      let done = 0;
      let percent = -1;
      const report = (step: string): void => {
        const p = total === 0 ? 100 : Math.floor((done * 100) / total);
        if (p !== percent) progress?.((percent = p), step);
      };
      report('seeding the reverse replicas from the original disks');
      let seededBytes = 0;
      for (const vm of request.vms) {
        for (const v of vm.volumes) {
          const name = replicaVolumeName(root, groupId, vm.vmId, v.volumeId);
          // A replica kept from before (deleteGroup keepRecoveryVolumes) may hold stale data where the original is zero.
          // Its allocation map too: the seed writes a new one, and a failed seed must leave neither behind.
          for (const f of [name, allocationFileName(name)]) if (await target.storage.exists(f)) await target.storage.delete(f);
          written.push(name, allocationFileName(name));
          const r = await seedReplicaVolume({
            storage: target.storage, journalRoot: root, groupId, vmId: vm.vmId, volumeId: v.volumeId, sizeBytes: v.sizeBytes,
            read: async (offset, length) => {
              const data = await this.options.hypervisor.readVolume(vm.sourceVmId, v.sourceVolumeId, offset, length);
              done += length;
              report(`seeding ${vm.vmId}/${v.volumeId} from ${vm.sourceVmId}/${v.sourceVolumeId}`);
              return data;
            },
          });
          seededBytes += r.bytesWritten;
        }
      }
      const settings = request.originalGroupId !== undefined ? this.settingsOf.get(request.originalGroupId) : undefined;
      return { seededBytes, ...(settings ? { settings: structuredClone(settings) } : {}) };
    } catch (e) {
      for (const name of written) await target.storage.delete(name).catch(() => undefined);
      throw e;
    } finally {
      this.seeding.delete(groupId);
    }
  }

  async groupFacts(groupId: GroupId): Promise<GroupFacts> {
    const facts: GroupFacts = { groupId };
    const protectedGroup = this.groups.get(groupId);
    if (protectedGroup) {
      const { sender, spec } = protectedGroup;
      const state = sender.state;
      const stats = sender.currentStats();
      Object.assign(facts, {
        phase: state.phase, connected: state.connected, vmIds: [...spec.vmIds], captureMode: sender.captureMode,
        ...(state.trigger ? { trigger: state.trigger } : {}), ...(state.storageError ? { storageError: state.storageError } : {}),
        ...(state.cause ? { cause: state.cause } : {}),
        bufferedBytes: stats.bufferedBytes, bitmapBytes: stats.bitmapBytes,
        writes: stats.writesSent, writtenBytes: stats.rawBytesSent, wireBytes: stats.wireBytesSent + stats.syncBytesSent,
      });
      const last = this.lastCheckpoints.get(groupId);
      if (last) facts.lastCheckpoint = last;
      const lastSync = this.lastSyncs.get(groupId);
      if (lastSync) facts.lastSync = lastSync;
    }
    const journals = this.options.recoveryAppliance?.journalsOf(groupId) ?? [];
    if (journals.length > 0) {
      facts.journals = journals.map((j): JournalFacts => {
        const s = j.stats();
        return {
          vmId: j.vmId, usedBytes: s.usedBytes, hardLimitBytes: s.hardLimitBytes, warningBytes: s.warningBytes,
          historyMs: s.actualHistoryMs, historyStatus: s.historyStatus,
          ...(s.oldestCheckpoint ? { earliestCheckpointAt: s.oldestCheckpoint.timestamp } : {}),
        };
      });
      const latest = Math.min(...journals.map((j) => j.stats().latestCheckpoint?.timestamp ?? -1));
      if (latest >= 0) facts.latestCheckpointAt = latest;
    }
    if (!protectedGroup && journals.length === 0) throw new NotFoundError('group', groupId);
    return facts;
  }

  private group(groupId: GroupId): { spec: ProtectGroupSpec; sender: GroupSender } {
    const g = this.groups.get(groupId);
    if (!g) throw new NotFoundError('protected group', groupId);
    return g;
  }

  private knownVms(groupId: GroupId, vmIds: VmId[]): VmId[] {
    const { spec } = this.group(groupId);
    for (const id of vmIds) if (!spec.vmIds.includes(id)) throw new ValidationError(`VM '${id}' is not in group '${groupId}'`, 'vmIds');
    return vmIds.length > 0 ? vmIds : spec.vmIds;
  }

  private protectedRole(): ProtectedAppliance {
    if (!this.options.protectedAppliance) throw new UnsupportedError(`protecting groups on appliance of site '${this.siteId}' (it has no protected role)`);
    return this.options.protectedAppliance;
  }
}

function checkSeedRequest(r: SeedReverseReplicasRequest): void {
  const id = (v: unknown): v is string => typeof v === 'string' && v !== '';
  if (typeof r !== 'object' || r === null) throw new ValidationError('the request must be an object', 'request');
  if (!id(r.groupId)) throw new ValidationError('groupId must be a non-empty string', 'groupId');
  if (r.originalGroupId !== undefined && !id(r.originalGroupId)) throw new ValidationError('originalGroupId must be a non-empty string when given', 'originalGroupId');
  if (!Array.isArray(r.vms) || r.vms.length === 0) throw new ValidationError('vms must be a non-empty list', 'vms');
  for (const [i, vm] of r.vms.entries()) {
    if (!id(vm?.sourceVmId) || !id(vm.vmId)) throw new ValidationError('every VM needs sourceVmId and vmId', `vms[${i}]`);
    if (!Array.isArray(vm.volumes) || vm.volumes.length === 0) throw new ValidationError(`VM '${vm.vmId}' needs a non-empty volumes list`, `vms[${i}].volumes`);
    for (const [j, v] of vm.volumes.entries()) {
      if (!id(v?.sourceVolumeId) || !id(v.volumeId)) throw new ValidationError('every volume needs sourceVolumeId and volumeId', `vms[${i}].volumes[${j}]`);
      if (!Number.isSafeInteger(v.sizeBytes) || v.sizeBytes <= 0) throw new ValidationError(`sizeBytes must be a positive integer, got ${String(v.sizeBytes)}`, `vms[${i}].volumes[${j}].sizeBytes`);
    }
  }
  const vmIds = r.vms.map((vm) => vm.vmId);
  if (new Set(vmIds).size !== vmIds.length) throw new ValidationError('a recovered VM is listed twice', 'vms');
}
