import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { missingTools } from '@opencdp/adapter-qemu';
import { tempDirPerTest } from './spec-helpers.js';
import { listBenchmarks, runBenchmark, type BenchmarkResult } from './benchmark.js';
import { changeTrackingPlanFor } from './change-tracking-bench.js';

const MiB = 1024 * 1024;

describe('change-tracking benchmark', function () {
  this.timeout(120_000);
  const dir = tempDirPerTest();

  it('is registered and scales the volumes, the changed blocks and the first cycle\'s data', () => {
    assert.ok(listBenchmarks().some((b) => b.name === 'change-tracking'));
    assert.deepEqual(changeTrackingPlanFor(1), { volumeBytes: 16384 * MiB, changedBlocks: 41943, firstVolumeBytes: 65536 * MiB, firstDataBytes: 1024 * MiB, rounds: 3 });
    assert.deepEqual(changeTrackingPlanFor(0.001), { volumeBytes: 64 * MiB, changedBlocks: 164, firstVolumeBytes: 256 * MiB, firstDataBytes: 4 * MiB, rounds: 1 });
  });

  it('writes a result of the documented shape against real qemu-storage-daemon: exact reads, amplification 1 at 4 KiB (tiny scale)', async function () {
    const missing = missingTools(['qemu-storage-daemon', 'qemu-img']);
    if (missing.length > 0) {
      if (process.env.CI === 'true') assert.fail(`missing tools in CI: ${missing.join(', ')}`);
      process.stderr.write(`\n!!! SKIPPING change-tracking smoke test: missing ${missing.join(', ')}\n\n`);
      this.skip();
    }
    const json = path.join(dir(), 'out', 'change-tracking.json');
    const result = await runBenchmark('change-tracking', { json, scale: 0.001, dir: dir(), log: () => undefined });
    const written = JSON.parse(await fs.readFile(json, 'utf8')) as BenchmarkResult;
    assert.deepEqual(written, result);
    for (const [key, v] of Object.entries(written.metrics)) assert.ok(Number.isFinite(v) && v >= 0, `metric ${key} = ${v}`);
    const m = written.metrics;
    assert.equal(m.granularityBytes, 4096);
    // Random 4 KiB blocks at a 4 KiB granularity: the view lists exactly them (no block twice, none missed).
    assert.equal(m.amplification, 1);
    assert.ok(m.amplificationAt64KiB > 1, 'scattered 4 KiB changes cost more at 64 KiB granules');
    assert.equal(m.firstAllocatedBytes, m.firstDataBytes, 'the first cycle lists the written extents as allocated, nothing else');
    assert.equal(m.firstCycleReadRatio, 1);
    assert.equal(written.ratio, m.cycleMs / Number(written.baseline.convertMs));
    assert.deepEqual(written.targets, { amplification: '<= 1.5', firstCycleRatio: '<= 2', firstCycleReadRatio: '<= 2' });
    assert.deepEqual(await fs.readdir(dir()), ['out'], 'the working folder was removed');
  });
});
