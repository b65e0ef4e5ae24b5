import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { missingVcsimTools } from '@opencdp/adapter-vsphere/testing';
import { tempDirPerTest } from './spec-helpers.js';
import { listBenchmarks, runBenchmark, type BenchmarkResult } from './benchmark.js';
import { vsphereCyclePlanFor } from './vsphere-cycle-bench.js';

describe('vsphere-cycle benchmark (vcsim with SIMULATED CBT)', function () {
  this.timeout(400_000);
  const dir = tempDirPerTest();

  it('is registered and scales the disk, its data and the change', () => {
    assert.ok(listBenchmarks().some((b) => b.name === 'vsphere-cycle'));
    assert.deepEqual(vsphereCyclePlanFor(1), { diskBytes: 4096 * 1024 * 1024, allocatedBlocks: 6554, changedBlocks: 655, rounds: 3 });
    assert.equal(vsphereCyclePlanFor(0.001).diskBytes, 64 * 1024 * 1024);
  });

  it('writes a result of the documented shape with finite numbers (tiny scale)', async function () {
    const missing = missingVcsimTools();
    if (missing.length > 0) {
      if (process.env.CI === 'true') assert.fail(`missing Debian packages in CI: ${missing.join(', ')}`);
      process.stderr.write(`\n!!! SKIPPING vsphere-cycle smoke test: missing ${missing.join(', ')}\n\n`);
      this.skip();
    }
    const json = path.join(dir(), 'out', 'vsphere-cycle.json');
    const result = await runBenchmark('vsphere-cycle', { json, scale: 0.02, dir: dir(), log: () => undefined });
    const written = JSON.parse(await fs.readFile(json, 'utf8')) as BenchmarkResult;
    assert.deepEqual(written, result);
    for (const key of ['snapshotMs', 'cbtQueryMs', 'transferMs', 'transferMBps', 'removeMs', 'changedBytes']) {
      assert.ok(Number.isFinite(written.metrics[key]) && written.metrics[key] > 0, `metric ${key} = ${written.metrics[key]}`);
    }
    assert.equal(written.metrics.changedBytes, vsphereCyclePlanFor(0.02).changedBlocks * 64 * 1024, 'CBT reported exactly the changed 64 KiB blocks');
    assert.ok(Math.abs(written.ratio - written.metrics.transferMBps / (written.baseline.MBps as number)) < 1e-9);
    assert.deepEqual(written.targets, { ratio: '>= 0.7' });
    assert.deepEqual(await fs.readdir(dir()), ['out'], 'the working folder (and vcsim\'s datastores in it) was removed');
  });
});
