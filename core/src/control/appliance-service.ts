// ApplianceControl for appliances running in this process: the protected role wraps a ProtectedAppliance
// (one GroupSender per group), the recovery role a RecoveryAppliance plus the recovery operations that
// run beside its journals. The control RPC serves this same object to a manager in another process.
import type { Clock } from '../clock.js';
import { NotFoundError, UnsupportedError, ValidationError } from '../errors.js';
import type { Checkpoint, GroupId, Inventory, VmId } from '../model.js';
import type { HypervisorAdapter } from '../ports/hypervisor-adapter.js';
import type { GroupSender, ProtectedAppliance } from '../appliance/protected-appliance.js';
import type { RecoveryAppliance } from '../appliance/recovery-appliance.js';
import type { ProtectedSiteControl, RecoveryOperations, ShutdownPolicy } from '../recovery/recovery-api.js';
import type { RecoveryGroupDefinition } from '../recovery/recovery-platform.js';
import type { ApplianceControl, CheckpointCutRequest, GroupFacts, JournalFacts, ProtectGroupSpec } from './appliance-control.js';

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
  /** Where `defineRecoveryGroup` keeps definitions (the orchestrator reads the same directory). */
  recoveryGroups?: { set(definition: RecoveryGroupDefinition): void | Promise<void> };
}

export class ApplianceService implements ApplianceControl {
  private readonly groups = new Map<GroupId, { spec: ProtectGroupSpec; sender: GroupSender }>();
  private readonly lastCheckpoints = new Map<GroupId, Checkpoint>();

  constructor(private readonly options: ApplianceServiceOptions) {}

  get siteId(): string {
    return this.options.siteId;
  }

  get recovery(): RecoveryOperations | undefined {
    return this.options.recovery;
  }

  /** Adds the recovery role once its parts exist (the orchestrator is made after this service). */
  setRecovery(recovery: RecoveryOperations, groups: ApplianceServiceOptions['recoveryGroups'], appliance: RecoveryAppliance): void {
    this.options.recovery = recovery;
    this.options.recoveryGroups = groups;
    this.options.recoveryAppliance = appliance;
  }

  inventory(): Promise<Inventory> {
    return this.options.hypervisor.inventory();
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
    this.groups.set(spec.groupId, { spec, sender });
  }

  async unprotectGroup(groupId: GroupId, options: { deleteSourceVms: boolean }): Promise<void> {
    const { spec, sender } = this.group(groupId);
    await sender.stop();
    this.groups.delete(groupId);
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

  /**
   * The barrier across every listed group this appliance protects: all senders hold write completions
   * first, then each stream gets its marker, then all release — so no write that completed before another
   * was issued can land after the marker while the other lands before it.
   */
  async cutCheckpoints(request: CheckpointCutRequest): Promise<(Checkpoint | undefined)[]> {
    const senders = request.groupIds.map((id) => this.sender(id));
    for (const id of request.groupIds) if (typeof request.ids[id] !== 'string' || request.ids[id] === '') throw new ValidationError(`no checkpoint id for group '${id}'`, `ids.${id}`);
    const ready = senders.map((s) => s.canCheckpoint);
    const held: GroupSender[] = [];
    try {
      senders.forEach((s, i) => {
        if (!ready[i]) return;
        s.hold();
        held.push(s);
      });
      return senders.map((s, i) => (ready[i] ? s.mark(request.ids[request.groupIds[i]], request.kind, request.timestamp, request.tag) : undefined));
    } finally {
      for (const s of held) s.release();
    }
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

  async groupFacts(groupId: GroupId): Promise<GroupFacts> {
    const facts: GroupFacts = { groupId };
    const protectedGroup = this.groups.get(groupId);
    if (protectedGroup) {
      const { sender, spec } = protectedGroup;
      const state = sender.state;
      const stats = sender.currentStats();
      Object.assign(facts, {
        phase: state.phase, connected: state.connected, vmIds: [...spec.vmIds],
        ...(state.trigger ? { trigger: state.trigger } : {}), ...(state.storageError ? { storageError: state.storageError } : {}),
        bufferedBytes: stats.bufferedBytes, bitmapBytes: stats.bitmapBytes,
        writes: stats.writesSent, writtenBytes: stats.rawBytesSent, wireBytes: stats.wireBytesSent + stats.syncBytesSent,
      });
      const last = this.lastCheckpoints.get(groupId);
      if (last) facts.lastCheckpoint = last;
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
