// The streaming path of a protected group: it stamps the group's sequence numbers, queues writes and
// checkpoint markers in that order, sends them in batches (lz4 when the group asks), keeps what is on the
// wire within the send window, and forgets what the receiver acknowledged durable. Syncs and cycles hold
// their place in the queue with slots; whatever capture path feeds it, the stream is the same.
import { compressSync } from 'lz4-napi';
import { OpenCdpError } from '../errors.js';
import type { Checkpoint, VmId } from '../model.js';
import type { GroupPhase } from './group-phase.js';
import type { Messenger } from './messenger.js';
import type { ReplicationMessage, WireRecord } from './protocol.js';

export type WriteItem = { kind: 'write'; seq: number; vmId: VmId; volumeId: string; offset: number; data: Buffer };
/**
 * A `slot` holds the queue position of sequence numbers a sync reserved before reading the protected
 * volume: nothing behind it is sent until it is filled, so the stream reaches the receiver in sequence
 * order (the receiver drops any write whose seq is below one it already holds for the VM).
 */
type Item =
  | WriteItem
  | { kind: 'checkpoint'; seq: number; checkpoint: Checkpoint }
  | { kind: 'slot'; seq: number };

/** What a sender counts as it goes. */
export interface SenderCounters {
  writesSent: number;
  /** Bytes of write data handed to the link before compression. */
  rawBytesSent: number;
  /** Bytes of write data on the wire (after compression). */
  wireBytesSent: number;
  /** Bytes re-sent by bitmap, delta and initial syncs. */
  syncBytesSent: number;
}

/** Streaming may fill this share of the appliance's buffer; past it a group falls back. */
export const SEND_FILL = 0.9;

/** A sync stopped because the group left the state it needs (link down, paused, storage failed); it is retried. */
export class SyncInterruptedError extends OpenCdpError {
  constructor(groupId: string, phase: string) {
    super('SYNC_INTERRUPTED', `the sync of group '${groupId}' was interrupted (now ${phase})`, 'it runs again once the group can stream');
  }
}

/** A reserved place in the stream: `first` is its first sequence number; `fill` puts the data there. */
export interface Slot {
  first: number;
  fill(items: WriteItem[]): void;
}

export interface SendStreamOptions {
  groupId: string;
  phase: GroupPhase;
  /** The link's current conversation (undefined or closed while disconnected). */
  link: { readonly connected: boolean; readonly messenger: Messenger<ReplicationMessage> | undefined };
  /** lz4 the batches (the group's useWanCompression). */
  compress: () => boolean;
  /** The appliance's shared buffer in bytes. */
  bufferBytes: () => number;
  sendWindowBytes?: number;
  maxBatchBytes?: number;
  /** A write left the stream unacknowledged (link down, pause, congestion): its region must be sent again later. */
  dropped(write: WriteItem): void;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

export class SendStream {
  private seqValue = 0;
  private queue: Item[] = [];
  private sent = 0;
  private buffered = 0;
  /** Items before this index were received (appended) by the receiver; at most `sent`. */
  private received = 0;
  /** Write bytes sent and not yet received: what the send window limits. */
  private inFlight = 0;
  private pumping = false;
  /** A pump is queued as a microtask (see `push`). */
  private pumpQueued = false;
  private compressionOff = 0;
  /** Write bytes handed to the link and not yet on the wire (its queue, its bandwidth limit). */
  private linkQueuedBytes = 0;
  private readonly waiters: (() => void)[] = [];
  private spillCount = 0;
  readonly stats: SenderCounters = { writesSent: 0, rawBytesSent: 0, wireBytesSent: 0, syncBytesSent: 0 };

  constructor(private readonly options: SendStreamOptions) {}

  /** The last sequence number stamped or reserved. */
  get seq(): number {
    return this.seqValue;
  }

  /** Continues above what the receiver already holds (after a reconnect). */
  resumeAbove(seq: number): void {
    this.seqValue = Math.max(this.seqValue, seq);
  }

  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Data waits that the network has not taken yet (never sent, or in the link's own queue). */
  get backedUp(): boolean {
    return this.queue.length - this.sent > 0 || this.linkQueuedBytes > 0;
  }

  /** How many times the stream was spilled: a cycle that saw it change lost some of its writes. */
  get spills(): number {
    return this.spillCount;
  }

  /** Nothing queued, nothing unacknowledged. */
  get empty(): boolean {
    return this.queue.length === 0;
  }

  /** Stamps a streaming write with the next sequence number and queues it. */
  pushWrite(vmId: VmId, volumeId: string, offset: number, data: Buffer): void {
    this.push({ kind: 'write', seq: ++this.seqValue, vmId, volumeId, offset, data });
  }

  /** Queues a checkpoint marker (stamped with the sequence number of the write before it) and sends it. */
  pushCheckpoint(checkpoint: Checkpoint): void {
    this.queue.push({ kind: 'checkpoint', seq: checkpoint.seq, checkpoint });
    this.pump();
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
   * never push streaming out); `check` then throws if the sync must stop. A fill after the queue was
   * spilled (link down, pause) interrupts the sync.
   */
  async reserveSlot(n: number, check: () => void): Promise<Slot> {
    while (this.buffered > 0.5 * SEND_FILL * this.options.bufferBytes() && this.options.link.connected) await new Promise<void>((r) => this.waiters.push(r));
    check();
    const first = this.reserve(n);
    const slot: Item = { kind: 'slot', seq: first };
    this.queue.push(slot);
    return {
      first,
      fill: (items) => {
        const at = this.queue.indexOf(slot);
        if (at < 0) throw new SyncInterruptedError(this.options.groupId, this.options.phase.phase);
        this.queue.splice(at, 1, ...items);
        for (const it of items) {
          this.buffered += it.data.length;
          this.stats.syncBytesSent += it.data.length;
        }
        this.pump();
      },
    };
  }

  /** Resolves when every write and marker queued so far is acknowledged durable; rejects if the link is down. */
  async whenDrained(): Promise<void> {
    await this.drained();
    if (this.queue.length > 0 && !this.options.link.connected) throw new SyncInterruptedError(this.options.groupId, this.options.phase.phase);
  }

  /**
   * Resolves when everything queued up to now has been acknowledged durable (or the link dropped). Only
   * what is queued now: under a steady guest write stream the queue is never empty.
   */
  async drained(): Promise<void> {
    const target = this.queue.length > 0 ? this.queue[this.queue.length - 1].seq : 0;
    while (this.queue.length > 0 && this.queue[0].seq <= target && this.options.link.connected) await new Promise<void>((r) => this.waiters.push(r));
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
  pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    const { groupId, phase, link } = this.options;
    try {
      const window = this.options.sendWindowBytes ?? 32 * 1024 * 1024;
      const max = this.options.maxBatchBytes ?? 1024 * 1024;
      while (link.connected && this.sent < this.queue.length && this.inFlight < window && !phase.paused) {
        const first = this.queue[this.sent];
        if (first.kind === 'slot') break; // a sync is still reading what goes here; `fill` pumps again
        const m = link.messenger!;
        if (first.kind === 'checkpoint') {
          const cp = first.checkpoint;
          this.sent++;
          this.sending(m.send('checkpoint', { groupId, id: cp.id, seq: cp.seq, timestamp: cp.timestamp, kind: cp.kind, ...(cp.tag !== undefined ? { tag: cp.tag } : {}) }));
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
        const makeRoom = phase.phase === 'streaming' ? undefined : phase.historyLossAllowed ? 'drop-history' as const : 'keep-history' as const;
        const packed = this.compress(parts, bytes);
        const meta = { groupId, compressed: packed !== undefined, rawBytes: bytes, records, ...(makeRoom ? { makeRoom } : {}) };
        this.sending(packed ? m.send('writes', meta, packed) : m.sendParts('writes', meta, parts), bytes);
        this.stats.writesSent += records.length;
        this.stats.rawBytesSent += bytes;
        this.stats.wireBytesSent += packed ? packed.length : bytes;
      }
    } catch (e) {
      // Encoding refused a message (a bug): say so; the link stays as it is.
      this.options.log?.('send-failed', { groupId, message: (e as Error).message });
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
        this.options.log?.('send-failed', { groupId: this.options.groupId, message: e.message });
      },
    );
  }

  /**
   * lz4 of a batch when the group asks for WAN compression; undefined means send it as it is (compression
   * off, or switched off for a while because the data did not compress).
   */
  private compress(parts: Buffer[], bytes: number): Buffer | undefined {
    if (!this.options.compress()) return undefined;
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
  acknowledged(durableSeq: number, receivedSeq: number): void {
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
    this.wake();
    this.pump();
  }

  /** Hands every unacknowledged write back to the capture path and empties the buffer (its data may never arrive). */
  spill(): void {
    this.spillCount++;
    for (const it of this.queue) if (it.kind === 'write') this.options.dropped(it);
    this.queue = [];
    this.sent = 0;
    this.received = 0;
    this.buffered = 0;
    this.inFlight = 0;
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
