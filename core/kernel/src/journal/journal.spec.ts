import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { VirtualClock } from '../clock.js';
import {
  AlignmentError, StorageError, CheckpointNotFoundError, CheckpointTrimmedError, JournalFullError, JournalHistoryFloorError, SequenceError,
  UnknownVolumeError, ValidationError, VolumeRangeError,
} from '../errors.js';
import type { Checkpoint, SequencedWrite } from '../model.js';
import { seededRandom, type Random } from '../random.js';
import { LocalFileStorage } from '../storage/local-file-storage.js';
import { MemoryStorage } from '../storage/memory-storage.js';
import type { StorageAdapter, StoredFile } from '../ports/storage-adapter.js';
import { Journal, type JournalOptions } from './journal.js';

const MiB = 1024 * 1024;
const VOLUMES = [
  { id: 'disk-a', sizeBytes: 2 * MiB, sectorSize: 512 },
  { id: 'disk-b', sizeBytes: 1 * MiB, sectorSize: 4096 },
];

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** The oracle: plain buffers with every write applied in order, snapshotted at each checkpoint. */
class Model {
  readonly volumes = new Map(VOLUMES.map((v) => [v.id, Buffer.alloc(v.sizeBytes)]));
  readonly snapshots = new Map<string, Map<string, string>>();
  apply(w: SequencedWrite): void {
    w.data.copy(this.volumes.get(w.volumeId)!, w.offset);
  }
  snapshot(id: string): void {
    this.snapshots.set(id, new Map([...this.volumes].map(([k, v]) => [k, sha(v)])));
  }
}

interface Rig {
  clock: VirtualClock;
  storage: StorageAdapter;
  journal: Journal;
  model: Model;
  seq: number;
  cps: number;
  options: JournalOptions;
}

async function rig(overrides: Partial<JournalOptions> = {}, storage: StorageAdapter = new MemoryStorage()): Promise<Rig> {
  const clock = new VirtualClock();
  const options: JournalOptions = {
    storage, clock, path: 'journals/vm-1', vmId: 'vm-1', volumes: VOLUMES,
    historyMs: 3_600_000, hardLimitBytes: 256 * MiB, warningBytes: 200 * MiB, ...overrides,
  };
  return { clock, storage, journal: await Journal.open(options), model: new Model(), seq: 0, cps: 0, options };
}

function randomWrite(r: Rig, rnd: Random, maxSectors = 32): SequencedWrite {
  const v = rnd.pick(VOLUMES);
  const sectors = rnd.int(1, Math.min(maxSectors, v.sizeBytes / v.sectorSize));
  const length = sectors * v.sectorSize;
  const offset = rnd.int(0, (v.sizeBytes - length) / v.sectorSize) * v.sectorSize;
  return { volumeId: v.id, offset, data: rnd.bytes(length), seq: ++r.seq };
}

async function write(r: Rig, w: SequencedWrite): Promise<void> {
  await r.journal.append(w);
  r.model.apply(w);
}

async function checkpoint(r: Rig, kind: Checkpoint['kind'] = 'auto', tag?: string): Promise<Checkpoint> {
  const cp: Checkpoint = { id: `cp-${++r.cps}`, groupId: 'g-1', seq: r.seq, timestamp: r.clock.now(), kind, tag };
  await r.journal.addCheckpoint(cp);
  r.model.snapshot(cp.id);
  return cp;
}

async function assertImageMatches(r: Rig, cpId: string): Promise<void> {
  const image = await r.journal.openImage(cpId);
  try {
    for (const v of VOLUMES) {
      const got = await image.read(v.id, 0, v.sizeBytes);
      assert.equal(sha(got), r.model.snapshots.get(cpId)!.get(v.id), `volume ${v.id} at ${cpId}`);
    }
  } finally {
    image.close();
  }
}

/** Passes everything through, but fails every write after the next `n` (for in-flight failure tests). */
class FailingStorage implements StorageAdapter {
  readonly kind = 'failing';
  private budget: number | undefined;
  constructor(private readonly inner: StorageAdapter) {}
  failWritesAfter(n: number | undefined): void {
    this.budget = n;
  }
  capacity(): ReturnType<StorageAdapter['capacity']> { return this.inner.capacity(); }
  exists(name: string): Promise<boolean> { return this.inner.exists(name); }
  list(prefix: string): Promise<string[]> { return this.inner.list(prefix); }
  delete(name: string): Promise<void> { return this.inner.delete(name); }
  replace(name: string, data: Buffer): Promise<void> { return this.inner.replace(name, data); }
  readAll(name: string): Promise<Buffer | undefined> { return this.inner.readAll(name); }
  async open(name: string, options?: { create?: boolean; size?: number }): Promise<StoredFile> {
    const file = await this.inner.open(name, options);
    const writeThrough = file.write.bind(file);
    file.write = async (offset, data) => {
      if (this.budget !== undefined && this.budget-- <= 0) throw new StorageError(`injected write failure on ${name}`);
      return writeThrough(offset, data);
    };
    return file;
  }
}

describe('Journal', () => {
  it('J1: every checkpoint image equals the writes up to it, later writes winning', async () => {
    const r = await rig();
    const rnd = seededRandom(1);
    for (let i = 0; i < 600; i++) {
      await write(r, randomWrite(r, rnd));
      if (i % 50 === 49) await checkpoint(r);
    }
    assert.equal(r.journal.checkpoints().length, 12);
    for (const cp of r.journal.checkpoints()) await assertImageMatches(r, cp.id);
  });

  it('J1: unaligned and partial reads return the same bytes as whole-volume reads', async () => {
    const r = await rig({ indexBlockBytes: 4096 });
    const rnd = seededRandom(2);
    for (let i = 0; i < 300; i++) await write(r, randomWrite(r, rnd, 9));
    const cp = await checkpoint(r);
    const image = await r.journal.openImage(cp.id);
    const whole = r.model.volumes.get('disk-a')!;
    for (let i = 0; i < 200; i++) {
      const offset = rnd.int(0, whole.length - 1);
      const length = rnd.int(0, Math.min(70_000, whole.length - offset));
      assert.ok((await image.read('disk-a', offset, length)).equals(whole.subarray(offset, offset + length)), `read ${offset}+${length}`);
    }
  });

  it('J1 property: any sequence of writes and checkpoints reads back exactly (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ sector: fc.nat(4095), sectors: fc.integer({ min: 1, max: 24 }), byte: fc.nat(255), cp: fc.boolean() }), { minLength: 1, maxLength: 60 }),
        async (ops) => {
          const r = await rig({ indexBlockBytes: 2048 });
          for (const op of ops) {
            const sectors = Math.min(op.sectors, 4096 - op.sector);
            await write(r, { volumeId: 'disk-a', offset: op.sector * 512, data: Buffer.alloc(sectors * 512, op.byte), seq: ++r.seq });
            if (op.cp) await checkpoint(r);
          }
          await checkpoint(r);
          for (const cp of r.journal.checkpoints()) await assertImageMatches(r, cp.id);
        },
      ),
      { numRuns: 40, seed: 7 },
    );
  });

  it('appendMany writes a batch in one go and orders it like single appends', async () => {
    const r = await rig();
    const rnd = seededRandom(3);
    const batch = Array.from({ length: 100 }, () => randomWrite(r, rnd));
    await r.journal.appendMany(batch);
    batch.forEach((w) => r.model.apply(w));
    const cp = await checkpoint(r);
    await assertImageMatches(r, cp.id);
    assert.equal(r.journal.lastSeq, r.seq);
  });

  it('J4: trims checkpoints past the history window within a second, promoting their writes into the replica', async () => {
    const r = await rig({ historyMs: 60_000 });
    const rnd = seededRandom(4);
    const trims: number[] = [];
    r.journal.on('trimmed', (e) => trims.push(e.checkpoints.length));
    for (let t = 0; t < 40; t++) {
      for (let i = 0; i < 10; i++) await write(r, randomWrite(r, rnd));
      await checkpoint(r);
      await r.clock.advance(5000);
    }
    const now = r.clock.now();
    const cps = r.journal.checkpoints();
    // Oldest retained is inside the window; the one trimmed just before it had left it by < 1 s of slack.
    assert.ok(cps[0].timestamp >= now - 60_000, 'oldest retained checkpoint is inside the history window');
    assert.ok(cps[0].timestamp - 5000 < now - 60_000 + 1000 || cps.length >= 12, 'no checkpoint kept longer than a second past expiry');
    assert.ok(trims.length > 0);
    assert.equal(cps.length, 12);
    for (const cp of cps) await assertImageMatches(r, cp.id);
    // Promotion: the replica alone now holds the image at the oldest retained checkpoint.
    const stats = r.journal.stats();
    assert.equal(stats.promotedSeq, cps[0].seq);
    const replica = await r.storage.open('journals/vm-1/replica/disk-a.img');
    assert.equal(sha(await replica.read(0, VOLUMES[0].sizeBytes)), r.model.snapshots.get(cps[0].id)!.get('disk-a'));
    await assert.rejects(r.journal.openImage('cp-1'), CheckpointTrimmedError);
    assert.equal(stats.historyStatus, 'ok');
  });

  it('J4: keeps the newest checkpoint even when every checkpoint is older than the history', async () => {
    const r = await rig({ historyMs: 10_000 });
    const rnd = seededRandom(5);
    for (let i = 0; i < 3; i++) {
      await write(r, randomWrite(r, rnd));
      await checkpoint(r);
    }
    await r.clock.advance(60_000);
    assert.deepEqual(r.journal.checkpoints().map((c) => c.id), ['cp-3']);
    await assertImageMatches(r, 'cp-3');
    assert.equal(r.journal.stats().actualHistoryMs, 60_000);
  });

  it('J7: an open image pins its checkpoint against trimming and reads stay exact while writes continue', async () => {
    const r = await rig({ historyMs: 10_000 });
    const rnd = seededRandom(6);
    for (let i = 0; i < 20; i++) await write(r, randomWrite(r, rnd));
    const first = await checkpoint(r);
    const image = await r.journal.openImage(first.id);
    for (let t = 0; t < 10; t++) {
      for (let i = 0; i < 20; i++) await write(r, randomWrite(r, rnd));
      await checkpoint(r);
      await r.clock.advance(5000);
    }
    assert.equal(r.journal.checkpoints()[0].id, first.id, 'pinned checkpoint still retained');
    for (const v of VOLUMES) assert.equal(sha(await image.read(v.id, 0, v.sizeBytes)), r.model.snapshots.get(first.id)!.get(v.id));
    image.close();
    await r.clock.advance(1);
    assert.notEqual(r.journal.checkpoints()[0].id, first.id, 'trimmed once unpinned');
    for (const cp of r.journal.checkpoints()) await assertImageMatches(r, cp.id);
  });

  it('an image lists its journaled extents: outside them it equals the replica, and promoted writes leave the list', async () => {
    const r = await rig({ historyMs: 10_000 });
    const rnd = seededRandom(61);
    for (let i = 0; i < 30; i++) await write(r, randomWrite(r, rnd));
    await checkpoint(r);
    await r.clock.advance(11_000);
    for (let i = 0; i < 25; i++) await write(r, randomWrite(r, rnd));
    const middle = await checkpoint(r);
    const later: SequencedWrite[] = [];
    for (let i = 0; i < 25; i++) {
      const w = randomWrite(r, rnd);
      later.push(w);
      await write(r, w);
    }
    const cp = await checkpoint(r);
    await r.clock.advance(1);
    // The first checkpoint expired: everything up to `middle` is promoted into the replica, the rest is journaled.
    assert.deepEqual(r.journal.checkpoints().map((c) => c.id), [middle.id, cp.id]);
    const image = await r.journal.openImage(cp.id);
    for (const v of VOLUMES) {
      const extents = image.journaledExtents(v.id);
      assert.deepEqual(extents, later.filter((w) => w.volumeId === v.id).map((w) => ({ offset: w.offset, length: w.data.length })));
      const replica = await r.storage.open(`journals/vm-1/replica/${v.id}.img`);
      const whole = await image.read(v.id, 0, v.sizeBytes);
      const base = await replica.read(0, v.sizeBytes);
      for (const e of extents) {
        base.fill(0, e.offset, e.offset + e.length);
        whole.fill(0, e.offset, e.offset + e.length);
      }
      assert.equal(sha(whole), sha(base), `volume ${v.id}: the image equals the replica outside the journaled extents`);
      await replica.close();
    }
    image.close();
    assert.throws(() => image.journaledExtents('disk-a'), /closed/);
  });

  it('J5: stays under the hard limit by promoting the oldest checkpoints, and warns past the threshold', async () => {
    const hard = 4 * MiB;
    const r = await rig({ hardLimitBytes: hard, warningBytes: 3 * MiB });
    const rnd = seededRandom(8);
    let warnings = 0;
    r.journal.on('warning', () => warnings++);
    let peak = 0;
    for (let t = 0; t < 60; t++) {
      for (let i = 0; i < 20; i++) {
        await write(r, randomWrite(r, rnd, 16));
        peak = Math.max(peak, r.journal.stats().usedBytes);
      }
      await checkpoint(r);
      await r.clock.advance(1000);
    }
    assert.ok(peak <= hard, `peak ${peak} ≤ hard limit ${hard}`);
    assert.ok(warnings >= 1, 'warning threshold event raised');
    assert.ok(r.journal.checkpoints().length < 60, 'oldest checkpoints were trimmed for space');
    for (const cp of r.journal.checkpoints()) await assertImageMatches(r, cp.id);
  });

  it('J5: refuses a write that cannot fit without a checkpoint to promote, changing nothing', async () => {
    const r = await rig({ hardLimitBytes: 1 * MiB, warningBytes: 512 * 1024 });
    const rnd = seededRandom(9);
    let refused: unknown;
    for (let i = 0; i < 200 && !refused; i++) {
      const w = randomWrite(r, rnd, 64);
      try {
        await write(r, w);
      } catch (e) {
        refused = e;
        r.seq--;
      }
    }
    assert.ok(refused instanceof JournalFullError, `got ${String(refused)}`);
    const before = r.journal.stats();
    await assert.rejects(r.journal.append({ volumeId: 'disk-a', offset: 0, data: Buffer.alloc(64 * 512), seq: r.seq + 1 }), JournalFullError);
    assert.deepEqual(r.journal.stats(), before);
    // A checkpoint still fits (markers are small) once something is promotable... here nothing is, so it keeps refusing writes.
  });

  it('reports history SLA figures against the history the journal could have by now', async () => {
    const r = await rig({ historyMs: 100_000, autoTrim: false });
    await write(r, randomWrite(r, seededRandom(10)));
    await checkpoint(r);
    await r.clock.advance(1);
    assert.equal(r.journal.stats().historyStatus, 'ok', 'a brand-new journal is not short of history');
    await r.clock.advance(49_999);
    let s = r.journal.stats();
    assert.equal(s.actualHistoryMs, 50_000);
    assert.equal(s.historyStatus, 'ok', 'a young journal meets the history it could have');
    await r.clock.advance(60_000);
    await checkpoint(r);
    await r.journal.trim();
    s = r.journal.stats();
    assert.equal(s.configuredHistoryMs, 100_000);
    assert.equal(s.checkpointCount, 1);
    assert.equal(s.actualHistoryMs, 0);
    assert.equal(s.historyStatus, 'error');
  });

  describe('S6: making room for a sync', () => {
    const floor = { keepHistoryMs: 10 * 60_000 };
    /** A 1 MiB journal with a checkpoint every minute for `minutes` minutes, a few writes each. */
    async function withHistory(minutes: number): Promise<Rig> {
      const r = await rig({ hardLimitBytes: 1 * MiB, warningBytes: 1 * MiB });
      const rnd = seededRandom(21);
      for (let m = 0; m < minutes; m++) {
        for (let i = 0; i < 4; i++) await write(r, randomWrite(r, rnd, 8));
        await checkpoint(r);
        await r.clock.advance(60_000);
      }
      return r;
    }
    const big = (r: Rig, rnd: Random): SequencedWrite => ({ volumeId: 'disk-a', offset: rnd.int(0, 31) * 64 * 1024, data: rnd.bytes(64 * 1024), seq: ++r.seq });

    it('trims only while the floor of history remains, then refuses with JournalHistoryFloorError and changes nothing', async () => {
      const r = await withHistory(15);
      const rnd = seededRandom(22);
      const before = r.journal.checkpoints();
      let refused: unknown;
      for (let i = 0; i < 40 && !refused; i++) {
        const w = big(r, rnd);
        try {
          await r.journal.appendMany([w], { makeRoom: floor });
          r.model.apply(w);
        } catch (e) {
          refused = e;
          r.seq--;
        }
      }
      assert.ok(refused instanceof JournalHistoryFloorError, `got ${String(refused)}`);
      const kept = r.journal.checkpoints();
      assert.ok(kept.length < before.length, 'older checkpoints were trimmed first');
      assert.ok(r.clock.now() - kept[0].timestamp >= floor.keepHistoryMs, 'ten minutes of checkpoints remain');
      assert.equal(kept.at(-1)!.id, before.at(-1)!.id, 'the newest checkpoint stays');
      const stats = r.journal.stats();
      await assert.rejects(r.journal.appendMany([big(r, rnd)], { makeRoom: floor }), JournalHistoryFloorError);
      r.seq--;
      assert.deepEqual(r.journal.stats(), stats);
      for (const cp of kept) await assertImageMatches(r, cp.id);
    });

    it('drop-recovery-points: promotes everything when it must, nothing acknowledged is lost, and reopening never lists a dropped checkpoint', async () => {
      const r = await withHistory(5);
      const rnd = seededRandom(23);
      const dropped = r.journal.checkpoints();
      // Twice the journal's size after its newest checkpoint.
      for (let i = 0; i < 32; i++) {
        const w = big(r, rnd);
        await r.journal.appendMany([w], { makeRoom: 'drop-recovery-points' });
        r.model.apply(w);
        assert.ok(r.journal.stats().usedBytes <= 1 * MiB);
      }
      assert.equal(r.journal.checkpoints().length, 0, 'every recovery point was dropped');
      assert.throws(() => r.journal.getCheckpoint(dropped[0].id), CheckpointTrimmedError);
      const cp = await checkpoint(r);
      await assertImageMatches(r, cp.id);
      await r.journal.close();
      r.journal = await Journal.open(r.options);
      assert.deepEqual(r.journal.checkpoints().map((c) => c.id), [cp.id], 'only the checkpoint cut after the drop is listed');
      await assertImageMatches(r, cp.id);
    });

    it('a sync into a journal without checkpoints promotes freely; a plain append still refuses', async () => {
      const r = await rig({ hardLimitBytes: 1 * MiB, warningBytes: 1 * MiB });
      const rnd = seededRandom(24);
      for (let i = 0; i < 40; i++) {
        const w = big(r, rnd);
        await r.journal.appendMany([w], { makeRoom: floor });
        r.model.apply(w);
      }
      let refused: unknown;
      for (let i = 0; i < 40 && !refused; i++) {
        const w = big(r, rnd);
        try {
          await r.journal.append(w);
          r.model.apply(w);
        } catch (e) {
          refused = e;
          r.seq--;
        }
      }
      assert.ok(refused instanceof JournalFullError, `a plain append refuses (got ${String(refused)})`);
      const cp = await checkpoint(r);
      await assertImageMatches(r, cp.id);
    });

    it('reopening after a drop never lists a dropped checkpoint whose marker is still on storage', async () => {
      // Segment deletions that never happen (a crash right after the drop was recorded).
      const inner = new MemoryStorage();
      const keep: StorageAdapter = Object.assign(Object.create(inner) as StorageAdapter, { delete: async (): Promise<void> => undefined });
      const r = await rig({ hardLimitBytes: 1 * MiB, warningBytes: 1 * MiB }, keep);
      const rnd = seededRandom(25);
      for (let m = 0; m < 3; m++) {
        await write(r, randomWrite(r, rnd, 8));
        await checkpoint(r);
      }
      const dropped = r.journal.checkpoints().map((c) => c.id);
      await r.journal.dropRecoveryPoints();
      await write(r, randomWrite(r, rnd, 8));
      const cp = await checkpoint(r);
      const again = await Journal.open({ ...r.options, storage: keep });
      assert.deepEqual(again.checkpoints().map((c) => c.id), [cp.id], `only ${cp.id} is listed, not the dropped ${dropped.join(', ')}`);
      r.journal = again;
      await assertImageMatches(r, cp.id);
    });

    it('dropRecoveryPoints refuses while an image is open', async () => {
      const r = await withHistory(2);
      const image = await r.journal.openImage(r.journal.checkpoints()[0].id);
      await assert.rejects(r.journal.dropRecoveryPoints(), ValidationError);
      image.close();
      const event = await r.journal.dropRecoveryPoints();
      assert.equal(event.checkpoints.length, 2);
      assert.equal(r.journal.stats().promotedSeq, r.seq);
    });
  });

  describe('bad input changes nothing', () => {
    it('refuses unknown volumes, out-of-range and unaligned writes, backward sequence numbers', async () => {
      const r = await rig();
      await write(r, randomWrite(r, seededRandom(11)));
      const cp = await checkpoint(r);
      const before = r.journal.stats();
      const cases: [SequencedWrite, new (...a: never[]) => Error][] = [
        [{ volumeId: 'nope', offset: 0, data: Buffer.alloc(512), seq: r.seq + 1 }, UnknownVolumeError],
        [{ volumeId: 'disk-a', offset: 2 * MiB - 512, data: Buffer.alloc(1024), seq: r.seq + 1 }, VolumeRangeError],
        [{ volumeId: 'disk-a', offset: -512, data: Buffer.alloc(512), seq: r.seq + 1 }, VolumeRangeError],
        [{ volumeId: 'disk-a', offset: 100, data: Buffer.alloc(512), seq: r.seq + 1 }, AlignmentError],
        [{ volumeId: 'disk-b', offset: 512, data: Buffer.alloc(4096), seq: r.seq + 1 }, AlignmentError],
        [{ volumeId: 'disk-a', offset: 0, data: Buffer.alloc(0), seq: r.seq + 1 }, AlignmentError],
        [{ volumeId: 'disk-a', offset: 0, data: Buffer.alloc(512), seq: r.seq }, SequenceError],
      ];
      for (const [w, type] of cases) await assert.rejects(r.journal.append(w), type);
      // A bad write in a batch rejects the whole batch.
      await assert.rejects(r.journal.appendMany([{ volumeId: 'disk-a', offset: 0, data: Buffer.alloc(512, 1), seq: r.seq + 1 }, cases[0][0]]), UnknownVolumeError);
      assert.deepEqual(r.journal.stats(), before);
      await assertImageMatches(r, cp.id);
    });

    it('refuses unknown, trimmed, duplicate and malformed checkpoints', async () => {
      const r = await rig({ historyMs: 1000 });
      await write(r, randomWrite(r, seededRandom(12)));
      await checkpoint(r);
      await r.clock.advance(2000);
      await write(r, randomWrite(r, seededRandom(13)));
      await checkpoint(r);
      await r.clock.advance(10);
      assert.throws(() => r.journal.getCheckpoint('cp-1'), CheckpointTrimmedError);
      await assert.rejects(r.journal.openImage('cp-404'), CheckpointNotFoundError);
      await assert.rejects(r.journal.addCheckpoint({ id: 'cp-2', groupId: 'g-1', seq: r.seq, timestamp: 0, kind: 'auto' }), ValidationError);
      await assert.rejects(r.journal.addCheckpoint({ id: 'cp-x', groupId: 'g-1', seq: r.seq - 1, timestamp: 0, kind: 'auto' }), SequenceError);
      await assert.rejects(r.journal.addCheckpoint({ id: 'cp-y', groupId: 'g-1', seq: r.seq, timestamp: 0, kind: 'weird' as 'auto' }), ValidationError);
      assert.deepEqual(r.journal.checkpoints().map((c) => c.id), ['cp-2']);
    });

    it('refuses invalid options', async () => {
      await assert.rejects(rig({ hardLimitBytes: 0 }), ValidationError);
      await assert.rejects(rig({ warningBytes: 300 * MiB }), ValidationError);
      await assert.rejects(rig({ path: '../escape' }), ValidationError);
      await assert.rejects(rig({ volumes: [{ id: 'x', sizeBytes: 1000, sectorSize: 512 }] }), ValidationError);
    });
  });

  describe('J6 durability and recovery', () => {
    it('listed checkpoints survive a crash that loses or tears unflushed writes, for many crash points', async () => {
      for (let seed = 1; seed <= 40; seed++) {
        const storage = new MemoryStorage();
        const r = await rig({ segmentBytes: 256 * 1024 }, storage);
        const rnd = seededRandom(seed * 31);
        const listed: string[] = [];
        const steps = rnd.int(5, 40);
        for (let i = 0; i < steps; i++) {
          await write(r, randomWrite(r, rnd));
          if (rnd.int(0, 4) === 0) listed.push((await checkpoint(r)).id);
        }
        storage.crash(seed);
        const journal = await Journal.open({ ...r.options, storage });
        r.journal = journal;
        const ids = journal.checkpoints().map((c) => c.id);
        assert.deepEqual(ids, listed, `seed ${seed}: exactly the durable checkpoints are listed`);
        for (const id of ids) await assertImageMatches(r, id);
        assert.equal(journal.damage, undefined, `seed ${seed}: a torn tail is not damage`);
        // Keeps accepting writes after the last durable position.
        assert.ok(journal.lastSeq <= r.seq);
        r.seq = journal.lastSeq;
        const w = randomWrite(r, rnd);
        await journal.append(w);
        await journal.close();
      }
    });

    it('a verifying open reports damage in the middle with file and offset; checkpoints before it still read correctly', async () => {
      const storage = new MemoryStorage();
      const r = await rig({ segmentBytes: 128 * 1024 }, storage);
      const rnd = seededRandom(21);
      for (let t = 0; t < 8; t++) {
        for (let i = 0; i < 10; i++) await write(r, randomWrite(r, rnd, 8));
        await checkpoint(r);
      }
      await r.journal.close();
      const segs = (await storage.list('journals/vm-1/segments/')).filter((n) => n.endsWith('.seg'));
      assert.ok(segs.length >= 3, `several segments (${segs.length})`);
      const victim = segs[1];
      const file = await storage.open(victim);
      const at = 64 + 48 + 100; // inside the first record's payload
      const b = await file.read(at, 1);
      await file.write(at, Buffer.from([b[0] ^ 0xff]));
      await file.flush();
      await file.close();
      const journal = await Journal.open({ ...r.options, storage, verifyPayloads: true });
      assert.ok(journal.damage, 'damage reported');
      assert.equal(journal.damage.file, victim);
      assert.equal(journal.damage.offset, 64);
      assert.match(journal.damage.message, /checksum/);
      r.journal = journal;
      const ids = journal.checkpoints().map((c) => c.id);
      assert.ok(ids.length >= 1 && ids.length < 8, `only checkpoints before the damage (${ids.join(',')})`);
      for (const id of ids) await assertImageMatches(r, id);
      assert.ok((await storage.list('journals/vm-1/damaged/')).length >= 1, 'damaged bytes kept aside');
      // Reopening again is clean: the damage was cut off, not silently re-read.
      await journal.close();
      const again = await Journal.open({ ...r.options, storage });
      assert.equal(again.damage, undefined);
      assert.deepEqual(again.checkpoints().map((c) => c.id), ids);
    });

    it('an open trusts sealed segments\' summaries; scrub finds the damage, unlists what includes it, and the next open cuts there', async () => {
      const storage = new MemoryStorage();
      const r = await rig({ segmentBytes: 128 * 1024 }, storage);
      const rnd = seededRandom(21);
      for (let t = 0; t < 8; t++) {
        for (let i = 0; i < 10; i++) await write(r, randomWrite(r, rnd, 8));
        await checkpoint(r);
      }
      await r.journal.close();
      const segs = await storage.list('journals/vm-1/segments/');
      const seals = segs.filter((n) => n.endsWith('.sum'));
      assert.equal(seals.length, segs.length / 2, `every segment has its summary after a clean close (${segs.join(', ')})`);
      const victim = segs.filter((n) => n.endsWith('.seg'))[1];
      const file = await storage.open(victim);
      const at = 64 + 48 + 100;
      const b = await file.read(at, 1);
      await file.write(at, Buffer.from([b[0] ^ 0xff]));
      await file.flush();
      await file.close();
      const journal = await Journal.open({ ...r.options, storage });
      r.journal = journal;
      assert.equal(journal.damage, undefined, 'the summarised segment was not read at open');
      assert.equal(journal.checkpoints().length, 8);
      const events: Error[] = [];
      journal.on('damage', (e) => events.push(e));
      const found = await journal.scrub();
      assert.ok(found, 'scrub reports the damage');
      assert.equal(found.file, victim);
      assert.equal(found.offset, 64);
      assert.equal(events.length, 1);
      const ids = journal.checkpoints().map((c) => c.id);
      assert.ok(ids.length >= 1 && ids.length < 8, `only checkpoints before the damaged write stay listed (${ids.join(',')})`);
      for (const id of ids) await assertImageMatches(r, id);
      await journal.close();
      const again = await Journal.open({ ...r.options, storage });
      assert.ok(again.damage, 'the open after a scrub found damage reads everything and finds it');
      assert.deepEqual(again.checkpoints().map((c) => c.id), ids);
      await again.close();
      const third = await Journal.open({ ...r.options, storage });
      assert.equal(third.damage, undefined, 'cut off, not found again');
      assert.deepEqual(third.checkpoints().map((c) => c.id), ids);
      r.journal = third;
      for (const id of ids) await assertImageMatches(r, id);
      await third.close();
    });

    it('a missing, torn, corrupt or stale summary makes the open scan that segment: same checkpoints, same images', async () => {
      const spoil: Record<string, (storage: MemoryStorage, name: string) => Promise<void>> = {
        missing: (storage, name) => storage.delete(name),
        torn: async (storage, name) => {
          const f = await storage.open(name);
          await f.resize(Math.floor((await f.size()) / 2));
          await f.flush();
          await f.close();
        },
        'bit flip': async (storage, name) => {
          const f = await storage.open(name);
          const b = await f.read(40, 1);
          await f.write(40, Buffer.from([b[0] ^ 0x10]));
          await f.flush();
          await f.close();
        },
        'other segment': async (storage, name) => {
          // A valid summary, but of another segment (e.g. left over from a segment recovery cut off).
          const other = name.replace(/\d{10}\.sum$/, '0000000001.sum');
          await storage.replace(name, (await storage.readAll(other))!);
        },
      };
      for (const [how, act] of Object.entries(spoil)) {
        const storage = new MemoryStorage();
        const r = await rig({ segmentBytes: 96 * 1024 }, storage);
        const rnd = seededRandom(77);
        for (let t = 0; t < 6; t++) {
          for (let i = 0; i < 12; i++) await write(r, randomWrite(r, rnd, 8));
          await checkpoint(r);
        }
        await r.journal.close();
        const sums = (await storage.list('journals/vm-1/segments/')).filter((n) => n.endsWith('.sum'));
        assert.ok(sums.length >= 3, `${how}: several summaries`);
        const victim = sums[2];
        await act(storage, victim);
        // Damage in the victim's payload is only seen when the segment is scanned: proof that it was.
        const seg = victim.replace(/\.sum$/, '.seg');
        const f = await storage.open(seg);
        const b = await f.read(64 + 48 + 10, 1);
        await f.write(64 + 48 + 10, Buffer.from([b[0] ^ 0xff]));
        await f.flush();
        await f.close();
        const journal = await Journal.open({ ...r.options, storage });
        assert.ok(journal.damage, `${how}: the segment was scanned, and the damage in it found`);
        assert.equal(journal.damage.file, seg);
        r.journal = journal;
        const ids = journal.checkpoints().map((c) => c.id);
        assert.ok(ids.length >= 1, `${how}: checkpoints before the damage are listed`);
        for (const id of ids) await assertImageMatches(r, id);
        await journal.close();
      }
    });

    it('summaries and a full scan rebuild the same journal (checkpoints, figures, images), also after crashes', async () => {
      for (let seed = 1; seed <= 12; seed++) {
        const storage = new MemoryStorage();
        const r = await rig({ segmentBytes: 64 * 1024 }, storage);
        const rnd = seededRandom(seed * 7);
        for (let i = 0; i < 60; i++) {
          await write(r, randomWrite(r, rnd, 16));
          if (rnd.int(0, 5) === 0) await checkpoint(r);
        }
        await checkpoint(r);
        if (seed % 2 === 0) await r.journal.close();
        else {
          await r.journal.idle();
          storage.crash(seed);
        }
        const fast = await Journal.open({ ...r.options, storage });
        const fastView = { cps: fast.checkpoints(), stats: fast.stats(), damage: fast.damage };
        r.journal = fast;
        for (const cp of fastView.cps) await assertImageMatches(r, cp.id);
        await fast.close();
        const slow = await Journal.open({ ...r.options, storage, verifyPayloads: true });
        assert.deepEqual(slow.checkpoints(), fastView.cps, `seed ${seed}: checkpoints`);
        const { segments: _s1, usedBytes: _u1, ...slowStats } = slow.stats();
        const { segments: _s2, usedBytes: _u2, ...fastStats } = fastView.stats;
        assert.deepEqual(slowStats, fastStats, `seed ${seed}: figures`);
        assert.equal(slow.damage, undefined);
        assert.equal(fastView.damage, undefined);
        r.journal = slow;
        for (const cp of fastView.cps) await assertImageMatches(r, cp.id);
        await slow.close();
      }
    });

    it('finishes an interrupted promotion on reopen', async () => {
      const storage = new MemoryStorage();
      const r = await rig({ historyMs: 10_000, segmentBytes: 64 * 1024 }, storage);
      const rnd = seededRandom(22);
      for (let t = 0; t < 10; t++) {
        for (let i = 0; i < 10; i++) await write(r, randomWrite(r, rnd, 8));
        await checkpoint(r);
        await r.clock.advance(2000);
      }
      storage.crash(99);
      const journal = await Journal.open({ ...r.options, storage });
      r.journal = journal;
      assert.ok(journal.checkpoints().length >= 1);
      for (const cp of journal.checkpoints()) await assertImageMatches(r, cp.id);
    });
  });

  it('a write failing while others are in flight fails those after it too, and the log stays a clean prefix', async () => {
    const storage = new FailingStorage(new MemoryStorage());
    const r = await rig({}, storage);
    const rnd = seededRandom(24);
    for (let i = 0; i < 5; i++) await write(r, randomWrite(r, rnd));
    const cp = await checkpoint(r);
    storage.failWritesAfter(3);
    const batch = Array.from({ length: 10 }, () => randomWrite(r, rnd));
    const results = await Promise.allSettled(batch.map((w) => r.journal.append(w)));
    assert.deepEqual(results.map((x) => x.status), [...Array(3).fill('fulfilled'), ...Array(7).fill('rejected')]);
    batch.slice(0, 3).forEach((w) => r.model.apply(w));
    assert.equal(r.journal.lastSeq, batch[2].seq, 'only the writes before the failure are in the journal');
    storage.failWritesAfter(undefined);
    r.seq = r.journal.lastSeq;
    await write(r, randomWrite(r, rnd));
    const after = await checkpoint(r);
    await assertImageMatches(r, cp.id);
    await assertImageMatches(r, after.id);
    await r.journal.close();
    r.journal = await Journal.open(r.options);
    assert.equal(r.journal.damage, undefined);
    await assertImageMatches(r, after.id);
  });

  it('works the same on local sparse files, across close and reopen', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ocdp-journal-'));
    try {
      const storage = new LocalFileStorage(dir);
      const r = await rig({ historyMs: 20_000, segmentBytes: 256 * 1024 }, storage);
      const rnd = seededRandom(23);
      for (let t = 0; t < 12; t++) {
        for (let i = 0; i < 15; i++) await write(r, randomWrite(r, rnd));
        await checkpoint(r, t === 3 ? 'tagged' : 'auto', t === 3 ? 'before-upgrade' : undefined);
        await r.clock.advance(3000);
      }
      await r.journal.idle();
      const listed = r.journal.checkpoints();
      await r.journal.close();
      r.journal = await Journal.open(r.options);
      assert.deepEqual(r.journal.checkpoints().map((c) => c.id), listed.map((c) => c.id));
      assert.deepEqual(r.journal.checkpoints(), listed);
      for (const cp of listed) await assertImageMatches(r, cp.id);
      await r.journal.close();
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
