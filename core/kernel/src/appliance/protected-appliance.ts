// The protected site's appliance (one per host): it takes every split write of its VMs, stamps the
// group's sequence number, buffers (bounded), compresses and sends it to the recovery appliance, and
// forgets it once the receiver says it is durable. When the link is down, a buffer passes its limit or the
// receiver asks, a group falls back to a dirty-region bitmap and later re-sends those regions (bitmap
// sync); initial and delta syncs bring whole volumes in line. Checkpoints are cut only while streaming.
import { EventEmitter } from 'node:events';
import { compressSync } from 'lz4-napi';
import type { Clock, TimerHandle } from '../clock.js';
import { OpenCdpError, UnknownVolumeError, ValidationError } from '../errors.js';
import type { Checkpoint, CheckpointKind, GuestWrite, VmId, VmInfo } from '../model.js';
import type { HypervisorAdapter } from '../ports/hypervisor-adapter.js';
import type { NetworkAdapter } from '../ports/network-adapter.js';
import type { WriteTap } from '../ports/write-tap.js';
import { ProtocolError, ProtocolVersionError } from '../link/link-errors.js';
import type { DecodedMessage } from '../link/message-registry.js';
import { journalSizeBytes, PRIORITY_CODES, type ProtectionGroupSettings } from '../settings.js';
import type { ReplicationPhase, SyncTrigger } from '../status/group-status.js';
import { DirtyBitmap } from '../sync/dirty-bitmap.js';
import { deltaSync } from '../sync/delta-sync.js';
import { Messenger } from './messenger.js';
import { PROTOCOL_VERSION, replicationCodec, type GroupOpenedMeta, type ReplicationMessage, type WireRecord } from './protocol.js';

export interface ProtectedApplianceOptions {
  siteId: string;
  hypervisor: HypervisorAdapter;
  network: NetworkAdapter;
  clock: Clock;
  /** Replication buffer shared by this appliance's groups (default 64 MiB); streaming may fill 90 % of it. */
  bufferBytes?: number;
  /** Memory budget of each group's dirty-region bitmap (default 1 MiB). */
  bitmapBudgetBytes?: number;
  /** Largest `writes` message (default 1 MiB of data). */
  maxBatchBytes?: number;
  /**
   * Bytes sent but not yet acknowledged that a group may have on the wire (default 16 MiB): flow control,
   * so a healthy receiver is never pushed past its own buffer limit.
   */
  sendWindowBytes?: number;
  /** How often a disconnected group retries the link or probes failed storage (default 1 s). */
  retryIntervalMs?: number;
  /** Link keep-alive: ping after this much silence (default 5 s); 0 turns it off. */
  keepAliveMs?: number;
  /** A link silent this long is closed as dead and the group falls back to its bitmap (default 3 × keepAliveMs). */
  deadPeerMs?: number;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

export interface GroupProtection {
  groupId: string;
  settings: ProtectionGroupSettings;
  vmIds: VmId[];
  /** The recovery appliance's link address. */
  recoveryAddress: string;
  /** The recovery site already holds (most of) the data: start with a delta sync instead of a full copy. */
  preseeded?: boolean;
}

type WriteItem = { kind: 'write'; seq: number; vmId: VmId; volumeId: string; offset: number; data: Buffer };
/**
 * A `slot` holds the queue position of sequence numbers a sync reserved before reading the protected
 * volume: nothing behind it is sent until it is filled, so the stream reaches the receiver in sequence
 * order (the receiver drops any write whose seq is below one it already holds for the VM).
 */
type Item =
  | WriteItem
  | { kind: 'checkpoint'; seq: number; checkpoint: Checkpoint }
  | { kind: 'slot'; seq: number };

export interface SenderState {
  phase: ReplicationPhase;
  connected: boolean;
  trigger?: SyncTrigger;
  storageError?: 'journal' | 'recovery';
}

/** What a sender counts as it goes. */
interface SenderCounters {
  writesSent: number;
  /** Bytes of write data handed to the link before compression. */
  rawBytesSent: number;
  /** Bytes of write data on the wire (after compression). */
  wireBytesSent: number;
  /** Bytes re-sent by bitmap, delta and initial syncs. */
  syncBytesSent: number;
}

export interface SenderStats extends SenderCounters {
  seq: number;
  bufferedBytes: number;
  bitmapBytes: number;
  bitmapDirtyBytes: number;
}

const SEND_FILL = 0.9;
/** Keys of the replies that come one at a time (hash replies are keyed by their positive request ids). */
const REPLY_KEYS = { welcome: -1, 'group-opened': -2, 'probe-reply': -3 } as const;

/** A sync stopped because the group left the state it needs (link down, paused, storage failed); it is retried. */
export class SyncInterruptedError extends OpenCdpError {
  constructor(groupId: string, phase: string) {
    super('SYNC_INTERRUPTED', `the sync of group '${groupId}' was interrupted (now ${phase})`, 'it runs again once the group can stream');
  }
}

export class ProtectedAppliance {
  private readonly senders = new Map<string, GroupSender>();

  constructor(readonly options: ProtectedApplianceOptions) {}

  get bufferBytes(): number {
    return this.options.bufferBytes ?? 64 * 1024 * 1024;
  }

  /** Starts protecting a group's VMs (those on this appliance's host). */
  async protect(group: GroupProtection): Promise<GroupSender> {
    if (this.senders.has(group.groupId)) throw new ValidationError(`group '${group.groupId}' is already protected by this appliance`, 'groupId');
    const vms = await Promise.all(group.vmIds.map((id) => this.options.hypervisor.getVm(id)));
    const sender = new GroupSender(this, group, vms);
    this.senders.set(group.groupId, sender);
    await sender.start();
    return sender;
  }

  group(groupId: string): GroupSender | undefined {
    return this.senders.get(groupId);
  }

  get bufferedBytes(): number {
    let n = 0;
    for (const s of this.senders.values()) n += s.bufferedBytes;
    return n;
  }

  /**
   * Makes room for `bytes` in the shared buffer: past 90 %, the lowest-priority group holding buffer
   * falls back to its bitmap first. Returns false when `requester` itself had to fall back.
   */
  makeRoom(requester: GroupSender, bytes: number): boolean {
    const limit = SEND_FILL * this.bufferBytes;
    while (this.bufferedBytes + bytes > limit) {
      const victims = [...this.senders.values()].filter((s) => s.bufferedBytes > 0 && s.streamingData);
      if (victims.length === 0) break;
      victims.sort((a, b) => a.priority - b.priority || b.bufferedBytes - a.bufferedBytes);
      const victim = victims[0];
      victim.congested();
      if (victim === requester) return false;
    }
    return this.bufferedBytes + bytes <= limit || requester.bufferedBytes === 0;
  }

  async stop(): Promise<void> {
    for (const s of this.senders.values()) await s.stop();
  }
}

export class GroupSender extends EventEmitter<{ state: [SenderState]; checkpoint: [Checkpoint]; synced: [ReplicationPhase] }> {
  private seqValue = 0;
  private queue: Item[] = [];
  private sent = 0;
  private buffered = 0;
  /** Items before this index were received (appended) by the receiver; at most `sent`. */
  private received = 0;
  /** Write bytes sent and not yet received: what the send window limits. */
  private inFlight = 0;
  private bitmap: DirtyBitmap;
  private readonly taps: WriteTap[] = [];
  private readonly volumeVm = new Map<string, VmId>();
  private messenger?: Messenger<ReplicationMessage>;
  private phaseValue: ReplicationPhase = 'creating';
  private triggerValue?: SyncTrigger;
  private storageError?: 'journal' | 'recovery';
  private pendingSync?: 'initial' | 'delta';
  /** The receiver answered `open-group` on the current connection: syncs may talk to it. */
  private groupOpened = false;
  /** VMs whose tap the platform closed and that are not re-attached yet. */
  private readonly tapsDown = new Set<VmId>();
  /** Volumes added to the running group (with their VM, or alone) that still need their initial copy. */
  private readonly pendingVolumeSync = new Set<string>();
  private gate?: { promise: Promise<void>; open: () => void };
  private pumping = false;
  /** A pump is queued as a microtask (see `push`). */
  private pumpQueued = false;
  private stopped = false;
  private retryTimer?: TimerHandle;
  private nextRequestId = 1;
  private readonly requests = new Map<number, { resolve: (m: { meta: unknown; payload?: Buffer }) => void; reject: (e: Error) => void }>();
  private readonly waiters: (() => void)[] = [];
  private syncing?: Promise<void>;
  private compressionOff = 0;
  /** After a system pause (S6) the sync may cost the journal its history; until it completes. */
  private historyLossAllowed = false;
  /** The receiver refused this connection's writes (journal-full) and drops them until a probe clears it. */
  private refusedByReceiver = false;
  /** Write bytes handed to the link and not yet on the wire (its queue, its bandwidth limit). */
  private linkQueuedBytes = 0;
  private pauseTimer?: TimerHandle;
  /** The trigger of the sync a system pause interrupted, restored when it resumes. */
  private pausedTrigger?: SyncTrigger;
  private readonly stats: SenderCounters = { writesSent: 0, rawBytesSent: 0, wireBytesSent: 0, syncBytesSent: 0 };

  constructor(private readonly appliance: ProtectedAppliance, readonly group: GroupProtection, readonly vms: VmInfo[]) {
    super();
    for (const vm of vms) for (const v of vm.volumes) this.volumeVm.set(v.id, vm.id);
    this.bitmap = this.newBitmap();
    this.pendingSync = group.preseeded ? 'delta' : 'initial';
  }

  get groupId(): string {
    return this.group.groupId;
  }

  private newBitmap(): DirtyBitmap {
    const volumes = this.vms.flatMap((vm) => vm.volumes.map((v) => ({ id: v.id, sizeBytes: v.sizeBytes })));
    return new DirtyBitmap({ budgetBytes: this.appliance.options.bitmapBudgetBytes ?? 1024 * 1024, volumes });
  }

  get priority(): number {
    return PRIORITY_CODES[this.group.settings.priority];
  }

  get seq(): number {
    return this.seqValue;
  }

  get bufferedBytes(): number {
    return this.buffered;
  }

  get state(): SenderState {
    return {
      phase: this.phaseValue, connected: !!this.messenger && !this.messenger.closed,
      ...(this.triggerValue ? { trigger: this.triggerValue } : {}), ...(this.storageError ? { storageError: this.storageError } : {}),
    };
  }

  /** True while new writes are streamed (not recorded in the bitmap). */
  get streamingData(): boolean {
    return this.connected && !this.storageError && ['initial-sync', 'delta-sync', 'bitmap-sync', 'streaming', 'volume-initial-sync'].includes(this.phaseValue);
  }

  get connected(): boolean {
    return !!this.messenger && !this.messenger.closed;
  }

  /** A checkpoint may be cut: streaming, connected, no sync under way, not paused. */
  get canCheckpoint(): boolean {
    return this.connected && this.phaseValue === 'streaming' && !this.storageError && !this.gate && this.tapsDown.size === 0;
  }

  currentStats(): SenderStats {
    return { ...this.stats, seq: this.seqValue, bufferedBytes: this.buffered, bitmapBytes: this.bitmap.memoryBytes, bitmapDirtyBytes: this.bitmap.dirtyBytes };
  }

  async start(): Promise<void> {
    const hv = this.appliance.options.hypervisor;
    if (!hv.openTap) throw new ValidationError(`platform '${hv.platform}' has no write splitter; snapshot shipping is not implemented yet`, 'hypervisor');
    for (const vm of this.vms) await this.attachTap(vm.id);
    // The link comes up in the background; until it does, writes are recorded in the bitmap.
    void this.connect();
  }

  private async attachTap(vmId: VmId): Promise<void> {
    const tap = await this.appliance.options.hypervisor.openTap!(vmId);
    tap.onClose?.((reason) => this.tapClosed(vmId, tap, reason));
    tap.start((w) => this.onWrite(vmId, w));
    this.taps.push(tap);
    this.tapsDown.delete(vmId);
  }

  /**
   * The platform closed a tap (host restart, VM moved): writes may have happened that nobody split. No
   * checkpoint until the tap is back and a delta sync has compared both sides.
   */
  private tapClosed(vmId: VmId, tap: WriteTap, reason: Error | undefined): void {
    if (this.stopped || !this.vms.some((v) => v.id === vmId)) return; // stopping, or the VM left the group
    this.taps.splice(this.taps.indexOf(tap), 1);
    this.tapsDown.add(vmId);
    this.appliance.options.log?.('tap-closed', { groupId: this.groupId, vmId, reason: reason?.message });
    if (this.pendingSync !== 'initial') this.pendingSync = 'delta';
    if (!this.phaseValue.startsWith('paused')) this.setPhase('delta-sync', undefined);
    const reattach = (): void => {
      this.appliance.options.clock.setTimer(this.appliance.options.retryIntervalMs ?? 1000, () => {
        if (this.stopped) return;
        this.attachTap(vmId).then(() => this.kickSync(), reattach);
      });
    };
    reattach();
  }

  // ---- user actions ------------------------------------------------------------------------

  pause(): void {
    this.setPhase('paused-user', undefined);
  }

  resume(): void {
    if (this.phaseValue === 'paused-system') {
      // Resuming a system pause early is the intervention the pause waits for: same path as its end.
      this.pauseTimer?.cancel();
      void this.endSystemPause();
      return;
    }
    if (this.phaseValue !== 'paused-user') return;
    this.setPhase('recording', 'ConfigurationChanged');
    this.kickSync();
  }

  /**
   * The receiver says a sync would leave a journal with less than ten minutes of checkpoints (S6): record
   * changes in the bitmap for the group's replicationPauseTime (ReplicationPausedSystemInitiated), so that
   * someone can enlarge the journal; then the sync goes on even if it costs the history.
   */
  private systemPause(message: string): void {
    if (this.phaseValue === 'paused-system' || this.phaseValue === 'paused-user') return;
    const ms = this.group.settings.replicationPauseTimeMinutes * 60_000;
    this.appliance.options.log?.('replication-paused', { groupId: this.groupId, pauseMs: ms, message });
    this.pausedTrigger = this.triggerValue;
    this.setPhase('paused-system', undefined);
    this.pauseTimer?.cancel();
    this.pauseTimer = this.appliance.options.clock.setTimer(ms, () => void this.endSystemPause());
  }

  /** The pause is over: probe that the journals can make room, then let the sync trim whatever it must. */
  private async endSystemPause(): Promise<void> {
    this.pauseTimer = undefined;
    if (this.stopped || this.phaseValue !== 'paused-system') return;
    const again = (): void => {
      this.pauseTimer = this.appliance.options.clock.setTimer(this.appliance.options.retryIntervalMs ?? 1000, () => void this.endSystemPause());
    };
    if (this.connected) {
      try {
        const reply = this.expect('probe-reply');
        // Room for one batch: with its history allowed to go, a journal that can free that much can finish any sync.
        await this.messenger!.send('probe', { groupId: this.groupId, needBytes: (this.appliance.options.maxBatchBytes ?? 1024 * 1024) + 64 * 1024 });
        const meta = (await reply).meta as { ok: boolean; message?: string };
        if (!meta.ok) {
          this.appliance.options.log?.('pause-extended', { groupId: this.groupId, message: meta.message });
          again();
          return;
        }
      } catch {
        again();
        return;
      }
    }
    if (this.phaseValue !== 'paused-system') return;
    if (this.connected) this.refusedByReceiver = false;
    this.historyLossAllowed = true;
    this.setPhase('recording', this.pausedTrigger ?? 'ConfigurationChanged');
    if (this.connected) this.kickSync();
    else this.scheduleRetry();
  }

  /**
   * Adds a VM to the running group: the receiver opens its journal, its tap starts, and a volume initial
   * sync copies it (sub-status VolumeInitialSync) while the other VMs keep streaming.
   */
  async addVm(vmId: VmId): Promise<void> {
    if (this.vms.some((v) => v.id === vmId)) throw new ValidationError(`VM '${vmId}' is already in group '${this.groupId}'`, 'vmId');
    const hv = this.appliance.options.hypervisor;
    const vm = await hv.getVm(vmId);
    this.vms.push(vm);
    for (const v of vm.volumes) this.volumeVm.set(v.id, vm.id);
    // The bitmap knows its volumes up front: carry the recorded regions over into one that knows the new ones.
    const recorded = this.bitmap.take();
    this.bitmap = this.newBitmap();
    for (const r of recorded) this.bitmap.mark(r.volumeId, r.offset, r.length);
    for (const v of vm.volumes) this.pendingVolumeSync.add(v.id);
    // Its journal must exist at the receiver before its first write arrives; until then writes are recorded.
    if (this.messenger && this.connected) this.onGroupOpened(await this.openGroup(this.messenger));
    await this.attachTap(vmId);
    this.kickSync();
  }

  /**
   * A volume was added to a protected VM: the receiver's journal takes it on, and a volume initial sync
   * copies that volume only (VolumeInitialSync, S7); the rest of the group keeps streaming.
   */
  async addVolume(vmId: VmId, volumeId: string): Promise<void> {
    const i = this.vms.findIndex((v) => v.id === vmId);
    if (i < 0) throw new ValidationError(`VM '${vmId}' is not in group '${this.groupId}'`, 'vmId');
    if (this.volumeVm.has(volumeId)) throw new ValidationError(`volume '${volumeId}' is already protected in group '${this.groupId}'`, 'volumeId');
    const fresh = await this.appliance.options.hypervisor.getVm(vmId);
    const volume = fresh.volumes.find((v) => v.id === volumeId);
    if (!volume) throw new UnknownVolumeError(volumeId, `VM '${vmId}'`);
    this.vms[i] = { ...this.vms[i], volumes: [...this.vms[i].volumes, volume] };
    // The journal learns the volume before any write to it is sent; until the volume is registered below,
    // its writes are skipped: the volume initial sync reads them later.
    if (this.messenger && this.connected) await this.openGroup(this.messenger).then((opened) => this.onGroupOpened(opened));
    this.volumeVm.set(volumeId, vmId);
    const recorded = this.bitmap.take();
    this.bitmap = this.newBitmap();
    for (const r of recorded) this.bitmap.mark(r.volumeId, r.offset, r.length);
    this.pendingVolumeSync.add(volumeId);
    this.kickSync();
  }

  /**
   * Removes a VM from the running group: its tap closes, the receiver closes its journal (its files stay,
   * for a later preseed), and the group syncs what was in flight (BitmapSync, ConfigurationChanged);
   * checkpoints restart once that sync completes (S7). The other VMs' checkpoints stay listed.
   */
  async removeVm(vmId: VmId): Promise<void> {
    const i = this.vms.findIndex((v) => v.id === vmId);
    if (i < 0) throw new ValidationError(`VM '${vmId}' is not in group '${this.groupId}'`, 'vmId');
    const [vm] = this.vms.splice(i, 1);
    for (const v of vm.volumes) {
      this.volumeVm.delete(v.id);
      this.pendingVolumeSync.delete(v.id);
    }
    this.tapsDown.delete(vmId);
    for (const tap of this.taps.filter((t) => t.vmId === vmId)) {
      this.taps.splice(this.taps.indexOf(tap), 1);
      await tap.close();
    }
    // Unacknowledged writes go to the bitmap (the removed VM's are then dropped with its regions), so no
    // write of the VM is sent after the receiver closed its journal.
    if (!this.phaseValue.startsWith('paused')) this.setPhase('recording', 'ConfigurationChanged');
    else this.spillToBitmap();
    const recorded = this.bitmap.take();
    this.bitmap = this.newBitmap();
    for (const r of recorded) if (this.volumeVm.has(r.volumeId)) this.bitmap.mark(r.volumeId, r.offset, r.length);
    if (this.messenger && this.connected) await this.messenger.send('close-vm', { groupId: this.groupId, vmId }).catch(() => undefined);
    this.appliance.options.log?.('vm-removed', { groupId: this.groupId, vmId });
    this.kickSync();
  }

  /** Compares both sides block by block and re-sends what differs (delta sync, trigger ForceSync). */
  forceSync(): void {
    this.pendingSync = 'delta';
    this.triggerValue = 'ForceSync';
    this.kickSync();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.retryTimer?.cancel();
    this.pauseTimer?.cancel();
    this.openGate();
    for (const tap of this.taps) await tap.close();
    await this.messenger?.close();
  }

  // ---- checkpoint barrier (driven by the scheduler) ------------------------------------------

  /** Holds the completion of every new write until `release`. */
  hold(): void {
    if (this.gate) throw new ValidationError(`a checkpoint of group '${this.groupId}' is already being cut`);
    let open!: () => void;
    const promise = new Promise<void>((resolve) => (open = resolve));
    this.gate = { promise, open };
  }

  release(): void {
    this.openGate();
  }

  /** Queues a checkpoint marker after every write stamped so far. */
  mark(id: string, kind: CheckpointKind, timestamp: number, tag?: string): Checkpoint {
    const checkpoint: Checkpoint = { id, groupId: this.groupId, seq: this.seqValue, timestamp, kind, ...(tag !== undefined ? { tag } : {}) };
    this.queue.push({ kind: 'checkpoint', seq: checkpoint.seq, checkpoint });
    this.pump();
    this.emit('checkpoint', checkpoint);
    return checkpoint;
  }

  // ---- the write path ------------------------------------------------------------------------

  private async onWrite(vmId: VmId, w: GuestWrite): Promise<void> {
    // A volume not registered yet (being added) is copied by its volume initial sync afterwards.
    if (this.stopped || !this.volumeVm.has(w.volumeId)) return;
    if (!this.streamingData || !this.appliance.makeRoom(this, w.data.length) || !this.streamingData) {
      this.bitmap.mark(w.volumeId, w.offset, w.data.length);
      return;
    }
    this.push({ kind: 'write', seq: ++this.seqValue, vmId, volumeId: w.volumeId, offset: w.offset, data: w.data });
    while (this.gate) await this.gate.promise;
  }

  private push(item: Item): void {
    this.queue.push(item);
    if (item.kind === 'write') this.buffered += item.data.length;
    // Writes that arrive in one turn of the event loop (a burst of parallel guest writes) leave as one
    // batch: sending waits for a microtask, which adds no latency but lets them gather
    // instead of each going out as its own message (each message costs framing, a schema check on both
    // sides, an ack and a journal write). Order is unaffected: anything that pumps meanwhile (a marker,
    // an ack) sends them first.
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    queueMicrotask(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  /**
   * Sends queued items in order: writes in batches, each checkpoint as its own message. Frames are handed
   * to the link without waiting for each to drain (the link keeps call order, the send window bounds what
   * is in flight), and an uncompressed batch goes out as its writes' buffers, never concatenated.
   */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      const window = this.appliance.options.sendWindowBytes ?? 32 * 1024 * 1024;
      const max = this.appliance.options.maxBatchBytes ?? 1024 * 1024;
      while (this.connected && this.sent < this.queue.length && this.inFlight < window && this.phaseValue !== 'paused-user' && this.phaseValue !== 'paused-system') {
        const first = this.queue[this.sent];
        if (first.kind === 'slot') break; // a sync is still reading what goes here; `fill` pumps again
        const m = this.messenger!;
        if (first.kind === 'checkpoint') {
          const cp = first.checkpoint;
          this.sent++;
          this.sending(m.send('checkpoint', { groupId: this.groupId, id: cp.id, seq: cp.seq, timestamp: cp.timestamp, kind: cp.kind, ...(cp.tag !== undefined ? { tag: cp.tag } : {}) }));
          continue;
        }
        const records: WireRecord[] = [];
        const parts: Buffer[] = [];
        let bytes = 0;
        while (this.sent < this.queue.length && records.length < 4096) {
          const it = this.queue[this.sent];
          if (it.kind !== 'write' || (bytes > 0 && bytes + it.data.length > max)) break;
          records.push([it.seq, it.vmId, it.volumeId, it.offset, it.data.length]);
          parts.push(it.data);
          bytes += it.data.length;
          this.sent++;
        }
        this.inFlight += bytes;
        // A sync's writes tell the journal how far it may trim for them (S6); streaming keeps the default.
        const makeRoom = this.phaseValue === 'streaming' ? undefined : this.historyLossAllowed ? 'drop-history' as const : 'keep-history' as const;
        const packed = this.compress(parts, bytes);
        const meta = { groupId: this.groupId, compressed: packed !== undefined, rawBytes: bytes, records, ...(makeRoom ? { makeRoom } : {}) };
        this.sending(packed ? m.send('writes', meta, packed) : m.sendParts('writes', meta, parts), bytes);
        this.stats.writesSent += records.length;
        this.stats.rawBytesSent += bytes;
        this.stats.wireBytesSent += packed ? packed.length : bytes;
      }
    } catch (e) {
      // Encoding refused a message (a bug): say so; the link stays as it is.
      this.appliance.options.log?.('send-failed', { groupId: this.groupId, message: (e as Error).message });
    } finally {
      this.pumping = false;
    }
  }

  /**
   * A frame handed to the link: until it is on the wire its bytes count as backed up in the network
   * (NetworkCongestion). A failure closes the connection; the fallback follows from there.
   */
  private sending(sent: Promise<void>, bytes = 0): void {
    this.linkQueuedBytes += bytes;
    sent.then(
      () => { this.linkQueuedBytes -= bytes; },
      (e: Error) => {
        this.linkQueuedBytes -= bytes;
        this.appliance.options.log?.('send-failed', { groupId: this.groupId, message: e.message });
      },
    );
  }

  /**
   * lz4 of a batch when the group asks for WAN compression; undefined means send it as it is (compression
   * off, or switched off for a while because the data did not compress).
   */
  private compress(parts: Buffer[], bytes: number): Buffer | undefined {
    if (!this.group.settings.useWanCompression) return undefined;
    if (this.compressionOff > 0) {
      this.compressionOff--;
      return undefined;
    }
    const packed = compressSync(parts.length === 1 ? parts[0] : Buffer.concat(parts, bytes));
    if (packed.length > 0.9 * bytes) {
      this.compressionOff = 16;
      return undefined;
    }
    return packed;
  }

  /** Items up to `receivedSeq` leave the send window; items up to `durableSeq` leave the buffer. */
  private onAck(durableSeq: number, receivedSeq: number): void {
    while (this.received < this.sent && this.queue[this.received].seq <= Math.max(receivedSeq, durableSeq)) {
      const it = this.queue[this.received];
      if (it.kind === 'write') this.inFlight -= it.data.length;
      this.received++;
    }
    let drop = 0;
    while (drop < this.received && this.queue[drop].seq <= durableSeq) {
      const it = this.queue[drop];
      if (it.kind === 'write') this.buffered -= it.data.length;
      drop++;
    }
    if (drop > 0) {
      this.queue = this.queue.slice(drop);
      this.sent -= drop;
      this.received -= drop;
    }
    for (const w of this.waiters.splice(0)) w();
    this.pump();
  }

  /** Moves every unacknowledged write into the bitmap and empties the buffer (its data may never arrive). */
  private spillToBitmap(): void {
    for (const it of this.queue) if (it.kind === 'write') this.bitmap.mark(it.volumeId, it.offset, it.data.length);
    this.queue = [];
    this.sent = 0;
    this.received = 0;
    this.buffered = 0;
    this.inFlight = 0;
    for (const w of this.waiters.splice(0)) w();
  }

  /** The shared buffer is past its limit and this group was chosen to fall back. */
  congested(): void {
    // Data not yet on the wire (never sent, or waiting in the link's queue) means the network is the bottleneck.
    const backedUp = this.queue.length - this.sent > 0 || this.linkQueuedBytes > 0;
    this.spillToBitmap();
    this.setPhase('recording', backedUp ? 'NetworkCongestion' : 'ProtectedApplianceCongestion');
    this.scheduleRetry();
  }

  // ---- link ----------------------------------------------------------------------------------

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const { network, siteId } = this.appliance.options;
    let messenger: Messenger<ReplicationMessage>;
    try {
      const { keepAliveMs = 5000, deadPeerMs, clock } = this.appliance.options;
      const keepAlive = keepAliveMs > 0 ? { clock, intervalMs: keepAliveMs, ...(deadPeerMs ? { deadAfterMs: deadPeerMs } : {}) } : undefined;
      messenger = new Messenger(await network.connect(this.group.recoveryAddress), replicationCodec, this.appliance.options.log, keepAlive);
    } catch (e) {
      this.disconnected(e as Error);
      return;
    }
    messenger.onMessage((m) => this.onMessage(m));
    messenger.onClose((reason) => {
      if (this.messenger === messenger) this.disconnected(reason);
    });
    try {
      const welcome = this.expect('welcome');
      await messenger.send('hello', { protocolVersion: PROTOCOL_VERSION, siteId, role: 'appliance' });
      this.messenger = messenger;
      await welcome;
      const opened = await this.openGroup(messenger);
      this.refusedByReceiver = false; // a new connection is a new session at the receiver
      this.onGroupOpened(opened);
    } catch (e) {
      this.appliance.options.log?.('connect-failed', { groupId: this.groupId, message: (e as Error).message });
      await messenger.close(e as Error);
      if (e instanceof ProtocolVersionError) this.stopped = true;
      else this.disconnected(e as Error);
    }
  }

  /** Tells the receiver which VMs (and volumes) the group has; it opens their journals and says where they stand. */
  private async openGroup(messenger: Messenger<ReplicationMessage>): Promise<GroupOpenedMeta> {
    const opened = this.expect('group-opened');
    const settings = this.group.settings;
    const provisioned = (vm: VmInfo): number => vm.volumes.reduce((n, v) => n + v.sizeBytes, 0);
    await messenger.send('open-group', {
      groupId: this.groupId,
      vms: this.vms.map((vm) => ({ vmId: vm.id, volumes: vm.volumes.map((v) => ({ id: v.id, sizeBytes: v.sizeBytes, sectorSize: v.sectorSize })) })),
      journal: {
        historyMs: settings.journalHistoryHours * 3_600_000,
        // `1` keeps the meta valid for a sender whose last VM left the group (there is no journal to size).
        hardLimitBytes: Math.max(1, ...this.vms.map((vm) => journalSizeBytes(settings.journal.hardLimit, provisioned(vm)))),
        warningBytes: Math.max(1, ...this.vms.map((vm) => journalSizeBytes(settings.journal.warningThreshold, provisioned(vm)))),
      },
    });
    return (await opened).meta as GroupOpenedMeta;
  }

  /** A promise for the next reply of a kind; request/reply pairs carry ids, the handshake replies use fixed keys. */
  private expect(name: 'welcome' | 'group-opened' | 'hash-reply' | 'probe-reply', requestId = 0): Promise<{ meta: unknown; payload?: Buffer }> {
    const key = requestId || REPLY_KEYS[name as keyof typeof REPLY_KEYS];
    return new Promise((resolve, reject) => this.requests.set(key, { resolve, reject }));
  }

  private onMessage(m: DecodedMessage<ReplicationMessage>): void {
    const settle = (key: number, value: { meta: unknown; payload?: Buffer }): void => {
      const r = this.requests.get(key);
      if (!r) throw new ProtocolError(`unexpected '${m.name}' message`);
      this.requests.delete(key);
      r.resolve(value);
    };
    switch (m.name) {
      case 'welcome': return settle(REPLY_KEYS.welcome, { meta: m.meta });
      case 'refuse': {
        const r = this.requests.get(REPLY_KEYS.welcome);
        this.requests.delete(REPLY_KEYS.welcome);
        const error = m.meta.code === 'PROTOCOL_VERSION' && m.meta.protocolVersion ? new ProtocolVersionError(PROTOCOL_VERSION, m.meta.protocolVersion, 'remote') : new ProtocolError(`refused: ${m.meta.reason}`);
        r?.reject(error);
        return;
      }
      case 'group-opened': return settle(REPLY_KEYS['group-opened'], { meta: m.meta });
      case 'probe-reply': return settle(REPLY_KEYS['probe-reply'], { meta: m.meta });
      case 'hash-reply': return settle(m.meta.requestId, { meta: m.meta, payload: m.payload });
      case 'ack': return this.onAck(m.meta.durableSeq, m.meta.receivedSeq ?? m.meta.durableSeq);
      case 'journal-full':
        this.refusedByReceiver = true;
        return this.systemPause(m.meta.message);
      case 'fallback':
        this.spillToBitmap();
        if (m.meta.storageError) this.storageError = m.meta.storageError;
        this.setPhase('recording', m.meta.trigger);
        this.scheduleRetry();
        return;
      default: throw new ProtocolError(`a protected appliance does not take '${m.name}' messages`);
    }
  }

  /** The receiver told us where its journals stand: pick the sync that brings both sides in line. */
  private onGroupOpened(opened: GroupOpenedMeta): void {
    this.groupOpened = true;
    for (const vm of opened.vms) this.seqValue = Math.max(this.seqValue, vm.lastSeq);
    const fresh = opened.vms.every((v) => v.fresh);
    if (!fresh && this.pendingSync === 'initial') this.pendingSync = 'delta'; // our state was lost (restart): compare instead of copying
    this.kickSync();
  }

  private disconnected(reason: Error | undefined): void {
    this.messenger = undefined;
    this.groupOpened = false;
    if (this.stopped) return;
    for (const r of this.requests.values()) r.reject(reason ?? new ProtocolError('the link closed'));
    this.requests.clear();
    this.spillToBitmap();
    if (this.phaseValue !== 'paused-user' && this.phaseValue !== 'paused-system') this.setPhase('recording', 'RecoveryApplianceCommunicationProblem');
    else this.emitState();
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retryTimer) return;
    this.retryTimer = this.appliance.options.clock.setTimer(this.appliance.options.retryIntervalMs ?? 1000, () => {
      this.retryTimer = undefined;
      if (this.stopped) return;
      if (!this.connected) void this.connect();
      else if (this.storageError || this.refusedByReceiver) void this.probe();
      else this.kickSync();
    });
  }

  private async probe(): Promise<void> {
    try {
      const reply = this.expect('probe-reply');
      await this.messenger!.send('probe', { groupId: this.groupId });
      const meta = (await reply).meta as { ok: boolean };
      if (meta.ok) {
        this.storageError = undefined;
        this.refusedByReceiver = false;
        this.kickSync();
      } else this.scheduleRetry();
    } catch {
      this.scheduleRetry();
    }
  }

  // ---- syncs ---------------------------------------------------------------------------------

  /** Runs whatever sync is due (initial, delta or bitmap), then streams. One at a time. */
  private kickSync(): void {
    // A sync while some VM's writes are not split would be stale the moment it ends.
    if (this.syncing || this.stopped || !this.connected || !this.groupOpened || this.storageError || this.tapsDown.size > 0) return;
    if (this.phaseValue === 'paused-user' || this.phaseValue === 'paused-system') return;
    if (this.refusedByReceiver) {
      // The receiver drops our writes until a probe clears its refusal (a user resumed a journal-full pause early).
      this.scheduleRetry();
      return;
    }
    this.syncing = (async () => {
      try {
        for (;;) {
          if (this.pendingSync === 'initial') {
            this.setPhase('initial-sync', undefined);
            // A full copy covers every recorded region and every added VM.
            this.pendingVolumeSync.clear();
            this.bitmap.clear();
            await this.fullCopy(this.vms);
            this.pendingSync = undefined;
          } else if (this.pendingSync === 'delta') {
            this.setPhase('delta-sync', this.triggerValue === 'ForceSync' ? 'ForceSync' : this.triggerValue);
            // The comparison covers every block, so what the bitmap recorded so far is covered too.
            this.bitmap.clear();
            await this.compareAndSend();
            this.pendingSync = undefined;
          } else if (this.pendingVolumeSync.size > 0) {
            this.setPhase('volume-initial-sync', 'ConfigurationChanged');
            const added = [...this.pendingVolumeSync];
            await this.fullCopy(this.vms.map((vm) => ({ ...vm, volumes: vm.volumes.filter((v) => added.includes(v.id)) })).filter((vm) => vm.volumes.length > 0));
            for (const id of added) this.pendingVolumeSync.delete(id);
          } else if (!this.bitmap.isEmpty) {
            this.setPhase('bitmap-sync', this.triggerValue ?? 'RecoveryApplianceCommunicationProblem');
            await this.resendBitmap();
          }
          await this.drained();
          if (!this.connected || this.storageError || this.phaseValue === 'recording' || this.phaseValue.startsWith('paused')) return;
          if (this.pendingSync === undefined && this.pendingVolumeSync.size === 0 && this.bitmap.isEmpty) break;
        }
        const finished = this.phaseValue;
        this.historyLossAllowed = false;
        this.setPhase('streaming', undefined);
        this.emit('synced', finished);
      } catch (e) {
        this.appliance.options.log?.('sync-interrupted', { groupId: this.groupId, message: (e as Error).message });
      } finally {
        this.syncing = undefined;
        // Whatever stopped the sync (link, storage, a failed read), it runs again after the retry interval.
        if (this.phaseValue !== 'streaming') this.scheduleRetry();
      }
    })();
  }

  /** Initial sync: every non-zero block of the VMs' volumes (the recovery replica starts as zeros). */
  private async fullCopy(vms: VmInfo[]): Promise<void> {
    const chunk = 1024 * 1024;
    for (const vm of vms) {
      for (const v of vm.volumes) {
        for (let off = 0; off < v.sizeBytes; off += chunk) {
          this.assertSyncing();
          const len = Math.min(chunk, v.sizeBytes - off);
          // Reserve the sequence numbers before reading: a guest write after the read point overrides it.
          const slot = await this.reserveSlot(len / 4096 + 1);
          const data = await this.appliance.options.hypervisor.readVolume(vm.id, v.id, off, len);
          let s = slot.first;
          slot.fill(nonZeroRuns(data, Math.max(4096, v.sectorSize)).map(([start, end]) => ({ kind: 'write', seq: s++, vmId: vm.id, volumeId: v.id, offset: off + start, data: data.subarray(start, end) })));
        }
      }
    }
  }

  /** Delta sync: a hash-tree comparison against the receiver's current image; only differing blocks cross. */
  private async compareAndSend(): Promise<void> {
    const hv = this.appliance.options.hypervisor;
    for (const vm of this.vms) {
      for (const v of vm.volumes) {
        this.assertSyncing();
        await deltaSync({
          sizeBytes: v.sizeBytes,
          readLocal: (offset, length) => hv.readVolume(vm.id, v.id, offset, length),
          remote: { hashBlocks: (req) => this.hashBlocks(vm.id, v.id, req) },
          sendBlock: async (offset, data) => {
            this.assertSyncing();
            // Re-read after reserving the sequence numbers: the block may have changed since it was hashed.
            // Sent in pieces of at most 1 MiB, like every other sync, so that any piece fits a small journal.
            const piece = 1024 * 1024;
            const slot = await this.reserveSlot(Math.ceil(data.length / piece));
            const fresh = await hv.readVolume(vm.id, v.id, offset, data.length);
            const items: WriteItem[] = [];
            for (let at = 0; at < fresh.length; at += piece) {
              items.push({ kind: 'write', seq: slot.first + items.length, vmId: vm.id, volumeId: v.id, offset: offset + at, data: fresh.subarray(at, Math.min(at + piece, fresh.length)) });
            }
            slot.fill(items);
          },
        });
      }
    }
  }

  private async resendBitmap(): Promise<void> {
    const hv = this.appliance.options.hypervisor;
    const regions = this.bitmap.take();
    let i = 0;
    let at = regions[0]?.offset ?? 0;
    try {
      for (; i < regions.length; i++) {
        const r = regions[i];
        const vmId = this.volumeVm.get(r.volumeId)!;
        for (at = Math.max(at, r.offset); at < r.offset + r.length; at += 1024 * 1024) {
          this.assertSyncing();
          const len = Math.min(1024 * 1024, r.offset + r.length - at);
          const slot = await this.reserveSlot(1);
          const data = await hv.readVolume(vmId, r.volumeId, at, len);
          slot.fill([{ kind: 'write', seq: slot.first, vmId, volumeId: r.volumeId, offset: at, data }]);
        }
        at = regions[i + 1]?.offset ?? 0;
      }
    } catch (e) {
      // Whatever was taken from the bitmap and not yet queued goes back into it: nothing is forgotten.
      if (i < regions.length) {
        const r = regions[i];
        this.bitmap.mark(r.volumeId, at, r.offset + r.length - at);
        for (const rest of regions.slice(i + 1)) this.bitmap.mark(rest.volumeId, rest.offset, rest.length);
      }
      throw e;
    }
  }

  private async hashBlocks(vmId: VmId, volumeId: string, req: { offset: number; length: number; blockBytes: number }): Promise<Buffer> {
    this.assertSyncing();
    const requestId = this.nextRequestId++;
    const reply = this.expect('hash-reply', requestId);
    await this.messenger!.send('hash-request', { groupId: this.groupId, requestId, vmId, volumeId, ...req });
    const { meta, payload } = await reply;
    const error = (meta as { error?: string }).error;
    if (error) throw new ProtocolError(`the recovery appliance could not hash ${volumeId}: ${error}`);
    return payload ?? Buffer.alloc(0);
  }

  /** Reserves `n` consecutive sequence numbers and returns the first. */
  private reserve(n: number): number {
    const first = this.seqValue + 1;
    this.seqValue += Math.ceil(n);
    return first;
  }

  /**
   * Reserves `n` sequence numbers for sync data and holds their place in the queue; `fill` puts the data
   * there (fewer items than numbers is fine). Waits first while the buffer is more than half full (syncs
   * never push streaming out). A fill after the queue was spilled (link down, pause) interrupts the sync.
   */
  private async reserveSlot(n: number): Promise<{ first: number; fill: (items: WriteItem[]) => void }> {
    while (this.buffered > 0.5 * SEND_FILL * this.appliance.bufferBytes && this.connected) await new Promise<void>((r) => this.waiters.push(r));
    this.assertSyncing();
    const first = this.reserve(n);
    const slot: Item = { kind: 'slot', seq: first };
    this.queue.push(slot);
    return {
      first,
      fill: (items) => {
        const at = this.queue.indexOf(slot);
        if (at < 0) throw new SyncInterruptedError(this.groupId, this.phaseValue);
        this.queue.splice(at, 1, ...items);
        for (const it of items) {
          this.buffered += it.data.length;
          this.stats.syncBytesSent += it.data.length;
        }
        this.pump();
      },
    };
  }

  /**
   * Resolves when everything queued up to now has been acknowledged durable (or the link dropped). Only
   * what is queued now: under a steady guest write stream the queue is never empty.
   */
  /** Resolves when every write and marker queued so far is acknowledged durable; rejects if the link is down. */
  async whenDrained(): Promise<void> {
    await this.drained();
    if (this.queue.length > 0 && !this.connected) throw new SyncInterruptedError(this.groupId, this.phaseValue);
  }

  private async drained(): Promise<void> {
    const target = this.queue.length > 0 ? this.queue[this.queue.length - 1].seq : 0;
    while (this.queue.length > 0 && this.queue[0].seq <= target && this.connected) await new Promise<void>((r) => this.waiters.push(r));
  }

  private assertSyncing(): void {
    if (!this.connected || this.storageError || this.stopped || this.phaseValue === 'recording' || this.phaseValue.startsWith('paused')) {
      throw new SyncInterruptedError(this.groupId, this.phaseValue);
    }
  }

  private setPhase(phase: ReplicationPhase, trigger: SyncTrigger | undefined): void {
    const changed = phase !== this.phaseValue || trigger !== this.triggerValue;
    this.phaseValue = phase;
    this.triggerValue = trigger;
    if (phase === 'paused-user' || phase === 'paused-system') this.spillToBitmap();
    if (changed) this.emitState();
  }

  private emitState(): void {
    this.emit('state', this.state);
  }

  private openGate(): void {
    const g = this.gate;
    this.gate = undefined;
    g?.open();
  }
}

/** [start, end) byte runs of `data` that hold anything but zeros, at block granularity. */
function nonZeroRuns(data: Buffer, block: number): [number, number][] {
  const runs: [number, number][] = [];
  let start = -1;
  for (let at = 0; at < data.length; at += block) {
    const end = Math.min(at + block, data.length);
    const zero = isZero(data, at, end);
    if (!zero && start < 0) start = at;
    if (zero && start >= 0) {
      runs.push([start, at]);
      start = -1;
    }
  }
  if (start >= 0) runs.push([start, data.length]);
  return runs;
}

/** Zeros to compare blocks against (a native memcmp instead of a byte loop in JavaScript). */
let zeros = Buffer.alloc(64 * 1024);

function isZero(b: Buffer, from: number, to: number): boolean {
  const n = to - from;
  if (n > zeros.length) zeros = Buffer.alloc(n);
  return b.subarray(from, to).equals(zeros.subarray(0, n));
}
