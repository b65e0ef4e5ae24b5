import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { DirtyBitmap } from '@opencdp/core';
import { tempDirPerTest } from './spec-helpers.js';
import { listBenchmarks, runBenchmark, type BenchmarkResult } from './benchmark.js';
import { BITMAP_BENCH_SIZES, bitmapPlanFor, runWorkload } from './bitmap-bench.js';

describe('bitmap benchmark', function () {
  this.timeout(120_000);
  const dir = tempDirPerTest();

  it('is registered, and scales the volume, writes, hot spots and budget together', () => {
    assert.ok(listBenchmarks().some((b) => b.name === 'bitmap'));
    const full = bitmapPlanFor(1);
    assert.deepEqual(full, { volumeBytes: 1024 ** 4, writes: 1_000_000, budgetBytes: 256 * 1024, hotExtents: 1000 });
    const small = bitmapPlanFor(0.01);
    assert.equal(small.writes, 10_000);
    assert.equal(small.volumeBytes % BITMAP_BENCH_SIZES.hotExtentBytes, 0);
    assert.ok(small.budgetBytes >= DirtyBitmap.minimumBudget);
  });

  it('checks every written block against the regions and reports honest figures', () => {
    const plan = { volumeBytes: 4 * 1024 ** 3, writes: 20_000, budgetBytes: 32 * 1024, hotExtents: 20 };
    const run = runWorkload(plan, 0.95, 1, () => undefined);
    assert.ok(run.peakBytes <= plan.budgetBytes);
    assert.ok(run.amplification >= 1 && run.resentBytes >= run.changedBytes);
    assert.equal(run.amplification, run.resentBytes / run.changedBytes);
    assert.ok(run.changedBytes > 0 && run.changedBytes <= plan.writes * 4096);
  });

  it('writes a result of the documented shape with finite numbers (tiny scale)', async () => {
    const json = path.join(dir(), 'out', 'bitmap.json');
    const lines: string[] = [];
    const result = await runBenchmark('bitmap', { json, scale: 0.005, dir: dir(), log: (l) => lines.push(l) });
    const written = JSON.parse(await fs.readFile(json, 'utf8')) as BenchmarkResult;
    assert.deepEqual(written, result);
    assert.equal(written.name, 'bitmap');
    for (const [key, v] of Object.entries(written.metrics)) assert.ok(Number.isFinite(v) && v > 0, `metric ${key} = ${v}`);
    for (const key of ['peakBytes', 'budgetBytes', 'amplification', 'uniformAmplification', 'hot99Amplification', 'flatBitmapAmplification']) {
      assert.ok(key in written.metrics, key);
    }
    assert.ok(written.metrics.peakBytes <= written.metrics.budgetBytes);
    assert.equal(written.baseline.tool, 'drbd-4KiB-bitmap');
    assert.equal(written.baseline.bytes, (32 * 1024 * 1024 * bitmapPlanFor(0.005).volumeBytes) / 1024 ** 4);
    assert.ok(Math.abs(written.ratio - written.metrics.peakBytes / (written.baseline.bytes as number)) < 0.001 * written.ratio);
    assert.deepEqual(written.targets, { amplification: '<= 2', peakBytes: `<= ${written.metrics.budgetBytes}` });
    assert.ok((written.notes ?? []).some((n) => n.includes('Zipf')));
    assert.ok(lines.some((l) => l.includes('amplification')));
    assert.deepEqual(await fs.readdir(dir()), ['out']);
  });
});
