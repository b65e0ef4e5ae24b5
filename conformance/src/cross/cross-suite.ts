// The cross-platform recovery case (X1): a group protected on one platform recovered on the recovery
// site's platform (another one when the harness is composed by `opencdp-conformance cross`), at a chosen
// checkpoint older than the latest: every recovered disk equals the oracle by hash, and — where the
// recovery platform keeps the disk as a local file — `qemu-img compare` judges the file against the
// oracle's bytes too. The report's translation names both platforms and the drivers the target needs.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CONTROLLER_DRIVERS } from '@opencdp/core';
import type { ConformanceCase } from '../conformance-case.js';
import { RecoveryRig } from '../recovery-rig.js';

const run = promisify(execFile);

async function qemuImg(): Promise<boolean> {
  try {
    await run('qemu-img', ['--version']);
    return true;
  } catch {
    if (process.env.CI === 'true') throw new Error('qemu-img is missing (CI=true): install qemu-utils');
    process.stderr.write('WARNING: qemu-img is missing: X1.1 compares recovered disk files by hash only (install qemu-utils)\n');
    return false;
  }
}

export const crossSuite: readonly ConformanceCase[] = [
  {
    id: 'X1.1',
    title: 'cross-platform recovery at a chosen checkpoint: every recovered disk equals the oracle by hash, and by qemu-img compare where the target holds a disk file; the report translates source to target (platforms, controller, drivers)',
    needs: ['writeTap', 'recoveryVm'],
    async run(ctx) {
      const r = await RecoveryRig.start(ctx);
      const chosen = await r.checkpoint('chosen');
      // The oracle's bytes at the chosen checkpoint (snapshots hold hashes only): qemu-img compares against them.
      const bytes = r.contents();
      await r.pipeline.randomWrites(20);
      await r.checkpoint('later');
      const test = await r.run('the failover test to start', r.orchestrator.startFailoverTest({ groupId: r.groupId, checkpointId: chosen.cp.id }));
      await r.assertRecovered(test.vms, chosen.snapshot, 'cross-platform failover test');
      const harness = ctx.harness;
      let compared = 0;
      if (harness.recoveredDiskFile && await qemuImg()) {
        const dir = await mkdtemp(join(tmpdir(), 'ocdp-x1-'));
        try {
          for (const v of test.vms) {
            const source = r.vms.find((s) => s.id === v.sourceVmId)!;
            const recovered = await r.recoveryHypervisor.getVm(v.recoveredVmId);
            for (const [i, vol] of source.volumes.entries()) {
              const file = await harness.recoveredDiskFile(v.recoveredVmId, recovered.volumes[i].id);
              // qemu's VHDX driver opens only 512-byte logical sectors: such a disk is judged by hash alone.
              if (!file || (file.format === 'vhdx' && recovered.volumes[i].sectorSize !== 512)) continue;
              const oracle = join(dir, `${vol.id.replace(/[^\w.-]/g, '_')}.raw`);
              await writeFile(oracle, bytes.get(v.sourceVmId)!.get(vol.id)!, { mode: 0o600 });
              // Not strict (-s would also compare allocation, and a sparse disk holding zeros is equal): the size is checked apart.
              const info = JSON.parse((await run('qemu-img', ['info', '--output=json', '-f', file.format, file.path])).stdout) as { 'virtual-size': number };
              assert.equal(info['virtual-size'], vol.sizeBytes, `recovered disk ${file.path} has the protected volume's size`);
              await run('qemu-img', ['compare', '-f', 'raw', '-F', file.format, oracle, file.path]).catch((e: Error & { stdout?: string; stderr?: string }) => {
                throw new assert.AssertionError({ message: `qemu-img compare: recovered disk ${file.path} of '${v.recoveredVmId}' differs from the oracle of '${vol.id}': ${e.stdout ?? ''}${e.stderr ?? e.message}` });
              });
              compared++;
            }
          }
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
        assert.ok(compared > 0, 'the harness gives disk files: at least one recovered disk was judged by qemu-img compare');
      }
      const report = await r.run('the test to stop', r.orchestrator.stopFailoverTest({ groupId: r.groupId, success: true }));
      const t = report.translation;
      assert.ok(t, 'the recovery report carries the platform translation');
      const source = harness.hypervisor.platform;
      const target = r.recoveryHypervisor.platform;
      assert.equal(t.targetPlatform, target);
      assert.equal(t.crossPlatform, source !== target, `crossPlatform says whether ${source} → ${target} crosses platforms`);
      for (const vm of t.vms) {
        assert.equal(vm.source.platform, source);
        assert.equal(vm.disks.length, r.vms.find((v) => v.id === vm.vmId)!.volumes.length, 'one disk translation per protected volume');
        const controller = vm.target.controller;
        if (controller !== undefined && controller !== vm.source.controller && CONTROLLER_DRIVERS[controller]) {
          assert.deepEqual(vm.drivers.linux, CONTROLLER_DRIVERS[controller].linux, `drivers for ${vm.source.controller} → ${controller}`);
        }
      }
    },
  },
];
