// The change-tracking capture path, for platforms without a write splitter (vSphere CBT, Hyper-V RCT, EBS
// changed blocks, QEMU dirty bitmaps): every cycle it freezes a view of the group's VMs, reads from it only
// what changed since each volume's acknowledged token (allocated regions on a first copy, a delta sync when
// a token is lost), queues it on the group's stream — compression, throttling, priorities and the send
// window apply — and then the cycle's checkpoint markers. Tokens advance only once the recovery site has
// acknowledged all of it; a failed cycle is retried and the next view covers everything since the last
// acknowledged tokens. Views are always released; leftovers of a killed process are found by name.
//
// Cycles and checkpoints: a checkpoint the scheduler cuts starts a cycle at once (or right after the one
// running) and is listed at its end with the view's time, so actual RPO counts from the view. When no
// cut comes for 1.25 intervals (the manager is down, J8), the capture runs data-only cycles by itself:
// replication continues, their data lands after the newest checkpoint, and no checkpoint is listed.
import type { Clock, TimerHandle } from '../clock.js';
import { ValidationError } from '../errors.js';
import type { Checkpoint, CheckpointKind, VmId, VmInfo } from '../model.js';
import { ChangeTokenLostError, ChangeViewError, type ChangeTracking, type ChangeView } from '../ports/change-tracking.js';
import type { ReplicationPhase } from '../status/group-status.js';
import { allocatedRegions, changedRegions, shipDelta, shipRegions, type CycleSink, type ShipStats } from '../capture/cycle-reader.js';
import { CycleViews, sweepViews, viewPrefix } from '../capture/cycle-views.js';
import { RegionListError } from '../capture/region-list.js';
import { TokenBook } from '../capture/token-book.js';
import type { CapturePath, CaptureNotice, CaptureStats } from './capture-path.js';
import type { GroupPhase } from './group-phase.js';
import type { LinkSession } from './link-session.js';
import type { GroupOpenedMeta } from './protocol.js';
import { SyncInterruptedError, type SendStream } from './send-stream.js';
import { streamSink } from './stream-sink.js';

export interface ChangeTrackingCaptureParts {
  groupId: string;
  platform: string;
  tracking: ChangeTracking;
  phase: GroupPhase;
  stream: SendStream;
  link: LinkSession;
  vms: VmInfo[];
  volumeVm: Map<string, VmId>;
  clock: Clock;
  /** The group's checkpoint interval (the cycle when no cut comes). */
  intervalMs(): number;
  preseeded: boolean;
  /** Where acknowledged tokens are kept across restarts (none: in memory; a restart compares by delta sync). */
  tokenFile?: string;
  stopped(): boolean;
  scheduleRetry(): void;
  synced(finished: ReplicationPhase): void;
  notice(notice: CaptureNotice): void;
  /** Room in the appliance's shared buffer for `bytes` more (lower-priority groups fall back first). */
  makeRoom(bytes: number): void;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

/** What one cycle does, fixed when it starts (`compared` collects the volumes it compared with the recovery site). */
interface CyclePlan {
  registered: Set<string>;
  pending?: 'initial' | 'delta';
  initial: Set<string>;
  delta: Set<string>;
  compared: Set<string>;
}

export class ChangeTrackingCapture implements CapturePath {
  readonly mode = 'change-tracking' as const;
  private tokens!: TokenBook;
  /** The whole-group copy due next: allocated regions of every volume, or a comparison with the receiver. */
  private pending?: 'initial' | 'delta';
  /** Volumes of VMs or disks added to the running group: their first cycle copies allocated regions. */
  private readonly initialVolumes = new Set<string>();
  /** Volumes to compare with the receiver (token lost, a bad region list), with the cause. */
  private readonly deltaVolumes = new Map<string, string>();
  /** VMs whose tracking is on (a VM joining is attached once the receiver knows it). */
  private readonly attached = new Set<VmId>();
  /** Checkpoints asked for since the last cycle froze its views; `frozen` settles once a view holds them (or the cycle failed before). */
  private requests: { checkpoint: Checkpoint; frozen: (taken: boolean) => void }[] = [];
  /** Per asked-for checkpoint id: whether a view was frozen for it. */
  private readonly frozenFor = new Map<string, Promise<boolean>>();
  private holding = false;
  private running?: Promise<boolean>;
  private watchdog?: TimerHandle;
  private cycleNo = 0;
  private killed = false;
  /** A release failed: sweep the platform for our views before the next cycle. */
  private leftovers = true;
  /** Per VM, the highest sequence number of its writes queued so far (recorded with its tokens). */
  private readonly vmSeq = new Map<VmId, number>();
  private readonly counters = { cycles: 0, listedBytes: 0, viewBytesRead: 0 };
  private readonly prefix: string;

  constructor(private readonly parts: ChangeTrackingCaptureParts) {
    this.prefix = viewPrefix(parts.groupId);
  }

  async start(): Promise<void> {
    const { groupId } = this.parts;
    for (const vm of this.parts.vms) await this.attach(vm.id, false);
    this.tokens = await TokenBook.open(groupId, this.parts.tokenFile, (why) => this.notice({ kind: 'token-file-discarded', message: `change-tracking tokens of group '${groupId}' not used: ${why}` }));
    const volumes = this.parts.vms.flatMap((vm) => vm.volumes.map((v) => ({ vmId: vm.id, id: v.id })));
    const known = volumes.filter((v) => this.tokens.get(v.vmId, v.id) !== undefined);
    if (known.length === 0) this.pending = this.parts.preseeded ? 'delta' : 'initial';
    // Tokens from before a restart: the receiver's answer to open-group decides whether they still hold.
    else for (const v of volumes) if (!known.includes(v)) this.deltaVolumes.set(v.id, `volume '${v.id}' has no change-tracking token`);
    await this.sweep();
    this.armWatchdog();
  }

  opened(meta: GroupOpenedMeta): void {
    const allFresh = meta.vms.length > 0 && meta.vms.every((v) => v.fresh);
    if (allFresh && this.tokens.vmIds.length > 0) {
      // Tokens from before, but the recovery site holds no journal of the group (deleted since): start over.
      for (const vmId of this.tokens.vmIds) this.tokens.forgetVm(vmId);
      this.deltaVolumes.clear();
      this.pending ??= this.parts.preseeded ? 'delta' : 'initial';
    } else if (!allFresh) {
      if (this.pending === 'initial') this.pending = 'delta'; // our state was lost (restart): compare instead of copying
      for (const v of meta.vms) {
        const acknowledged = this.tokens.seqOf(v.vmId);
        if (this.tokens.vmIds.includes(v.vmId) && (v.fresh || v.lastSeq < acknowledged)) {
          this.tokens.forgetVm(v.vmId);
          const cause = v.fresh ? `the recovery site has no journal of VM '${v.vmId}'` : `the recovery site holds VM '${v.vmId}' up to seq ${v.lastSeq}, less than the ${acknowledged} acknowledged with its tokens`;
          for (const volume of this.parts.vms.find((x) => x.id === v.vmId)?.volumes ?? []) this.deltaVolumes.set(volume.id, cause);
        }
      }
    }
    this.kick();
  }

  get ready(): boolean { return !this.holding; }

  get idle(): boolean {
    return !this.running && this.pending === undefined && this.initialVolumes.size === 0 && this.deltaVolumes.size === 0 && this.requests.length === 0;
  }

  /** The barrier: no view is frozen while a cut is being made (`mark` queues the cut's checkpoint). */
  hold(): void {
    if (this.holding) throw new ValidationError(`a checkpoint of group '${this.parts.groupId}' is already being cut`);
    this.holding = true;
  }

  release(): void {
    this.holding = false;
    this.kick();
  }

  /**
   * Asks for a checkpoint at the end of the next cycle. What is returned is provisional: id, kind and tag
   * are final; the listed checkpoint carries the cycle's sequence number and its view's time.
   */
  mark(id: string, kind: CheckpointKind, timestamp: number, tag?: string): Checkpoint {
    const checkpoint: Checkpoint = { id, groupId: this.parts.groupId, seq: this.parts.stream.seq, timestamp, kind, ...(tag !== undefined ? { tag } : {}) };
    let frozen!: (taken: boolean) => void;
    const settled = new Promise<boolean>((resolve) => (frozen = resolve));
    this.frozenFor.set(id, settled);
    void settled.then(() => this.frozenFor.delete(id));
    this.requests.push({ checkpoint, frozen });
    return checkpoint;
  }

  /** Resolves true once a view holding everything up to the cut of `checkpointId` is frozen, false if none will be. */
  whenFrozen(checkpointId: string): Promise<boolean> {
    return this.frozenFor.get(checkpointId) ?? Promise.resolve(false);
  }

  forceSync(): void {
    this.pending = 'delta';
    this.parts.phase.trigger = 'ForceSync';
    this.kick();
  }

  /** Nothing to remember: the next view covers everything since the acknowledged tokens. */
  dropped(): void {}

  vmJoining(vm: VmInfo): void { for (const v of vm.volumes) this.initialVolumes.add(v.id); }

  async attach(vmId: VmId, kick = true): Promise<void> {
    await this.parts.tracking.enable(vmId);
    this.attached.add(vmId);
    if (kick) this.kick();
  }

  volumeAdded(_vmId: VmId, volumeId: string): void { this.initialVolumes.add(volumeId); }

  async detach(vmId: VmId, volumeIds: readonly string[]): Promise<void> {
    this.attached.delete(vmId);
    for (const id of volumeIds) {
      this.initialVolumes.delete(id);
      this.deltaVolumes.delete(id);
    }
    this.tokens.forgetVm(vmId);
    await this.tokens.save();
    await this.parts.tracking.disable(vmId).catch((e: Error) => this.parts.log?.('tracking-disable-failed', { groupId: this.parts.groupId, vmId, message: e.message }));
  }

  /** The leaving VM's tokens went with `detach`. */
  vmLeft(): void {}

  stats(): CaptureStats { return { bitmapBytes: 0, bitmapDirtyBytes: 0, ...this.counters }; }

  async settled(): Promise<void> {
    for (;;) {
      if (this.running) await this.running;
      else if (this.requests.length > 0 && this.canStart()) this.kick();
      else return;
    }
  }

  async stop(): Promise<void> {
    this.watchdog?.cancel();
    await this.running; // its views are released on the way out
  }

  kill(): void {
    this.killed = true;
    this.watchdog?.cancel();
  }

  /** Starts a cycle when the group can run one and none runs. */
  kick(): void {
    if (this.running || !this.canStart()) return;
    if (this.parts.link.refusedByReceiver) {
      // The receiver drops our writes until a probe clears its refusal.
      this.parts.scheduleRetry();
      return;
    }
    const cycle = this.cycle();
    this.running = cycle;
    void cycle.then((ok) => {
      this.running = undefined;
      if (!ok) this.parts.scheduleRetry();
      // Work that came while the cycle ran (a cut, an added VM or volume, a force sync) does not wait for the watchdog.
      else if (this.requests.length > 0 || this.pending || this.initialVolumes.size > 0 || this.deltaVolumes.size > 0) this.kick();
    });
  }

  private canStart(): boolean {
    const { phase, link } = this.parts;
    return !this.parts.stopped() && !this.killed && link.connected && link.groupOpened && !phase.storageError && !phase.paused && !this.holding;
  }

  /** One cycle; resolves true when all of it (and its checkpoints) was acknowledged durable. */
  private async cycle(): Promise<boolean> {
    const { phase, stream, clock } = this.parts;
    this.armWatchdog();
    const requests = this.requests.splice(0);
    const spills = stream.spills;
    const vms = this.parts.vms.filter((vm) => this.attached.has(vm.id));
    // The cycle's plan is fixed now: a volume registered, a force sync or a copy asked for while it runs waits
    // for the next cycle (whose sub-status then shows it).
    const plan: CyclePlan = { registered: new Set(this.parts.volumeVm.keys()), pending: this.pending, initial: new Set(this.initialVolumes), delta: new Set(this.deltaVolumes.keys()), compared: new Set() };
    let views: CycleViews | undefined;
    try {
      if (this.leftovers) await this.sweep();
      if (vms.length === 0) return true; // an empty group lists no checkpoint (its requests settle false below)
      this.enterPhase(plan);
      try {
        views = await CycleViews.open(this.parts.tracking, vms.map((vm) => vm.id), this.prefix, `${clock.now().toString(36)}-${++this.cycleNo}`);
      } catch (e) {
        this.failBack('view-open-failed', `no view of group '${this.parts.groupId}' could be taken: ${(e as Error).message}`);
        throw e;
      }
      for (const r of requests) r.frozen(true);
      const next: { vmId: VmId; volumeId: string; token: string }[] = [];
      const sink = streamSink(this.parts, spills, () => this.killed, (vmId, seq) => this.vmSeq.set(vmId, seq));
      for (const vm of vms) {
        const view = views.of(vm.id);
        for (const volume of vm.volumes.filter((v) => plan.registered.has(v.id))) {
          const cost = await this.ship(view, vm.id, volume, sink, plan);
          this.counters.listedBytes += cost.listedBytes;
          this.counters.viewBytesRead += cost.readBytes;
          next.push({ vmId: vm.id, volumeId: volume.id, token: view.token(volume.id) });
        }
      }
      for (const r of requests) stream.pushCheckpoint({ ...r.checkpoint, seq: stream.seq, timestamp: views.takenAt });
      await stream.drained();
      sink.check();
      await this.advance(next, plan);
      const finished = phase.phase;
      // The group may have fallen back meanwhile (the link dropped after the last ack): then it stays there.
      if (finished !== 'streaming' && !phase.interruptsSync && !phase.storageError) {
        phase.streaming();
        this.parts.synced(finished);
      }
      return true;
    } catch (e) {
      if (e instanceof ChangeViewError && e.step === 'read') this.failBack('view-read-failed', `a view of group '${this.parts.groupId}' could not be read: ${e.message}`);
      this.parts.log?.('cycle-failed', { groupId: this.parts.groupId, message: (e as Error).message, checkpointsDropped: requests.map((r) => r.checkpoint.id) });
      return false;
    } finally {
      for (const r of requests) r.frozen(false); // no-op for those frozen already
      if (views && !this.killed) {
        for (const error of await views.release()) {
          this.leftovers = true;
          this.notice({ kind: 'view-release-failed', message: `a view of group '${this.parts.groupId}' could not be released (it is retried before the next cycle): ${error.message}` });
        }
      }
    }
  }

  /** The sub-status this cycle runs under: a copy or comparison that is due, a catch-up after a fallback, or plain streaming. */
  private enterPhase(plan: CyclePlan): void {
    const { phase } = this.parts;
    if (plan.pending === 'initial') phase.set('initial-sync', undefined);
    else if (plan.pending === 'delta') phase.set('delta-sync', phase.trigger);
    else if (plan.initial.size > 0) phase.set('volume-initial-sync', 'ConfigurationChanged');
    else if (plan.delta.size > 0) this.enterDelta(this.deltaVolumes.get([...plan.delta][0]) ?? 'a comparison is due');
    // A cycle after a fallback covers everything since the acknowledged tokens: the change-tracking bitmap sync.
    else if (phase.phase !== 'streaming') phase.set('bitmap-sync', phase.trigger ?? 'RecoveryApplianceCommunicationProblem', phase.cause);
  }

  /** A delta sync of the volumes in `deltaVolumes` (of all of them: DeltaSync; of some: VolumeDeltaSync). */
  private enterDelta(cause: string): void {
    const { phase } = this.parts;
    if (phase.phase === 'initial-sync' || phase.phase === 'delta-sync' || phase.phase === 'volume-initial-sync') return;
    const all = this.parts.vms.every((vm) => vm.volumes.every((v) => this.deltaVolumes.has(v.id)));
    phase.set(all ? 'delta-sync' : 'volume-delta-sync', 'ProtectedStorageError', cause);
  }

  /** Ships one volume of the cycle: allocated regions, changed regions, or a delta sync. */
  private async ship(view: ChangeView, vmId: VmId, volume: VmInfo['volumes'][number], sink: CycleSink, plan: CyclePlan): Promise<ShipStats> {
    if (plan.pending === 'initial' || plan.initial.has(volume.id)) return shipRegions(view, vmId, volume, await allocatedRegions(view, volume), sink, { skipZeros: true });
    const token = this.tokens.get(vmId, volume.id);
    if (plan.pending === 'delta' || plan.delta.has(volume.id) || token === undefined) {
      plan.compared.add(volume.id);
      return shipDelta(view, vmId, volume, sink);
    }
    try {
      return await shipRegions(view, vmId, volume, await changedRegions(view, volume, token), sink, { skipZeros: false });
    } catch (e) {
      if (e instanceof RegionListError) {
        this.deltaVolumes.set(volume.id, e.message);
        this.failBack('region-list-refused', e.message, vmId, volume.id);
        throw e;
      }
      if (!(e instanceof ChangeTokenLostError)) throw e;
      // Never an empty cycle: compare the volume with the recovery site instead.
      const cause = `change tracking lost the token of volume '${volume.id}' of VM '${vmId}' (${e.reason}); comparing it with the recovery site`;
      this.deltaVolumes.set(volume.id, cause);
      this.notice({ kind: 'change-token-lost', message: `${cause}: ${e.message}`, vmId, volumeId: volume.id });
      this.enterDelta(cause);
      plan.compared.add(volume.id);
      return shipDelta(view, vmId, volume, sink);
    }
  }

  /** The cycle is acknowledged durable: its tokens replace the old ones (retired on the platform), copies and comparisons are done. */
  private async advance(next: { vmId: VmId; volumeId: string; token: string }[], plan: CyclePlan): Promise<void> {
    const retire: { vmId: VmId; volumeId: string; token: string }[] = [];
    for (const t of next) {
      const old = this.tokens.commit(t.vmId, t.volumeId, t.token, this.vmSeq.get(t.vmId) ?? this.tokens.seqOf(t.vmId));
      if (old !== undefined) retire.push({ ...t, token: old });
      if (plan.initial.has(t.volumeId) || plan.pending === 'initial') this.initialVolumes.delete(t.volumeId);
      if (plan.compared.has(t.volumeId)) this.deltaVolumes.delete(t.volumeId);
    }
    // Done unless a new one was asked for while the cycle ran (a force sync, a restart's comparison).
    if (this.pending === plan.pending) this.pending = undefined;
    // A killed process saves and retires nothing more (its last saved tokens stay valid: none was retired).
    if (this.killed) throw new SyncInterruptedError(this.parts.groupId, 'killed');
    await this.tokens.save();
    if (this.killed) throw new SyncInterruptedError(this.parts.groupId, 'killed');
    for (const r of retire) {
      await this.parts.tracking.retireToken(r.vmId, r.volumeId, r.token).catch((e: Error) => this.parts.log?.('token-retire-failed', { groupId: this.parts.groupId, volumeId: r.volumeId, message: e.message }));
    }
    this.counters.cycles++;
  }

  /** A platform failure: the group records (nothing is lost: the next view covers it) and says why. */
  private failBack(kind: CaptureNotice['kind'], message: string, vmId?: VmId, volumeId?: string): void {
    this.notice({ kind, message, ...(vmId ? { vmId } : {}), ...(volumeId ? { volumeId } : {}) });
    if (!this.parts.phase.paused) this.parts.phase.fallBack('ProtectedStorageError', message);
  }

  /** Releases our views left on the platform (a killed process's, or a failed release's). */
  private async sweep(): Promise<void> {
    const mine = new Set(this.parts.vms.map((vm) => vm.id));
    try {
      const { released, failed } = await sweepViews(this.parts.tracking, this.prefix, (id) => mine.has(id));
      for (const v of released) this.notice({ kind: 'view-leftover-released', message: `released view '${v.name}' left on platform '${this.parts.platform}'` });
      for (const f of failed) this.notice({ kind: 'view-release-failed', message: `leftover view '${f.view.name}' could not be released: ${f.error.message}` });
      this.leftovers = failed.length > 0;
    } catch (e) {
      this.parts.log?.('view-sweep-failed', { groupId: this.parts.groupId, message: (e as Error).message });
    }
  }

  private armWatchdog(): void {
    this.watchdog?.cancel();
    if (this.parts.stopped() || this.killed) return;
    this.watchdog = this.parts.clock.setTimer(Math.ceil(1.25 * this.parts.intervalMs()), () => {
      this.watchdog = undefined;
      this.kick();
      if (!this.watchdog) this.armWatchdog();
    });
  }

  private notice(notice: CaptureNotice): void {
    this.parts.log?.(notice.kind, { groupId: this.parts.groupId, ...notice });
    this.parts.notice(notice);
  }
}
