import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { VirtualClock } from '../clock.js';
import type { ChangedRegion } from '../ports/change-tracking.js';
import type { StorageAdapter } from '../ports/storage-adapter.js';
import { seedReplicaVolume } from '../recovery/reverse-protection.js';
import { LocalFileStorage } from '../storage/local-file-storage.js';
import { MemoryStorage } from '../storage/memory-storage.js';
import { Journal, type JournalOptions } from './journal.js';
import { AllocationMap, allocationFileName, unionRegions } from './replica-allocation.js';
import { regionBytes } from '../capture/region-list.js';

const KiB = 1024;
const MiB = 1024 * KiB;

function options(storage: StorageAdapter, overrides: Partial<JournalOptions> = {}): JournalOptions {
  return {
    storage, clock: new VirtualClock(), path: 'journals/g/vm-1', vmId: 'vm-1', volumes: [{ id: 'disk', sizeBytes: 8 * MiB, sectorSize: 512 }],
    historyMs: 60_000, hardLimitBytes: 256 * MiB, warningBytes: 200 * MiB, autoTrim: false, ...overrides,
  };
}

/** True when every non-zero byte of `data` lies inside `regions`. */
function covers(regions: readonly ChangedRegion[], data: Buffer): string | undefined {
  let r = 0;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 0) continue;
    while (r < regions.length && regions[r].offset + regions[r].length <= i) r++;
    if (r >= regions.length || regions[r].offset > i) return `non-zero byte at ${i} outside the allocation`;
  }
  return undefined;
}

describe('Replica allocation maps', () => {
  it('a map marks, lists merged regions, and round-trips; a damaged or resized map does not decode', () => {
    const map = new AllocationMap(10 * MiB + 512);
    assert.equal(map.granularity, 64 * KiB);
    map.mark(0, 1);
    map.mark(64 * KiB, 64 * KiB);
    map.mark(10 * MiB, 512);
    assert.deepEqual(map.regions('v'), [{ volumeId: 'v', offset: 0, length: 128 * KiB }, { volumeId: 'v', offset: 10 * MiB, length: 512 }]);
    assert.equal(map.dirty, true);
    const data = map.encode();
    assert.equal(map.dirty, false);
    assert.deepEqual(AllocationMap.decode(data, 10 * MiB + 512)?.regions('v'), map.regions('v'));
    assert.equal(AllocationMap.decode(data, 10 * MiB), undefined, 'another size');
    const bad = Buffer.from(data);
    bad[40] ^= 1;
    assert.equal(AllocationMap.decode(bad, 10 * MiB + 512), undefined, 'a flipped bit');
    assert.equal(AllocationMap.granularityFor(4 * 1024 * 1024 * MiB), 256 * KiB, '4 TiB → 2^24 bits of 256 KiB');
    assert.deepEqual(new AllocationMap(MiB, { full: true }).regions('v'), [{ volumeId: 'v', offset: 0, length: MiB }]);
  });

  it('unionRegions merges overlapping and touching regions of two sorted lists', () => {
    const r = (offset: number, length: number): ChangedRegion => ({ volumeId: 'v', offset, length });
    assert.deepEqual(unionRegions([r(0, 10), r(50, 10)], [r(5, 10), r(15, 5), r(70, 1)]), [r(0, 20), r(50, 10), r(70, 1)]);
    assert.deepEqual(unionRegions([], [r(3, 4)]), [r(3, 4)]);
  });

  it('property: an image\'s allocation holds every non-zero byte at its checkpoint, through trims, and stays far below the volume', async function () {
    this.timeout(60_000);
    await fc.assert(fc.asyncProperty(
      fc.array(fc.oneof(
        fc.record({ kind: fc.constant('write' as const), block: fc.integer({ min: 0, max: 2047 }), blocks: fc.integer({ min: 1, max: 8 }), fill: fc.integer({ min: 1, max: 255 }) }),
        fc.record({ kind: fc.constant('checkpoint' as const) }),
        fc.record({ kind: fc.constant('trim' as const) }),
      ), { minLength: 1, maxLength: 40 }),
      async (steps) => {
        const o = options(new MemoryStorage());
        const clock = o.clock as VirtualClock;
        let journal = await Journal.open(o);
        const oracle = Buffer.alloc(8 * MiB);
        const snapshots = new Map<string, Buffer>();
        let seq = 0;
        let cps = 0;
        const written = new Set<number>();
        for (const step of steps) {
          if (step.kind === 'write') {
            const offset = step.block * 4 * KiB;
            const data = Buffer.alloc(Math.min(step.blocks * 4 * KiB, 8 * MiB - offset), step.fill);
            await journal.append({ volumeId: 'disk', offset, data, seq: ++seq });
            data.copy(oracle, offset);
            for (let b = step.block; b < step.block + step.blocks && b < 2048; b++) written.add(b);
          } else if (step.kind === 'checkpoint') {
            const id = `cp-${++cps}`;
            await journal.addCheckpoint({ id, groupId: 'g', seq, timestamp: clock.now(), kind: 'auto' });
            snapshots.set(id, Buffer.from(oracle));
          } else {
            await clock.advance(61_000);
            await journal.trim();
            // Across a reopen too: the maps are read back from storage.
            await journal.close();
            journal = await Journal.open({ ...o, clock });
          }
        }
        for (const cp of journal.checkpoints()) {
          const image = await journal.openImage(cp.id);
          const regions = await image.allocated('disk');
          image.close();
          const problem = covers(regions, snapshots.get(cp.id)!);
          assert.equal(problem, undefined, `checkpoint ${cp.id}: ${problem}`);
          // Written 4 KiB blocks, rounded up to the replica map's 64 KiB, bound the allocation.
          assert.ok(regionBytes(regions) <= written.size * 64 * KiB, `${regionBytes(regions)} bytes allocated for ${written.size} written blocks`);
        }
        await journal.close();
      },
    ), { numRuns: 30, seed: 5 });
  });

  it('the journal\'s part is exact to the index block; promotion moves it into the replica map', async () => {
    const o = options(new MemoryStorage());
    const clock = o.clock as VirtualClock;
    const journal = await Journal.open(o);
    await journal.append({ volumeId: 'disk', offset: 1 * MiB, data: Buffer.alloc(8 * KiB, 1), seq: 1 });
    await journal.addCheckpoint({ id: 'a', groupId: 'g', seq: 1, timestamp: clock.now(), kind: 'auto' });
    await clock.advance(61_000);
    await journal.append({ volumeId: 'disk', offset: 3 * MiB + 512, data: Buffer.alloc(512, 2), seq: 2 });
    await journal.addCheckpoint({ id: 'b', groupId: 'g', seq: 2, timestamp: clock.now(), kind: 'auto' });
    const a = await journal.openImage('a');
    assert.deepEqual(await a.allocated('disk'), [{ volumeId: 'disk', offset: MiB, length: 8 * KiB }], 'the later write is not in the image at a');
    a.close();
    await journal.append({ volumeId: 'disk', offset: 5 * MiB, data: Buffer.alloc(1024, 3), seq: 3 });
    await journal.addCheckpoint({ id: 'c', groupId: 'g', seq: 3, timestamp: clock.now() + 1, kind: 'auto' });
    await journal.trim();
    assert.equal(journal.checkpoints()[0].id, 'b', 'a was trimmed, the writes up to b promoted');
    const b = await journal.openImage('c');
    assert.deepEqual(await b.allocated('disk'), [
      { volumeId: 'disk', offset: MiB, length: 64 * KiB }, { volumeId: 'disk', offset: 3 * MiB, length: 64 * KiB },
      { volumeId: 'disk', offset: 5 * MiB, length: 4 * KiB },
    ], 'promoted writes at the replica map\'s granularity, the journaled one at the index\'s');
    b.close();
    await journal.close();
  });

  it('a replica found without its map counts as fully allocated; seeding writes the map of what it copied', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ocalloc-'));
    try {
      const storage = new LocalFileStorage(dir);
      // A replica copied in by hand: its history is unknown.
      const f = await storage.open('journals/g/vm-1/replica/disk.img', { create: true, size: 8 * MiB });
      await f.write(5 * MiB, Buffer.alloc(4096, 9));
      await f.close();
      const journal = await Journal.open(options(storage));
      await journal.addCheckpoint({ id: 'c', groupId: 'g', seq: 0, timestamp: 0, kind: 'auto' });
      const image = await journal.openImage('c');
      assert.deepEqual(await image.allocated('disk'), [{ volumeId: 'disk', offset: 0, length: 8 * MiB }]);
      image.close();
      await journal.close();

      const source = Buffer.alloc(8 * MiB);
      source.fill(7, 2 * MiB, 2 * MiB + 100);
      source.fill(8, 7 * MiB, 8 * MiB);
      const seeded = await seedReplicaVolume({ storage, groupId: 'g2', vmId: 'vm-1', volumeId: 'disk', sizeBytes: 8 * MiB, read: async (at, n) => source.subarray(at, at + n) });
      assert.equal(seeded.bytesWritten, 2 * MiB);
      assert.ok(await storage.exists(allocationFileName('journals/g2/vm-1/replica/disk.img')));
      const j2 = await Journal.open({ ...options(storage), path: 'journals/g2/vm-1' });
      await j2.addCheckpoint({ id: 'c', groupId: 'g2', seq: 0, timestamp: 0, kind: 'auto' });
      const i2 = await j2.openImage('c');
      const regions = await i2.allocated('disk');
      assert.deepEqual(regions, [{ volumeId: 'disk', offset: 2 * MiB, length: MiB }, { volumeId: 'disk', offset: 7 * MiB, length: MiB }]);
      assert.equal(covers(regions, source), undefined);
      i2.close();
      await j2.close();
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
