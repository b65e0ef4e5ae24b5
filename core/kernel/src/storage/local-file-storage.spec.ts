// Runs the StorageAdapter contract against real files in a temporary folder, plus what only a real
// file system can show: atomic replace leaves no temporary behind, and the root is created lazily.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { StorageError } from '../errors.js';
import { LocalFileStorage } from './local-file-storage.js';
import { describeStorageContract, type StorageUnderTest } from './storage-contract.js';

async function makeLocal(): Promise<StorageUnderTest & { root: string }> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'ocdp-'));
  return {
    root,
    storage: new LocalFileStorage(path.join(root, 'site')),
    allocatedBytes: async (name) => (await fs.stat(path.join(root, 'site', ...name.split('/')))).blocks * 512,
    dispose: () => fs.rm(root, { recursive: true, force: true }),
  };
}

describeStorageContract('LocalFileStorage', makeLocal);

describe('LocalFileStorage', () => {
  let subject: Awaited<ReturnType<typeof makeLocal>>;

  beforeEach(async () => {
    subject = await makeLocal();
  });

  afterEach(async () => {
    await subject.dispose();
  });

  it('has kind local-files and creates its root only when needed', async () => {
    const storage = new LocalFileStorage(path.join(subject.root, 'site'));
    assert.equal(storage.kind, 'local-files');
    assert.deepEqual(await storage.list(''), []);
    assert.equal(await storage.exists('a'), false);
    await assert.rejects(fs.stat(path.join(subject.root, 'site')));
    const capacity = await storage.capacity();
    assert.ok(capacity.totalBytes > capacity.freeBytes / 2);
  });

  it('keeps files under its root with the names given', async () => {
    await subject.storage.replace('journals/vm-1/manifest.json', Buffer.from('{}'));
    const onDisk = await fs.readFile(path.join(subject.root, 'site', 'journals', 'vm-1', 'manifest.json'), 'utf8');
    assert.equal(onDisk, '{}');
    assert.deepEqual(await fs.readdir(path.join(subject.root, 'site', 'journals', 'vm-1')), ['manifest.json']);
  });

  it('creates new files sparse when given a size', async () => {
    const file = await subject.storage.open('big.img', { create: true, size: 64 * 2 ** 30 });
    await file.close();
    const stats = await fs.stat(path.join(subject.root, 'site', 'big.img'));
    assert.equal(stats.size, 64 * 2 ** 30);
    assert.ok(stats.blocks * 512 < 2 ** 20);
  });

  it('maps file system errors to StorageError naming the file and errno', async () => {
    await fs.mkdir(path.join(subject.root, 'site', 'dir.bin'), { recursive: true });
    await assert.rejects(subject.storage.open('dir.bin', { create: true }), (error: unknown) => {
      assert.ok(error instanceof StorageError);
      assert.equal(error.reason, 'io');
      assert.match(error.message, /dir\.bin/);
      assert.match(error.message, /EISDIR/);
      return true;
    });
  });
});
