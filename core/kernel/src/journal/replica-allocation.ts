// Which parts of a journal's replica volumes may hold data: a bitmap per volume at a fixed granularity,
// stored beside the replica (`replica/<volume>.alloc`), that only ever grows. Point-in-time images report
// it, together with the journal's own extents, as their allocation, so copies and NBD readers skip holes.
// It is saved before the data it describes is written, so it can only over-report (a crash in between
// leaves bits for bytes never written). A replica found without a map (copied in by hand, or kept from a
// journal older than maps) is taken as fully allocated: over-reporting is safe, missing data is not.
import { crc32 } from 'node:zlib';
import type { ChangedRegion } from '../ports/change-tracking.js';
import type { VolumeId } from '../model.js';

const MAGIC = 0x4f43414c; // 'OCAL'
const VERSION = 1;
const HEADER_BYTES = 32;
const MIN_GRANULARITY = 64 * 1024;
/** At most 2^24 bits (2 MiB) per volume: the granularity grows with the volume beyond 1 TiB. */
const MAX_BITS = 1 << 24;

/** The map's file beside a replica volume file (`….img` → `….alloc`). */
export function allocationFileName(replicaName: string): string {
  return replicaName.replace(/\.img$/, '') + '.alloc';
}

export class AllocationMap {
  readonly granularity: number;
  private readonly bits: Uint8Array;
  private fullyAllocated: boolean;
  /** Marked since the last `encode`. */
  dirty = false;

  constructor(readonly sizeBytes: number, options: { full?: boolean; granularity?: number } = {}) {
    this.granularity = options.granularity ?? AllocationMap.granularityFor(sizeBytes);
    this.bits = new Uint8Array(Math.ceil(Math.ceil(sizeBytes / this.granularity) / 8));
    this.fullyAllocated = options.full ?? false;
  }

  static granularityFor(sizeBytes: number): number {
    let g = MIN_GRANULARITY;
    while (Math.ceil(sizeBytes / g) > MAX_BITS) g *= 2;
    return g;
  }

  /** Taken as allocated everywhere (its history is unknown). */
  get full(): boolean {
    return this.fullyAllocated;
  }

  /** Marks `[offset, offset + length)`; true when a bit changed. */
  mark(offset: number, length: number): boolean {
    if (this.fullyAllocated || length <= 0) return false;
    const first = Math.floor(Math.max(0, offset) / this.granularity);
    const last = Math.floor((Math.min(this.sizeBytes, offset + length) - 1) / this.granularity);
    let changed = false;
    for (let b = first; b <= last; b++) {
      const mask = 1 << (b & 7);
      if ((this.bits[b >> 3] & mask) === 0) {
        this.bits[b >> 3] |= mask;
        changed = true;
      }
    }
    if (changed) this.dirty = true;
    return changed;
  }

  /** Allocated regions, sorted and merged. */
  regions(volumeId: VolumeId): ChangedRegion[] {
    if (this.fullyAllocated) return this.sizeBytes > 0 ? [{ volumeId, offset: 0, length: this.sizeBytes }] : [];
    const out: ChangedRegion[] = [];
    const n = Math.ceil(this.sizeBytes / this.granularity);
    for (let byte = 0; byte < this.bits.length; byte++) {
      const v = this.bits[byte];
      if (v === 0) continue;
      for (let bit = 0; bit < 8; bit++) {
        const b = byte * 8 + bit;
        if (b >= n || (v & (1 << bit)) === 0) continue;
        const offset = b * this.granularity;
        const length = Math.min(this.granularity, this.sizeBytes - offset);
        const last = out[out.length - 1];
        if (last && last.offset + last.length === offset) last.length += length;
        else out.push({ volumeId, offset, length });
      }
    }
    return out;
  }

  encode(): Buffer {
    const out = Buffer.alloc(HEADER_BYTES + this.bits.length);
    out.writeUInt32LE(MAGIC, 0);
    out.writeUInt32LE(VERSION, 4);
    out.writeUInt32LE(this.granularity, 8);
    out.writeUInt32LE(this.fullyAllocated ? 1 : 0, 12);
    out.writeDoubleLE(this.sizeBytes, 16);
    Buffer.from(this.bits.buffer, this.bits.byteOffset, this.bits.length).copy(out, HEADER_BYTES);
    out.writeUInt32LE(crc32(out.subarray(HEADER_BYTES)), 24);
    out.writeUInt32LE(crc32(out.subarray(0, 28)), 28);
    this.dirty = false;
    return out;
  }

  /** The map stored in `data` for a volume of `sizeBytes`, or undefined when it is damaged or describes another size. */
  static decode(data: Buffer, sizeBytes: number): AllocationMap | undefined {
    if (data.length < HEADER_BYTES || data.readUInt32LE(0) !== MAGIC || data.readUInt32LE(4) !== VERSION) return undefined;
    if (data.readUInt32LE(28) !== crc32(data.subarray(0, 28)) || data.readUInt32LE(24) !== crc32(data.subarray(HEADER_BYTES))) return undefined;
    if (data.readDoubleLE(16) !== sizeBytes) return undefined;
    const granularity = data.readUInt32LE(8);
    if (granularity < 512 || (granularity & (granularity - 1)) !== 0) return undefined;
    const map = new AllocationMap(sizeBytes, { granularity, full: data.readUInt32LE(12) === 1 });
    if (data.length - HEADER_BYTES !== map.bits.length) return undefined;
    map.bits.set(data.subarray(HEADER_BYTES));
    return map;
  }
}

/** The union of two sorted region lists, sorted and merged (touching regions join). */
export function unionRegions(a: readonly ChangedRegion[], b: readonly ChangedRegion[]): ChangedRegion[] {
  const out: ChangedRegion[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const next = j >= b.length || (i < a.length && a[i].offset <= b[j].offset) ? a[i++] : b[j++];
    const last = out[out.length - 1];
    if (last && next.offset <= last.offset + last.length) {
      last.length = Math.max(last.length, next.offset + next.length - last.offset);
    } else out.push({ volumeId: next.volumeId, offset: next.offset, length: next.length });
  }
  return out;
}
