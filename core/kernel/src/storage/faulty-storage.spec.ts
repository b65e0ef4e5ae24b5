import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { VirtualClock, settle } from '../clock.js';
import { StorageError, ValidationError } from '../errors.js';
import type { StoredFile } from '../ports/storage-adapter.js';
import { FaultyStorage } from './faulty-storage.js';
import { MemoryStorage } from './memory-storage.js';

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Records how a promise settles, so a test can assert it is still pending. */
function watch<T>(promise: Promise<T>): { readonly state: 'pending' | 'resolved' | 'rejected'; readonly value?: T } {
  const w: { state: 'pending' | 'resolved' | 'rejected'; value?: T } = { state: 'pending' };
  promise.then((value) => { w.state = 'resolved'; w.value = value; }, () => { w.state = 'rejected'; });
  return w;
}

function isStorageError(reason: StorageError['reason']): (e: unknown) => boolean {
  return (e) => e instanceof StorageError && e.reason === reason;
}

/** Everything observable about the store, to show a refused operation changed nothing. */
async function snapshot(memory: MemoryStorage): Promise<string> {
  const parts: string[] = [];
  for (const name of await memory.list('')) parts.push(`${name}=${sha256((await memory.readAll(name))!)}`);
  return parts.join(',');
}

async function setup(): Promise<{ clock: VirtualClock; memory: MemoryStorage; storage: FaultyStorage; file: StoredFile }> {
  const clock = new VirtualClock();
  const memory = new MemoryStorage();
  const storage = new FaultyStorage(memory, clock);
  const file = await storage.open('journal/seg-1', { create: true });
  await file.write(0, Buffer.alloc(8192, 1));
  await file.flush();
  await storage.replace('manifest', Buffer.from('{"v":1}'));
  return { clock, memory, storage, file };
}

describe('FaultyStorage', () => {
  it('passes everything through without a fault', async () => {
    const { memory, storage, file } = await setup();
    assert.equal(storage.kind, 'memory');
    assert.deepEqual(await storage.list('journal/'), ['journal/seg-1']);
    assert.deepEqual(await file.read(4096, 8192), Buffer.concat([Buffer.alloc(4096, 1), Buffer.alloc(4096)]));
    assert.deepEqual(await memory.readAll('manifest'), Buffer.from('{"v":1}'));
    assert.equal(await file.size(), 8192);
  });

  it('storage-error: every operation rejects with reason io, and nothing changes', async () => {
    const { memory, storage, file } = await setup();
    const before = await snapshot(memory);
    storage.setFault({ kind: 'storage-error' });
    const io = isStorageError('io');
    const ops: (() => Promise<unknown>)[] = [
      () => storage.capacity(), () => storage.open('journal/seg-1'), () => storage.open('new', { create: true }),
      () => storage.exists('manifest'), () => storage.list(''), () => storage.delete('manifest'),
      () => storage.replace('manifest', Buffer.from('x')), () => storage.readAll('manifest'),
      () => file.size(), () => file.read(0, 10), () => file.write(0, Buffer.alloc(512, 9)), () => file.write(0, [Buffer.alloc(512, 9)]),
      () => file.flush(), () => file.trim(0, 4096), () => file.resize(0), () => file.resize(1 << 20),
    ];
    for (const op of ops) await assert.rejects(op(), io);
    assert.equal(storage.refused, ops.length);
    storage.setFault(undefined);
    assert.equal(await snapshot(memory), before);
    assert.equal(await storage.exists('new'), false);
    assert.deepEqual(await file.read(0, 8192), Buffer.alloc(8192, 1));
    await file.close(); // close always gets through
  });

  it('storage-full: writes and creations reject with reason full; reads, trims and deletes work', async () => {
    const { memory, storage, file } = await setup();
    const before = await snapshot(memory);
    storage.setFault({ kind: 'storage-full' });
    const full = isStorageError('full');
    await assert.rejects(file.write(8192, Buffer.alloc(512, 2)), full);
    await assert.rejects(file.write(0, [Buffer.alloc(512, 2), Buffer.alloc(512, 3)]), full);
    await assert.rejects(storage.replace('manifest', Buffer.from('{"v":2}')), full);
    await assert.rejects(storage.open('journal/seg-2', { create: true }), full);
    await assert.rejects(file.resize(1 << 20), full);
    assert.equal(await snapshot(memory), before);
    assert.equal(await storage.exists('journal/seg-2'), false);

    assert.deepEqual(await file.read(0, 8192), Buffer.alloc(8192, 1));
    assert.deepEqual(await storage.readAll('manifest'), Buffer.from('{"v":1}'));
    assert.equal((await storage.capacity()).freeBytes, 0);
    const again = await storage.open('journal/seg-1', { create: true }); // exists: nothing is created
    assert.equal(await again.size(), 8192);
    await file.flush();
    await file.trim(0, 4096);
    await file.resize(4096);
    assert.deepEqual(await file.read(0, 8192), Buffer.alloc(8192));
    await storage.delete('manifest');
    assert.equal(await storage.exists('manifest'), false);

    storage.setFault(undefined);
    await file.write(0, Buffer.alloc(512, 4));
    assert.deepEqual(await file.read(0, 512), Buffer.alloc(512, 4));
    assert.ok((await storage.capacity()).freeBytes > 0);
  });

  it('storage-slow: every operation waits delayMs on the clock first', async () => {
    const { clock, storage, file } = await setup();
    storage.setFault({ kind: 'storage-slow', delayMs: 250 });
    const write = watch(file.write(0, Buffer.alloc(512, 7)));
    const list = watch(storage.list(''));
    await settle();
    await clock.advance(249);
    assert.equal(write.state, 'pending');
    assert.equal(list.state, 'pending');
    await clock.advance(1);
    assert.equal(write.state, 'resolved');
    assert.deepEqual(list.value, ['journal/seg-1', 'manifest']);
    storage.setFault(undefined);
    assert.deepEqual(await file.read(0, 512), Buffer.alloc(512, 7));
  });

  it('applies a fault set while an operation was slowed', async () => {
    const { clock, storage, file } = await setup();
    storage.setFault({ kind: 'storage-slow', delayMs: 100 });
    const refused = assert.rejects(file.write(0, Buffer.alloc(512, 7)), isStorageError('io'));
    storage.setFault({ kind: 'storage-error' });
    await clock.advance(100);
    await refused;
    storage.setFault(undefined);
    assert.deepEqual(await file.read(0, 512), Buffer.alloc(512, 1));
  });

  it('refuses unknown faults', () => {
    const storage = new FaultyStorage(new MemoryStorage(), new VirtualClock());
    assert.throws(() => storage.setFault({ kind: 'storage-slow', delayMs: -1 }), ValidationError);
    assert.throws(() => storage.setFault({ kind: 'melt' } as never), ValidationError);
    assert.equal(storage.fault, undefined);
  });
});
