// Drives the in-memory store and the local-file store through the same seeded random history and
// demands identical bytes, so the chunk bookkeeping of the fake (copy-on-write, flush folding, trims
// across chunk edges) is checked against a real file system rather than against itself.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { StoredFile } from '../ports/storage-adapter.js';
import { seededRandom } from '../random.js';
import { LocalFileStorage } from './local-file-storage.js';
import { MemoryStorage } from './memory-storage.js';

const CHUNK = 64 * 1024;

async function assertSame(memoryFile: StoredFile, localFile: StoredFile, where: string): Promise<void> {
  const size = await localFile.size();
  assert.equal(await memoryFile.size(), size, `size ${where}`);
  // Reading a little past the end also checks that the fake keeps nothing stale beyond its size.
  assert.ok((await memoryFile.read(0, size + CHUNK)).equals(await localFile.read(0, size + CHUNK)), `content ${where}`);
}

describe('MemoryStorage against LocalFileStorage', () => {
  let root: string;

  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'ocdp-'));
  });

  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  for (const seed of [1, 2, 3, 4]) {
    it(`agrees byte for byte over a random history (seed ${seed})`, async () => {
      const random = seededRandom(seed);
      const memory = new MemoryStorage();
      const local = new LocalFileStorage(root);
      let memoryFile: StoredFile = await memory.open('f', { create: true });
      const localFile = await local.open('f', { create: true });
      // Offsets near chunk edges are where the bookkeeping can go wrong.
      const position = (): number => random.int(0, 9) * CHUNK + random.pick([0, 1, 511, 512, CHUNK - 1, random.int(0, CHUNK)]);
      for (let step = 0; step < 300; step++) {
        const roll = random.int(0, 99);
        if (roll < 55) {
          const offset = position();
          const data = random.int(0, 3) === 0
            ? [random.bytes(random.int(0, 3000)), random.bytes(random.int(0, 2 * CHUNK))]
            : random.bytes(random.int(1, 2 * CHUNK));
          await memoryFile.write(offset, data);
          await localFile.write(offset, data);
        } else if (roll < 70) {
          const offset = position();
          const length = random.int(1, 3 * CHUNK);
          await memoryFile.trim(offset, length);
          await localFile.trim(offset, length);
        } else if (roll < 77) {
          const size = position();
          await memoryFile.resize(size);
          await localFile.resize(size);
        } else if (roll < 87) {
          await memoryFile.flush();
          if (random.int(0, 1) === 0) {
            // Nothing is pending after a flush, so whatever the seed, the crash must keep everything.
            memory.crash(random.int(0, 1000));
            memoryFile = await memory.open('f');
            await assertSame(memoryFile, localFile, `after the crash at step ${step}`);
          }
        } else {
          const offset = position();
          const length = random.int(0, 2 * CHUNK);
          assert.deepEqual(await memoryFile.read(offset, length), await localFile.read(offset, length), `step ${step}`);
        }
        assert.equal(await memoryFile.size(), await localFile.size(), `size at step ${step}`);
        if (step % 25 === 0) await assertSame(memoryFile, localFile, `at step ${step}`);
      }
      await assertSame(memoryFile, localFile, 'at the end');
      assert.ok(memory.usedBytes() <= 12 * CHUNK);
      await memoryFile.close();
      await localFile.close();
    });
  }
});
