// The README's first command, guarded: the two-site demo in four real processes must pass every check it
// makes, and its summary must say why (not only `ok`).
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { looseEntries } from '../security/loose-entries.js';
import { requireVcsimOrSkip } from '@opencdp/adapter-vsphere/testing';
import { runTwoSiteDemo, type TwoSiteDemoSummary } from './two-site-demo.js';

/** What the demo must show in either capture mode: replication through the manager outage, a correct failover. */
function assertDemo(s: TwoSiteDemoSummary): void {
  assert.equal(s.managerOutage.checkpointsCutWhileOff, 0, 'no checkpoint while the protected manager is off');
  assert.ok(s.managerOutage.writesReplicatedWhileOff > 0, 'replication went on without the manager');
  assert.ok(s.managerOutage.checkpointsAfterReturn > 0, 'checkpoints resumed');
  assert.ok(s.managerOutage.gapMs >= 4000, `the outage shows as a gap (${s.managerOutage.gapMs} ms)`);
  assert.equal(s.managerOutage.recoverySiteAlert, 'The manager is not connected to site site-a', 'the recovery site\'s manager noticed (seed 000)');
  assert.match(s.managerOutage.recoverySiteSynchronizing ?? '', /^synchronizing with site site-a/);
  assert.ok(s.failoverTest.onTestNetworkOnly, 'test VMs only on the isolated network');
  assert.equal(s.failoverTest.testVms.length, 3, `one test VM per protected VM: ${s.failoverTest.testVms.join(', ')}`);
  assert.equal(s.failoverTest.testVmsLeftAfterStop, 0, 'stopping the test removes its VMs');
  assert.ok(s.failover.latestWouldHaveBeenCorrupted, 'the latest checkpoint holds the attack');
  assert.ok(s.failover.hashesMatch, 'recovered volumes equal the quiesced checkpoint');
  assert.equal(s.failover.volumesCompared, 4);
  assert.equal(s.report.state, 'Success');
  assert.ok(s.statusSamples.some((r) => r.status === 'MeetingSLA'), `status samples: ${JSON.stringify(s.statusSamples)}`);
  assert.ok(s.ok);
}

describe('the two-site demo (slow, four processes)', function () {
  this.timeout(180_000);

  it('replicates through a protected-manager outage with no checkpoints cut, and fails over to the checkpoint before the attack, equal by hash; leaves no file others can read', async () => {
    const lines: string[] = [];
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'opencdp-demo-spec-'));
    let s: TwoSiteDemoSummary;
    let scan: Awaited<ReturnType<typeof looseEntries>>;
    try {
      s = await runTwoSiteDemo({ dataDir: dir, outageMs: 4000, log: (l) => lines.push(l) });
      // Every site's files: identities, configs, both managers' databases and TLS keys, journals and replica volumes.
      scan = await looseEntries(dir);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
    assert.ok(scan.paths.some((p) => p.startsWith('site-b-data/journals/')) && scan.paths.some((p) => p.endsWith('manager.db')) && scan.paths.some((p) => p.endsWith('manager.key')), scan.paths.join(', '));
    assert.deepEqual(scan.loose, [], 'files or folders of the demo open to group or others');
    assert.equal(s.captureMode, 'splitter');
    assertDemo(s);
    assert.ok(lines.some((l) => l.includes('recovery report')));
  });

  it('--capture change-tracking: a platform without a splitter replicates in cycles of frozen views through the same outage and failover, equal by hash', async () => {
    const s = await runTwoSiteDemo({ outageMs: 4000, capture: 'change-tracking', log: () => undefined });
    assert.equal(s.captureMode, 'change-tracking');
    assertDemo(s);
  });

  it('--recover-on vsphere: site B recovers the fake data centre\'s VMs as vSphere VMs on a vcsim the demo starts (govmomi\'s API simulator; disks in its datastore files), equal by hash', async function () {
    requireVcsimOrSkip(this);
    const lines: string[] = [];
    const s = await runTwoSiteDemo({ outageMs: 4000, recoverOn: 'vsphere', log: (l) => lines.push(l) });
    assert.equal(s.platform, 'fake');
    assert.equal(s.recoveredOn, 'vsphere');
    assert.ok(lines.some((l) => /site-b recovers on vSphere \(https:\/\/127\.0\.0\.1:\d+\/sdk\)/.test(l)), lines.join('\n'));
    assertDemo(s);
  });

  it('--recover-on from a platform other than the fake data centre is refused with a typed error before anything starts', async () => {
    await assert.rejects(runTwoSiteDemo({ platform: 'qemu', recoverOn: 'vsphere', log: () => undefined }), (e: Error & { code?: string }) => e.code === 'VALIDATION' && /fake data centre/.test(e.message));
  });
});
