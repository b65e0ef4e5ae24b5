import assert from 'node:assert/strict';
import { UnknownVmError, ValidationError, VirtualClock, VolumeRangeError, seededRandom } from '@opencdp/core';
import type { HypervisorAdapter } from '@opencdp/core';
import { FakeDataCenter } from './fake-data-center.js';
import { VmPoweredOffError } from './fake-errors.js';
import { FakeHypervisor } from './fake-hypervisor.js';
import { CHUNK_SIZE } from './sparse-volume.js';
import { BufferSource, sha256 } from './spec-helpers.js';

const MiB = 1024 * 1024;

function setup(): { clock: VirtualClock; dc: FakeDataCenter; hv: FakeHypervisor; dr: FakeHypervisor; vmId: string } {
  const clock = new VirtualClock();
  const dc = new FakeDataCenter({ clock });
  const prod = dc.addSite('prod');
  dc.addHost(prod.id, 'p1');
  const recovery = dc.addSite('dr');
  dc.addHost(recovery.id, 'r1');
  const vm = dc.createVm({ name: 'app', hostId: 'host-1', volumes: [{ sizeBytes: 2 * MiB }, { sizeBytes: MiB, sectorSize: 4096 }] });
  return { clock, dc, hv: new FakeHypervisor(dc, prod.id), dr: new FakeHypervisor(dc, recovery.id), vmId: vm.id };
}

describe('FakeHypervisor', () => {
  it('implements the port for one site only', async () => {
    const { hv, dr, vmId } = setup();
    const port: HypervisorAdapter = hv; // compile-time check
    assert.equal(port.platform, 'fake');
    assert.deepEqual((await hv.inventory()).vms.map((v) => v.id), [vmId]);
    assert.deepEqual((await dr.inventory()).vms, []);
    assert.equal((await hv.getVm(vmId)).name, 'app');
    await assert.rejects(dr.getVm(vmId), UnknownVmError);
    await assert.rejects(dr.openTap!(vmId), UnknownVmError);
    await assert.rejects(dr.readVolume(vmId, 'vol-1', 0, 512), UnknownVmError);
    await assert.rejects(hv.readVolume(vmId, 'vol-1', 2 * MiB - 512, 1024), VolumeRangeError);
    assert.throws(() => new FakeHypervisor(hv.dataCenter, 'site-9'), ValidationError);
  });

  it('reads protected volumes and taps their writes', async () => {
    const { dc, hv, vmId } = setup();
    const tap = await hv.openTap!(vmId);
    const seen: string[] = [];
    tap.start(async (w) => { seen.push(`${w.volumeId}@${w.offset}+${w.data.length}`); });
    await dc.guestWrite(vmId, 'vol-2', 8192, Buffer.alloc(4096, 0x5a));
    assert.deepEqual(seen, ['vol-2@8192+4096']);
    assert.deepEqual(await hv.readVolume(vmId, 'vol-2', 8192, 4096), Buffer.alloc(4096, 0x5a));
  });

  describe('recovery VMs', () => {
    it('read through the image and keep their own writes in an overlay; the image is never written', async () => {
      const { dc, dr, vmId } = setup();
      const random = seededRandom(3);
      const image1 = random.bytes(2 * MiB);
      const image2 = random.bytes(MiB);
      const source = new BufferSource(new Map([['vol-1', image1], ['vol-2', image2]]));
      const before = [sha256(image1), sha256(image2)];
      const site = dc.getSite(dr.siteId);

      const rvm = await dr.createRecoveryVm({
        name: 'app-recovered', sourceVmId: vmId,
        disks: [{ volumeId: 'vol-1', source }, { volumeId: 'vol-2', source }],
        nics: [{ networkId: site.testNetworkId, ipv4: '10.9.0.5' }, { networkId: site.productionNetworkId, mac: '02:AA:00:00:00:01' }],
      });
      assert.equal(rvm.powerState, 'off');
      assert.equal(rvm.hostId, 'host-2');
      assert.deepEqual(rvm.volumes.map((v) => [v.name, v.sizeBytes, v.sectorSize]), [['disk-0', 2 * MiB, 512], ['disk-1', MiB, 4096]]);
      assert.deepEqual(rvm.nics.map((n) => [n.networkId, n.ipv4, n.mac]),
        [[site.testNetworkId, '10.9.0.5', rvm.nics[0].mac], [site.productionNetworkId, undefined, '02:aa:00:00:00:01']]);
      assert.deepEqual(dc.recoveryOf(rvm.id), {
        sourceVmId: vmId,
        disks: [{ volumeId: rvm.volumes[0].id, sourceVolumeId: 'vol-1' }, { volumeId: rvm.volumes[1].id, sourceVolumeId: 'vol-2' }],
        nics: rvm.nics,
      });
      const [d1, d2] = rvm.volumes.map((v) => v.id);
      assert.equal(sha256(await dr.readVolume(rvm.id, d1, 0, 2 * MiB)), before[0], 'unwritten: the image itself');

      await assert.rejects(dc.guestWrite(rvm.id, d1, 0, Buffer.alloc(512)), VmPoweredOffError);
      await dr.powerOn(rvm.id);
      const oracle1 = Buffer.from(image1);
      const oracle2 = Buffer.from(image2);
      const write = async (volumeId: string, oracle: Buffer, offset: number, data: Buffer): Promise<void> => {
        await dc.guestWrite(rvm.id, volumeId, offset, data);
        data.copy(oracle, offset);
      };
      // A sector inside a chunk, a whole chunk, a write across a chunk boundary, and overwrites of each.
      await write(d1, oracle1, 512, Buffer.alloc(512, 1));
      await write(d1, oracle1, CHUNK_SIZE, Buffer.alloc(CHUNK_SIZE, 2));
      await write(d1, oracle1, 3 * CHUNK_SIZE - 1024, Buffer.alloc(4096, 3));
      await write(d1, oracle1, 1024, Buffer.alloc(1024, 4));
      for (let i = 0; i < 100; i++) {
        const sectors = random.int(1, 40);
        const first = random.int(0, 2 * MiB / 512 - sectors);
        await write(d1, oracle1, first * 512, random.bytes(sectors * 512));
      }
      await write(d2, oracle2, 4096, Buffer.alloc(8192, 5));

      assert.equal(sha256(await dr.readVolume(rvm.id, d1, 0, 2 * MiB)), sha256(oracle1));
      assert.equal(sha256(await dr.readVolume(rvm.id, d2, 0, MiB)), sha256(oracle2));
      for (let i = 0; i < 50; i++) {
        const offset = random.int(0, 2 * MiB - 1);
        const length = random.int(0, Math.min(3 * CHUNK_SIZE, 2 * MiB - offset));
        assert.equal(sha256(await dc.guestRead(rvm.id, d1, offset, length)), sha256(oracle1.subarray(offset, offset + length)));
      }
      assert.deepEqual([sha256(image1), sha256(image2)], before, 'the image is unchanged');

      // A second VM on the same image sees the image, not the first VM's writes.
      const other = await dr.createRecoveryVm({ name: 'again', sourceVmId: vmId, disks: [{ volumeId: 'vol-1', source }], nics: [] });
      assert.equal(sha256(await dr.readVolume(other.id, other.volumes[0].id, 0, 2 * MiB)), before[0]);

      // Fully overwritten ranges do not touch the image at all.
      const reads = source.reads;
      await dc.guestRead(rvm.id, d1, CHUNK_SIZE, CHUNK_SIZE);
      assert.equal(source.reads, reads);
    });

    it('refuses bad specs without creating anything', async () => {
      const { dc, dr, hv, vmId } = setup();
      const source = new BufferSource(new Map([['vol-1', Buffer.alloc(MiB)], ['odd', Buffer.alloc(1000)]]));
      const disks = [{ volumeId: 'vol-1', source }];
      await assert.rejects(dr.createRecoveryVm({ name: 'x', sourceVmId: vmId, disks, nics: [{ networkId: 'net-1' }] }), ValidationError); // prod site's network
      await assert.rejects(dr.createRecoveryVm({ name: 'x', sourceVmId: vmId, disks, nics: [], hostId: 'host-1' }), ValidationError);
      await assert.rejects(dr.createRecoveryVm({ name: 'x', sourceVmId: vmId, disks, nics: [], datastoreId: 'ds-1' }), ValidationError);
      await assert.rejects(dr.createRecoveryVm({ name: 'x', sourceVmId: vmId, disks: [], nics: [] }), ValidationError);
      await assert.rejects(dr.createRecoveryVm({ name: 'x', sourceVmId: vmId, disks: [{ volumeId: 'odd', source }], nics: [] }), ValidationError);
      await assert.rejects(dr.createRecoveryVm({ name: 'x', sourceVmId: vmId, disks, nics: [{ networkId: 'net-3', ipv4: '10.0.0.300' }] }), ValidationError);
      assert.deepEqual((await dr.inventory()).vms, []);
      assert.equal((await hv.inventory()).vms.length, 1);
      assert.equal(dc.inventory().vms.length, 1);
    });

    it('power cycles and deletes only when off', async () => {
      const { dr, vmId } = setup();
      const source = new BufferSource(new Map([['vol-1', Buffer.alloc(MiB)]]));
      const rvm = await dr.createRecoveryVm({ name: 'x', sourceVmId: vmId, disks: [{ volumeId: 'vol-1', source }], nics: [] });
      await dr.powerOn(rvm.id);
      assert.equal((await dr.getVm(rvm.id)).powerState, 'on');
      await assert.rejects(dr.deleteVm(rvm.id), ValidationError);
      await dr.shutdownGuest(rvm.id);
      assert.equal((await dr.getVm(rvm.id)).powerState, 'off');
      await dr.powerOn(rvm.id);
      await dr.powerOff(rvm.id);
      const tap = await dr.openTap!(rvm.id);
      await dr.deleteVm(rvm.id);
      assert.equal(tap.closed, true);
      await assert.rejects(dr.getVm(rvm.id), UnknownVmError);
    });
  });
});
