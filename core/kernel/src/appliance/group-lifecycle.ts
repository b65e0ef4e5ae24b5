// A protected group's lifecycle on one appliance: user pause and resume, the system pause a journal-full
// sync asks for (S6) and its end, probing recovery storage after a failure, and VMs and volumes joining
// or leaving the running group (S7). It decides the order of things; the capture path, the link and the
// stream do them.
import type { Clock, TimerHandle } from '../clock.js';
import { UnknownVolumeError, ValidationError } from '../errors.js';
import type { VmId, VmInfo } from '../model.js';
import type { HypervisorAdapter } from '../ports/hypervisor-adapter.js';
import type { ProtectionGroupSettings } from '../settings.js';
import type { SyncTrigger } from '../status/group-status.js';
import type { CapturePath } from './capture-path.js';
import type { GroupPhase } from './group-phase.js';
import type { LinkSession } from './link-session.js';
import type { SendStream } from './send-stream.js';

export interface GroupLifecycleParts {
  groupId: string;
  settings: ProtectionGroupSettings;
  hypervisor: HypervisorAdapter;
  clock: Clock;
  retryIntervalMs: number;
  /** Largest `writes` message: a journal that can make this much room can finish any sync. */
  maxBatchBytes: number;
  phase: GroupPhase;
  link: LinkSession;
  stream: SendStream;
  capture: CapturePath;
  vms: VmInfo[];
  volumeVm: Map<string, VmId>;
  stopped(): boolean;
  scheduleRetry(): void;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

export class GroupLifecycle {
  private pauseTimer?: TimerHandle;
  /** The trigger of the sync a system pause interrupted, restored when it resumes. */
  private pausedTrigger?: SyncTrigger;

  constructor(private readonly parts: GroupLifecycleParts) {}

  // ---- pause and resume ------------------------------------------------------------------------

  pause(): void {
    this.parts.phase.set('paused-user', undefined);
  }

  resume(): void {
    const { phase, capture } = this.parts;
    if (phase.phase === 'paused-system') {
      // Resuming a system pause early is the intervention the pause waits for: same path as its end.
      this.pauseTimer?.cancel();
      void this.endSystemPause();
      return;
    }
    if (phase.phase !== 'paused-user') return;
    phase.fallBack('ConfigurationChanged');
    capture.kick();
  }

  /**
   * The receiver says a sync would leave a journal with less than ten minutes of checkpoints (S6): record
   * changes for the group's replicationPauseTime (ReplicationPausedSystemInitiated), so that someone can
   * enlarge the journal; then the sync goes on even if it costs the history.
   */
  systemPause(message: string): void {
    const { phase, clock } = this.parts;
    if (phase.paused) return;
    const ms = this.parts.settings.replicationPauseTimeMinutes * 60_000;
    this.parts.log?.('replication-paused', { groupId: this.parts.groupId, pauseMs: ms, message });
    this.pausedTrigger = phase.trigger;
    phase.set('paused-system', undefined);
    this.pauseTimer?.cancel();
    this.pauseTimer = clock.setTimer(ms, () => void this.endSystemPause());
  }

  /** The pause is over: probe that the journals can make room, then let the sync trim whatever it must. */
  private async endSystemPause(): Promise<void> {
    const { phase, link, clock } = this.parts;
    this.pauseTimer = undefined;
    if (this.parts.stopped() || phase.phase !== 'paused-system') return;
    const again = (): void => {
      this.pauseTimer = clock.setTimer(this.parts.retryIntervalMs, () => void this.endSystemPause());
    };
    if (link.connected) {
      try {
        // Room for one batch: with its history allowed to go, a journal that can free that much can finish any sync.
        const reply = await link.probe({ needBytes: this.parts.maxBatchBytes + 64 * 1024 });
        if (!reply.ok) {
          this.parts.log?.('pause-extended', { groupId: this.parts.groupId, message: reply.message });
          again();
          return;
        }
      } catch {
        again();
        return;
      }
    }
    if (phase.phase !== 'paused-system') return;
    if (link.connected) link.refusedByReceiver = false;
    phase.historyLossAllowed = true;
    phase.fallBack(this.pausedTrigger ?? 'ConfigurationChanged');
    if (link.connected) this.parts.capture.kick();
    else this.parts.scheduleRetry();
  }

  /** Asks whether recovery storage works again (after a storage error or a refusal); syncs if it does. */
  async probeStorage(): Promise<void> {
    const { phase, link } = this.parts;
    try {
      const reply = await link.probe({});
      if (reply.ok) {
        phase.storageError = undefined;
        link.refusedByReceiver = false;
        this.parts.capture.kick();
      } else this.parts.scheduleRetry();
    } catch {
      this.parts.scheduleRetry();
    }
  }

  // ---- VMs and volumes joining and leaving -------------------------------------------------------

  /**
   * Adds a VM to the running group: the receiver opens its journal, its capture starts, and a volume
   * initial sync copies it (sub-status VolumeInitialSync) while the other VMs keep streaming.
   */
  async addVm(vmId: VmId): Promise<void> {
    const { vms, volumeVm, link, capture } = this.parts;
    if (vms.some((v) => v.id === vmId)) throw new ValidationError(`VM '${vmId}' is already in group '${this.parts.groupId}'`, 'vmId');
    const vm = await this.parts.hypervisor.getVm(vmId);
    vms.push(vm);
    for (const v of vm.volumes) volumeVm.set(v.id, vm.id);
    capture.vmJoining(vm);
    // Its journal must exist at the receiver before its first write arrives; until then writes are recorded.
    if (link.connected) link.reportOpened(await link.reopen());
    await capture.attach(vmId);
    capture.kick();
  }

  /**
   * A volume was added to a protected VM: the receiver's journal takes it on, and a volume initial sync
   * copies that volume only (VolumeInitialSync, S7); the rest of the group keeps streaming.
   */
  async addVolume(vmId: VmId, volumeId: string): Promise<void> {
    const { vms, volumeVm, link, capture } = this.parts;
    const i = vms.findIndex((v) => v.id === vmId);
    if (i < 0) throw new ValidationError(`VM '${vmId}' is not in group '${this.parts.groupId}'`, 'vmId');
    if (volumeVm.has(volumeId)) throw new ValidationError(`volume '${volumeId}' is already protected in group '${this.parts.groupId}'`, 'volumeId');
    const fresh = await this.parts.hypervisor.getVm(vmId);
    const volume = fresh.volumes.find((v) => v.id === volumeId);
    if (!volume) throw new UnknownVolumeError(volumeId, `VM '${vmId}'`);
    vms[i] = { ...vms[i], volumes: [...vms[i].volumes, volume] };
    // The journal learns the volume before any write to it is sent; until the volume is registered below,
    // its writes are skipped: the volume initial sync reads them later.
    if (link.connected) await link.reopen().then((opened) => link.reportOpened(opened));
    volumeVm.set(volumeId, vmId);
    capture.volumeAdded(vmId, volumeId);
    capture.kick();
  }

  /**
   * Removes a VM from the running group: its capture stops, the receiver closes its journal (its files
   * stay, for a later preseed), and the group syncs what was in flight (BitmapSync, ConfigurationChanged);
   * checkpoints restart once that sync completes (S7). The other VMs' checkpoints stay listed.
   */
  async removeVm(vmId: VmId): Promise<void> {
    const { vms, volumeVm, phase, stream, link, capture } = this.parts;
    const i = vms.findIndex((v) => v.id === vmId);
    if (i < 0) throw new ValidationError(`VM '${vmId}' is not in group '${this.parts.groupId}'`, 'vmId');
    const [vm] = vms.splice(i, 1);
    for (const v of vm.volumes) volumeVm.delete(v.id);
    await capture.detach(vmId, vm.volumes.map((v) => v.id));
    // Unacknowledged writes go back to the capture path (the removed VM's are then dropped with its
    // regions), so no write of the VM is sent after the receiver closed its journal.
    if (!phase.paused) phase.fallBack('ConfigurationChanged');
    else stream.spill();
    capture.vmLeft();
    await link.closeVm(vmId);
    this.parts.log?.('vm-removed', { groupId: this.parts.groupId, vmId });
    capture.kick();
  }

  stop(): void {
    this.pauseTimer?.cancel();
  }
}
