// The splitter capture path: a write tap per VM hands every guest write to the stream as it happens
// (true CDP); what cannot be sent (link down, buffer full, paused) is recorded in a dirty-region bitmap
// and re-sent by a bitmap sync; the sync engine brings whole volumes in line. The checkpoint barrier holds
// guest write completions, so a marker separates "before" from "after" across every tap of the group.
import type { Clock } from '../clock.js';
import { ValidationError } from '../errors.js';
import type { Checkpoint, CheckpointKind, GuestWrite, VmId, VmInfo } from '../model.js';
import type { WriteTap } from '../ports/write-tap.js';
import { WriteGate } from '../capture/write-gate.js';
import { DirtyBitmap } from '../sync/dirty-bitmap.js';
import type { CapturePath, CaptureStats } from './capture-path.js';
import type { GroupOpenedMeta } from './protocol.js';
import type { WriteItem } from './send-stream.js';
import { SyncEngine, type SyncEngineParts } from './sync-engine.js';

export interface SplitterCaptureParts extends Omit<SyncEngineParts, 'bitmap' | 'tapsDown'> {
  clock: Clock;
  retryIntervalMs: number;
  /** Memory budget of the group's dirty-region bitmap. */
  bitmapBudgetBytes: number;
  preseeded: boolean;
  /** New writes are streamed now (connected, storage fine, a sending phase). */
  streamingData(): boolean;
  /** Room in the appliance's shared buffer for `bytes` more (false: this group fell back). */
  makeRoom(bytes: number): boolean;
}

export class SplitterCapture implements CapturePath {
  readonly mode = 'splitter' as const;
  private bitmap: DirtyBitmap;
  private readonly taps: WriteTap[] = [];
  /** VMs whose tap the platform closed and that are not re-attached yet. */
  private readonly tapsDown = new Set<VmId>();
  private readonly gate: WriteGate;
  readonly syncs: SyncEngine;

  constructor(private readonly parts: SplitterCaptureParts) {
    this.bitmap = this.newBitmap();
    this.gate = new WriteGate(parts.groupId);
    this.syncs = new SyncEngine({ ...parts, bitmap: () => this.bitmap, tapsDown: () => this.tapsDown.size }, parts.preseeded);
  }

  async start(): Promise<void> {
    const hv = this.parts.hypervisor;
    if (!hv.openTap) throw new ValidationError(`platform '${hv.platform}' has no write splitter; snapshot shipping is not implemented yet`, 'hypervisor');
    for (const vm of this.parts.vms) await this.attach(vm.id);
  }

  opened(meta: GroupOpenedMeta): void {
    if (!meta.vms.every((v) => v.fresh)) this.syncs.receiverNotFresh();
    this.kick();
  }

  kick(): void {
    this.syncs.kick();
  }

  forceSync(): void {
    this.syncs.forceSync();
  }

  dropped(write: WriteItem): void {
    this.bitmap.mark(write.volumeId, write.offset, write.data.length);
  }

  get idle(): boolean {
    return true;
  }

  get ready(): boolean {
    return !this.gate.held && this.tapsDown.size === 0;
  }

  stats(): CaptureStats {
    return { bitmapBytes: this.bitmap.memoryBytes, bitmapDirtyBytes: this.bitmap.dirtyBytes };
  }

  // ---- the barrier (driven by the scheduler) -------------------------------------------------

  /** Holds the completion of every new write until `release`. */
  hold(): void {
    this.gate.hold();
  }

  release(): void {
    this.gate.release();
  }

  /** Queues a checkpoint marker after every write stamped so far. */
  mark(id: string, kind: CheckpointKind, timestamp: number, tag?: string): Checkpoint {
    const checkpoint: Checkpoint = { id, groupId: this.parts.groupId, seq: this.parts.stream.seq, timestamp, kind, ...(tag !== undefined ? { tag } : {}) };
    this.parts.stream.pushCheckpoint(checkpoint);
    return checkpoint;
  }

  async whenFrozen(): Promise<boolean> {
    return true; // the marker is queued behind every write stamped before the cut
  }

  // ---- membership ------------------------------------------------------------------------------

  vmJoining(vm: VmInfo): void {
    this.rebuildBitmap(() => true);
    for (const v of vm.volumes) this.syncs.pendingVolumes.add(v.id);
  }

  async attach(vmId: VmId): Promise<void> {
    const tap = await this.parts.hypervisor.openTap!(vmId);
    tap.onClose?.((reason) => this.tapClosed(vmId, tap, reason));
    tap.start((w) => this.onWrite(vmId, w));
    this.taps.push(tap);
    this.tapsDown.delete(vmId);
  }

  volumeAdded(_vmId: VmId, volumeId: string): void {
    this.rebuildBitmap(() => true);
    this.syncs.pendingVolumes.add(volumeId);
  }

  async detach(vmId: VmId, volumeIds: readonly string[]): Promise<void> {
    for (const id of volumeIds) this.syncs.pendingVolumes.delete(id);
    this.tapsDown.delete(vmId);
    for (const tap of this.taps.filter((t) => t.vmId === vmId)) {
      this.taps.splice(this.taps.indexOf(tap), 1);
      await tap.close();
    }
  }

  vmLeft(): void {
    this.rebuildBitmap((volumeId) => this.parts.volumeVm.has(volumeId));
  }

  async settled(): Promise<void> {
    // Every write is queued as it happens.
  }

  async stop(): Promise<void> {
    this.release();
    for (const tap of this.taps) await tap.close();
  }

  kill(): void {
    // The platform closes a dead process's taps.
    void this.stop();
  }

  // ---- the write path --------------------------------------------------------------------------

  private async onWrite(vmId: VmId, w: GuestWrite): Promise<void> {
    // A volume not registered yet (being added) is copied by its volume initial sync afterwards.
    if (this.parts.stopped() || !this.parts.volumeVm.has(w.volumeId)) return;
    if (!this.parts.streamingData() || !this.parts.makeRoom(w.data.length) || !this.parts.streamingData()) {
      this.bitmap.mark(w.volumeId, w.offset, w.data.length);
      return;
    }
    this.parts.stream.pushWrite(vmId, w.volumeId, w.offset, w.data);
    if (this.gate.held) await this.gate.passed();
  }

  /**
   * The platform closed a tap (host restart, VM moved): writes may have happened that nobody split. No
   * checkpoint until the tap is back and a delta sync has compared both sides.
   */
  private tapClosed(vmId: VmId, tap: WriteTap, reason: Error | undefined): void {
    if (this.parts.stopped() || !this.parts.vms.some((v) => v.id === vmId)) return; // stopping, or the VM left the group
    this.taps.splice(this.taps.indexOf(tap), 1);
    this.tapsDown.add(vmId);
    this.parts.log?.('tap-closed', { groupId: this.parts.groupId, vmId, reason: reason?.message });
    if (this.syncs.pending !== 'initial') this.syncs.pending = 'delta';
    if (!this.parts.phase.paused) this.parts.phase.set('delta-sync', undefined);
    const reattach = (): void => {
      this.parts.clock.setTimer(this.parts.retryIntervalMs, () => {
        if (this.parts.stopped()) return;
        this.attach(vmId).then(() => this.kick(), reattach);
      });
    };
    reattach();
  }

  private newBitmap(): DirtyBitmap {
    const volumes = this.parts.vms.flatMap((vm) => vm.volumes.map((v) => ({ id: v.id, sizeBytes: v.sizeBytes })));
    return new DirtyBitmap({ budgetBytes: this.parts.bitmapBudgetBytes, volumes });
  }

  /** The bitmap knows its volumes up front: carry the recorded regions `keep` accepts over into one that knows the group's volumes now. */
  private rebuildBitmap(keep: (volumeId: string) => boolean): void {
    const recorded = this.bitmap.take();
    this.bitmap = this.newBitmap();
    for (const r of recorded) if (keep(r.volumeId)) this.bitmap.mark(r.volumeId, r.offset, r.length);
  }
}
