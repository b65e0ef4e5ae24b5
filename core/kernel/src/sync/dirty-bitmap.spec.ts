import assert from 'node:assert/strict';
import fc from 'fast-check';
import { UnknownVolumeError, ValidationError, VolumeRangeError } from '../errors.js';
import { seededRandom } from '../random.js';
import { DirtyBitmap, type DirtyRegion, type DirtyVolume } from './dirty-bitmap.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;

interface Mark {
  volume: number;
  offset: number;
  length: number;
}

/** Regions are sorted by volume (in the order given) then offset, disjoint, not touching, inside their volume. */
function assertWellFormed(regions: DirtyRegion[], volumes: readonly DirtyVolume[]): void {
  const order = new Map(volumes.map((v, i) => [v.id, i]));
  for (const r of regions) {
    const v = volumes[order.get(r.volumeId)!];
    assert.ok(v, `unknown volume ${r.volumeId}`);
    assert.ok(r.length > 0 && r.offset >= 0 && r.offset + r.length <= v.sizeBytes, `region out of its volume: ${JSON.stringify(r)}`);
  }
  for (let i = 1; i < regions.length; i++) {
    const a = regions[i - 1];
    const b = regions[i];
    const va = order.get(a.volumeId)!;
    const vb = order.get(b.volumeId)!;
    assert.ok(va < vb || (va === vb && a.offset + a.length < b.offset), `regions out of order or not coalesced: ${JSON.stringify([a, b])}`);
  }
}

/** Every marked byte lies inside a region. */
function assertCovers(regions: DirtyRegion[], volumes: readonly DirtyVolume[], marks: readonly Mark[]): void {
  for (let vi = 0; vi < volumes.length; vi++) {
    const rs = regions.filter((r) => r.volumeId === volumes[vi].id);
    for (const m of marks) {
      if (m.volume !== vi || m.length === 0) continue;
      let lo = 0;
      let hi = rs.length - 1;
      let k = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (rs[mid].offset <= m.offset) {
          k = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      assert.ok(k >= 0 && rs[k].offset + rs[k].length >= m.offset + m.length, `missed ${JSON.stringify(m)} of ${volumes[vi].id}`);
    }
  }
}

const sum = (regions: DirtyRegion[]): number => regions.reduce((s, r) => s + r.length, 0);

/** The exact union of the marks at `unit` granularity, clipped to each volume. */
function exactRegions(volumes: readonly DirtyVolume[], marks: readonly Mark[], unit: number): DirtyRegion[] {
  const out: DirtyRegion[] = [];
  volumes.forEach((v, vi) => {
    const spans = marks
      .filter((m) => m.volume === vi && m.length > 0)
      .map((m) => [Math.floor(m.offset / unit) * unit, Math.min(v.sizeBytes, Math.ceil((m.offset + m.length) / unit) * unit)])
      .sort((a, b) => a[0] - b[0]);
    for (const [s, e] of spans) {
      const last = out[out.length - 1];
      if (last && last.volumeId === v.id && last.offset + last.length >= s) last.length = Math.max(last.length, e - last.offset);
      else out.push({ volumeId: v.id, offset: s, length: e - s });
    }
  });
  return out;
}

describe('DirtyBitmap', () => {
  const arbVolumes = fc.array(fc.oneof(fc.integer({ min: 1, max: 4 * MiB }), fc.integer({ min: 1, max: 64 * GiB })), { minLength: 1, maxLength: 3 })
    .map((sizes) => sizes.map((sizeBytes, i) => ({ id: `disk-${i}`, sizeBytes })));
  /** Marks as fractions of a volume, so they fit whatever size it got; mostly small, some large, some in a hot area. */
  const arbMarks = fc.array(
    fc.record({
      volume: fc.nat(),
      where: fc.double({ min: 0, max: 1, noNaN: true }),
      hot: fc.boolean(),
      size: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 64 * KiB }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 256 * MiB }) }),
    }),
    { maxLength: 600 },
  );

  /** Marks from a seed: mostly small, some large, a share of them in a hot 8 MiB area of each volume. */
  function seededMarks(volumes: readonly DirtyVolume[], seed: number, count: number, hotShare: number): Mark[] {
    const rnd = seededRandom(seed);
    const hot = volumes.map((v) => rnd.int(0, Math.max(0, v.sizeBytes - 8 * MiB)));
    return Array.from({ length: count }, () => {
      const volume = rnd.int(0, volumes.length - 1);
      const size = volumes[volume].sizeBytes;
      const offset = rnd.next() < hotShare ? Math.min(size - 1, hot[volume] + rnd.int(0, 8 * MiB)) : rnd.int(0, size - 1);
      const want = rnd.next() < 0.02 ? rnd.int(0, 256 * MiB) : rnd.int(0, 64 * KiB);
      return { volume, offset, length: Math.min(size - offset, want) };
    });
  }

  it('never misses a marked byte and stays within its budget at every step (property)', () => {
    let coarsened = 0;
    fc.assert(
      fc.property(
        arbVolumes, fc.integer(), fc.integer({ min: 0, max: 3000 }), fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 24 * KiB }), fc.constantFrom(1, 512, 4096, 1000),
        (volumes, seed, count, hotShare, extra, unit) => {
          const budgetBytes = DirtyBitmap.minimumBudget + extra;
          const bitmap = new DirtyBitmap({ budgetBytes, volumes, minGranularity: unit });
          const marks = seededMarks(volumes, seed, count, hotShare);
          for (const m of marks) {
            bitmap.mark(volumes[m.volume].id, m.offset, m.length);
            assert.ok(bitmap.memoryBytes <= budgetBytes, `memory ${bitmap.memoryBytes} > budget ${budgetBytes}`);
          }
          assert.ok(bitmap.peakMemoryBytes <= budgetBytes);
          const regions = bitmap.regions();
          assertWellFormed(regions, volumes);
          assertCovers(regions, volumes, marks);
          assert.equal(bitmap.dirtyBytes, sum(regions));
          assert.equal(bitmap.isEmpty, regions.length === 0);
          if (bitmap.dirtyBytes > sum(exactRegions(volumes, marks, unit))) coarsened++;
        },
      ),
      { numRuns: 150, seed: 20260101 },
    );
    assert.ok(coarsened >= 20, `only ${coarsened} runs lost resolution; the property should exercise that`);
  });

  it('is exact (at its granularity) while the set fits the budget', () => {
    fc.assert(
      fc.property(arbVolumes, arbMarks, (volumes, raw) => {
        const bitmap = new DirtyBitmap({ budgetBytes: 4 * MiB, volumes, minGranularity: 512 });
        const marks = raw.map((r) => {
          const volume = r.volume % volumes.length;
          const size = volumes[volume].sizeBytes;
          const offset = Math.min(size - 1, Math.floor(r.where * size));
          return { volume, offset, length: Math.min(size - offset, r.size) };
        });
        for (const m of marks) bitmap.mark(volumes[m.volume].id, m.offset, m.length);
        assert.deepEqual(bitmap.regions(), exactRegions(volumes, marks, 512));
      }),
      { numRuns: 60, seed: 7 },
    );
  });

  it('loses resolution gracefully under pressure: skewed writes on 1 TiB in 64 KiB', () => {
    const volumes = [{ id: 'big', sizeBytes: TiB }];
    const bitmap = new DirtyBitmap({ budgetBytes: 64 * KiB, volumes });
    const rnd = seededRandom(42);
    const hot = Array.from({ length: 50 }, () => rnd.int(0, TiB / (16 * MiB) - 1) * 16 * MiB);
    const exact = new Set<number>();
    const marks: Mark[] = [];
    for (let i = 0; i < 50_000; i++) {
      const offset = rnd.next() < 0.97 ? hot[Math.floor(50 * rnd.next() ** 3)] + rnd.int(0, 4095) * 4096 : rnd.int(0, TiB / 4096 - 1) * 4096;
      bitmap.mark('big', offset, 4096);
      exact.add(offset);
      marks.push({ volume: 0, offset, length: 4096 });
      assert.ok(bitmap.memoryBytes <= 64 * KiB);
    }
    const regions = bitmap.regions();
    assertWellFormed(regions, volumes);
    assertCovers(regions, volumes, marks);
    const amplification = bitmap.dirtyBytes / (exact.size * 4096);
    assert.ok(amplification >= 1 && amplification < 20, `amplification ${amplification}`);
    // A flat bitmap of the same size would use 2 MiB cells (64 KiB × 8 bits over 1 TiB).
    const flatCells = new Set([...exact].map((o) => Math.floor(o / (2 * MiB))));
    assert.ok(bitmap.dirtyBytes < flatCells.size * 2 * MiB, 'no better than a flat bitmap');
  });

  it('keeps a sequential run as one region in a few bytes', () => {
    const bitmap = new DirtyBitmap({ budgetBytes: 64 * KiB, volumes: [{ id: 'd', sizeBytes: 100 * GiB }] });
    for (let i = 0; i < 100_000; i++) bitmap.mark('d', 10 * GiB + i * 4096, 4096);
    assert.deepEqual(bitmap.regions(), [{ volumeId: 'd', offset: 10 * GiB, length: 100_000 * 4096 }]);
    assert.equal(bitmap.stats.extents, 1);
    assert.ok(bitmap.stats.arenaBytes < 16);
  });

  it('clips to volume ends that are not a multiple of the granularity and keeps volumes apart', () => {
    const volumes = [{ id: 'a', sizeBytes: 10_000 }, { id: 'b', sizeBytes: 5_000 }];
    const bitmap = new DirtyBitmap({ budgetBytes: 64 * KiB, volumes });
    bitmap.mark('a', 9_000, 1_000);
    bitmap.mark('b', 0, 1);
    bitmap.mark('b', 4_999, 1);
    assert.deepEqual(bitmap.regions(), [
      { volumeId: 'a', offset: 8192, length: 10_000 - 8192 },
      { volumeId: 'b', offset: 0, length: 5_000 },
    ]);
    assert.equal(bitmap.dirtyBytes, 10_000 - 8192 + 5_000);
  });

  it('is deterministic, and a saved bitmap restores exactly and then behaves the same', () => {
    const volumes = [{ id: 'a', sizeBytes: 50 * GiB }, { id: 'b', sizeBytes: 3 * GiB + 5 }];
    const run = (seed: number, bitmap: DirtyBitmap, count: number): void => {
      const rnd = seededRandom(seed);
      for (let i = 0; i < count; i++) {
        const v = volumes[rnd.int(0, 1)];
        const offset = rnd.int(0, v.sizeBytes - 1);
        bitmap.mark(v.id, offset, Math.min(v.sizeBytes - offset, rnd.int(1, 3) * 4096));
      }
    };
    const one = new DirtyBitmap({ budgetBytes: 12 * KiB, volumes });
    const two = new DirtyBitmap({ budgetBytes: 12 * KiB, volumes });
    run(1, one, 5_000);
    run(1, two, 5_000);
    assert.deepEqual(one.toJSON(), two.toJSON());
    assert.ok(one.stats.coarsestCellBytes > 4096, 'the test should exercise coarsening');

    const saved = JSON.parse(JSON.stringify(one)) as unknown;
    const restored = DirtyBitmap.fromJSON(saved);
    assert.deepEqual(restored.regions(), one.regions());
    assert.equal(restored.dirtyBytes, one.dirtyBytes);
    assert.deepEqual(restored.toJSON(), one.toJSON());
    run(2, one, 2_000);
    run(2, restored, 2_000);
    assert.deepEqual(restored.toJSON(), one.toJSON());
  });

  it('take() hands over the regions and starts a fresh, full-resolution bitmap', () => {
    const bitmap = new DirtyBitmap({ budgetBytes: 16 * KiB, volumes: [{ id: 'd', sizeBytes: 100 * GiB }] });
    const rnd = seededRandom(3);
    for (let i = 0; i < 20_000; i++) bitmap.mark('d', rnd.int(0, 100 * GiB / 4096 - 1) * 4096, 4096);
    const before = bitmap.regions();
    const peak = bitmap.peakMemoryBytes;
    assert.deepEqual(bitmap.take(), before);
    assert.ok(bitmap.isEmpty);
    assert.equal(bitmap.dirtyBytes, 0);
    assert.deepEqual(bitmap.regions(), []);
    assert.ok(bitmap.memoryBytes < peak);
    assert.equal(bitmap.peakMemoryBytes, peak);
    bitmap.mark('d', 4096, 4096);
    assert.deepEqual(bitmap.regions(), [{ volumeId: 'd', offset: 4096, length: 4096 }]);
  });

  it('rejects bad input with typed errors and changes nothing', () => {
    const bitmap = new DirtyBitmap({ budgetBytes: 16 * KiB, volumes: [{ id: 'd', sizeBytes: MiB }] });
    bitmap.mark('d', 0, 4096);
    const before = JSON.stringify(bitmap);
    assert.throws(() => bitmap.mark('nope', 0, 1), UnknownVolumeError);
    assert.throws(() => bitmap.mark('d', MiB - 10, 11), VolumeRangeError);
    assert.throws(() => bitmap.mark('d', MiB, 1), VolumeRangeError);
    assert.throws(() => bitmap.mark('d', -1, 10), ValidationError);
    assert.throws(() => bitmap.mark('d', 0, -10), ValidationError);
    assert.throws(() => bitmap.mark('d', 0.5, 10), ValidationError);
    assert.throws(() => bitmap.mark('d', 0, Number.NaN), ValidationError);
    bitmap.mark('d', 100, 0);
    assert.equal(JSON.stringify(bitmap), before);

    assert.throws(() => new DirtyBitmap({ budgetBytes: 1000, volumes: [{ id: 'd', sizeBytes: MiB }] }), ValidationError);
    assert.throws(() => new DirtyBitmap({ budgetBytes: 64 * KiB, volumes: [] }), ValidationError);
    assert.throws(() => new DirtyBitmap({ budgetBytes: 64 * KiB, volumes: [{ id: 'd', sizeBytes: 1 }, { id: 'd', sizeBytes: 2 }] }), ValidationError);
    assert.throws(() => new DirtyBitmap({ budgetBytes: 64 * KiB, volumes: [{ id: 'd', sizeBytes: 0 }] }), ValidationError);
    assert.throws(() => new DirtyBitmap({ budgetBytes: 64 * KiB, volumes: [{ id: 'd', sizeBytes: 1 }], minGranularity: 0 }), ValidationError);
  });

  it('refuses damaged saved bitmaps', () => {
    const bitmap = new DirtyBitmap({ budgetBytes: 16 * KiB, volumes: [{ id: 'd', sizeBytes: GiB }] });
    const rnd = seededRandom(5);
    for (let i = 0; i < 500; i++) bitmap.mark('d', rnd.int(0, GiB / 4096 - 1) * 4096, 4096);
    const good = bitmap.toJSON();
    assert.throws(() => DirtyBitmap.fromJSON(null), ValidationError);
    assert.throws(() => DirtyBitmap.fromJSON({ ...good, format: 'x' }), ValidationError);
    assert.throws(() => DirtyBitmap.fromJSON({ ...good, pageCounts: good.pageCounts.slice(1) }), ValidationError);
    assert.throws(() => DirtyBitmap.fromJSON({ ...good, pageStarts: [...good.pageStarts].reverse() }), ValidationError);
    const data = Buffer.from(good.data, 'base64');
    assert.throws(() => DirtyBitmap.fromJSON({ ...good, data: data.subarray(0, data.length - 1).toString('base64') }), ValidationError);
    // A page that claims more extents than its bytes hold.
    const counts = [...good.pageCounts];
    counts[0] += 200;
    assert.throws(() => DirtyBitmap.fromJSON({ ...good, pageCounts: counts }), ValidationError);
    // Whatever the bytes, decoding either fails cleanly or yields a well-formed bitmap.
    for (let i = 0; i < 200; i++) {
      const bytes = Buffer.from(data);
      bytes[rnd.int(0, bytes.length - 1)] ^= 1 << rnd.int(0, 7);
      try {
        const b = DirtyBitmap.fromJSON({ ...good, data: bytes.toString('base64') });
        assertWellFormed(b.regions(), [{ id: 'd', sizeBytes: GiB }]);
      } catch (e) {
        assert.ok(e instanceof ValidationError, String(e));
      }
    }
  });
});
