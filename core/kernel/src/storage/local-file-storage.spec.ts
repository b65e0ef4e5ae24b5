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

  it('creates journals, replicas and their folders owner-only (0600 / 0700) whatever the umask', async () => {
    const previous = process.umask(0);
    try {
      await (await subject.storage.open('journals/g1/vm-1/seg-000001.log', { create: true })).close();
      await (await subject.storage.open('journals/g1/vm-1/replica/disk-0.img', { create: true, size: 4096 })).close();
      await subject.storage.replace('journals/g1/vm-1/manifest.json', Buffer.from('{}'));
    } finally {
      process.umask(previous);
    }
    const site = path.join(subject.root, 'site');
    const modes: Record<string, string> = {};
    for (const rel of ['', 'journals', 'journals/g1', 'journals/g1/vm-1', 'journals/g1/vm-1/replica', 'journals/g1/vm-1/seg-000001.log', 'journals/g1/vm-1/replica/disk-0.img', 'journals/g1/vm-1/manifest.json']) {
      modes[rel] = ((await fs.stat(path.join(site, rel))).mode & 0o777).toString(8);
    }
    assert.deepEqual(modes, {
      '': '700', journals: '700', 'journals/g1': '700', 'journals/g1/vm-1': '700', 'journals/g1/vm-1/replica': '700',
      'journals/g1/vm-1/seg-000001.log': '600', 'journals/g1/vm-1/replica/disk-0.img': '600', 'journals/g1/vm-1/manifest.json': '600',
    });
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
