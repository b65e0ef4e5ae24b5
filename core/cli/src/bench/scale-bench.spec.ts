import assert from 'node:assert/strict';
import { runBenchmark } from './benchmark.js';
import './scale-bench.js';

describe('scale benchmark (smoke, tiny scale)', function () {
  this.timeout(300_000);

  it('runs groups spanning two appliance processes through checkpoint rounds and reports every metric against the no-checkpoint baseline', async () => {
    const lines: string[] = [];
    const r = await runBenchmark('scale', { scale: 0.004, log: (l) => lines.push(l) });
    assert.equal(r.name, 'scale');
    assert.deepEqual([r.metrics.groups, r.metrics.vms, r.metrics.appliances], [4, 16, 2]);
    for (const k of ['roundP50Ms', 'roundP99Ms', 'holdP99Ms', 'guestWriteWaitP99Ms', 'managerRssMB', 'restGetVpgsP99Ms', 'intervalsMetFraction']) {
      assert.ok(Number.isFinite(r.metrics[k]) && r.metrics[k] > 0, `${k} = ${r.metrics[k]}`);
    }
    assert.ok(r.metrics.holdRounds > 0, 'rounds held guest writes on the members: the barrier ran across processes');
    assert.ok(r.metrics.roundP50Ms <= r.metrics.roundP99Ms);
    assert.ok(r.metrics.intervalsMetFraction <= 1);
    assert.ok((r.baseline.guestWrites as number) > 0, 'the baseline phase ran the same workload');
    assert.equal(r.baseline.tool, 'same workload, manager stopped (no checkpoint rounds)');
    assert.deepEqual(Object.keys(r.targets ?? {}).sort(), ['holdP99Ms', 'intervalsMetFraction', 'restGetVpgsP99Ms', 'roundP99Ms']);
  });
});
