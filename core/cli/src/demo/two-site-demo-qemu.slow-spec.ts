// `npm run demo -- --platform qemu`, guarded: the same two-site story in four product processes
// (`appliance serve` ×2 with the QEMU platform, `manager start` ×2, driven through the REST API), with real
// Linux guests under qemu-system-x86_64 (TCG when KVM is unusable) that write fsynced files. Site A's
// appliance adopts the running guests through their QMP sockets; site B recovers them as qemu-system
// processes. Checked by what the guests themselves say, by volume hashes and by files restored through REST.
import assert from 'node:assert/strict';
import { missingGuestParts, missingTools } from '@opencdp/adapter-qemu';
import { runTwoSiteDemo } from './two-site-demo.js';

describe('the two-site demo on QEMU (slow, real guests under qemu-system-x86_64)', function () {
  // TCG boots of nine small guests dominate; on a busy 2-core host each takes up to a minute or two.
  this.timeout(1_500_000);

  before(async function () {
    const missing = [...missingTools(['qemu-img', 'qemu-storage-daemon', 'qemu-system-x86_64']), ...(await missingGuestParts())];
    if (missing.length === 0) return;
    if (process.env.CI === 'true') throw new Error(`the QEMU demo needs: ${missing.join(', ')}`);
    process.stderr.write(`\n!!! SKIPPING THE QEMU DEMO: missing ${missing.join(', ')}\n\n`);
    this.skip();
  });

  it('protects adopted guests through the manager and REST API, restores their fsynced files, and fails over to the quiesced checkpoint: recovered guests boot and find their files, volumes equal by hash', async () => {
    const lines: string[] = [];
    const s = await runTwoSiteDemo({ platform: 'qemu', outageMs: 4000, log: (l) => lines.push(l), bootTimeoutMs: 600_000 });
    assert.equal(s.platform, 'qemu');
    assert.equal(s.managerOutage.checkpointsCutWhileOff, 0, 'no checkpoint while the protected manager is off');
    assert.ok(s.managerOutage.writesReplicatedWhileOff > 0, 'the guests\' writes replicated without the manager');
    assert.ok(s.fileRestore, 'file restore ran');
    assert.ok(s.fileRestore.fsynced > 0, 'the guest had fsynced files before the checkpoint');
    assert.equal(s.fileRestore.listed, s.fileRestore.fsynced, 'every fsynced file is listed with its size');
    assert.equal(s.fileRestore.matching, s.fileRestore.fsynced, 'every fsynced file came back with its bytes');
    assert.ok(s.failover.latestWouldHaveBeenCorrupted, 'the latest checkpoint holds the attack');
    const test = new Map(s.recoveredGuests!.test.map((g) => [g.vm.split(' ')[0], g.outcome]));
    assert.deepEqual(Object.fromEntries(test), { web: 'verified', app: 'verified', db: 'mount-failed' }, 'test VMs boot on the isolated network; db shows the attack');
    assert.equal(s.recoveredGuests!.failover.length, 3);
    for (const g of s.recoveredGuests!.failover) {
      assert.equal(g.outcome, 'verified', `${g.vm} booted and mounted its file system`);
      assert.ok(g.filesAtCheckpoint > 0 && g.filesFound === g.filesAtCheckpoint, `${g.vm} found the ${g.filesAtCheckpoint} files fsynced at the checkpoint (${g.filesFound})`);
    }
    assert.ok(s.failover.hashesMatch, 'recovered volumes equal the quiesced checkpoint');
    assert.equal(s.failover.volumesCompared, 3);
    assert.equal(s.report.state, 'Success');
    assert.ok(s.ok);
    assert.ok(lines.some((l) => l.includes('recovery report')));
  });
});
