// The deterministic workload shared by the crash test's child (which writes it) and parent (which
// rebuilds the expected images): write number `seq` always has the same offset, length and bytes, so a
// child restarted after kill -9 that resumes at the journal's last sequence number rewrites the same data.
import { createHash } from 'node:crypto';
import type { JournalOptions, JournalVolume } from '../journal.js';
import type { SequencedWrite } from '../../model.js';
import type { StorageAdapter } from '../../ports/storage-adapter.js';
import { SystemClock } from '../../clock.js';

export const CRASH_VOLUME: JournalVolume = { id: 'disk-0', sizeBytes: 4 * 1024 * 1024, sectorSize: 512 };

export function crashJournalOptions(storage: StorageAdapter): JournalOptions {
  return {
    storage,
    clock: new SystemClock(),
    path: 'journal',
    vmId: 'vm-crash',
    volumes: [CRASH_VOLUME],
    // A short history and small segments, so trimming, promotion and rotation all happen between kills.
    historyMs: 1500,
    hardLimitBytes: 64 * 1024 * 1024,
    warningBytes: 48 * 1024 * 1024,
    segmentBytes: 256 * 1024,
  };
}

export function crashWrite(seq: number): SequencedWrite {
  const h = createHash('sha256').update(`w${seq}`).digest();
  const sectors = 1 + (h[0] % 32);
  const maxStart = CRASH_VOLUME.sizeBytes / 512 - sectors;
  const offset = (h.readUInt32LE(4) % (maxStart + 1)) * 512;
  const data = Buffer.alloc(sectors * 512, h[8]);
  for (let s = 0; s < sectors; s++) data.writeUInt32LE(seq, s * 512);
  return { volumeId: CRASH_VOLUME.id, offset, data, seq };
}

/**
 * What a crash test's child needs to reach the store under test: a module (by file URL) exporting
 * `createCrashStorage(arg)`, and the JSON argument that names the store (a folder, a bucket and prefix…).
 */
export interface CrashStorageModule {
  createCrashStorage(arg: unknown): StorageAdapter | Promise<StorageAdapter>;
}
