// Whole-snapshot work on top of the EBS direct APIs: writing a snapshot from any block source (reads and
// puts overlapped with a bounded window, zero blocks skipped when there is no parent to mask, waited
// until completed, deleted again if anything fails so nothing half-made stays), and reading a byte range
// of a completed snapshot (blocks it does not list read as zeros).
import pLimit from 'p-limit';
import { EBS_BLOCK_SIZE, type EbsDirect } from './ebs-direct.js';
import type { Ec2Api, Tags } from '../ec2/ec2-api.js';

const ZERO_BLOCK = Buffer.alloc(EBS_BLOCK_SIZE);

export interface SnapshotWriteOptions {
  ebs: EbsDirect;
  ec2: Ec2Api;
  volumeSizeGiB: number;
  /** The snapshot this one changes (its blocks are inherited); absent for a full copy. */
  parentSnapshotId?: string;
  /** Block indices to write, ascending. */
  blocks: Iterable<number>;
  /** The 512 KiB (or shorter, for a volume's last block) content of block `index`. */
  read(index: number): Promise<Buffer>;
  tags: Tags;
  description: string;
  clientToken?: string;
  /** Reads and puts in flight at once (default 16). */
  window?: number;
}

export interface SnapshotWriteResult {
  snapshotId: string;
  /** Blocks sent with PutSnapshotBlock (zero blocks of a full copy are skipped). */
  blocksWritten: number;
  blocksRead: number;
}

/** Writes a snapshot, waits until AWS completed it, and deletes it again if any step fails. */
export async function writeSnapshot(o: SnapshotWriteOptions): Promise<SnapshotWriteResult> {
  const upload = await o.ebs.startSnapshot({
    volumeSizeGiB: o.volumeSizeGiB, description: o.description, tags: o.tags,
    ...(o.parentSnapshotId ? { parentSnapshotId: o.parentSnapshotId } : {}), ...(o.clientToken ? { clientToken: o.clientToken } : {}),
  });
  let blocksRead = 0;
  const limit = pLimit(o.window ?? 16);
  const tasks: Promise<void>[] = [];
  let failure: { error: unknown } | undefined;
  const drain = async (): Promise<void> => {
    const results = await Promise.allSettled(tasks.splice(0));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed && !failure) failure = { error: failed.reason };
  };
  try {
    for (const index of o.blocks) {
      if (failure) break;
      tasks.push(limit(async () => {
        if (failure) return;
        const data = await o.read(index);
        blocksRead++;
        // Without a parent an absent block already reads as zeros; with one, zeros must overwrite it.
        if (!o.parentSnapshotId && (data.length === 0 || ZERO_BLOCK.subarray(0, data.length).equals(data))) return;
        await upload.put(index, data);
      }));
      // Keep the queue short so a huge volume does not build millions of pending closures.
      if (tasks.length >= 4096) await drain();
    }
    await drain();
    if (failure) throw failure.error;
    await upload.complete();
    await o.ec2.waitSnapshots([upload.snapshotId]);
    return { snapshotId: upload.snapshotId, blocksWritten: upload.blocksWritten, blocksRead };
  } catch (error) {
    // Queued tasks see the failure and return at once.
    failure ??= { error };
    await drain();
    await upload.settle();
    await o.ec2.deleteSnapshot(upload.snapshotId).catch(() => undefined);
    throw error;
  }
}

/** Reads bytes [offset, offset + length) of a completed snapshot through the EBS direct APIs. */
export async function readSnapshotRange(ebs: EbsDirect, snapshotId: string, offset: number, length: number): Promise<Buffer> {
  const out = Buffer.alloc(length);
  if (length === 0) return out;
  const first = Math.floor(offset / EBS_BLOCK_SIZE);
  const last = Math.floor((offset + length - 1) / EBS_BLOCK_SIZE);
  const listed = (await ebs.listBlocks(snapshotId, first, last - first + 1)).filter((b) => b.index <= last);
  await Promise.all(listed.map(async (b) => {
    const data = await ebs.getBlock(snapshotId, b.index, b.token);
    const base = b.index * EBS_BLOCK_SIZE;
    const from = Math.max(offset, base);
    const to = Math.min(offset + length, base + EBS_BLOCK_SIZE);
    data.copy(out, from - offset, from - base, to - base);
  }));
  return out;
}

/** The 512 KiB block indices touched by byte extents, ascending. */
export function blocksOfExtents(extents: Iterable<{ offset: number; length: number }>, sizeBytes: number): number[] {
  const set = new Set<number>();
  for (const e of extents) {
    if (e.length <= 0) continue;
    const first = Math.floor(e.offset / EBS_BLOCK_SIZE);
    const last = Math.floor((Math.min(e.offset + e.length, sizeBytes) - 1) / EBS_BLOCK_SIZE);
    for (let i = first; i <= last; i++) set.add(i);
  }
  return [...set].sort((a, b) => a - b);
}
