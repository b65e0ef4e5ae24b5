import assert from 'node:assert/strict';
import { runBenchmark } from './benchmark.js';
import './replication-bench.js';

describe('replication benchmark (smoke, tiny scale)', function () {
  this.timeout(120_000);

  it('replicates over real TLS on loopback and reports MB/s, RPO percentiles and the TCP baseline', async () => {
    const lines: string[] = [];
    const r = await runBenchmark('replication', { scale: 0.01, log: (l) => lines.push(l) });
    assert.equal(r.name, 'replication');
    for (const k of ['MBps', 'rpoP50Ms', 'rpoP99Ms', 'checkpointIntervalMs']) {
      assert.ok(Number.isFinite(r.metrics[k]) && r.metrics[k] > 0, `${k} = ${r.metrics[k]}`);
    }
    assert.ok(r.metrics.rpoP50Ms <= r.metrics.rpoP99Ms);
    assert.ok(r.metrics.wireBytes >= 8 * 1024 * 1024, 'at least the throughput phase crossed the link');
    assert.equal(r.baseline.tool, 'plain TCP socket pipe (loopback)');
    assert.ok(Math.abs(r.ratio - r.metrics.MBps / (r.baseline.MBps as number)) < 0.01);
  });
});
