// Sequential reads of a journal segment through one reused buffer: recovery scans a segment record by
// record, asking for the bytes of the next header or payload; the reader refills in large chunks and
// carries a partial record over, so scanning allocates once per segment instead of once per read.
import type { StoredFile } from '../ports/storage-adapter.js';

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
