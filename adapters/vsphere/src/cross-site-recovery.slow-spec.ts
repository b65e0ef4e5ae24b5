// Cross-platform recovery onto vSphere: groups protected on the fake data centre (a splitter) or on QEMU
// (qemu-storage-daemon, a write-blocking mirror) recover as vSphere VMs on vcsim. vcsim's CBT and snapshot
// disk data are the fixture's SIMULATION; recovery uses none of it (uploads, CreateVM_Task, power,
// customization and Destroy_Task are vcsim's own). The whole recovery suite runs with the fake protected
// site; then, for both protected platforms, the uploaded flat extents on the datastore folder are compared
// with the oracle's content at the checkpoint by `qemu-img compare`. Without Go: skipped loudly (CI fails).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { CaseContext, RecoveryRig, defineConformance, skipReasons } from '@opencdp/conformance';
import { createQemuHarness, missingTools } from '@opencdp/adapter-qemu';
import { CROSS_SITE_UNSUPPORTED, createCrossSiteHarness, type CrossSiteHarness } from './cross-site-harness.js';
import { datastoreFile, missingVcsimTools, requireVcsimOrSkip } from './testing/vcsim-fixture.js';
import { sha256, tempDir } from './testing/spec-helpers.js';

const run = promisify(execFile);
const TITLE = 'fake-to-vsphere conformance (vcsim with SIMULATED CBT)';

if (missingVcsimTools().length > 0 && process.env.CI !== 'true') {
  describe('cross-platform recovery onto vSphere (vcsim with SIMULATED CBT)', function () {
    it('needs Go and govmomi to build the vcsim fixture', function () {
      requireVcsimOrSkip(this);
    });
  });
} else {
  defineConformance({ name: 'fake-to-vsphere', title: TITLE, createHarness: () => createCrossSiteHarness({ seed: 3 }), suites: ['recovery'] });

  describe('fake-to-vsphere conformance coverage', () => {
    it('skipped only the cases needing reverse protection onto vSphere, with that reason', () => {
      const skipped = [...skipReasons.entries()].filter(([t]) => t.startsWith(`${TITLE} `));
      assert.deepEqual(skipped.map(([t]) => /(R\d+\.\d+)/.exec(t)?.[1]).sort(), ['R2.4', 'R3.2']);
      for (const [title, reason] of skipped) assert.ok(reason.includes(CROSS_SITE_UNSUPPORTED.reverseProtection), `${title} was skipped for: ${reason}`);
    });
  });

  describe('cross-platform recovery onto vSphere, checked on the datastore with qemu-img (vcsim with SIMULATED CBT)', function () {
    this.timeout(300_000);

    const protectedSites: [string, () => Promise<CrossSiteHarness>][] = [
      ['the fake data centre', () => createCrossSiteHarness({ seed: 11 })],
      ['QEMU (qemu-storage-daemon)', () => createCrossSiteHarness({ protectedSite: () => createQemuHarness({ clock: 'virtual' }) })],
    ];
    for (const [label, create] of protectedSites) {
      it(`a group protected on ${label} fails over as vSphere VMs whose uploaded extents equal the oracle at the checkpoint`, async function () {
        requireVcsimOrSkip(this);
        if (label.startsWith('QEMU') && missingTools().length > 0) {
          if (process.env.CI === 'true') throw new Error(`QEMU tools missing: ${missingTools().join(', ')}`);
          process.stderr.write(`\n  SKIPPED LOCALLY: QEMU tools missing (${missingTools().join(', ')})\n`);
          this.skip();
        }
        const harness = await create();
        const ctx = new CaseContext(harness, harness.capabilities, 17);
        const dir = await tempDir();
        try {
          const rig = await RecoveryRig.start(ctx, {}, 30);
          const { cp } = await rig.checkpoint('cross');
          const expected = rig.contents();
          await rig.pipeline.randomWrites(10); // after the checkpoint: must not show in the recovered disks
          const fo = await rig.run('failover', rig.orchestrator.failover({ groupId: rig.groupId, checkpointId: cp.id, shutdownPolicy: 'none', timeToWaitBeforeShutdownSec: 0, commitPolicy: 'none', commitPolicyTimeoutSec: 0, reverseProtection: false }));
          assert.equal(fo.vms.length, 2);
          let compared = 0;
          for (const v of fo.vms) {
            assert.ok(harness.vsphereVms.has(v.recoveredVmId), 'recovered on vSphere');
            const record = await harness.recoveryHypervisor.site.vmRecord(v.recoveredVmId);
            const source = rig.vms.find((x) => x.id === v.sourceVmId)!;
            assert.equal(record.disks.length, source.volumes.length);
            for (let i = 0; i < source.volumes.length; i++) {
              const oracle = expected.get(source.id)!.get(source.volumes[i].id)!;
              const raw = path.join(dir, `${v.recoveredVmId}-${i}.raw`);
              await fs.writeFile(raw, oracle);
              const descriptor = datastoreFile(harness.fixture, record.disks[i].fileName);
              await run('qemu-img', ['compare', '-f', 'vmdk', '-F', 'raw', descriptor, raw]);
              assert.equal(sha256(await fs.readFile(descriptor.replace(/\.vmdk$/, '-flat.vmdk'))), sha256(oracle), 'the flat extent byte for byte');
              compared++;
            }
          }
          assert.equal(compared, 3, 'every protected volume');
          await rig.run('rollback', rig.orchestrator.rollback(rig.groupId));
          assert.equal((await harness.recoveryHypervisor.inventory()).vms.filter((x) => harness.vsphereVms.has(x.id)).length, 0, 'rolled-back VMs are gone from vSphere');
        } finally {
          await ctx.dispose().catch(() => undefined);
          await harness.dispose();
          await fs.rm(dir, { recursive: true, force: true });
        }
      });
    }
  });
}
