import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { missingTools } from '@opencdp/adapter-qemu';
import { tempDirPerTest } from './spec-helpers.js';
import { listBenchmarks, runBenchmark, type BenchmarkResult } from './benchmark.js';
import { qemuSplitterPlanFor } from './qemu-splitter-bench.js';

describe('qemu-splitter benchmark', function () {
  this.timeout(120_000);
  const dir = tempDirPerTest();

  it('is registered and scales the disk and the random workload', () => {
    assert.ok(listBenchmarks().some((b) => b.name === 'qemu-splitter'));
    assert.deepEqual(qemuSplitterPlanFor(1), { volumeBytes: 256 * 1024 * 1024, randomBytes: 64 * 1024 * 1024, repeats: 5 });
    assert.equal(qemuSplitterPlanFor(0.01).volumeBytes, 4 * 1024 * 1024);
  });

  it('writes a result of the documented shape with finite numbers (tiny scale)', async function () {
    const missing = missingTools(['qemu-storage-daemon', 'qemu-nbd', 'fio']);
    if (missing.length > 0) {
      if (process.env.CI === 'true') assert.fail(`missing tools in CI: ${missing.join(', ')}`);
      process.stderr.write(`\n!!! SKIPPING qemu-splitter smoke test: missing ${missing.join(', ')}\n\n`);
      this.skip();
    }
    const json = path.join(dir(), 'out', 'qemu-splitter.json');
    const result = await runBenchmark('qemu-splitter', { json, scale: 0.02, dir: dir(), log: () => undefined });
    const written = JSON.parse(await fs.readFile(json, 'utf8')) as BenchmarkResult;
    assert.deepEqual(written, result);
    // serverCpuMsPerGB is a difference (mirrored runs' CPU less unmirrored runs'): at this tiny scale a few
    // ms of noise can make it negative (CI saw -61), so it is only checked to be a number; the rest are positive.
    for (const [key, v] of Object.entries(written.metrics)) assert.ok(Number.isFinite(v) && (key === 'serverCpuMsPerGB' || v > 0), `metric ${key} = ${v}`);
    assert.equal(written.ratio, written.metrics.seq64kRatio);
    assert.deepEqual(written.targets, { seq64kVsControl: '>= 0.95' });
    assert.match(written.baseline.tool, /fio.*nbd/);
    assert.ok(written.metrics.splitBytes >= written.metrics.volumeBytes, 'the tap received at least the sequential pass');
    assert.deepEqual(await fs.readdir(dir()), ['out'], 'the working folder was removed');
  });
});
