import assert from 'node:assert/strict';
import { runBenchmark } from './benchmark.js';
import { REPLICATION_CONFIGS } from './replication-bench.js';

describe('replication benchmark (smoke, tiny scale)', function () {
  this.timeout(300_000);

  it('runs both appliances as two processes over real mutual TLS and reports every configuration against both pipe baselines', async () => {
    const lines: string[] = [];
    const r = await runBenchmark('replication', { scale: 0.01, log: (l) => lines.push(l) });
    assert.equal(r.name, 'replication');
    const keys = ['MBps', 'cpuMsPerMiB', 'protectedCpuMsPerMiB', 'recoveryCpuMsPerMiB', 'guestCpuMsPerMiB', 'rpoP50Ms', 'rpoP99Ms', 'checkpointIntervalMs', 'vms16VsVms1', 'tcpMBps', 'tcpCpuMsPerMiB', 'tlsPipeCpuMsPerMiB'];
    for (const c of REPLICATION_CONFIGS.slice(1)) keys.push(`${c.key}MBps`, `${c.key}CpuMsPerMiB`, `${c.key}RecoveryCpuMsPerMiB`, `${c.key}RpoP99Ms`);
    for (const k of keys) assert.ok(Number.isFinite(r.metrics[k]) && r.metrics[k] > 0, `${k} = ${r.metrics[k]}`);
    for (const k of ['protectedGcShare', 'recoveryGcShare']) assert.ok(r.metrics[k] >= 0 && r.metrics[k] < 1, `${k} = ${r.metrics[k]}`);
    assert.ok(r.metrics.rpoP50Ms <= r.metrics.rpoP99Ms);
    // A checkpoint every second reaches the journal: the RPO stays within a few intervals even on a loaded machine.
    assert.ok(r.metrics.rpoP99Ms < 10 * r.metrics.checkpointIntervalMs, `RPO p99 ${r.metrics.rpoP99Ms} ms`);
    assert.equal(r.baseline.tool, 'bare TLS 1.3 pipe between two Node processes');
    assert.match(String(r.baseline.cipher), /^TLS_/);
    assert.ok(Math.abs(r.ratio - r.metrics.MBps / (r.baseline.MBps as number)) < 0.01);
    assert.ok(lines.some((l) => l.includes('16 VM(s)')) && lines.some((l) => l.includes('4 group(s)')), 'every configuration ran');
  });
});
