// Sequential reads of a journal segment through one reused buffer: recovery scans a segment record by
// record, asking for the bytes of the next header or payload; the reader refills in large chunks and
// carries a partial record over, so scanning allocates once per segment instead of once per read.
// `walkSegment` verifies every record on the way.
import type { StoredFile } from '../ports/storage-adapter.js';
import {
  RECORD_HEADER_BYTES, RECORD_MAGIC_BYTES, RecordType, SEGMENT_HEADER_BYTES, decodeRecordHeader, decodeSegmentHeader, payloadHash,
  type RecordHeader,
} from './segment-format.js';

export const SCAN_CHUNK_BYTES = 8 * 1024 * 1024;

export class SegmentReader {
  /** File offset of `window[0]`. */
  start = 0;
  /** The bytes held now: `window[i]` is file byte `start + i`. */
  window: Buffer;
  private buffer: Buffer;

  constructor(private readonly file: StoredFile, readonly size: number, chunkBytes = SCAN_CHUNK_BYTES) {
    this.buffer = Buffer.allocUnsafe(Math.min(chunkBytes, Math.max(size, 1)));
    this.window = this.buffer.subarray(0, 0);
  }

  /** Makes file bytes [pos, pos + n) available in `window`; false when the file ends before them. */
  async ensure(pos: number, n: number): Promise<boolean> {
    if (pos + n > this.size) return false;
    const end = this.start + this.window.length;
    if (pos >= this.start && pos + n <= end) return true;
    // Keep what is already here from `pos` on, then fill the rest of the buffer from the file.
    let kept = 0;
    if (pos >= this.start && pos < end) {
      kept = end - pos;
      this.buffer.copyWithin(0, pos - this.start, end - this.start);
    }
    if (n > this.buffer.length) {
      // A record larger than a chunk (a write of up to 64 MiB): grow once, keeping what was read.
      const grown = Buffer.allocUnsafe(n);
      this.buffer.copy(grown, 0, 0, kept);
      this.buffer = grown;
    }
    this.start = pos;
    const want = Math.min(this.buffer.length, this.size - pos) - kept;
    const got = await readInto(this.file, pos + kept, this.buffer.subarray(kept, kept + want));
    this.window = this.buffer.subarray(0, kept + got);
    return pos + n <= this.start + this.window.length;
  }
}

/** `file.readInto` where the adapter has it, else a read and a copy. */
async function readInto(file: StoredFile, offset: number, target: Buffer): Promise<number> {
  if (target.length === 0) return 0;
  if (file.readInto) return file.readInto(offset, target);
  const data = await file.read(offset, target.length);
  return data.copy(target);
}

/** Where a segment stops being valid, and why. */
export interface BadSpot {
  offset: number;
  reason: string;
}

/**
 * Reads a segment's records in order through one reused buffer and verifies each header CRC and payload
 * checksum; `visit` sees every good record (the payload is only valid during the call) and may reject it
 * with a reason. Returns the first bad spot, or undefined when the whole segment is good.
 */
export async function walkSegment(file: StoredFile, size: number, visit: (h: RecordHeader, payloadAt: number, payload: Buffer) => string | undefined): Promise<BadSpot | undefined> {
  const reader = new SegmentReader(file, size);
  if (!(await reader.ensure(0, SEGMENT_HEADER_BYTES))) return { offset: 0, reason: 'segment header is truncated' };
  const header = decodeSegmentHeader(reader.window.subarray(0, SEGMENT_HEADER_BYTES));
  if (typeof header === 'string') return { offset: 0, reason: header };
  let pos = SEGMENT_HEADER_BYTES;
  while (pos < size) {
    if (!(await reader.ensure(pos, RECORD_HEADER_BYTES))) return { offset: pos, reason: 'record header is truncated' };
    const h = decodeRecordHeader(reader.window, pos - reader.start);
    if (typeof h === 'string') return { offset: pos, reason: h };
    const payloadAt = pos + RECORD_HEADER_BYTES;
    if (!(await reader.ensure(pos, RECORD_HEADER_BYTES + h.payloadLength))) return { offset: pos, reason: 'record payload is truncated' };
    const from = payloadAt - reader.start;
    const payload = reader.window.subarray(from, from + h.payloadLength);
    if (payloadHash(payload) !== h.payloadHash) return { offset: pos, reason: 'record payload checksum mismatch' };
    const problem = visit(h, payloadAt, payload);
    if (problem) return { offset: pos, reason: problem };
    pos = payloadAt + h.payloadLength;
  }
  return undefined;
}

/** True when a well-formed checkpoint record starts at or after `offset`. */
export function hasCheckpointAfter(buf: Buffer, offset: number): boolean {
  for (let at = buf.indexOf(RECORD_MAGIC_BYTES, offset); at >= 0; at = buf.indexOf(RECORD_MAGIC_BYTES, at + 1)) {
    const h = decodeRecordHeader(buf, at);
    if (typeof h === 'string' || h.type !== RecordType.Checkpoint) continue;
    const end = at + RECORD_HEADER_BYTES + h.payloadLength;
    if (end <= buf.length && payloadHash(buf.subarray(at + RECORD_HEADER_BYTES, end)) === h.payloadHash) return true;
  }
  return false;
}
