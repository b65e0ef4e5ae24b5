// The summary of a sealed journal segment: one fixed-size entry per record (type, volume, sequence
// number, offset or timestamp, payload length and position) plus the checkpoints' JSON, so reopening a
// journal rebuilds its index without reading payloads. It is written only after its segment is durable
// and is only a hint: a missing, torn or mismatched summary makes recovery scan the segment instead.
import os from 'node:os';
import { xxh64 } from '@node-rs/xxhash';
import { RecordType } from './segment-format.js';

const SUMMARY_MAGIC = Buffer.from('OCDPSUM1', 'latin1');
const SUMMARY_VERSION = 1;
/** magic 8 | u32 version | u32 segmentNo | f64 segmentBytes | u32 entries | u32 blobBytes */
const HEAD_BYTES = 32;
/** u8 type | u8 0 | u16 volume | u32 payloadLength | f64 seq | f64 offset or timestamp | f64 payloadAt | u32 blobAt | u32 blobLength */
const ENTRY_BYTES = 40;
const TRAILER_BYTES = 8;

/**
 * A decoded summary: record `i`'s fields read straight from typed-array views of the file's bytes (no
 * object per record; an entry's doubles are 8-byte aligned, as every entry starts at 32 + 40·i).
 */
export class SegmentSummary {
  private readonly f64: Float64Array;
  private readonly u32: Uint32Array;
  private readonly u16: Uint16Array;
  private readonly u8: Uint8Array;

  constructor(
    readonly segmentNo: number,
    /** The segment's size when it was summarised: a segment of another size is not described by it. */
    readonly segmentBytes: number,
    readonly count: number,
    private readonly bytes: Buffer,
  ) {
    // Typed arrays need aligned memory and the platform's byte order to be little-endian (x86, arm64).
    const aligned = bytes.byteOffset % 8 === 0 ? bytes : Buffer.from(bytes);
    const body = HEAD_BYTES + count * ENTRY_BYTES;
    this.f64 = new Float64Array(aligned.buffer, aligned.byteOffset, body / 8);
    this.u32 = new Uint32Array(aligned.buffer, aligned.byteOffset, body / 4);
    this.u16 = new Uint16Array(aligned.buffer, aligned.byteOffset, body / 2);
    this.u8 = new Uint8Array(aligned.buffer, aligned.byteOffset, body);
  }

  type(i: number): RecordType {
    return this.u8[HEAD_BYTES + i * ENTRY_BYTES] as RecordType;
  }

  volumeIndex(i: number): number {
    return this.u16[(HEAD_BYTES + 2) / 2 + i * (ENTRY_BYTES / 2)];
  }

  payloadLength(i: number): number {
    return this.u32[(HEAD_BYTES + 4) / 4 + i * (ENTRY_BYTES / 4)];
  }

  seq(i: number): number {
    return this.f64[(HEAD_BYTES + 8) / 8 + i * (ENTRY_BYTES / 8)];
  }

  /** Volume offset of a write, timestamp of a checkpoint. */
  offset(i: number): number {
    return this.f64[(HEAD_BYTES + 16) / 8 + i * (ENTRY_BYTES / 8)];
  }

  /** Where the record's payload starts in the segment file. */
  payloadAt(i: number): number {
    return this.f64[(HEAD_BYTES + 24) / 8 + i * (ENTRY_BYTES / 8)];
  }

  /** A checkpoint record's JSON payload. */
  checkpoint(i: number): Buffer {
    const at = HEAD_BYTES + i * ENTRY_BYTES;
    const blobStart = HEAD_BYTES + this.count * ENTRY_BYTES + this.bytes.readUInt32LE(at + 32);
    return this.bytes.subarray(blobStart, blobStart + this.bytes.readUInt32LE(at + 36));
  }
}

export function summaryFileName(dir: string, segmentNo: number): string {
  return `${dir}/segments/${String(segmentNo).padStart(10, '0')}.sum`;
}

export function summaryNoOf(name: string): number | undefined {
  const m = /\/(\d{10})\.sum$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/**
 * Collects a segment's records as they are published, in file order, in a flat typed array (a 64 MiB
 * segment of 4 KiB writes holds 16,000 of them), ready to encode when the segment is sealed.
 */
export class SummaryBuilder {
  private entries = Buffer.allocUnsafe(ENTRY_BYTES * 256);
  private count = 0;
  private readonly blobs: Buffer[] = [];
  private blobBytes = 0;

  get size(): number {
    return this.count;
  }

  add(type: RecordType, volumeIndex: number, seq: number, offset: number, payloadLength: number, payloadAt: number, checkpoint?: Buffer): void {
    if ((this.count + 1) * ENTRY_BYTES > this.entries.length) {
      const grown = Buffer.allocUnsafe(this.entries.length * 2);
      this.entries.copy(grown, 0, 0, this.count * ENTRY_BYTES);
      this.entries = grown;
    }
    const at = this.count++ * ENTRY_BYTES;
    const e = this.entries;
    e.writeUInt8(type, at);
    e.writeUInt8(0, at + 1);
    e.writeUInt16LE(volumeIndex, at + 2);
    e.writeUInt32LE(payloadLength, at + 4);
    e.writeDoubleLE(seq, at + 8);
    e.writeDoubleLE(offset, at + 16);
    e.writeDoubleLE(payloadAt, at + 24);
    e.writeUInt32LE(checkpoint ? this.blobBytes : 0, at + 32);
    e.writeUInt32LE(checkpoint?.length ?? 0, at + 36);
    if (checkpoint) {
      this.blobs.push(checkpoint);
      this.blobBytes += checkpoint.length;
    }
  }

  /** Forgets records from `keep` on (a failed write cut the segment back). */
  truncate(keep: number): void {
    if (keep >= this.count) return;
    this.count = keep;
    // Checkpoint blobs past the cut stay in `blobs` unreferenced: harmless, and failures are rare.
  }

  encode(segmentNo: number, segmentBytes: number): Buffer {
    const body = HEAD_BYTES + this.count * ENTRY_BYTES + this.blobBytes;
    const out = Buffer.allocUnsafe(body + TRAILER_BYTES);
    SUMMARY_MAGIC.copy(out, 0);
    out.writeUInt32LE(SUMMARY_VERSION, 8);
    out.writeUInt32LE(segmentNo, 12);
    out.writeDoubleLE(segmentBytes, 16);
    out.writeUInt32LE(this.count, 24);
    out.writeUInt32LE(this.blobBytes, 28);
    this.entries.copy(out, HEAD_BYTES, 0, this.count * ENTRY_BYTES);
    let at = HEAD_BYTES + this.count * ENTRY_BYTES;
    for (const b of this.blobs) at += b.copy(out, at);
    out.writeBigUInt64LE(xxh64(out.subarray(0, body)), body);
    return out;
  }
}

/** Decodes a summary, or returns why it cannot be trusted (then the segment is scanned instead). */
export function decodeSegmentSummary(b: Buffer): SegmentSummary | string {
  if (os.endianness() !== 'LE') return 'summaries are read on little-endian machines only';
  if (b.length < HEAD_BYTES + TRAILER_BYTES) return 'summary is truncated';
  if (!b.subarray(0, 8).equals(SUMMARY_MAGIC)) return 'not a segment summary (bad magic)';
  const version = b.readUInt32LE(8);
  if (version !== SUMMARY_VERSION) return `summary version ${version} is not supported`;
  const count = b.readUInt32LE(24);
  const blobBytes = b.readUInt32LE(28);
  const body = HEAD_BYTES + count * ENTRY_BYTES + blobBytes;
  if (b.length !== body + TRAILER_BYTES) return 'summary length does not match its header';
  if (b.readBigUInt64LE(body) !== xxh64(b.subarray(0, body))) return 'summary checksum mismatch';
  for (let i = 0, at = HEAD_BYTES; i < count; i++, at += ENTRY_BYTES) {
    if (b.readUInt32LE(at + 32) + b.readUInt32LE(at + 36) > blobBytes) return `summary entry ${i} points past its checkpoint data`;
  }
  return new SegmentSummary(b.readUInt32LE(12), b.readDoubleLE(16), count, b);
}
