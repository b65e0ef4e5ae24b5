// PowerCutStorage over real files: it keeps the StorageAdapter contract, and a power cut leaves exactly
// the bytes MemoryStorage's own crash leaves for the same history and seed (the oracle), while flushed
// data always survives.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { StorageError } from '../errors.js';
import type { StoredFile } from '../ports/storage-adapter.js';
import { seededRandom } from '../random.js';
import { LocalFileStorage } from './local-file-storage.js';
import { MemoryStorage } from './memory-storage.js';
import { PowerCutStorage } from './power-cut-storage.js';
import { describeStorageContract } from './storage-contract.js';

const CHUNK = 64 * 1024;

async function tempRoot(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'ocdp-powercut-'));
}

describeStorageContract('PowerCutStorage over LocalFileStorage', async () => {
  const root = await tempRoot();
  return {
    storage: new PowerCutStorage(new LocalFileStorage(path.join(root, 'site'))),
    allocatedBytes: async (name) => (await fs.stat(path.join(root, 'site', ...name.split('/')))).blocks * 512,
    dispose: () => fs.rm(root, { recursive: true, force: true }),
  };
});

describe('PowerCutStorage', () => {
  let root: string;

  beforeEach(async () => { root = await tempRoot(); });
  afterEach(async () => { await fs.rm(root, { recursive: true, force: true }); });

  it('keeps flushed data and loses unflushed data on a cut that keeps nothing; dead handles refuse further use', async () => {
    const storage = new PowerCutStorage(new LocalFileStorage(root));
    const file = await storage.open('j/seg-1', { create: true });
    await file.write(0, Buffer.alloc(4096, 1));
    await file.flush();
    await file.write(4096, Buffer.alloc(4096, 2));
    assert.equal(await file.size(), 8192, 'the cache shows unflushed writes');
    assert.equal(storage.unflushedBytes(), 4096);
    assert.equal((await fs.stat(path.join(root, 'j', 'seg-1'))).size, 4096, 'unflushed bytes are not on disk yet');
    // Find a seed whose cut keeps none of the pending op (mode 0), to show the loss deterministically.
    let seed = 0;
    while (seededRandom(seed).int(0, 3) !== 0) seed++;
    await storage.crash(seed);
    await assert.rejects(file.read(0, 10), (e: unknown) => e instanceof StorageError && e.reason === 'closed');
    const again = await storage.open('j/seg-1');
    assert.equal(await again.size(), 4096);
    assert.deepEqual(await again.read(0, 8192), Buffer.concat([Buffer.alloc(4096, 1), Buffer.alloc(4096)]));
    await again.close();
  });

  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`leaves the same bytes as MemoryStorage after random histories and crashes (seed ${seed})`, async () => {
      const random = seededRandom(seed);
      const memory = new MemoryStorage();
      const cut = new PowerCutStorage(new LocalFileStorage(root));
      const names = ['a/seg-1', 'a/seg-2', 'b/state'];
      const open = async (): Promise<[StoredFile, StoredFile][]> => Promise.all(names.map(async (n) => [
        await memory.open(n, { create: true }), await cut.open(n, { create: true }),
      ] as [StoredFile, StoredFile]));
      let files = await open();
      const position = (): number => random.int(0, 5) * CHUNK + random.pick([0, 1, 511, 512, CHUNK - 1, random.int(0, CHUNK)]);
      const compare = async (where: string): Promise<void> => {
        for (const name of names) {
          const [m, c] = [await memory.readAll(name), await cut.readAll(name)];
          assert.ok(m && c, `${name} exists on both ${where}`);
          assert.equal(c.length, m.length, `${name}: size ${where}`);
          assert.ok(c.equals(m), `${name}: bytes ${where}`);
        }
      };
      for (let step = 0; step < 200; step++) {
        const [m, c] = random.pick(files);
        const roll = random.int(0, 99);
        if (roll < 50) {
          const offset = position();
          const data = random.bytes(random.int(1, CHUNK));
          await m.write(offset, data);
          await c.write(offset, data);
        } else if (roll < 60) {
          const [offset, length] = [position(), random.int(1, 2 * CHUNK)];
          await m.trim(offset, length);
          await c.trim(offset, length);
        } else if (roll < 66) {
          const size = position();
          await m.resize(size);
          await c.resize(size);
        } else if (roll < 82) {
          await m.flush();
          await c.flush();
        } else if (roll < 90) {
          const crashSeed = random.int(0, 10_000);
          memory.crash(crashSeed);
          await cut.crash(crashSeed);
          await compare(`after the crash at step ${step}`);
          files = await open();
        } else {
          const [offset, length] = [position(), random.int(0, CHUNK)];
          assert.deepEqual(await c.read(offset, length), await m.read(offset, length), `read at step ${step}`);
          assert.equal(await c.size(), await m.size(), `size at step ${step}`);
        }
      }
      await compare('at the end');
      for (const [m, c] of files) {
        await m.close();
        await c.close();
      }
    });
  }
});
