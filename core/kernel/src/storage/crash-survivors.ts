// What a power cut keeps of a file's unflushed operations, shared by every store that simulates one
// (MemoryStorage, PowerCutStorage), so the same history and seed leave the same bytes on either.
import type { Random } from '../random.js';

/** Writes tear only at sector boundaries: disks promise sector atomicity and nothing more. */
export const CRASH_SECTOR_BYTES = 512;

/** An operation on a file that a flush has not made durable yet. */
export type PendingStorageOp =
  | { readonly kind: 'write'; readonly offset: number; readonly data: Buffer }
  | { readonly kind: 'trim'; readonly offset: number; readonly length: number }
  | { readonly kind: 'resize'; readonly size: number };

/**
 * How many pending ops survive a crash (a prefix: a disk's queue drains in order), and how many bytes
 * of the last one when it is a torn write. Seeded: all lost, all kept, or a random prefix.
 */
export function chooseCrashSurvivors(random: Random, pending: readonly PendingStorageOp[]): [number, number | undefined] {
  const mode = random.int(0, 3);
  const keep = mode === 0 ? 0 : mode === 1 ? pending.length : random.int(0, pending.length);
  const last = pending[keep - 1];
  if (last === undefined || last.kind !== 'write' || random.int(0, 1) === 0) return [keep, undefined];
  // Cut points are the sector boundaries strictly inside the write; a write within one sector cannot tear.
  const firstCut = (Math.floor(last.offset / CRASH_SECTOR_BYTES) + 1) * CRASH_SECTOR_BYTES;
  const lastCut = (Math.ceil((last.offset + last.data.length) / CRASH_SECTOR_BYTES) - 1) * CRASH_SECTOR_BYTES;
  if (firstCut > lastCut) return [keep, undefined];
  const cut = firstCut + CRASH_SECTOR_BYTES * random.int(0, (lastCut - firstCut) / CRASH_SECTOR_BYTES);
  return [keep, cut - last.offset];
}
