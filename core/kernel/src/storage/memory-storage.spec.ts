// Runs the StorageAdapter contract against the in-memory store, then checks what only it does: crash
// simulation (lost, kept and torn unflushed writes, always replayable by seed) and its capacity limit.
import assert from 'node:assert/strict';
import { StorageError } from '../errors.js';
import type { StoredFile } from '../ports/storage-adapter.js';
import { seededRandom } from '../random.js';
import { MemoryStorage } from './memory-storage.js';
import { describeStorageContract } from './storage-contract.js';

describeStorageContract('MemoryStorage', async () => {
  const storage = new MemoryStorage();
  return {
    storage,
    allocatedBytes: async () => storage.usedBytes(),
    dispose: async () => undefined,
  };
});

type Op = { kind: 'write'; offset: number; data: Buffer } | { kind: 'trim'; offset: number; length: number } | { kind: 'resize'; size: number };

/** A plain-buffer model of a file, to compute every state a crash is allowed to leave. */
function applyToModel(model: Buffer, op: Op): Buffer {
  if (op.kind === 'write') {
    const out = Buffer.alloc(Math.max(model.length, op.offset + op.data.length));
    model.copy(out);
    op.data.copy(out, op.offset);
    return out;
  }
  if (op.kind === 'resize') {
    const out = Buffer.alloc(op.size);
    model.copy(out, 0, 0, Math.min(model.length, op.size));
    return out;
  }
  if (op.offset >= model.length) return model;
  if (op.offset + op.length >= model.length) return Buffer.from(model.subarray(0, op.offset));
  const out = Buffer.from(model);
  out.fill(0, op.offset, op.offset + op.length);
  return out;
}

async function applyToFile(file: StoredFile, op: Op): Promise<void> {
  if (op.kind === 'write') await file.write(op.offset, op.data);
  else if (op.kind === 'trim') await file.trim(op.offset, op.length);
  else await file.resize(op.size);
}

/** Every state a crash may leave: a prefix of the ops, the last write possibly cut at a sector boundary. */
function allowedStates(base: Buffer, ops: readonly Op[]): Set<string> {
  const states = new Set<string>();
  let model: Buffer = base;
  states.add(model.toString('hex'));
  for (const op of ops) {
    if (op.kind === 'write') {
      for (let cut = (Math.floor(op.offset / 512) + 1) * 512; cut < op.offset + op.data.length; cut += 512) {
        states.add(applyToModel(model, { kind: 'write', offset: op.offset, data: op.data.subarray(0, cut - op.offset) }).toString('hex'));
      }
    }
    model = applyToModel(model, op);
    states.add(model.toString('hex'));
  }
  return states;
}

function randomOps(seed: number, count: number): Op[] {
  const random = seededRandom(seed);
  const ops: Op[] = [];
  for (let i = 0; i < count; i++) {
    const roll = random.int(0, 9);
    if (roll < 8) {
      // Fill bytes 1..255 only, so a zero byte can only come from base, trims or resizes.
      const data = Buffer.from(random.bytes(random.int(1, 3000)).map((byte) => (byte % 255) + 1));
      ops.push({ kind: 'write', offset: random.int(0, 20_000), data });
    } else if (roll === 8) {
      ops.push({ kind: 'trim', offset: random.int(0, 20_000), length: random.int(1, 5000) });
    } else {
      ops.push({ kind: 'resize', size: random.int(0, 24_000) });
    }
  }
  return ops;
}

async function snapshot(storage: MemoryStorage): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const name of await storage.list('')) out.set(name, (await storage.readAll(name))?.toString('hex') ?? '');
  return out;
}

describe('MemoryStorage', () => {
  it('has kind memory', () => {
    assert.equal(new MemoryStorage().kind, 'memory');
  });

  it('loses unflushed writes in a crash and keeps flushed data byte-exact', async () => {
    const random = seededRandom(10);
    const flushed = random.bytes(200_000);
    for (let seed = 0; seed < 20; seed++) {
      const storage = new MemoryStorage();
      const file = await storage.open('j/seg-1', { create: true });
      await file.write(0, flushed);
      await file.flush();
      // Within one sector, so the write cannot tear: the crash keeps all of it or none.
      await file.write(300_032, Buffer.alloc(100, 7));
      storage.crash(seed);
      const after = await storage.readAll('j/seg-1');
      assert.ok(after !== undefined);
      assert.deepEqual(after.subarray(0, flushed.length), flushed);
      assert.ok(after.length === flushed.length || after.length === 300_132, `size ${after.length}`);
      if (after.length === 300_132) assert.deepEqual(after.subarray(300_032), Buffer.alloc(100, 7));
    }
  });

  it('drops all unflushed writes for some seeds and keeps them for others', async () => {
    const outcomes = new Set<number>();
    for (let seed = 0; seed < 40; seed++) {
      const storage = new MemoryStorage();
      const file = await storage.open('f', { create: true });
      await file.write(0, Buffer.alloc(100, 1));
      storage.crash(seed);
      outcomes.add((await storage.readAll('f'))?.length ?? -1);
    }
    assert.deepEqual([...outcomes].sort((a, b) => a - b), [0, 100]);
  });

  it('leaves only states made of a prefix of the unflushed ops, sometimes torn', async () => {
    let torn = 0;
    let partial = 0;
    for (let seed = 0; seed < 150; seed++) {
      const storage = new MemoryStorage();
      const file = await storage.open('v', { create: true });
      const baseOps = randomOps(seed, 3);
      let base: Buffer = Buffer.alloc(0);
      for (const op of baseOps) {
        await applyToFile(file, op);
        base = applyToModel(base, op);
      }
      await file.flush();
      const ops = randomOps(seed + 1000, 6);
      for (const op of ops) await applyToFile(file, op);
      storage.crash(seed);
      const after = (await storage.readAll('v'))?.toString('hex') ?? '';
      const allowed = allowedStates(base, ops);
      assert.ok(allowed.has(after), `seed ${seed}: state is not a (torn) prefix of the history`);
      const prefixes = new Set<string>();
      let model: Buffer = base;
      prefixes.add(model.toString('hex'));
      for (const op of ops) prefixes.add((model = applyToModel(model, op)).toString('hex'));
      if (!prefixes.has(after)) torn++;
      if (after !== base.toString('hex') && after !== model.toString('hex')) partial++;
    }
    assert.ok(torn > 0, 'no crash tore a write');
    assert.ok(partial > 0, 'no crash kept a strict prefix');
  });

  it('is deterministic for the same history and seed', async () => {
    const results: Map<string, string>[] = [];
    for (const seed of [42, 42, 43]) {
      const storage = new MemoryStorage();
      for (let f = 0; f < 6; f++) {
        const file = await storage.open(`journals/vm-${f}/seg`, { create: true });
        const ops = randomOps(f, 8);
        for (const op of ops.slice(0, 3)) await applyToFile(file, op);
        await file.flush();
        for (const op of ops.slice(3)) await applyToFile(file, op);
      }
      storage.crash(seed);
      results.push(await snapshot(storage));
    }
    assert.deepEqual(results[0], results[1]);
    assert.notDeepEqual(results[0], results[2]);
  });

  it('closes every open handle in a crash, and the store stays usable', async () => {
    const storage = new MemoryStorage();
    const file = await storage.open('a', { create: true });
    await file.write(0, Buffer.from('abc'));
    await file.flush();
    storage.crash(1);
    await assert.rejects(file.read(0, 3), (error: unknown) => error instanceof StorageError && error.reason === 'closed');
    await assert.rejects(file.write(0, Buffer.from('x')), (error: unknown) => error instanceof StorageError && error.reason === 'closed');
    await file.close();
    const again = await storage.open('a');
    assert.deepEqual(await again.read(0, 3), Buffer.from('abc'));
    await again.write(3, Buffer.from('def'));
    await again.flush();
    storage.crash(2);
    assert.deepEqual(await storage.readAll('a'), Buffer.from('abcdef'));
  });

  it('makes replace and file existence durable at once', async () => {
    for (let seed = 0; seed < 10; seed++) {
      const storage = new MemoryStorage();
      await storage.replace('meta', Buffer.from('old'));
      await storage.replace('meta', Buffer.from('new content'));
      const created = await storage.open('fresh', { create: true, size: 4096 });
      await created.write(0, Buffer.from('unflushed'));
      storage.crash(seed);
      assert.deepEqual(await storage.readAll('meta'), Buffer.from('new content'));
      assert.equal(await storage.exists('fresh'), true);
      const reopened = await storage.open('fresh');
      assert.equal(await reopened.size(), 4096);
    }
  });

  it('survives a crash after flush, trim and resize of a big sparse file without blowing up memory', async () => {
    const storage = new MemoryStorage();
    const file = await storage.open('big', { create: true, size: 2 ** 40 });
    await file.write(2 ** 39, Buffer.alloc(4096, 9));
    await file.flush();
    await file.trim(0, 2 ** 39 + 1024);
    await file.resize(2 ** 41);
    storage.crash(3);
    const reopened = await storage.open('big');
    const size = await reopened.size();
    assert.ok(size === 2 ** 40 || size === 2 ** 41);
    const block = await reopened.read(2 ** 39, 4096);
    assert.ok(block.equals(Buffer.alloc(4096, 9)) || block.equals(Buffer.concat([Buffer.alloc(1024), Buffer.alloc(3072, 9)])));
    assert.ok(storage.usedBytes() <= 64 * 1024);
  });

  it('refuses writes past its capacity and changes nothing', async () => {
    const storage = new MemoryStorage({ capacityBytes: 256 * 1024 });
    const file = await storage.open('f', { create: true });
    const first = seededRandom(5).bytes(192 * 1024);
    await file.write(0, first);
    const used = storage.usedBytes();
    assert.equal(used, 192 * 1024);
    assert.deepEqual(await storage.capacity(), { totalBytes: 256 * 1024, freeBytes: 64 * 1024 });
    const isFull = (error: unknown): boolean => error instanceof StorageError && error.reason === 'full' && error.code === 'STORAGE_FULL';
    await assert.rejects(file.write(1024 * 1024, Buffer.alloc(128 * 1024, 1)), isFull);
    await assert.rejects(file.write(100_000, [Buffer.alloc(100_000, 1), Buffer.alloc(100_000, 2)]), isFull);
    await assert.rejects(storage.replace('other', Buffer.alloc(100 * 1024)), isFull);
    assert.equal(await file.size(), first.length);
    assert.deepEqual(await file.read(0, first.length), first);
    assert.equal(storage.usedBytes(), used);
    assert.equal(await storage.exists('other'), false);
    // Overwriting held bytes needs no room, and trimming gives room back.
    await file.write(0, Buffer.alloc(64 * 1024, 3));
    await file.trim(0, 128 * 1024);
    assert.equal(storage.usedBytes(), 64 * 1024);
    await file.write(1024 * 1024, Buffer.alloc(128 * 1024, 1));
  });

  it('counts small files at a few KiB, not a whole chunk', async () => {
    const storage = new MemoryStorage();
    for (let i = 0; i < 10; i++) await storage.replace(`m/${i}`, Buffer.from(`{"i":${i}}`));
    assert.ok(storage.usedBytes() <= 10 * 4096);
  });
});
