// The streaming VHDX writer: copies a disk image (any source with random reads, e.g. a point-in-time image)
// into a new dynamic VHDX, one payload block at a time, reading the next block while the current one is
// written. Blocks outside the source's allocated ranges and all-zero blocks are not allocated; zero 4 KiB
// runs inside a block stay holes. The file appears under its name only once complete (written beside it
// under a temporary name and renamed), so a failure never leaves a half-made disk.
import { promises as fs } from 'node:fs';
import { MiB } from './vhdx-format.js';
import { VhdxFile, type VhdxCreateOptions, type VhdxRange } from './vhdx-file.js';

export interface DiskSource {
  readonly sizeBytes: number;
  /**
   * Bytes of `[offset, offset + length)`. The writer holds at most two results at a time (the block being
   * written and the one read ahead), so a source may recycle the buffers of earlier calls after that.
   */
  read(offset: number, length: number): Promise<Buffer>;
  /** Ranges that may hold data; everything else is taken as zeros (and not read). Absent: the whole disk is read. */
  allocated?(): Promise<VhdxRange[]>;
}

export interface WriteVhdxOptions extends Omit<VhdxCreateOptions, 'virtualSize'> {
  /** Called after every block with the bytes of the source covered so far. */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
}

export interface WriteVhdxResult {
  path: string;
  virtualSize: number;
  blockSize: number;
  /** Payload blocks allocated in the file. */
  allocatedBlocks: number;
  /** Bytes read from the source. */
  bytesRead: number;
  /** The file's length (its allocated size on disk may be smaller: zero runs are holes). */
  fileBytes: number;
}

/** Writes `source` as a new dynamic VHDX at `path` (which must not exist). */
export async function writeVhdx(path: string, source: DiskSource, options: WriteVhdxOptions = {}): Promise<WriteVhdxResult> {
  const partial = `${path}.partial`;
  await fs.rm(partial, { force: true });
  if (await fs.stat(path).then(() => true, () => false)) throw new Error(`${path} already exists`);
  const { onProgress, ...create } = options;
  const file = await VhdxFile.create(partial, { ...create, virtualSize: source.sizeBytes });
  try {
    const result = await copyBlocks(file, source, onProgress);
    await file.close();
    await fs.rename(partial, path);
    return { ...result, path, fileBytes: (await fs.stat(path)).size };
  } catch (error) {
    await file.close().catch(() => undefined);
    await fs.rm(partial, { force: true });
    throw error;
  }
}

async function copyBlocks(file: VhdxFile, source: DiskSource, onProgress?: (done: number, total: number) => void): Promise<Omit<WriteVhdxResult, 'path' | 'fileBytes'>> {
  const { blockSize, virtualSize } = file;
  const ranges = source.allocated ? await source.allocated() : [{ offset: 0, length: virtualSize }];
  const blocks = blocksTouched(ranges, blockSize, virtualSize);
  let allocatedBlocks = 0;
  let bytesRead = 0;
  const readBlock = async (block: number): Promise<Buffer> => {
    const offset = block * blockSize;
    const length = Math.min(blockSize, virtualSize - offset);
    const data = await source.read(offset, length);
    if (data.length !== length) throw new RangeError(`the source returned ${data.length} bytes for ${length} at ${offset}`);
    bytesRead += length;
    return data;
  };
  let next = blocks.length > 0 ? readBlock(blocks[0]) : undefined;
  for (let i = 0; i < blocks.length; i++) {
    const data = await next!;
    next = i + 1 < blocks.length ? readBlock(blocks[i + 1]) : undefined;
    // Don't let a failed read-ahead surface as an unhandled rejection while this block is written.
    next?.catch(() => undefined);
    if (await file.writeNewBlock(blocks[i], data)) allocatedBlocks++;
    onProgress?.(Math.min(virtualSize, (blocks[i] + 1) * blockSize), virtualSize);
  }
  onProgress?.(virtualSize, virtualSize);
  return { virtualSize, blockSize, allocatedBlocks, bytesRead };
}

/** Indices of the payload blocks that intersect `ranges`, ascending, without repeats. */
function blocksTouched(ranges: readonly VhdxRange[], blockSize: number, virtualSize: number): number[] {
  const set = new Set<number>();
  for (const r of ranges) {
    if (r.length <= 0) continue;
    const first = Math.floor(Math.max(0, r.offset) / blockSize);
    const last = Math.floor((Math.min(virtualSize, r.offset + r.length) - 1) / blockSize);
    for (let b = first; b <= last; b++) set.add(b);
  }
  return [...set].sort((a, b) => a - b);
}

/** Hyper-V's default block size for dynamic disks. */
export const DEFAULT_BLOCK_SIZE = 32 * MiB;
