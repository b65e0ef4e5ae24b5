// The preseed helper must write where a journal opened later reads its replica volumes: if the journal's
// layout changes, this fails before reverse protection silently falls back to a full copy.
import assert from 'node:assert/strict';
import { VirtualClock } from '../clock.js';
import { Journal } from '../journal/journal.js';
import { MemoryStorage } from '../storage/memory-storage.js';
import { seedReplicaVolume } from './reverse-protection.js';

describe('seedReplicaVolume', () => {
  it('seeds the replica a journal opened afterwards reads, skipping zero chunks', async () => {
    const storage = new MemoryStorage();
    const original = Buffer.alloc(3 * 1024 * 1024);
    original.fill(7, 0, 4096);
    original.fill(9, 2 * 1024 * 1024 + 512, 2 * 1024 * 1024 + 8192);
    const { bytesWritten } = await seedReplicaVolume({
      storage, groupId: 'g-rev', vmId: 'vm-r', volumeId: 'vol/r 1', sizeBytes: original.length,
      read: async (offset, length) => original.subarray(offset, offset + length),
    });
    assert.equal(bytesWritten, 2 * 1024 * 1024, 'only the two non-zero 1 MiB chunks were written');
    const journal = await Journal.open({
      storage, clock: new VirtualClock(), path: 'journals/g-rev/vm-r', vmId: 'vm-r', volumes: [{ id: 'vol/r 1', sizeBytes: original.length, sectorSize: 512 }],
      historyMs: 3_600_000, hardLimitBytes: 64 * 1024 * 1024, warningBytes: 32 * 1024 * 1024,
    });
    try {
      assert.ok((await journal.readAt('vol/r 1', 0, original.length, 0)).equals(original));
    } finally {
      await journal.close();
    }
  });
});
