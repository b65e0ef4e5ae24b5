// The vhdx benchmark at a tiny scale: registered, its JSON of the documented shape, both writers' outputs checked by qemu-img.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { missingTools } from '@opencdp/adapter-qemu';
import { tempDirPerTest } from './spec-helpers.js';
import { listBenchmarks, runBenchmark, type BenchmarkResult } from './benchmark.js';
import { vhdxPlanFor } from './vhdx-bench.js';

describe('vhdx benchmark', function () {
  this.timeout(120_000);
  const dir = tempDirPerTest();

  it('is registered and scales the disk', () => {
    assert.ok(listBenchmarks().some((b) => b.name === 'vhdx'));
    assert.deepEqual(vhdxPlanFor(1), { volumeBytes: 4096 * 1024 * 1024, allocatedShare: 0.3 });
    assert.equal(vhdxPlanFor(0.001).volumeBytes, 16 * 1024 * 1024);
  });

  it('writes a result of the documented shape, both outputs equal to the source (tiny scale)', async function () {
    const missing = missingTools(['qemu-img']);
    if (missing.length > 0) {
      if (process.env.CI === 'true') assert.fail(`missing tools in CI: ${missing.join(', ')}`);
      process.stderr.write(`\n!!! SKIPPING vhdx bench smoke test: missing ${missing.join(', ')}\n\n`);
      this.skip();
    }
    const json = path.join(dir(), 'out', 'vhdx.json');
    const result = await runBenchmark('vhdx', { json, scale: 0.01, dir: dir(), log: () => undefined });
    const written = JSON.parse(await fs.readFile(json, 'utf8')) as BenchmarkResult;
    assert.deepEqual(written, result);
    for (const [key, v] of Object.entries(written.metrics)) assert.ok(Number.isFinite(v) && v > 0, `metric ${key} = ${v}`);
    assert.equal(written.baseline.tool, 'qemu-img convert -O vhdx');
    assert.deepEqual(written.targets, { ratio: '>= 0.8', sizeRatio: '<= 1.05' });
    assert.ok(written.metrics.dataBytes > 0 && written.metrics.dataBytes < written.metrics.volumeBytes);
    assert.deepEqual(await fs.readdir(dir()), ['out'], 'the working folder was removed');
  });
});
