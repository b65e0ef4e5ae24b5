// The behaviour every StorageAdapter owes its callers, as a mocha suite each implementation's spec runs
// against its own instances. Keeping the cases in one place is what keeps the in-memory fake honest
// about the real local-file store.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { StorageError, ValidationError } from '../errors.js';
import type { StorageAdapter } from '../ports/storage-adapter.js';
import { seededRandom } from '../random.js';

export interface StorageUnderTest {
  readonly storage: StorageAdapter;
  /** Bytes the backing store really spends on the named file (allocated blocks, chunk buffers). */
  allocatedBytes(name: string): Promise<number>;
  dispose(): Promise<void>;
}

const TIB = 2 ** 40;
const MIB = 2 ** 20;

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function isStorageError(reason: StorageError['reason']): (error: unknown) => boolean {
  return (error: unknown) => error instanceof StorageError && error.code === 'STORAGE' && error.reason === reason;
}

export function describeStorageContract(label: string, makeStorage: () => Promise<StorageUnderTest>): void {
  describe(`${label}: StorageAdapter contract`, () => {
    let subject: StorageUnderTest;
    let storage: StorageAdapter;

    beforeEach(async () => {
      subject = await makeStorage();
      storage = subject.storage;
    });

    afterEach(async () => {
      await subject.dispose();
    });

    it('round-trips written bytes exactly', async () => {
      const data = seededRandom(1).bytes(3 * MIB + 123);
      const file = await storage.open('journals/vm-1/seg-000001.log', { create: true });
      await file.write(4096, data);
      await file.flush();
      assert.equal(await file.size(), 4096 + data.length);
      assert.equal(sha256(await file.read(4096, data.length)), sha256(data));
      assert.deepEqual(await file.read(0, 4096), Buffer.alloc(4096));
      await file.close();
      const again = await storage.open('journals/vm-1/seg-000001.log');
      assert.equal(sha256(await again.read(4096, data.length)), sha256(data));
      await again.close();
    });

    it('reads past the end of the file as zeros', async () => {
      const file = await storage.open('a.bin', { create: true });
      await file.write(0, Buffer.from('hello'));
      const read = await file.read(2, 10);
      assert.equal(read.length, 10);
      assert.deepEqual(read, Buffer.concat([Buffer.from('llo'), Buffer.alloc(7)]));
      assert.deepEqual(await file.read(1000, 16), Buffer.alloc(16));
      assert.equal((await file.read(0, 0)).length, 0);
      await file.close();
    });

    it('writes a list of buffers back to back', async () => {
      const random = seededRandom(2);
      const parts = [random.bytes(512), Buffer.alloc(0), random.bytes(70_000), random.bytes(3)];
      const file = await storage.open('v.bin', { create: true });
      await file.write(1000, parts);
      const whole = Buffer.concat(parts);
      assert.equal(await file.size(), 1000 + whole.length);
      assert.equal(sha256(await file.read(1000, whole.length)), sha256(whole));
      await file.close();
    });

    it('keeps a huge sparse file cheap', async () => {
      const file = await storage.open('replicas/vm-1/disk-0.img', { create: true, size: TIB });
      assert.equal(await file.size(), TIB);
      const tail = seededRandom(3).bytes(4096);
      await file.write(TIB - 4096, tail);
      await file.flush();
      assert.equal(await file.size(), TIB);
      assert.deepEqual(await file.read(TIB - 4096, 4096), tail);
      assert.deepEqual(await file.read(TIB / 2, 8192), Buffer.alloc(8192));
      assert.ok(await subject.allocatedBytes('replicas/vm-1/disk-0.img') < 4 * MIB);
      await file.write(TIB, Buffer.from('x'));
      assert.equal(await file.size(), TIB + 1);
      await file.close();
    });

    it('does not resize an existing file opened with create and a size', async () => {
      const file = await storage.open('s.bin', { create: true, size: 100 });
      await file.close();
      const again = await storage.open('s.bin', { create: true, size: 5000 });
      assert.equal(await again.size(), 100);
      await again.close();
    });

    it('reads a trimmed range as zeros and truncates a trim that reaches the end', async () => {
      const data = seededRandom(4).bytes(300_000);
      const file = await storage.open('t.bin', { create: true });
      await file.write(0, data);
      await file.trim(1000, 200_000);
      assert.equal(await file.size(), data.length);
      assert.deepEqual(await file.read(1000, 200_000), Buffer.alloc(200_000));
      assert.deepEqual(await file.read(0, 1000), data.subarray(0, 1000));
      assert.deepEqual(await file.read(201_000, 99_000), data.subarray(201_000));
      await file.trim(250_000, 1_000_000);
      assert.equal(await file.size(), 250_000);
      assert.deepEqual(await file.read(201_000, 49_000), data.subarray(201_000, 250_000));
      await file.trim(400_000, 10);
      assert.equal(await file.size(), 250_000);
      await file.close();
    });

    it('resizes: shrinking drops the tail, growing reads zeros', async () => {
      const data = seededRandom(5).bytes(200_000);
      const file = await storage.open('r.bin', { create: true });
      await file.write(0, data);
      await file.resize(70_000);
      assert.equal(await file.size(), 70_000);
      await file.resize(500_000);
      assert.equal(await file.size(), 500_000);
      assert.deepEqual(await file.read(0, 70_000), data.subarray(0, 70_000));
      assert.deepEqual(await file.read(70_000, 430_000), Buffer.alloc(430_000));
      await file.resize(0);
      assert.equal(await file.size(), 0);
      await file.close();
    });

    it('replaces small files whole and reads them back', async () => {
      assert.equal(await storage.readAll('meta/site.json'), undefined);
      await storage.replace('meta/site.json', Buffer.from('{"v":1,"long":"' + 'x'.repeat(5000) + '"}'));
      await storage.replace('meta/site.json', Buffer.from('{"v":2}'));
      assert.deepEqual(await storage.readAll('meta/site.json'), Buffer.from('{"v":2}'));
      assert.equal(await storage.exists('meta/site.json'), true);
      assert.deepEqual(await storage.list('meta/'), ['meta/site.json']);
      await storage.replace('meta/empty', Buffer.alloc(0));
      assert.deepEqual(await storage.readAll('meta/empty'), Buffer.alloc(0));
    });

    it('takes concurrent replaces of one file: every one succeeds and the file holds one of them whole', async () => {
      // Several senders of one group probe the same file at the same instant (S6's end of pause): a
      // replace that fails because another one ran beside it reads as a full journal and stalls a sync.
      const contents = Array.from({ length: 8 }, (_, i) => Buffer.alloc(1000 + i, 65 + i));
      await Promise.all(contents.map((c) => storage.replace('journals/pg-1/.probe', c)));
      const final = await storage.readAll('journals/pg-1/.probe');
      assert.ok(final && contents.some((c) => c.equals(final)), `the file holds one whole content (${final?.length} bytes)`);
      assert.deepEqual(await storage.list('journals/pg-1/'), ['journals/pg-1/.probe'], 'no temporary file is left behind');
    });

    it('lists files under a prefix, nested and sorted', async () => {
      const names = ['journals/vm-2/seg-000002.log', 'journals/vm-1/seg-000001.log', 'journals/vm-10/a/b/c.log',
        'journals/vm-1/seg-000000.log', 'journalsx/other', 'replicas/vm-1/disk.img', 'top'];
      for (const name of names) await (await storage.open(name, { create: true })).close();
      assert.deepEqual(await storage.list('journals/'), [
        'journals/vm-1/seg-000000.log', 'journals/vm-1/seg-000001.log', 'journals/vm-10/a/b/c.log', 'journals/vm-2/seg-000002.log',
      ]);
      assert.deepEqual(await storage.list('journals/vm-1/'), ['journals/vm-1/seg-000000.log', 'journals/vm-1/seg-000001.log']);
      assert.deepEqual(await storage.list('journals/vm-1'), [
        'journals/vm-1/seg-000000.log', 'journals/vm-1/seg-000001.log', 'journals/vm-10/a/b/c.log',
      ]);
      assert.deepEqual(await storage.list('journals/vm-1/seg-000001'), ['journals/vm-1/seg-000001.log']);
      assert.deepEqual(await storage.list(''), [...names].sort());
      assert.deepEqual(await storage.list('nothing/here/'), []);
      assert.deepEqual(await storage.list('top/'), []);
    });

    it('deletes files, and deleting a missing file is no error', async () => {
      await storage.replace('d/x', Buffer.from('x'));
      await storage.delete('d/x');
      assert.equal(await storage.exists('d/x'), false);
      assert.equal(await storage.readAll('d/x'), undefined);
      await storage.delete('d/x');
      await storage.delete('never/was');
      await assert.rejects(storage.open('d/x'), isStorageError('missing'));
    });

    it('refuses to open a missing file without create', async () => {
      await assert.rejects(storage.open('no/such/file'), isStorageError('missing'));
      assert.deepEqual(await storage.list(''), []);
    });

    it('rejects bad names with ValidationError and creates nothing', async () => {
      const bad = ['', '/abs/path', '../escape', 'a/../../b', 'a/..', 'back\\slash', 'nul\0byte', 'a//b', './a', 'folder/'];
      for (const name of bad) {
        await assert.rejects(storage.open(name, { create: true }), ValidationError, `open ${JSON.stringify(name)}`);
        await assert.rejects(storage.replace(name, Buffer.from('x')), ValidationError, `replace ${JSON.stringify(name)}`);
        await assert.rejects(storage.exists(name), ValidationError);
        await assert.rejects(storage.readAll(name), ValidationError);
        await assert.rejects(storage.delete(name), ValidationError);
      }
      await assert.rejects(storage.list('../'), ValidationError);
      await assert.rejects(storage.list('/'), ValidationError);
      assert.deepEqual(await storage.list(''), []);
    });

    it('rejects negative or fractional offsets', async () => {
      const file = await storage.open('o.bin', { create: true });
      await assert.rejects(file.read(-1, 10), ValidationError);
      await assert.rejects(file.write(1.5, Buffer.from('x')), ValidationError);
      await assert.rejects(file.resize(-3), ValidationError);
      await assert.rejects(file.trim(0, -1), ValidationError);
      assert.equal(await file.size(), 0);
      await file.close();
    });

    it('fails every operation after close with reason closed', async () => {
      const file = await storage.open('c.bin', { create: true });
      await file.close();
      await file.close();
      const closed = isStorageError('closed');
      await assert.rejects(file.size(), closed);
      await assert.rejects(file.read(0, 1), closed);
      await assert.rejects(file.write(0, Buffer.from('x')), closed);
      await assert.rejects(file.write(0, [Buffer.from('x')]), closed);
      await assert.rejects(file.flush(), closed);
      await assert.rejects(file.trim(0, 1), closed);
      await assert.rejects(file.resize(1), closed);
    });

    it('refuses a file where a folder is, and a folder where a file is', async () => {
      await storage.replace('x/y', Buffer.from('1'));
      await assert.rejects(storage.open('x', { create: true }), StorageError);
      await assert.rejects(storage.open('x/y/z', { create: true }), StorageError);
      await assert.rejects(storage.replace('x/y/z', Buffer.from('2')), StorageError);
      assert.deepEqual(await storage.list(''), ['x/y']);
    });

    it('reports a capacity', async () => {
      const capacity = await storage.capacity();
      assert.ok(capacity.totalBytes > 0);
      assert.ok(capacity.freeBytes >= 0 && capacity.freeBytes <= capacity.totalBytes);
    });
  });
}
