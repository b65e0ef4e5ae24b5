// The AWS benchmarks at a tiny scale: both run end to end (s3rver on loopback; EBS/EC2 simulated) and
// write a result of the documented shape. Figures are recorded in docs/benchmarks.md from full runs.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { listBenchmarks, runBenchmark, type BenchmarkResult } from './benchmark.js';
import { ebsFailoverPlan } from './ebs-failover-bench.js';
import { s3JournalTotalBytes } from './s3-journal-bench.js';
import { tempDirPerTest } from './spec-helpers.js';

describe('AWS benchmarks (tiny scale; S3 on s3rver, EBS/EC2 simulated)', function () {
  this.timeout(300_000);
  const dir = tempDirPerTest();

  it('registers s3-journal and ebs-failover; their sizes follow the scale', () => {
    const names = listBenchmarks().map((b) => b.name);
    assert.ok(names.includes('s3-journal') && names.includes('ebs-failover'));
    assert.equal(s3JournalTotalBytes(1), 512 * 1024 * 1024);
    assert.deepEqual(ebsFailoverPlan(1), { smallBytes: 1024 ** 3, largeBytes: 16 * 1024 ** 3, changedBytes: 64 * 1024 ** 2 });
    const tiny = ebsFailoverPlan(0.004);
    assert.equal(tiny.largeBytes, 16 * tiny.smallBytes);
    assert.ok(tiny.changedBytes > 0 && tiny.changedBytes <= tiny.smallBytes / 2);
  });

  for (const [name, keys] of [['s3-journal', ['appendMBps', 'uploadMBps']], ['ebs-failover', ['failoverSmallMs', 'failoverLargeMs', 'fullCopyLargeMs']]] as const) {
    it(`simulated where named: ${name} writes a result of the documented shape`, async () => {
      const json = path.join(dir(), 'out', `${name}.json`);
      const saved = process.env.OPENCDP_BENCH_ROUNDS;
      process.env.OPENCDP_BENCH_ROUNDS = '1';
      try {
        const result = await runBenchmark(name, { json, scale: name === 's3-journal' ? 0.02 : 0.004, dir: dir(), log: () => undefined });
        const written = JSON.parse(await fs.readFile(json, 'utf8')) as BenchmarkResult;
        assert.deepEqual(written, result);
        assert.equal(written.name, name);
        for (const k of keys) assert.ok(Number.isFinite(written.metrics[k]) && written.metrics[k] > 0, `metric ${k} = ${written.metrics[k]}`);
        assert.ok(Number.isFinite(written.ratio) && written.ratio > 0);
        assert.deepEqual(Object.keys(written.targets ?? {}), ['ratio']);
        assert.deepEqual(await fs.readdir(dir()), ['out'], 'nothing left behind but the report');
      } finally {
        if (saved === undefined) delete process.env.OPENCDP_BENCH_ROUNDS;
        else process.env.OPENCDP_BENCH_ROUNDS = saved;
      }
    });
  }
});
