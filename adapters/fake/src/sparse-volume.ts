// A guest volume held in memory as 64 KiB chunks (absent = zeros), so a 1 TiB volume costs only what
// was written. A volume may sit on a read-only base (a recovery VM's point-in-time image): then the
// chunks are a copy-on-write overlay and reads fall through to the base wherever the VM never wrote.
// `freeze` takes a frozen copy (a change-tracking view) that shares the chunks until the live volume
// changes one; change tracking stamps 4 KiB blocks with the VM's generation.
import { StorageError } from '@opencdp/core';
import type { VolumeId, VolumeInfo, VolumeSource } from '@opencdp/core';

/** Allocation and overlay granularity. */
export const CHUNK_SIZE = 64 * 1024;
/** Change-tracking granularity: finer than allocation, so a small write is not read back as 64 KiB. */
export const TRACK_BLOCK = 4096;

export interface VolumeBase {
  source: VolumeSource;
  /** The id the source knows the volume by (the protected volume's id). */
  volumeId: VolumeId;
}

export interface ByteRange {
  offset: number;
  length: number;
}

export class SparseVolume {
  private readonly chunks = new Map<number, Buffer>();
  /**
   * Overlay volumes only: the sectors of a chunk the VM has written, for chunks it wrote in part.
   * A chunk in `chunks` but not here is entirely the VM's own; the rest of a partial chunk still
   * comes from the base. Tracking sectors instead of copying the base chunk in on first write keeps
   * writes synchronous, which the in-order write path relies on.
   */
  private readonly partial = new Map<number, Uint8Array>();
  /** Change tracking: the generation in which each 4 KiB block was last written. */
  private stamps = new Map<number, number>();
  /** Chunk buffers a frozen copy holds too: the live volume copies one before changing it. */
  private readonly shared = new WeakSet<Buffer>();
  /** A frozen copy (a view): it never changes. */
  private frozen = false;

  /** Set once promotion copied the whole base into the chunks: reads stop touching the base. */
  private detached = false;

  constructor(readonly info: VolumeInfo, readonly base?: VolumeBase) {}

  /** True while reads may still fall through to the base (a recovery disk not yet promoted). */
  get onBase(): boolean {
    return !!this.base && !this.detached;
  }

  /**
   * Promotion: copies the base's data for `[offset, offset + length)` into the overlay wherever the VM
   * has not written (its own writes win, including any that land while the base is read). All-zero
   * base chunks stay unallocated: an absent chunk reads as zeros once the base is detached.
   */
  async promote(offset: number, length: number): Promise<void> {
    if (!this.onBase) return;
    const start = Math.floor(offset / CHUNK_SIZE) * CHUNK_SIZE;
    const end = Math.min(this.info.sizeBytes, Math.ceil((offset + length) / CHUNK_SIZE) * CHUNK_SIZE);
    const data = await this.readBase(this.base!, start, end - start);
    // Synchronous from here: no guest write can interleave with the merge.
    const sector = this.info.sectorSize;
    for (let at = start; at < end; at += CHUNK_SIZE) {
      const index = at / CHUNK_SIZE;
      const piece = data.subarray(at - start, Math.min(at - start + CHUNK_SIZE, data.length));
      const chunk = this.ownChunk(index);
      if (!chunk) {
        if (piece.some((b) => b !== 0)) {
          const own = Buffer.alloc(CHUNK_SIZE);
          piece.copy(own);
          this.chunks.set(index, own);
        }
        continue;
      }
      const flags = this.partial.get(index);
      if (!flags) continue; // entirely the VM's own
      for (let s = 0; s < flags.length; s++) {
        if (flags[s] !== 1 && s * sector < piece.length) piece.copy(chunk, s * sector, s * sector, Math.min((s + 1) * sector, piece.length));
      }
      this.partial.delete(index);
    }
  }

  /** Stops reading through the base; call after every range was promoted. */
  detach(): void {
    this.detached = true;
  }

  /** Bytes of memory the written chunks take (thin provisioning). */
  get allocatedBytes(): number {
    return this.chunks.size * CHUNK_SIZE;
  }

  /** Applies a write the caller has already checked with `checkWrite` (in range, sector-aligned). */
  write(offset: number, data: Buffer, generation: number): void {
    if (this.frozen) throw new StorageError(`volume '${this.info.id}' is a frozen view`, 'io');
    const sectorsPerChunk = CHUNK_SIZE / this.info.sectorSize;
    let pos = 0;
    while (pos < data.length) {
      const at = offset + pos;
      const index = Math.floor(at / CHUNK_SIZE);
      const within = at - index * CHUNK_SIZE;
      const n = Math.min(CHUNK_SIZE - within, data.length - pos);
      let chunk = this.ownChunk(index);
      if (!chunk) {
        chunk = Buffer.alloc(CHUNK_SIZE);
        this.chunks.set(index, chunk);
        if (this.base && n < CHUNK_SIZE) this.partial.set(index, new Uint8Array(sectorsPerChunk));
      }
      data.copy(chunk, within, pos, pos + n);
      const flags = this.partial.get(index);
      if (flags) {
        flags.fill(1, within / this.info.sectorSize, (within + n) / this.info.sectorSize);
        if (flags.every((f) => f === 1)) this.partial.delete(index);
      }
      for (let b = Math.floor(at / TRACK_BLOCK); b * TRACK_BLOCK < at + n; b++) this.stamps.set(b, generation);
      pos += n;
    }
  }

  /** Reads a range the caller has checked with `checkRange`. */
  async read(offset: number, length: number): Promise<Buffer> {
    const out = this.base && !this.detached && this.needsBase(offset, length) ? await this.readBase(this.base, offset, length) : Buffer.alloc(length);
    // Patched after the base read so that a write which landed meanwhile is seen, as on a real disk.
    this.patch(out, offset, length);
    return out;
  }

  /** 4 KiB regions written after `generation`, merged, in offset order; the last one is clipped to the volume. */
  changedSince(generation: number): ByteRange[] {
    const blocks = [...this.stamps].filter(([, g]) => g > generation).map(([b]) => b).sort((a, b) => a - b);
    return mergeBlocks(blocks, TRACK_BLOCK, this.info.sizeBytes);
  }

  /** Regions that may hold data: written chunks, or the whole volume while it reads through a base. */
  allocated(): ByteRange[] {
    if (this.onBase) return [{ offset: 0, length: this.info.sizeBytes }];
    return mergeBlocks([...this.chunks.keys()].sort((a, b) => a - b), CHUNK_SIZE, this.info.sizeBytes);
  }

  /**
   * A frozen copy as of now (a change-tracking view): it shares the chunks, which the live volume copies
   * before changing one, and keeps its own copy of the overlay flags and change stamps.
   */
  freeze(): SparseVolume {
    const copy = new SparseVolume(this.info, this.base);
    for (const [index, chunk] of this.chunks) {
      copy.chunks.set(index, chunk);
      this.shared.add(chunk);
    }
    for (const [index, flags] of this.partial) copy.partial.set(index, Uint8Array.from(flags));
    copy.stamps = new Map(this.stamps);
    copy.detached = this.detached;
    copy.frozen = true;
    return copy;
  }

  /** The chunk at `index`, copied first when a frozen copy shares it. */
  private ownChunk(index: number): Buffer | undefined {
    const chunk = this.chunks.get(index);
    if (!chunk || !this.shared.has(chunk)) return chunk;
    const own = Buffer.from(chunk);
    this.chunks.set(index, own);
    return own;
  }

  private needsBase(offset: number, length: number): boolean {
    for (let index = Math.floor(offset / CHUNK_SIZE); index * CHUNK_SIZE < offset + length; index++) {
      if (!this.chunks.has(index) || this.partial.has(index)) return true;
    }
    return false;
  }

  private async readBase(base: VolumeBase, offset: number, length: number): Promise<Buffer> {
    const data = await base.source.read(base.volumeId, offset, length);
    if (data.length !== length) {
      throw new StorageError(`image of volume '${base.volumeId}' returned ${data.length} bytes for a ${length}-byte read at ${offset}`, 'io');
    }
    // A copy: the source may hand out a buffer it keeps (a cache), and the overlay is patched into it.
    return Buffer.from(data);
  }

  private patch(out: Buffer, offset: number, length: number): void {
    const end = offset + length;
    const sector = this.info.sectorSize;
    for (let index = Math.floor(offset / CHUNK_SIZE); index * CHUNK_SIZE < end; index++) {
      const chunk = this.chunks.get(index);
      if (!chunk) continue;
      const chunkStart = index * CHUNK_SIZE;
      const from = Math.max(offset, chunkStart);
      const to = Math.min(end, chunkStart + CHUNK_SIZE);
      const flags = this.partial.get(index);
      if (!flags) {
        chunk.copy(out, from - offset, from - chunkStart, to - chunkStart);
        continue;
      }
      // Copy runs of written sectors; reads need not be aligned, so clip each run to [from, to).
      let s = Math.floor((from - chunkStart) / sector);
      const lastSector = Math.ceil((to - chunkStart) / sector);
      while (s < lastSector) {
        if (flags[s] !== 1) { s++; continue; }
        let e = s;
        while (e < lastSector && flags[e] === 1) e++;
        const runFrom = Math.max(from, chunkStart + s * sector);
        const runTo = Math.min(to, chunkStart + e * sector);
        chunk.copy(out, runFrom - offset, runFrom - chunkStart, runTo - chunkStart);
        s = e;
      }
    }
  }
}

/** Merges sorted block indices into byte ranges, clipping the last to the volume. */
function mergeBlocks(blocks: number[], blockBytes: number, sizeBytes: number): ByteRange[] {
  const regions: ByteRange[] = [];
  for (const index of blocks) {
    const offset = index * blockBytes;
    const length = Math.min(blockBytes, sizeBytes - offset);
    const last = regions[regions.length - 1];
    if (last && last.offset + last.length === offset) last.length += length;
    else regions.push({ offset, length });
  }
  return regions;
}
