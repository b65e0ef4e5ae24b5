// The recovery site's per-VM journal: an append-only log of sequenced writes and checkpoint markers in
// CRC-protected segments, an index from (volume, range) to log records, point-in-time images, FIFO
// trimming that promotes old writes into the replica volumes, size limits, and crash recovery.
// Longer than our usual files because appends, flushes, promotion and recovery all keep one set of
// invariants over the segment table and the index; the on-disk formats, scanning, summaries and the index
// live in their own modules (segment-format, segment-reader, segment-summary, block-index).
import { EventEmitter } from 'node:events';
import type { Clock, TimerHandle } from '../clock.js';
import {
  CheckpointNotFoundError, CheckpointTrimmedError, ClosedError, JournalCorruptError, JournalFullError,
  JournalHistoryFloorError, SequenceError, UnknownVolumeError, ValidationError,
} from '../errors.js';
import type { Checkpoint, CheckpointKind, SequencedWrite, VmId, VolumeId } from '../model.js';
import type { StorageAdapter, StoredFile } from '../ports/storage-adapter.js';
import { checkRange, checkWrite } from '../volume-geometry.js';
import { BlockIndex, type ReadPiece } from './block-index.js';
import { PointInTimeImage } from './point-in-time-image.js';
import {
  RECORD_HEADER_BYTES, RecordType, SEGMENT_HEADER_BYTES, checkpointRecord, encodeSegmentHeader, segmentFileName, segmentNoOf,
  writeRecordHeader,
} from './segment-format.js';
import { hasCheckpointAfter, walkSegment, type BadSpot } from './segment-reader.js';
import { SummaryBuilder, decodeSegmentSummary, summaryFileName, summaryNoOf, type SegmentSummary } from './segment-summary.js';
import { SerialQueue } from './serial-queue.js';

export interface JournalVolume {
  id: VolumeId;
  sizeBytes: number;
  sectorSize: number;
}

export interface JournalOptions {
  storage: StorageAdapter;
  /** Folder, relative to the storage root, holding this journal's segments, state and replica volumes. */
  path: string;
  vmId: VmId;
  /** The VM's volumes; on reopen, volumes not yet known are added. */
  volumes: JournalVolume[];
  clock: Clock;
  historyMs: number;
  hardLimitBytes: number;
  warningBytes: number;
  /** Segment size before rotating (default 64 MiB, lowered for small hard limits so trimming can free space). */
  segmentBytes?: number;
  /** Index granularity (default 4 KiB). */
  indexBlockBytes?: number;
  /** Trim by history on a timer, at each checkpoint's expiry (default true). */
  autoTrim?: boolean;
  /**
   * Open by reading every record and verifying every checksum, ignoring the sealed segments' summaries
   * (default false: a sealed segment with a valid summary is not read, see `scrub` for its payloads).
   */
  verifyPayloads?: boolean;
}

export type HistoryStatus = 'ok' | 'warning' | 'error';

/**
 * How far an append may go to make room under the hard limit. `keep-newest` (the default, streaming):
 * trim the oldest checkpoints but never the newest. `{ keepHistoryMs }` (a sync, S6): trim only while
 * that much history remains, else refuse with JournalHistoryFloorError. `drop-recovery-points` (a sync
 * after the system pause): trim anything, and when even the newest checkpoint is in the way promote
 * every write and drop every checkpoint. In the two sync modes, with no checkpoint at all, writes are
 * promoted freely: no recovery point depends on them (an initial sync larger than the journal).
 */
export type MakeRoom = 'keep-newest' | { keepHistoryMs: number } | 'drop-recovery-points';

export interface AppendOptions {
  makeRoom?: MakeRoom;
}

export interface JournalStats {
  usedBytes: number;
  hardLimitBytes: number;
  warningBytes: number;
  overWarningThreshold: boolean;
  checkpointCount: number;
  oldestCheckpoint?: Checkpoint;
  latestCheckpoint?: Checkpoint;
  /** Time covered by retained checkpoints (now − oldest checkpoint). */
  actualHistoryMs: number;
  configuredHistoryMs: number;
  /** Against the history the journal could have by now (no more than the time since its first checkpoint). */
  historyStatus: HistoryStatus;
  lastSeq: number;
  promotedSeq: number;
  writesInJournal: number;
  segments: number;
}

export interface TrimEvent {
  checkpoints: Checkpoint[];
  promotedSeq: number;
  reason: 'history' | 'size';
}

export interface JournalEvents {
  checkpoint: [Checkpoint];
  trimmed: [TrimEvent];
  /** Journal use crossed the warning threshold upwards. */
  warning: [{ usedBytes: number; warningBytes: number }];
  /** Recovery found damaged data; checkpoints after it are gone and a sync must rebuild them. */
  damage: [JournalCorruptError];
  /** A background trim failed; it is retried on the next trigger. */
  'trim-error': [Error];
}

const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
const MIN_SEGMENT_BYTES = 64 * 1024;
const MAX_WRITE_BYTES = 64 * 1024 * 1024;
const CHECKPOINT_KINDS: readonly CheckpointKind[] = ['auto', 'tagged', 'vss'];
const TRIMMED_IDS_REMEMBERED = 100_000;
/** Segments opened (and their summaries read) ahead of the one recovery is rebuilding. */
const RECOVERY_READ_AHEAD = 8;

interface SegmentInfo {
  no: number;
  name: string;
  file: StoredFile;
  bytes: number;
  /** Highest write sequence number issued into the segment (-1 when it holds none). */
  maxWriteSeq: number;
  /** Highest write sequence number written and published (where a failed write rewinds to). */
  publishedMaxWriteSeq: number;
  checkpointIds: string[];
  /** Writes issued into the segment and not yet settled. */
  inFlight: number;
  /** Records published so far, until the sealed and flushed segment's summary is written. */
  summary?: SummaryBuilder;
}

/** Persistent state beside the segments, replaced atomically. */
interface JournalState {
  format: 1;
  vmId: VmId;
  createdAt: number;
  volumes: JournalVolume[];
  /** Writes with seq ≤ this belong in the replica. */
  promotedSeq: number;
  /** Writes with seq ≤ this are in the replica for sure (promotion finished and was flushed). */
  appliedSeq: number;
  /** The oldest retained checkpoint; markers before it in the log are trimmed. */
  oldestCheckpointId?: string;
  /** When the first checkpoint was added: the history the journal can hold grows from then. */
  firstCheckpointAt?: number;
  /** Every recovery point with seq ≤ this was dropped deliberately (`dropRecoveryPoints`); recovery never lists them. */
  droppedThroughSeq?: number;
  /** A scrub found damage in a sealed segment: the next open reads and verifies every record. */
  verifyOnOpen?: boolean;
}

/** What recovery carries from one segment to the next. */
interface RecoveryScan {
  /** Writes a crash left between appliedSeq and promotedSeq: promoted again, in order. */
  redo: PendingRedo[];
  /** The oldest retained checkpoint was seen: markers from here on are listed. */
  seenOldest: boolean;
}

interface PendingRedo {
  volume: number;
  offset: number;
  segment: number;
  position: number;
  length: number;
}

export class Journal extends EventEmitter<JournalEvents> {
  /** Set when recovery found damage (file and offset); checkpoints before it remain usable. */
  damage?: JournalCorruptError;
  /** Set when recovery cut off a torn tail (writes never made durable by a checkpoint or flush). */
  tornTail?: { file: string; offset: number };
  /** How the last open rebuilt the journal: segments taken from their summaries, and segments read whole. */
  readonly opened = { summarized: 0, scanned: 0 };

  private readonly queue = new SerialQueue();
  private readonly index: BlockIndex;
  private readonly segments = new Map<number, SegmentInfo>();
  private readonly retired: SegmentInfo[] = [];
  private readonly replicas: StoredFile[] = [];
  private readonly volumeIndex = new Map<VolumeId, number>();
  private checkpointList: Checkpoint[] = [];
  private readonly checkpointById = new Map<string, Checkpoint>();
  private readonly trimmedIds = new Set<string>();
  private readonly pins = new Map<string, number>();
  private active!: SegmentInfo;
  private usedBytes = 0;
  private lastSeqValue = 0;
  /** Highest sequence number accepted into the log, written or still in flight. */
  private issuedSeq = 0;
  /** Settles when every write issued so far has been written and published (never rejects). */
  private published: Promise<void> = Promise.resolve();
  /** Settles when every flush asked for so far has finished (never rejects). */
  private flushed: Promise<void> = Promise.resolve();
  private writeFailure?: { segment: SegmentInfo; offset: number; error: unknown };
  /** Segments with published writes not yet flushed. */
  private readonly dirty = new Set<SegmentInfo>();
  /** Checkpoints written but not yet durable (not listed). */
  private readonly pendingIds = new Set<string>();
  private readsInFlight = 0;
  private deletions: Promise<void> = Promise.resolve();
  /** Summary files being written (never rejects); deletions and close wait for it. */
  private summaryWrites: Promise<void> = Promise.resolve();
  private warned = false;
  private closed = false;
  private trimTimer?: TimerHandle;
  private readonly segmentBytes: number;

  private constructor(private readonly options: JournalOptions, private state: JournalState) {
    super();
    this.index = new BlockIndex(options.indexBlockBytes ?? 4096);
    this.segmentBytes = Math.max(MIN_SEGMENT_BYTES, Math.min(options.segmentBytes ?? DEFAULT_SEGMENT_BYTES, Math.floor(options.hardLimitBytes / 8)));
  }

  /** Opens (recovering after a crash) or creates the journal at `options.path`. */
  static async open(options: JournalOptions): Promise<Journal> {
    validateOptions(options);
    const statePath = `${options.path}/journal.json`;
    const raw = await options.storage.readAll(statePath);
    let state: JournalState;
    if (raw) {
      state = parseState(raw, statePath);
      if (state.vmId !== options.vmId) throw new ValidationError(`journal at '${options.path}' belongs to VM '${state.vmId}', not '${options.vmId}'`, 'vmId');
    } else {
      state = { format: 1, vmId: options.vmId, createdAt: options.clock.now(), volumes: [], promotedSeq: 0, appliedSeq: 0 };
    }
    let changed = !raw;
    for (const v of options.volumes) {
      const known = state.volumes.find((k) => k.id === v.id);
      if (!known) {
        state.volumes.push({ id: v.id, sizeBytes: v.sizeBytes, sectorSize: v.sectorSize });
        changed = true;
      } else if (known.sizeBytes !== v.sizeBytes || known.sectorSize !== v.sectorSize) {
        throw new ValidationError(`volume '${v.id}' is ${known.sizeBytes} bytes / ${known.sectorSize}-byte sectors in the journal, not ${v.sizeBytes} / ${v.sectorSize}`, 'volumes');
      }
    }
    // Rewritten only when it changed: each replace costs two fsyncs, slow while the disk writes back.
    if (changed) await options.storage.replace(statePath, Buffer.from(JSON.stringify(state)));
    const journal = new Journal(options, state);
    await journal.recover();
    return journal;
  }

  get vmId(): VmId {
    return this.state.vmId;
  }

  get volumes(): readonly JournalVolume[] {
    return this.state.volumes;
  }

  /**
   * Adds a volume to the journal of a running VM (a volume added to a protected VM, S7): its replica
   * starts as zeros, and writes to it are taken from now on. A volume already known with the same
   * geometry changes nothing; a different geometry is refused.
   */
  addVolume(volume: JournalVolume): Promise<void> {
    return this.queue.run(async () => {
      this.assertOpen();
      const known = this.state.volumes.find((k) => k.id === volume.id);
      if (known) {
        if (known.sizeBytes !== volume.sizeBytes || known.sectorSize !== volume.sectorSize) {
          throw new ValidationError(`volume '${volume.id}' is ${known.sizeBytes} bytes / ${known.sectorSize}-byte sectors in the journal, not ${volume.sizeBytes} / ${volume.sectorSize}`, 'volumes');
        }
        return;
      }
      validateOptions({ ...this.options, volumes: [...this.state.volumes, volume] });
      const v = { id: volume.id, sizeBytes: volume.sizeBytes, sectorSize: volume.sectorSize };
      const replica = await this.options.storage.open(`${this.options.path}/replica/${encodeURIComponent(v.id)}.img`, { create: true, size: v.sizeBytes });
      await this.saveState({ ...this.state, volumes: [...this.state.volumes, v] });
      this.replicas.push(replica);
      this.volumeIndex.set(v.id, this.state.volumes.length - 1);
    });
  }

  /** Highest sequence number written or marked; the sender resumes after it. */
  get lastSeq(): number {
    return this.lastSeqValue;
  }

  /** Appends one sequenced write. Resolves when it is in storage (durable at the next flush or checkpoint). */
  append(write: SequencedWrite): Promise<void> {
    return this.appendMany([write]);
  }

  /**
   * Appends writes in order with as few storage calls as possible. All are checked before any is
   * written. Several appends may be in flight at once; they become visible to readers in order.
   * Settles (either way) only once no write it issued is still in progress: the caller may then reuse
   * the writes' buffers.
   */
  appendMany(writes: readonly SequencedWrite[], options: AppendOptions = {}): Promise<void> {
    let done: Promise<void> = Promise.resolve();
    const makeRoom = options.makeRoom ?? 'keep-newest';
    return this.queue.run(async () => {
      this.assertOpen();
      await this.recoverFromWriteFailure();
      let seq = this.issuedSeq;
      for (const w of writes) {
        const volume = this.volumeIndex.get(w.volumeId);
        if (volume === undefined) throw new UnknownVolumeError(w.volumeId, `the journal of VM '${this.vmId}'`);
        checkWrite(this.state.volumes[volume], w.offset, w.data.length);
        if (w.data.length > MAX_WRITE_BYTES) throw new ValidationError(`a write of ${w.data.length} bytes is larger than the ${MAX_WRITE_BYTES}-byte maximum; split it`, 'data');
        if (!Number.isSafeInteger(w.seq) || w.seq <= seq) throw new SequenceError(`write seq ${w.seq} does not follow seq ${seq} in the journal of VM '${this.vmId}'`);
        seq = w.seq;
      }
      const parts: Promise<void>[] = [];
      try {
        for (let i = 0; i < writes.length;) {
          const issued = await this.issueBatch(writes, i, makeRoom);
          parts.push(issued.done);
          i = issued.next;
        }
      } catch (e) {
        // The caller may reuse the writes' buffers once this settles: nothing issued may still be writing.
        await Promise.allSettled(parts);
        throw e;
      }
      done = allSettledOrThrow(parts);
    }).then(() => done);
  }

  /**
   * Writes a checkpoint marker after every write appended so far; resolves once it and everything
   * before it are durable, and only then is it listed. Appends after it need not wait for the fsync.
   */
  addCheckpoint(cp: Checkpoint): Promise<void> {
    let done: Promise<void> = Promise.resolve();
    return this.queue.run(async () => {
      this.assertOpen();
      await this.recoverFromWriteFailure();
      validateCheckpoint(cp);
      if (this.checkpointById.has(cp.id) || this.trimmedIds.has(cp.id) || this.pendingIds.has(cp.id)) throw new ValidationError(`checkpoint id '${cp.id}' is already used in this journal`, 'id');
      if (cp.seq < this.issuedSeq) throw new SequenceError(`checkpoint seq ${cp.seq} is before seq ${this.issuedSeq} already in the journal of VM '${this.vmId}'`);
      const record = checkpointRecord(cp);
      await this.ensureSpace(record[0].length + record[1].length);
      if (this.state.firstCheckpointAt === undefined) await this.saveState({ ...this.state, firstCheckpointAt: cp.timestamp });
      // The marker's bytes go down only after every earlier write's: a valid marker on disk then
      // proves everything before it was written (recovery relies on it to tell damage from a torn tail).
      await this.published;
      const copy: Checkpoint = { id: cp.id, groupId: cp.groupId, seq: cp.seq, timestamp: cp.timestamp, kind: cp.kind, ...(cp.tag !== undefined ? { tag: cp.tag } : {}) };
      this.pendingIds.add(copy.id);
      const written = this.issueRecords(record, cp.seq, -1, (seg) => seg.checkpointIds.push(copy.id), (seg, start) => {
        seg.summary?.add(RecordType.Checkpoint, 0, copy.seq, copy.timestamp, record[1].length, start + RECORD_HEADER_BYTES, record[1]);
        this.lastSeqValue = Math.max(this.lastSeqValue, copy.seq);
      });
      done = this.afterFlush(written, () => {
        this.pendingIds.delete(copy.id);
        this.checkpointList.push(copy);
        this.checkpointById.set(copy.id, copy);
        this.emit('checkpoint', copy);
        this.armTrimTimer();
      }).catch((e: unknown) => {
        this.pendingIds.delete(copy.id);
        throw e;
      });
    }).then(() => done);
  }

  /** Makes every write appended so far durable. */
  flush(): Promise<void> {
    let done: Promise<void> = Promise.resolve();
    return this.queue.run(async () => {
      this.assertOpen();
      done = this.afterFlush(this.published, () => undefined);
    }).then(() => done);
  }

  /** Resolves once every operation queued so far (appends, markers, flushes, background trims) has finished. */
  async idle(): Promise<void> {
    await this.queue.idle();
    await this.published;
    await this.flushed;
    await this.summaryWrites;
  }

  /** Retained checkpoints, oldest first. */
  checkpoints(): Checkpoint[] {
    return this.checkpointList.map((c) => ({ ...c }));
  }

  getCheckpoint(id: string): Checkpoint {
    const cp = this.checkpointById.get(id);
    if (cp) return { ...cp };
    if (this.trimmedIds.has(id)) throw new CheckpointTrimmedError(id, `the journal of VM '${this.vmId}'`);
    throw new CheckpointNotFoundError(id, `the journal of VM '${this.vmId}'`);
  }

  /**
   * Opens the volumes as they were at a checkpoint. Constant time: the index is shared and filtered by
   * sequence number at read time. The checkpoint stays retained (pinned) until the image is closed.
   */
  async openImage(checkpointId: string): Promise<PointInTimeImage> {
    this.assertOpen();
    const cp = this.getCheckpoint(checkpointId);
    this.pins.set(cp.id, (this.pins.get(cp.id) ?? 0) + 1);
    return new PointInTimeImage(cp, this.state.volumes, {
      read: (volumeId, offset, length) => this.readAt(volumeId, offset, length, cp.seq),
      journaledExtents: (volumeId) => this.journaledExtents(volumeId, cp.seq),
      release: () => this.unpin(cp.id),
    });
  }

  /** Reads the replica plus every journaled write up to `maxSeq` (the state at that point in the stream). */
  async readAt(volumeId: VolumeId, offset: number, length: number, maxSeq: number): Promise<Buffer> {
    this.assertOpen();
    const volume = this.volumeIndex.get(volumeId);
    if (volume === undefined) throw new UnknownVolumeError(volumeId, `the journal of VM '${this.vmId}'`);
    checkRange(this.state.volumes[volume], offset, length);
    const pieces = this.index.plan(volume, offset, length, maxSeq);
    this.readsInFlight++;
    try {
      if (pieces.length === 1) return await this.readPiece(volume, pieces[0]);
      const out = Buffer.alloc(length);
      await Promise.all(pieces.map(async (p) => (await this.readPiece(volume, p)).copy(out, p.dst)));
      return out;
    } finally {
      if (--this.readsInFlight === 0 && this.retired.length > 0) void this.deleteRetired();
    }
  }

  /** Extents of journaled (not yet promoted) writes to a volume with seq ≤ `maxSeq`, oldest first. */
  journaledExtents(volumeId: VolumeId, maxSeq: number): { offset: number; length: number }[] {
    this.assertOpen();
    const volume = this.volumeIndex.get(volumeId);
    if (volume === undefined) throw new UnknownVolumeError(volumeId, `the journal of VM '${this.vmId}'`);
    const out: { offset: number; length: number }[] = [];
    for (const e of this.index.entriesUpTo(maxSeq)) if (e.volume === volume) out.push({ offset: e.offset, length: e.length });
    return out;
  }

  /** Trims checkpoints past the history window (keeping the newest and any pinned one) and promotes their writes. */
  trim(): Promise<TrimEvent | undefined> {
    return this.queue.run(async () => {
      this.assertOpen();
      await this.redoPromotion();
      const cutoff = this.options.clock.now() - this.options.historyMs;
      let k = this.checkpointList.findIndex((c) => c.timestamp >= cutoff);
      if (k < 0) k = this.checkpointList.length - 1;
      k = Math.min(k, this.oldestPinnedIndex());
      const result = k > 0 ? await this.promoteTo(k, 'history') : undefined;
      this.armTrimTimer();
      return result;
    });
  }

  stats(): JournalStats {
    const now = this.options.clock.now();
    const oldest = this.checkpointList[0];
    const latest = this.checkpointList[this.checkpointList.length - 1];
    const actual = oldest ? now - oldest.timestamp : 0;
    const possible = Math.min(this.options.historyMs, now - (this.state.firstCheckpointAt ?? now));
    const ratio = possible <= 0 ? 1 : actual / possible;
    return {
      usedBytes: this.usedBytes,
      hardLimitBytes: this.options.hardLimitBytes,
      warningBytes: this.options.warningBytes,
      overWarningThreshold: this.usedBytes >= this.options.warningBytes,
      checkpointCount: this.checkpointList.length,
      oldestCheckpoint: oldest && { ...oldest },
      latestCheckpoint: latest && { ...latest },
      actualHistoryMs: actual,
      configuredHistoryMs: this.options.historyMs,
      historyStatus: ratio < 0.75 ? 'error' : ratio < 0.85 ? 'warning' : 'ok',
      lastSeq: this.lastSeqValue,
      promotedSeq: this.state.promotedSeq,
      writesInJournal: this.index.size,
      segments: this.segments.size,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.idle();
    this.closed = true;
    this.trimTimer?.cancel();
    // Everything becomes durable and every segment gets its summary, the active one too: the next open
    // starts a new segment, so all of these are sealed.
    const segs = [...this.segments.values()];
    await Promise.all(segs.filter((seg) => seg === this.active || this.dirty.has(seg)).map((seg) => seg.file.flush()));
    this.dirty.clear();
    for (const seg of segs) this.summarizeIfSealed(seg, true);
    await this.summaryWrites;
    await this.deletions;
    for (const s of this.segments.values()) await s.file.close();
    for (const r of this.replicas) await r.close();
  }

  // ---- writing -------------------------------------------------------------------------------

  /** Issues as many records from `writes[from]` as fit the active segment as one vectored write. */
  private async issueBatch(writes: readonly SequencedWrite[], from: number, makeRoom: MakeRoom): Promise<{ next: number; done: Promise<void> }> {
    const first = writes[from];
    const firstBytes = RECORD_HEADER_BYTES + first.data.length;
    await this.ensureSpace(firstBytes, makeRoom);
    if (this.active.bytes > SEGMENT_HEADER_BYTES && this.active.bytes + firstBytes > this.segmentBytes) await this.rotate();
    const buffers: Buffer[] = [];
    const placed: { write: SequencedWrite; volume: number; position: number }[] = [];
    let pos = this.active.bytes;
    let i = from;
    for (; i < writes.length; i++) {
      const w = writes[i];
      const bytes = RECORD_HEADER_BYTES + w.data.length;
      if (i > from && (pos + bytes > this.segmentBytes || this.usedBytes + (pos - this.active.bytes) + bytes > this.options.hardLimitBytes)) break;
      const volume = this.volumeIndex.get(w.volumeId)!;
      buffers.push(writeRecordHeader(volume, w.seq, w.offset, w.data), w.data);
      placed.push({ write: w, volume, position: pos + RECORD_HEADER_BYTES });
      pos += bytes;
    }
    const seg = this.active;
    const lastSeq = placed[placed.length - 1].write.seq;
    const done = this.issueRecords(buffers, lastSeq, lastSeq, () => undefined, () => {
      for (const p of placed) {
        this.index.add({ seq: p.write.seq, volume: p.volume, offset: p.write.offset, length: p.write.data.length, segment: seg.no, position: p.position });
        seg.summary?.add(RecordType.Write, p.volume, p.write.seq, p.write.offset, p.write.data.length, p.position);
      }
      this.lastSeqValue = lastSeq;
    });
    return { next: i, done };
  }

  /**
   * Starts writing records at the end of the active segment and returns at once; the returned promise
   * settles when they are written and published. Publication is in issue order, so readers never see a
   * record before the ones in front of it; after a failed write nothing later is published.
   */
  private issueRecords(buffers: Buffer[], seq: number, maxWriteSeq: number, onIssue: (seg: SegmentInfo) => void, publish: (seg: SegmentInfo, start: number) => void): Promise<void> {
    const seg = this.active;
    const start = seg.bytes;
    const bytes = buffers.reduce((n, b) => n + b.length, 0);
    seg.bytes += bytes;
    this.usedBytes += bytes;
    if (maxWriteSeq >= 0) seg.maxWriteSeq = maxWriteSeq;
    this.issuedSeq = Math.max(this.issuedSeq, seq);
    onIssue(seg);
    this.checkWarning();
    const write = seg.file.write(start, buffers);
    seg.inFlight++;
    const before = this.published;
    const done = (async (): Promise<void> => {
      let error: unknown;
      try {
        await write;
      } catch (e) {
        error = e;
      }
      await before;
      seg.inFlight--;
      if (error && !this.writeFailure) this.writeFailure = { segment: seg, offset: start, error };
      if (this.writeFailure) throw error ?? this.writeFailure.error;
      this.dirty.add(seg);
      if (maxWriteSeq >= 0) seg.publishedMaxWriteSeq = maxWriteSeq;
      publish(seg, start);
    })();
    this.published = done.catch(() => undefined);
    return done;
  }

  /**
   * After a failed write, later in-flight writes were not published either: cut the segment back to
   * where the failure began (dropping segments started since) so the log stays a clean prefix.
   */
  private async recoverFromWriteFailure(): Promise<void> {
    if (!this.writeFailure) return;
    await this.published;
    const { segment, offset } = this.writeFailure;
    for (const s of [...this.segments.values()]) {
      if (s.no <= segment.no) continue;
      this.segments.delete(s.no);
      await s.file.close();
      await this.options.storage.delete(s.name);
      await this.options.storage.delete(summaryFileName(this.options.path, s.no));
    }
    await this.summaryWrites;
    await this.options.storage.delete(summaryFileName(this.options.path, segment.no));
    segment.summary ??= new SummaryBuilder();
    await segment.file.resize(offset);
    segment.bytes = offset;
    segment.maxWriteSeq = segment.publishedMaxWriteSeq;
    segment.checkpointIds = segment.checkpointIds.filter((id) => this.checkpointById.has(id) || this.trimmedIds.has(id));
    this.active = segment;
    this.usedBytes = [...this.segments.values()].reduce((n, s) => n + s.bytes, 0);
    this.issuedSeq = this.lastSeqValue;
    this.writeFailure = undefined;
  }

  /** Runs `then` once `written` has settled and every segment written so far has been flushed, in call order. */
  private afterFlush(written: Promise<void>, then: () => void): Promise<void> {
    const done = this.flushed.then(async () => {
      await written;
      const segs = [...this.dirty];
      this.dirty.clear();
      try {
        await Promise.all(segs.map((seg) => seg.file.flush()));
      } catch (e) {
        for (const seg of segs) this.dirty.add(seg);
        throw e;
      }
      for (const seg of segs) this.summarizeIfSealed(seg);
      then();
    });
    this.flushed = done.catch(() => undefined);
    return done;
  }

  /**
   * Writes the summary of a sealed segment once all of it is durable: nothing in flight into it, nothing
   * published since its last flush, no failed write to cut back. The summary itself is not flushed: a
   * torn or lost one only makes the next open scan that segment.
   */
  private summarizeIfSealed(seg: SegmentInfo, closing = false): void {
    if ((seg === this.active && !closing) || !seg.summary || seg.inFlight > 0 || this.dirty.has(seg) || this.writeFailure || !this.segments.has(seg.no)) return;
    const data = seg.summary.encode(seg.no, seg.bytes);
    seg.summary = undefined;
    const name = summaryFileName(this.options.path, seg.no);
    this.summaryWrites = this.summaryWrites.then(async () => {
      const file = await this.options.storage.open(name, { create: true });
      try {
        await file.resize(0);
        await file.write(0, data);
      } finally {
        await file.close();
      }
    }).catch((e: Error) => {
      // Only a hint for the next open; without it that segment is scanned.
      this.emit('trim-error', e);
    });
  }

  private checkWarning(): void {
    const over = this.usedBytes >= this.options.warningBytes;
    if (over && !this.warned) this.emit('warning', { usedBytes: this.usedBytes, warningBytes: this.options.warningBytes });
    this.warned = over;
  }

  /** Starts a new segment. The old one is flushed with the next checkpoint or flush, which covers every dirty segment. */
  private async rotate(): Promise<void> {
    await this.createSegment(this.active.no + 1);
  }

  private async createSegment(no: number): Promise<void> {
    const name = segmentFileName(this.options.path, no);
    const file = await this.options.storage.open(name, { create: true });
    await file.resize(0);
    await file.write(0, encodeSegmentHeader({ segmentNo: no, createdAt: this.options.clock.now() }));
    // A summary left by an earlier segment of this number (cut off by recovery) must not describe this one.
    await this.options.storage.delete(summaryFileName(this.options.path, no));
    const seg: SegmentInfo = { no, name, file, bytes: SEGMENT_HEADER_BYTES, maxWriteSeq: -1, publishedMaxWriteSeq: -1, checkpointIds: [], inFlight: 0, summary: new SummaryBuilder() };
    this.segments.set(no, seg);
    this.dirty.add(seg);
    this.active = seg;
    this.usedBytes += SEGMENT_HEADER_BYTES;
  }

  /** Makes room for `bytes` under the hard limit by promoting the oldest checkpoints (as far as `makeRoom` allows), or refuses. */
  private async ensureSpace(bytes: number, makeRoom: MakeRoom = 'keep-newest'): Promise<void> {
    const hard = this.options.hardLimitBytes;
    const over = (): number => this.usedBytes + bytes + SEGMENT_HEADER_BYTES - hard;
    if (over() <= 0) return;
    await this.redoPromotion();
    // The newest checkpoint and pinned ones stay; promote as little as frees enough.
    let maxK = Math.min(this.checkpointList.length - 1, this.oldestPinnedIndex());
    const floor = typeof makeRoom === 'object' ? makeRoom.keepHistoryMs : undefined;
    let limitedByFloor = false;
    if (floor !== undefined) {
      // A sync may trim only while `floor` of history remains after the trim.
      const now = this.options.clock.now();
      while (maxK > 0 && now - this.checkpointList[maxK].timestamp < floor) {
        maxK--;
        limitedByFloor = true;
      }
    }
    let k = 0;
    while (k < maxK && this.freedBy(k) < over()) k++;
    if (k >= 0 && k <= maxK && over() > 0) {
      const target = this.checkpointList[k];
      if (this.active.maxWriteSeq <= target.seq && this.active.bytes > SEGMENT_HEADER_BYTES) await this.rotate();
      if (k > 0 || target.seq > this.state.promotedSeq) await this.promoteTo(k, 'size');
    }
    if (over() <= 0) return;
    // What is left lies after the newest retained checkpoint (or there is none).
    const noRecoveryPoints = this.checkpointList.length === 0 && this.pendingIds.size === 0;
    // A plain append (no `makeRoom` given) keeps its old contract and refuses instead.
    if ((noRecoveryPoints && makeRoom !== 'keep-newest') || (makeRoom === 'drop-recovery-points' && this.pins.size === 0)) {
      await this.promoteEverything('size');
      if (over() <= 0) return;
    }
    if (floor !== undefined && (limitedByFloor || this.checkpointList.length > 0) && this.pins.size === 0) {
      throw new JournalHistoryFloorError(this.usedBytes, hard, bytes, floor);
    }
    throw new JournalFullError(this.usedBytes, hard, bytes);
  }

  /**
   * Promotes every write appended so far into the replica and drops every checkpoint: what a sync larger
   * than the journal does once the system pause is over (S6; the anchor: "all the checkpoints in the
   * journal can be lost"). Nothing acknowledged is lost: the replica then holds the latest state; recovery
   * is possible again from the next checkpoint. Refused while a point-in-time image is open.
   */
  dropRecoveryPoints(): Promise<TrimEvent> {
    return this.queue.run(async () => {
      this.assertOpen();
      await this.recoverFromWriteFailure();
      await this.redoPromotion();
      if (this.pins.size > 0) throw new ValidationError(`the journal of VM '${this.vmId}' has open point-in-time images; close them before dropping its recovery points`, 'pins');
      return this.promoteEverything('size');
    });
  }

  /** Space the journal could free now, as `dropRecoveryPoints` would (what a paused sync needs to know before resuming). */
  spaceReport(): { usedBytes: number; hardLimitBytes: number; freeBytes: number; reclaimableBytes: number } {
    const pinned = this.oldestPinnedIndex();
    const reclaimable = Number.isFinite(pinned) ? this.freedBy(pinned) : Math.max(0, this.usedBytes - SEGMENT_HEADER_BYTES);
    return { usedBytes: this.usedBytes, hardLimitBytes: this.options.hardLimitBytes, freeBytes: Math.max(0, this.options.hardLimitBytes - this.usedBytes), reclaimableBytes: reclaimable };
  }

  /** Runs inside the queue: promotes every published write and drops every listed checkpoint. */
  private async promoteEverything(reason: 'history' | 'size'): Promise<TrimEvent> {
    // Everything issued must be written, flushed (markers listed) before it can be promoted.
    await this.afterFlush(this.published, () => undefined);
    if (this.writeFailure) await this.recoverFromWriteFailure();
    const upTo = this.lastSeqValue;
    if (this.active.bytes > SEGMENT_HEADER_BYTES) await this.rotate();
    const dropped = this.checkpointList;
    await this.saveState({ ...this.state, promotedSeq: Math.max(this.state.promotedSeq, upTo), oldestCheckpointId: undefined, droppedThroughSeq: Math.max(this.state.droppedThroughSeq ?? 0, upTo) });
    this.checkpointList = [];
    for (const c of dropped) {
      this.checkpointById.delete(c.id);
      this.rememberTrimmed(c.id);
    }
    await this.redoPromotion();
    this.trimTimer?.cancel();
    this.trimTimer = undefined;
    const event = { checkpoints: dropped, promotedSeq: this.state.promotedSeq, reason };
    if (dropped.length > 0) this.emit('trimmed', event);
    return event;
  }

  /** Bytes freed if checkpoint k became the oldest retained one (its writes promoted, earlier checkpoints trimmed). */
  private freedBy(k: number): number {
    const seq = this.checkpointList[k].seq;
    const kept = new Set(this.checkpointList.slice(k).map((c) => c.id));
    let freed = 0;
    for (const s of this.segments.values()) {
      if (s.maxWriteSeq <= seq && !s.checkpointIds.some((id) => kept.has(id))) freed += s.bytes;
    }
    return freed;
  }

  // ---- trimming and promotion ----------------------------------------------------------------

  /**
   * Makes checkpoint k the oldest retained one: records the intent durably, copies every write up to
   * it into the replica in sequence order, then drops those writes from the index and frees segments.
   * A crash anywhere in between is finished by `redoPromotion` on the next open.
   */
  private async promoteTo(k: number, reason: 'history' | 'size'): Promise<TrimEvent> {
    const target = this.checkpointList[k];
    const trimmed = this.checkpointList.slice(0, k);
    await this.saveState({ ...this.state, promotedSeq: Math.max(this.state.promotedSeq, target.seq), oldestCheckpointId: target.id });
    this.checkpointList = this.checkpointList.slice(k);
    for (const c of trimmed) {
      this.checkpointById.delete(c.id);
      this.rememberTrimmed(c.id);
    }
    await this.redoPromotion();
    const event = { checkpoints: trimmed, promotedSeq: this.state.promotedSeq, reason };
    if (trimmed.length > 0) this.emit('trimmed', event);
    return event;
  }

  /** Applies writes in (appliedSeq, promotedSeq] to the replica, then releases their index entries and segments. */
  private async redoPromotion(): Promise<void> {
    const upTo = this.state.promotedSeq;
    if (this.state.appliedSeq < upTo) {
      for (const e of this.index.entriesUpTo(upTo)) {
        const data = await this.segments.get(e.segment)!.file.read(e.position, e.length);
        await this.replicas[e.volume].write(e.offset, data);
      }
      for (const r of this.replicas) await r.flush();
      await this.saveState({ ...this.state, appliedSeq: upTo });
    }
    this.index.dropUpTo(upTo);
    this.releaseSegments();
  }

  /** Retires segments whose writes are all promoted and whose checkpoints are all trimmed. */
  private releaseSegments(): void {
    for (const s of [...this.segments.values()]) {
      if (s === this.active) continue;
      if (s.maxWriteSeq > this.state.promotedSeq || s.checkpointIds.some((id) => this.checkpointById.has(id))) continue;
      this.segments.delete(s.no);
      this.dirty.delete(s);
      this.usedBytes -= s.bytes;
      this.retired.push(s);
    }
    if (this.readsInFlight === 0 && this.retired.length > 0) void this.deleteRetired();
  }

  /** Deletes retired segments; chained so `close` can wait for every deletion it started. */
  private deleteRetired(): Promise<void> {
    const batch = this.retired.splice(0);
    this.deletions = this.deletions.then(async () => {
      await this.summaryWrites;
      for (const s of batch) {
        await s.file.close();
        await this.options.storage.delete(s.name);
        await this.options.storage.delete(summaryFileName(this.options.path, s.no));
      }
    }).catch((e: Error) => {
      // A segment left behind is harmless (recovery skips promoted data); report and carry on.
      this.emit('trim-error', e);
    });
    return this.deletions;
  }

  private oldestPinnedIndex(): number {
    let min = Number.POSITIVE_INFINITY;
    for (const id of this.pins.keys()) {
      const i = this.checkpointList.findIndex((c) => c.id === id);
      if (i >= 0) min = Math.min(min, i);
    }
    return min;
  }

  private unpin(id: string): void {
    const n = (this.pins.get(id) ?? 1) - 1;
    if (n <= 0) this.pins.delete(id);
    else this.pins.set(id, n);
    if (!this.closed) this.armTrimTimer();
  }

  private rememberTrimmed(id: string): void {
    this.trimmedIds.add(id);
    if (this.trimmedIds.size > TRIMMED_IDS_REMEMBERED) this.trimmedIds.delete(this.trimmedIds.values().next().value!);
  }

  /** Schedules the next history trim for the moment the oldest checkpoint leaves the window. */
  private armTrimTimer(): void {
    if (this.options.autoTrim === false || this.closed) return;
    this.trimTimer?.cancel();
    this.trimTimer = undefined;
    // Nothing to trim with one checkpoint, or while the oldest is pinned (unpinning re-arms).
    if (this.checkpointList.length < 2 || this.oldestPinnedIndex() === 0) return;
    const due = this.checkpointList[0].timestamp + this.options.historyMs + 1 - this.options.clock.now();
    this.trimTimer = this.options.clock.setTimer(Math.max(0, due), () => {
      this.trim().catch((e: Error) => {
        if (!this.closed) this.emit('trim-error', e);
      });
    });
  }

  private async saveState(next: JournalState): Promise<void> {
    await this.options.storage.replace(`${this.options.path}/journal.json`, Buffer.from(JSON.stringify(next)));
    this.state = next;
  }

  // ---- reading -------------------------------------------------------------------------------

  private async readPiece(volume: number, p: ReadPiece): Promise<Buffer> {
    if (p.kind === 'replica') return this.replicas[volume].read(p.volumeOffset, p.length);
    const seg = this.segments.get(p.segment) ?? this.retired.find((s) => s.no === p.segment);
    return seg!.file.read(p.at, p.length);
  }

  // ---- recovery ------------------------------------------------------------------------------

  private async recover(): Promise<void> {
    const { storage, path } = this.options;
    this.state.volumes.forEach((v, i) => this.volumeIndex.set(v.id, i));
    for (const v of this.state.volumes) {
      this.replicas.push(await storage.open(`${path}/replica/${encodeURIComponent(v.id)}.img`, { create: true, size: v.sizeBytes }));
    }
    const listed = await storage.list(`${path}/segments/`);
    const names = listed.filter((n) => segmentNoOf(n) !== undefined);
    names.sort((a, b) => segmentNoOf(a)! - segmentNoOf(b)!);
    const present = new Set(names.map((n) => segmentNoOf(n)!));
    const summarized = new Set<number>();
    for (const n of listed) {
      const no = summaryNoOf(n);
      if (no === undefined) continue;
      // A summary whose segment is gone (deleted before it) is dropped, so it can never describe a later one.
      if (present.has(no)) summarized.add(no);
      else await storage.delete(n);
    }
    const useSummaries = !this.options.verifyPayloads && !this.state.verifyOnOpen;
    const scan: RecoveryScan = { redo: [], seenOldest: this.state.oldestCheckpointId === undefined };
    const scanned: SegmentInfo[] = [];
    let lastNo = 0;
    // Opening segments and reading their summaries is I/O-bound: a few segments ahead are loaded meanwhile.
    const load = async (name: string): Promise<{ file: StoredFile; size: number; summary?: SegmentSummary }> => {
      const file = await storage.open(name);
      const size = await file.size();
      const no = segmentNoOf(name)!;
      return { file, size, summary: useSummaries && summarized.has(no) ? await this.readSummary(no, size) : undefined };
    };
    const ahead: Promise<{ file: StoredFile; size: number; summary?: SegmentSummary }>[] = [];
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      const no = segmentNoOf(name)!;
      lastNo = no;
      while (ahead.length < RECOVERY_READ_AHEAD && i + ahead.length < names.length) ahead.push(load(names[i + ahead.length]));
      const { file, size, summary } = await ahead.shift()!;
      const seg: SegmentInfo = { no, name, file, bytes: size, maxWriteSeq: -1, publishedMaxWriteSeq: -1, checkpointIds: [], inFlight: 0 };
      let bad: BadSpot | undefined;
      if (summary && this.applySummary(seg, summary, scan)) this.opened.summarized++;
      else {
        this.opened.scanned++;
        seg.summary = new SummaryBuilder();
        bad = await this.scanSegment(seg, size, scan);
        scanned.push(seg);
        if (bad) seg.bytes = bad.offset;
      }
      seg.publishedMaxWriteSeq = seg.maxWriteSeq;
      this.segments.set(no, seg);
      this.usedBytes += seg.bytes;
      if (bad) {
        // A durable marker after the bad spot proves the bytes there were once written whole: damage.
        // Without one, nothing after it was ever promised durable: a torn tail, cut off silently.
        if (await this.markerFollows(seg, size, bad.offset, names.slice(i + 1))) this.damage = new JournalCorruptError(name, bad.offset, bad.reason);
        else this.tornTail = { file: name, offset: bad.offset };
        for (const next of ahead.splice(0)) await (await next).file.close();
        await this.cutTail(seg, size, i, names);
        break;
      }
    }
    if (this.state.verifyOnOpen) await this.saveState({ ...this.state, verifyOnOpen: undefined });
    this.issuedSeq = this.lastSeqValue;
    // Finish a promotion a crash interrupted: the replica must hold every write ≤ promotedSeq.
    if (scan.redo.length > 0) {
      for (const r of scan.redo) {
        await this.replicas[r.volume].write(r.offset, await this.segments.get(r.segment)!.file.read(r.position, r.length));
      }
      for (const r of this.replicas) await r.flush();
    }
    if (this.state.appliedSeq < this.state.promotedSeq) await this.saveState({ ...this.state, appliedSeq: this.state.promotedSeq });
    if (this.damage) this.emitLater('damage', this.damage);
    // Every scanned segment is sealed now (a new one follows): made durable as read, it gets its summary —
    // in the background, so the open does not wait for those fsyncs.
    for (const seg of scanned) {
      if (!this.segments.has(seg.no) || !seg.summary) continue;
      const summary = seg.summary;
      seg.summary = undefined;
      this.summaryWrites = this.summaryWrites.then(async () => {
        if (!this.segments.has(seg.no)) return;
        await seg.file.flush();
        seg.summary = summary;
        this.summarizeIfSealed(seg, true);
      }).catch((e: Error) => this.emitLater('trim-error', e));
    }
    await this.createSegment(lastNo + 1);
    this.releaseSegments();
    this.checkWarning();
    this.armTrimTimer();
  }

  /** The summary of segment `no` if it is valid and describes the segment as it is now (`size` bytes). */
  private async readSummary(no: number, size: number): Promise<SegmentSummary | undefined> {
    const raw = await this.options.storage.readAll(summaryFileName(this.options.path, no));
    const summary = raw && decodeSegmentSummary(raw);
    if (!summary || typeof summary === 'string' || summary.segmentNo !== no || summary.segmentBytes !== size) return undefined;
    return summary;
  }

  /**
   * Rebuilds a sealed segment's part of the journal from its summary, after checking every entry the
   * way a scan checks records; false (nothing applied) when any entry does not fit, and the segment is scanned.
   */
  private applySummary(seg: SegmentInfo, summary: SegmentSummary, scan: RecoveryScan): boolean {
    const checkpoints: Checkpoint[] = [];
    let last = this.lastSeqValue;
    let end = SEGMENT_HEADER_BYTES;
    for (let i = 0; i < summary.count; i++) {
      const seq = summary.seq(i);
      const length = summary.payloadLength(i);
      const at = summary.payloadAt(i);
      if (at !== end + RECORD_HEADER_BYTES) return false;
      end = at + length;
      if (summary.type(i) === RecordType.Write) {
        if (this.writeRecordProblem(summary.volumeIndex(i), seq, summary.offset(i), length, last)) return false;
      } else if (summary.type(i) === RecordType.Checkpoint) {
        const cp = parseCheckpointRecord(summary.checkpoint(i));
        if (typeof cp === 'string' || cp.seq < last) return false;
        checkpoints.push(cp);
      } else return false;
      last = seq;
    }
    if (end !== summary.segmentBytes) return false;
    let k = 0;
    const { promotedSeq, appliedSeq } = this.state;
    for (let i = 0; i < summary.count; i++) {
      const seq = summary.seq(i);
      if (summary.type(i) !== RecordType.Write) this.applyCheckpoint(seg, checkpoints[k++], scan);
      else if (seq > promotedSeq) {
        // The common case inline (a million of these on a big reopen): straight into the index.
        this.index.addEntry(seq, summary.volumeIndex(i), summary.offset(i), summary.payloadLength(i), seg.no, summary.payloadAt(i));
        seg.maxWriteSeq = seq;
        this.lastSeqValue = seq;
      } else if (seq > appliedSeq) this.applyWrite(seg, summary.volumeIndex(i), seq, summary.offset(i), summary.payloadLength(i), summary.payloadAt(i), scan);
      else {
        seg.maxWriteSeq = seq;
        this.lastSeqValue = seq;
      }
    }
    return true;
  }

  /** Reads a segment record by record, verifying every checksum, and rebuilds its part of the journal; returns the first bad spot. */
  private scanSegment(seg: SegmentInfo, size: number, scan: RecoveryScan): Promise<BadSpot | undefined> {
    return walkSegment(seg.file, size, (h, payloadAt, payload) => {
      if (h.type === RecordType.Write) {
        const problem = this.writeRecordProblem(h.volumeIndex, h.seq, h.offset, h.payloadLength, this.lastSeqValue);
        if (problem) return problem;
        this.applyWrite(seg, h.volumeIndex, h.seq, h.offset, h.payloadLength, payloadAt, scan);
        seg.summary!.add(RecordType.Write, h.volumeIndex, h.seq, h.offset, h.payloadLength, payloadAt);
      } else {
        const cp = parseCheckpointRecord(payload);
        if (typeof cp === 'string') return cp;
        if (cp.seq < this.lastSeqValue) return `checkpoint seq ${cp.seq} goes back from ${this.lastSeqValue}`;
        this.applyCheckpoint(seg, cp, scan);
        seg.summary!.add(RecordType.Checkpoint, 0, cp.seq, h.offset, h.payloadLength, payloadAt, Buffer.from(payload));
      }
      return undefined;
    });
  }

  /**
   * Reads every sealed segment and verifies every record's checksums: the check an open skips for
   * segments with a summary, run when the appliance has time (a background scrub). Damage is reported as
   * an open reports it (`damage`, the 'damage' event); checkpoints that include the damaged write stop
   * being listed at once, and the next open reads every record and cuts the log there. Resolves with the
   * damage found, or undefined.
   */
  async scrub(): Promise<JournalCorruptError | undefined> {
    this.assertOpen();
    this.readsInFlight++;
    try {
      // Everything up to promotedSeq is in the replica; past it, the last record found good so far.
      let goodSeq = this.state.promotedSeq;
      for (const seg of [...this.segments.values()].sort((a, b) => a.no - b.no)) {
        if (seg === this.active || this.closed) continue;
        const bad = await walkSegment(seg.file, seg.bytes, (h) => {
          goodSeq = Math.max(goodSeq, h.seq);
          return undefined;
        });
        if (!bad) continue;
        const damage = new JournalCorruptError(seg.name, bad.offset, bad.reason);
        this.damage = damage;
        await this.saveState({ ...this.state, verifyOnOpen: true });
        // Checkpoints up to the last good record do not include the damaged bytes; later ones might.
        const broken = this.checkpointList.filter((c) => c.seq > goodSeq);
        this.checkpointList = this.checkpointList.filter((c) => !broken.includes(c));
        for (const c of broken) this.checkpointById.delete(c.id);
        this.emit('damage', damage);
        return damage;
      }
      return undefined;
    } finally {
      if (--this.readsInFlight === 0 && this.retired.length > 0) void this.deleteRetired();
    }
  }

  /** Why a write record cannot follow `lastSeq` in this journal, or undefined when it can. */
  private writeRecordProblem(volumeIndex: number, seq: number, offset: number, length: number, lastSeq: number): string | undefined {
    const volume = this.state.volumes[volumeIndex];
    if (!volume || offset + length > volume.sizeBytes) return `write record names unknown volume ${volumeIndex} or lies outside it`;
    if (seq <= lastSeq) return `write seq ${seq} goes back from ${lastSeq}`;
    return undefined;
  }

  private applyWrite(seg: SegmentInfo, volume: number, seq: number, offset: number, length: number, payloadAt: number, scan: RecoveryScan): void {
    if (seq > this.state.promotedSeq) {
      this.index.add({ seq, volume, offset, length, segment: seg.no, position: payloadAt });
    } else if (seq > this.state.appliedSeq) {
      scan.redo.push({ volume, offset, segment: seg.no, position: payloadAt, length });
    }
    seg.maxWriteSeq = seq;
    this.lastSeqValue = seq;
  }

  private applyCheckpoint(seg: SegmentInfo, cp: Checkpoint, scan: RecoveryScan): void {
    seg.checkpointIds.push(cp.id);
    this.lastSeqValue = cp.seq;
    if (!scan.seenOldest && cp.id === this.state.oldestCheckpointId) scan.seenOldest = true;
    if (scan.seenOldest && cp.seq > (this.state.droppedThroughSeq ?? -1)) {
      this.checkpointList.push(cp);
      this.checkpointById.set(cp.id, cp);
    } else this.rememberTrimmed(cp.id);
  }

  /** True when a well-formed checkpoint marker lies after `offset` in the segment or anywhere in the later segments. */
  private async markerFollows(seg: SegmentInfo, size: number, offset: number, later: string[]): Promise<boolean> {
    if (offset + 1 < size && hasCheckpointAfter(await seg.file.read(offset + 1, size - offset - 1), 0)) return true;
    for (const name of later) {
      const data = await this.options.storage.readAll(name);
      if (data && hasCheckpointAfter(data, SEGMENT_HEADER_BYTES)) return true;
    }
    return false;
  }

  /**
   * Cuts a segment at its first bad record, and drops the segments after it. Damaged bytes are kept
   * aside for inspection; a torn tail was never durable, so it is simply dropped.
   */
  private async cutTail(seg: SegmentInfo, size: number, i: number, names: string[]): Promise<void> {
    const { storage, path } = this.options;
    if (this.damage) await storage.replace(`${path}/damaged/${seg.no}-${seg.bytes}.bin`, await seg.file.read(seg.bytes, size - seg.bytes));
    await storage.delete(summaryFileName(path, seg.no));
    for (const later of names.slice(i + 1)) {
      if (this.damage) {
        const data = await storage.readAll(later);
        if (data) await storage.replace(`${path}/damaged/${later.slice(later.lastIndexOf('/') + 1)}`, data);
      }
      await storage.delete(later);
      await storage.delete(summaryFileName(path, segmentNoOf(later)!));
    }
    if (seg.bytes < SEGMENT_HEADER_BYTES) {
      // Not even a whole header survived: the segment never held a record.
      await seg.file.close();
      await storage.delete(seg.name);
      this.segments.delete(seg.no);
      this.usedBytes -= seg.bytes;
      return;
    }
    await seg.file.resize(seg.bytes);
    await seg.file.flush();
  }

  private emitLater<K extends keyof JournalEvents>(event: K, ...args: JournalEvents[K]): void {
    // Listeners attach after `open` resolves, so recovery events are delivered on the next turn.
    setImmediate(() => (this.emit as (e: K, ...a: JournalEvents[K]) => boolean)(event, ...args));
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError(`the journal of VM '${this.vmId}'`);
  }
}

/** Waits for every promise to settle (not just the first failure), then rejects with the first error if any failed. */
async function allSettledOrThrow(parts: Promise<void>[]): Promise<void> {
  const results = await Promise.allSettled(parts);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** A checkpoint marker's payload as a validated checkpoint, or why it is unreadable. */
function parseCheckpointRecord(payload: Buffer): Checkpoint | string {
  try {
    const cp = JSON.parse(payload.toString('utf8')) as Checkpoint;
    validateCheckpoint(cp);
    return cp;
  } catch (e) {
    return `checkpoint record is unreadable: ${(e as Error).message}`;
  }
}

function validateOptions(o: JournalOptions): void {
  const positive = (n: number, field: string): void => {
    if (!(Number.isFinite(n) && n > 0)) throw new ValidationError(`journal option '${field}' must be a positive number, got ${n}`, field);
  };
  positive(o.historyMs, 'historyMs');
  positive(o.hardLimitBytes, 'hardLimitBytes');
  if (!(o.warningBytes > 0 && o.warningBytes <= o.hardLimitBytes)) throw new ValidationError(`journal warning threshold ${o.warningBytes} must be positive and not above the hard limit ${o.hardLimitBytes}`, 'warningBytes');
  if (o.indexBlockBytes !== undefined && (o.indexBlockBytes < 512 || (o.indexBlockBytes & (o.indexBlockBytes - 1)) !== 0)) {
    throw new ValidationError(`index block size ${o.indexBlockBytes} must be a power of two ≥ 512`, 'indexBlockBytes');
  }
  if (!o.path || o.path.startsWith('/') || o.path.split('/').includes('..')) throw new ValidationError(`journal path '${o.path}' must be a relative folder name`, 'path');
  if (o.volumes.length > 0xffff) throw new ValidationError('a journal holds at most 65535 volumes', 'volumes');
  const seen = new Set<string>();
  for (const v of o.volumes) {
    if (seen.has(v.id)) throw new ValidationError(`volume '${v.id}' is listed twice`, 'volumes');
    seen.add(v.id);
    if (!Number.isSafeInteger(v.sizeBytes) || v.sizeBytes <= 0) throw new ValidationError(`volume '${v.id}' has an invalid size ${v.sizeBytes}`, 'volumes');
    if (!Number.isSafeInteger(v.sectorSize) || v.sectorSize < 512 || (v.sectorSize & (v.sectorSize - 1)) !== 0 || v.sizeBytes % v.sectorSize !== 0) {
      throw new ValidationError(`volume '${v.id}' has sector size ${v.sectorSize}; it must be a power of two ≥ 512 dividing the volume size`, 'volumes');
    }
  }
}

function validateCheckpoint(cp: Checkpoint): void {
  if (typeof cp !== 'object' || cp === null) throw new ValidationError('a checkpoint must be an object');
  if (typeof cp.id !== 'string' || cp.id.length === 0 || cp.id.length > 128) throw new ValidationError(`checkpoint id must be a string of 1 to 128 characters`, 'id');
  if (typeof cp.groupId !== 'string' || cp.groupId.length === 0) throw new ValidationError('checkpoint groupId must be a non-empty string', 'groupId');
  if (!Number.isSafeInteger(cp.seq) || cp.seq < 0) throw new ValidationError(`checkpoint seq ${cp.seq} must be a non-negative integer`, 'seq');
  if (!Number.isFinite(cp.timestamp)) throw new ValidationError(`checkpoint timestamp ${cp.timestamp} must be a number of milliseconds`, 'timestamp');
  if (!CHECKPOINT_KINDS.includes(cp.kind)) throw new ValidationError(`checkpoint kind '${cp.kind}' must be one of ${CHECKPOINT_KINDS.join(', ')}`, 'kind');
  if (cp.tag !== undefined && (typeof cp.tag !== 'string' || cp.tag.length > 256)) throw new ValidationError('checkpoint tag must be a string of at most 256 characters', 'tag');
}

function parseState(raw: Buffer, file: string): JournalState {
  try {
    const s = JSON.parse(raw.toString('utf8')) as JournalState;
    if (s.format !== 1 || typeof s.vmId !== 'string' || !Array.isArray(s.volumes)) throw new Error('unexpected shape');
    return s;
  } catch (e) {
    throw new JournalCorruptError(file, 0, `journal state is unreadable: ${(e as Error).message}`);
  }
}
