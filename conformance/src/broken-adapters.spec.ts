// A suite that cannot fail proves nothing: these run it, in a mocha instance of its own, against
// harnesses broken on purpose, and check the report says what went wrong.
import assert from 'node:assert/strict';
import { createFakeHarness } from '@opencdp/adapter-fake';
import type { HarnessFactory } from '@opencdp/core';
import { runConformance } from './run-conformance.js';
import { completeBeforeReplicating, dropEveryNthWrite, recoveryDisksLoseData, withoutCapability } from './testing/broken-harness.js';

const fake: HarnessFactory = () => createFakeHarness({ seed: 5 });

describe('the conformance suite against broken adapters', function () {
  this.timeout(60_000);

  it('fails J1 for an adapter whose splitter silently drops every 50th write, naming volume and offset', async () => {
    const report = await runConformance({ name: 'dropping', createHarness: dropEveryNthWrite(fake, 50), grep: '^J1\\.', quiet: true });
    assert.equal(report.adapter, 'dropping');
    assert.deepEqual(report.cases.map((c) => c.id), ['J1.1', 'J1.2', 'J1.3']);
    for (const id of ['J1.1', 'J1.2']) {
      const c = report.cases.find((x) => x.id === id)!;
      assert.equal(c.state, 'failed', `${id} fails`);
      assert.match(c.reason ?? '', /volume '[^']+' of VM '[^']+' differs from the oracle in the block at offset \d+/);
    }
    assert.equal(report.failed, 2);
    assert.deepEqual(report.suites, { journal: { passed: 1, failed: 2, skipped: 0 } }, 'only suites with selected cases are listed');
  });

  it('fails J2 for a splitter that completes guest writes before replication has them (not write-blocking)', async () => {
    const report = await runConformance({ name: 'write-behind', createHarness: completeBeforeReplicating(fake), grep: 'J2\\.1', quiet: true });
    assert.equal(report.cases[0].state, 'failed');
    assert.match(report.cases[0].reason ?? '', /holds VM B's write of chain \d+ but not VM A's, which had completed before B's was issued/);
  });

  it('reports J6 skipped with the harness\'s reason when crash simulation is unsupported', async () => {
    const reason = 'no crash simulation here';
    const report = await runConformance({ name: 'no-crash', createHarness: withoutCapability(fake, 'faultStorageCrash', reason), grep: 'J6\\.', quiet: true });
    assert.deepEqual(report.cases, [{ id: 'J6.1', title: report.cases[0].title, suite: 'journal', state: 'skipped', reason: `faultStorageCrash: ${reason}`, durationMs: 0 }]);
    assert.deepEqual([report.passed, report.failed, report.skipped], [0, 0, 1]);
  });

  it('takes capabilities declared in the options without asking the harness, and lists every skip', async () => {
    const report = await runConformance({
      name: 'declared', createHarness: fake, grep: 'J3\\.4|J6\\.', quiet: true,
      capabilities: { consistencyAgent: 'no agent in this platform', faultStorageCrash: 'storage cannot be crashed' },
    });
    assert.deepEqual(report.cases.map((c) => [c.id, c.state, c.reason]), [
      ['J3.4', 'skipped', 'consistencyAgent: no agent in this platform'],
      ['J6.1', 'skipped', 'faultStorageCrash: storage cannot be crashed'],
    ]);
  });

  it('fails R1/R2 for a recovery platform whose recovered disks lose data past the first MiB, naming volume and offset; R10 still passes', async () => {
    const report = await runConformance({ name: 'lossy-recovery', createHarness: recoveryDisksLoseData(fake), grep: '^(R1\\.1|R2\\.1|R10\\.1) ', quiet: true });
    assert.deepEqual(report.cases.map((c) => [c.id, c.state]), [['R1.1', 'failed'], ['R2.1', 'failed'], ['R10.1', 'passed']]);
    for (const c of report.cases.filter((x) => x.state === 'failed')) {
      assert.match(c.reason ?? '', /recovered VM '[^']+' \(from '[^']+'\): volume '[^']+' of VM '[^']+' differs from the oracle in the block at offset \d+/);
    }
    assert.deepEqual(report.suites.recovery, { passed: 1, failed: 2, skipped: 0 });
  });

  it('reports the recovery suite skipped with the reason when the adapter cannot create recovery VMs', async () => {
    const report = await runConformance({ name: 'no-recovery', createHarness: withoutCapability(fake, 'recoveryVm', 'no recovery platform'), grep: '^R', quiet: true });
    assert.ok(report.cases.length >= 10);
    for (const c of report.cases) assert.deepEqual([c.state, c.reason], ['skipped', 'recoveryVm: no recovery platform'], c.id);
  });

  it('fails every case when the harness cannot be created, reporting why', async () => {
    const report = await runConformance({ name: 'broken-factory', createHarness: async () => { throw new Error('no platform reachable'); }, quiet: true });
    assert.ok(report.failed >= 1);
    assert.match(report.cases[0].reason ?? '', /no platform reachable/);
  });
});
