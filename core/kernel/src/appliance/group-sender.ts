// One protected group on one protected appliance: it wires the group's parts together — the phase (its
// state machine), the link session, the streaming path, the capture path (splitter or change tracking)
// and the lifecycle — and is what the appliance, the scheduler and the control plane talk to.
import { EventEmitter } from 'node:events';
import path from 'node:path';
import type { TimerHandle } from '../clock.js';
import { captureModeOf, type CaptureMode } from '../capture/capture-mode.js';
import type { Checkpoint, CheckpointKind, VmId, VmInfo } from '../model.js';
import { journalSizeBytes, PRIORITY_CODES, type ProtectionGroupSettings } from '../settings.js';
import type { ReplicationPhase, SyncTrigger } from '../status/group-status.js';
import type { CaptureNotice, CapturePath, CaptureStats } from './capture-path.js';
import { ChangeTrackingCapture } from './change-tracking-capture.js';
import { GroupLifecycle } from './group-lifecycle.js';
import { GroupPhase } from './group-phase.js';
import { LinkSession } from './link-session.js';
import type { OpenGroupMeta } from './protocol.js';
import { SendStream, type SenderCounters } from './send-stream.js';
import { SplitterCapture } from './splitter-capture.js';
import type { ProtectedApplianceOptions } from './protected-appliance-options.js';

export interface GroupProtection {
  groupId: string;
  settings: ProtectionGroupSettings;
  vmIds: VmId[];
  /** The recovery appliance's link address. */
  recoveryAddress: string;
  /** The recovery site already holds (most of) the data: start with a delta sync instead of a full copy. */
  preseeded?: boolean;
  /** The capture mode, where the platform offers both (default: the splitter when there is one). */
  capture?: CaptureMode;
}

export interface SenderState {
  phase: ReplicationPhase;
  connected: boolean;
  trigger?: SyncTrigger;
  storageError?: 'journal' | 'recovery';
  /** Why the group is in this phase, when the trigger alone does not say (e.g. a lost change-tracking token). */
  cause?: string;
}

export interface SenderStats extends SenderCounters, CaptureStats {
  seq: number;
  bufferedBytes: number;
}

/** What a group sender needs of its appliance: the options and the shared buffer. */
export interface SenderHost {
  readonly options: ProtectedApplianceOptions;
  readonly bufferBytes: number;
  /** Room in the shared buffer for `bytes` more; false when `requester` itself had to fall back. */
  makeRoom(requester: GroupSender, bytes: number): boolean;
}

export class GroupSender extends EventEmitter<{ state: [SenderState]; checkpoint: [Checkpoint]; synced: [ReplicationPhase]; notice: [CaptureNotice] }> {
  private readonly volumeVm = new Map<string, VmId>();
  private readonly phase: GroupPhase;
  private readonly link: LinkSession;
  private readonly stream: SendStream;
  private readonly capture: CapturePath;
  private readonly lifecycle: GroupLifecycle;
  private stopped = false;
  private retryTimer?: TimerHandle;

  constructor(private readonly appliance: SenderHost, readonly group: GroupProtection, readonly vms: VmInfo[]) {
    super();
    for (const vm of vms) for (const v of vm.volumes) this.volumeVm.set(v.id, vm.id);
    const options = appliance.options;
    const log = options.log;
    const stopped = (): boolean => this.stopped;
    this.phase = new GroupPhase({ onPause: () => this.stream.spill(), onChange: () => this.emit('state', this.state) });
    this.link = new LinkSession({
      groupId: group.groupId, siteId: options.siteId, recoveryAddress: group.recoveryAddress, network: options.network, clock: options.clock,
      ...(options.keepAliveMs !== undefined ? { keepAliveMs: options.keepAliveMs } : {}), ...(options.deadPeerMs !== undefined ? { deadPeerMs: options.deadPeerMs } : {}),
      ...(log ? { log } : {}), describe: () => this.describe(), stopped,
    }, {
      opened: (opened) => {
        for (const vm of opened.vms) this.stream.resumeAbove(vm.lastSeq);
        this.capture.opened(opened);
      },
      ack: (durableSeq, receivedSeq) => this.stream.acknowledged(durableSeq, receivedSeq),
      fallback: (meta) => {
        this.stream.spill();
        if (meta.storageError) this.phase.storageError = meta.storageError;
        this.phase.fallBack(meta.trigger);
        this.scheduleRetry();
      },
      journalFull: (message) => this.lifecycle.systemPause(message),
      disconnected: () => {
        this.stream.spill();
        if (!this.phase.paused) this.phase.fallBack('RecoveryApplianceCommunicationProblem');
        else this.phase.announce();
        this.scheduleRetry();
      },
      refused: () => { this.stopped = true; },
    });
    this.stream = new SendStream({
      groupId: group.groupId, phase: this.phase, link: this.link, compress: () => this.group.settings.useWanCompression, bufferBytes: () => appliance.bufferBytes,
      ...(options.sendWindowBytes !== undefined ? { sendWindowBytes: options.sendWindowBytes } : {}), ...(options.maxBatchBytes !== undefined ? { maxBatchBytes: options.maxBatchBytes } : {}),
      dropped: (write) => this.capture.dropped(write), ...(log ? { log } : {}),
    });
    const common = {
      groupId: group.groupId, hypervisor: options.hypervisor, phase: this.phase, stream: this.stream, link: this.link, vms: this.vms, volumeVm: this.volumeVm,
      clock: options.clock, retryIntervalMs: options.retryIntervalMs ?? 1000, stopped, scheduleRetry: () => this.scheduleRetry(), ...(log ? { log } : {}),
    };
    const synced = (finished: ReplicationPhase): boolean => this.emit('synced', finished);
    const hv = options.hypervisor;
    this.capture = captureModeOf(hv, group.capture) === 'splitter'
      ? new SplitterCapture({
        ...common, bitmapBudgetBytes: options.bitmapBudgetBytes ?? 1024 * 1024, preseeded: !!group.preseeded,
        streamingData: () => this.streamingData, makeRoom: (bytes) => appliance.makeRoom(this, bytes), synced,
      })
      : new ChangeTrackingCapture({
        ...common, platform: hv.platform, tracking: hv.changeTracking!, intervalMs: () => group.settings.checkpointIntervalMs, preseeded: !!group.preseeded,
        ...(options.stateDir ? { tokenFile: path.join(options.stateDir, 'change-tracking', `${group.groupId.replace(/[^A-Za-z0-9_.-]/g, '_')}.json`) } : {}),
        synced, notice: (n) => this.emit('notice', n), makeRoom: (bytes) => { appliance.makeRoom(this, bytes); },
      });
    this.lifecycle = new GroupLifecycle({ ...common, settings: group.settings, maxBatchBytes: options.maxBatchBytes ?? 1024 * 1024, capture: this.capture });
  }

  get groupId(): string {
    return this.group.groupId;
  }

  /** How the group's changes are captured here: every write (splitter) or cycles of views (change tracking). */
  get captureMode(): CaptureMode {
    return this.capture.mode;
  }

  get priority(): number {
    return PRIORITY_CODES[this.group.settings.priority];
  }

  get seq(): number {
    return this.stream.seq;
  }

  get bufferedBytes(): number {
    return this.stream.bufferedBytes;
  }

  get state(): SenderState {
    return {
      phase: this.phase.phase, connected: this.connected,
      ...(this.phase.trigger ? { trigger: this.phase.trigger } : {}), ...(this.phase.storageError ? { storageError: this.phase.storageError } : {}),
      ...(this.phase.cause ? { cause: this.phase.cause } : {}),
    };
  }

  /** True while new writes are streamed (not recorded for a later sync). */
  get streamingData(): boolean {
    return this.connected && !this.phase.storageError && this.phase.sending;
  }

  get connected(): boolean {
    return this.link.connected;
  }

  /** Nothing is due or running on the capture side: no change-tracking cycle runs or waits (always true with a splitter). */
  get captureIdle(): boolean {
    return this.capture.idle;
  }

  /** A checkpoint may be cut: streaming, connected, no sync under way, not paused. */
  get canCheckpoint(): boolean {
    return this.connected && this.phase.phase === 'streaming' && !this.phase.storageError && this.capture.ready;
  }

  currentStats(): SenderStats {
    return { ...this.stream.stats, seq: this.stream.seq, bufferedBytes: this.stream.bufferedBytes, ...this.capture.stats() };
  }

  async start(): Promise<void> {
    await this.capture.start();
    // The link comes up in the background; until it does, changes are recorded for a sync.
    void this.link.connect();
  }

  // ---- user actions (the lifecycle decides the order of things) --------------------------------

  pause(): void { this.lifecycle.pause(); }
  resume(): void { this.lifecycle.resume(); }
  /** Adds a VM to the running group (VolumeInitialSync for it; the others keep streaming). */
  addVm(vmId: VmId): Promise<void> { return this.lifecycle.addVm(vmId); }
  /** A volume was hot-added to a protected VM: VolumeInitialSync for that volume only. */
  addVolume(vmId: VmId, volumeId: string): Promise<void> { return this.lifecycle.addVolume(vmId, volumeId); }
  /** Removes a VM from the running group (its journal closes at the receiver; the rest syncs and goes on). */
  removeVm(vmId: VmId): Promise<void> { return this.lifecycle.removeVm(vmId); }
  /** Compares both sides block by block and re-sends what differs (delta sync, trigger ForceSync). */
  forceSync(): void { this.capture.forceSync(); }

  async stop(): Promise<void> {
    this.stopped = true;
    this.retryTimer?.cancel();
    this.lifecycle.stop();
    await this.capture.stop();
    await this.link.close();
  }

  /** Stops at once, as a kill -9 of the appliance would: nothing is released, flushed or said goodbye to. */
  async kill(): Promise<void> {
    this.stopped = true;
    this.retryTimer?.cancel();
    this.lifecycle.stop();
    this.capture.kill();
    await this.link.close();
  }

  // ---- checkpoint barrier (driven by the scheduler) ------------------------------------------

  /** Holds the completion of every new write (or the next view) until `release`. */
  hold(): void { this.capture.hold(); }
  release(): void { this.capture.release(); }

  /** Queues a checkpoint marker after every write stamped so far. */
  mark(id: string, kind: CheckpointKind, timestamp: number, tag?: string): Checkpoint {
    const checkpoint = this.capture.mark(id, kind, timestamp, tag);
    this.emit('checkpoint', checkpoint);
    return checkpoint;
  }

  /**
   * Resolves true once the cut of `checkpointId` is fixed: at once with a splitter; in change-tracking
   * mode when the view that checkpoint lists is frozen (a quiesced guest may be thawed then), false when
   * its cycle failed before (the checkpoint will not be listed).
   */
  whenFrozen(checkpointId: string): Promise<boolean> {
    return this.capture.whenFrozen(checkpointId);
  }

  /** Resolves when every write and marker queued so far (and checkpoints asked for) is acknowledged durable; rejects if the link is down. */
  async whenDrained(): Promise<void> {
    await this.capture.settled();
    await this.stream.whenDrained();
  }

  /** The shared buffer is past its limit and this group was chosen to fall back. */
  congested(): void {
    // Data not yet on the wire (never sent, or waiting in the link's queue) means the network is the bottleneck.
    const backedUp = this.stream.backedUp;
    this.stream.spill();
    this.phase.fallBack(backedUp ? 'NetworkCongestion' : 'ProtectedApplianceCongestion');
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retryTimer) return;
    const { clock, retryIntervalMs = 1000 } = this.appliance.options;
    this.retryTimer = clock.setTimer(retryIntervalMs, () => {
      this.retryTimer = undefined;
      if (this.stopped) return;
      if (!this.connected) void this.link.connect();
      else if (this.phase.storageError || this.link.refusedByReceiver) void this.lifecycle.probeStorage();
      else this.capture.kick();
    });
  }

  /** The group as the receiver opens it: VMs, volumes and journal sizes. */
  private describe(): Omit<OpenGroupMeta, 'groupId'> {
    const settings = this.group.settings;
    const provisioned = (vm: VmInfo): number => vm.volumes.reduce((n, v) => n + v.sizeBytes, 0);
    return {
      vms: this.vms.map((vm) => ({ vmId: vm.id, volumes: vm.volumes.map((v) => ({ id: v.id, sizeBytes: v.sizeBytes, sectorSize: v.sectorSize })) })),
      journal: {
        historyMs: settings.journalHistoryHours * 3_600_000,
        // `1` keeps the meta valid for a sender whose last VM left the group (there is no journal to size).
        hardLimitBytes: Math.max(1, ...this.vms.map((vm) => journalSizeBytes(settings.journal.hardLimit, provisioned(vm)))),
        warningBytes: Math.max(1, ...this.vms.map((vm) => journalSizeBytes(settings.journal.warningThreshold, provisioned(vm)))),
      },
    };
  }
}
