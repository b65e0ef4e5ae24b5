// The QEMU platform as an appliance loads it: found by name through this package's ContainerModule, its
// section checked field by field, a recovery role that starts the recovery storage daemon, and a recovered
// VM started as a real qemu-system-x86_64 process (held in prelaunch with -S, so no guest boots) whose disk
// is the daemon's NBD export of an overlay on the point-in-time image; powered off and deleted, nothing stays.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { resolvePlatform, startPlatform, SystemClock, ValidationError, type VolumeSource } from '@opencdp/core';
import { QemuPlatform } from './qemu-platform.js';
import { QemuPlatformProvider } from './qemu-platform-provider.js';
import { requireToolsOrSkip } from './qemu-tools.js';
import { tempDir } from './spec-helpers.js';

const MiB = 1024 * 1024;

describe('QEMU platform provider', function () {
  this.timeout(60_000);
  let dir = '';
  before(async function () {
    requireToolsOrSkip(this, ['qemu-img', 'qemu-storage-daemon', 'qemu-system-x86_64']);
    dir = await tempDir();
  });
  after(async () => {
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });
  const context = (roles: ('protected' | 'recovery')[], name: string): Parameters<typeof startPlatform>[1] => ({
    roles, siteId: 'site-b', clock: new SystemClock(), log: () => undefined, applianceDataDir: path.join(dir, name),
  });

  it('is what the loader finds for platform "qemu" and names the field of every bad value', async () => {
    const r = await resolvePlatform({ name: 'qemu', config: {} });
    assert.ok(r.provider instanceof QemuPlatformProvider);
    assert.equal(r.packageName, '@opencdp/adapter-qemu');
    const bad = async (config: unknown, field: string, pattern?: RegExp): Promise<void> => {
      await assert.rejects(startPlatform({ name: 'qemu', config }, context(['recovery'], 'bad')), (e: unknown) => {
        assert.ok(e instanceof ValidationError, String(e));
        assert.equal(e.field, field, e.message);
        if (pattern) assert.match(e.message, pattern);
        return true;
      });
    };
    await bad({ workDir: `/${'x'.repeat(100)}` }, 'platform.config.workDir', /too long for the UNIX sockets/);
    await bad({ workDir: 'relative' }, 'platform.config.workDir');
    await bad({ recovery: { vmProcess: { kernel: path.join(dir, 'no-kernel') } } }, 'platform.config.recovery.vmProcess.kernel', /cannot be read/);
    await bad({ recovery: { vmProcess: { accel: 'hvf' } } }, 'platform.config.recovery.vmProcess.accel');
    await bad({ guests: [{ name: 'a' }] }, 'platform.config.guests.0.qmp', /missing field/);
    await bad({ guests: [{ name: 'a', qmp: '/x', drives: ['a b'] }] }, 'platform.config.guests.0.drives.0');
    await bad({ vms: [] }, 'platform.config.vms', /unknown field/);
  });

  it('in the recovery role runs recovered VMs as qemu-system processes on NBD disks over the point-in-time image, and removes them', async () => {
    const started = await startPlatform({ name: 'qemu', config: { recovery: { vmProcess: { memoryMiB: 64, accel: 'tcg', extraArgs: ['-S'] } } } }, context(['recovery'], 'rec'));
    const platform = started.instance.hypervisor as QemuPlatform;
    try {
      assert.ok(platform instanceof QemuPlatform);
      const image = Buffer.alloc(4 * MiB);
      image.write('point-in-time image', 512);
      const source: VolumeSource = { sizeBytes: () => image.length, read: async (_v, o, l) => image.subarray(o, o + l) };
      const inv = await platform.inventory();
      assert.deepEqual(inv.hosts.map((h) => h.siteId), ['site-b', 'site-b']);
      const test = inv.networks.find((n) => n.isolated)!;
      const vm = await platform.createRecoveryVm({ name: 'db - test', sourceVmId: 'site-a-db', disks: [{ volumeId: 'site-a-db-d0', source }], nics: [{ networkId: test.id }] });
      assert.match(vm.id, /^site-b-rvm\d+$/);
      assert.equal(vm.powerState, 'off');
      await platform.powerOn(vm.id);
      const proc = platform.vmProcess(vm.id)!;
      assert.ok(proc?.alive, 'a qemu-system process runs the VM');
      assert.equal(proc.accel, 'tcg');
      assert.equal((await platform.getVm(vm.id)).powerState, 'on');
      const blocks = await proc.qmp.execute<{ inserted?: { drv: string; image: { 'virtual-size': number } } }[]>('query-block');
      assert.deepEqual(blocks.filter((b) => b.inserted).map((b) => [b.inserted!.drv, b.inserted!.image['virtual-size']]), [['nbd', 4 * MiB]], 'its disk is the daemon\'s NBD export');
      // The VM reads the image through its overlay (what the guest would see).
      assert.equal((await platform.readVolume(vm.id, vm.volumes[0].id, 512, 19)).toString(), 'point-in-time image');
      await assert.rejects(platform.deleteVm(vm.id), /powered on/);
      await platform.powerOff(vm.id);
      assert.equal(proc.alive, false, 'powering off ends the process');
      assert.equal((await platform.getVm(vm.id)).powerState, 'off');
      await platform.deleteVm(vm.id);
      assert.ok(!(await platform.inventory()).vms.some((v) => v.id === vm.id));
    } finally {
      await started.instance.dispose();
    }
    assert.equal(platform.daemons.daemonOf('qr1')?.alive ?? false, false, 'dispose stops the recovery daemon');
  });
});
