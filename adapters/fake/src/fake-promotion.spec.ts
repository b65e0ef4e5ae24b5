// Promotion of recovery disks (R7) in the fake data centre: the image's data moves into the disk, the
// VM's own writes win (also those landing mid-promotion), zero chunks stay thin, and once detached the
// disk never reads its image again.
import assert from 'node:assert/strict';
import { ValidationError, VirtualClock } from '@opencdp/core';
import { FakeDataCenter } from './fake-data-center.js';
import { FakeHypervisor } from './fake-hypervisor.js';
import { BufferSource, sha256 } from './spec-helpers.js';

const KiB = 1024;

async function setup(): Promise<{ dc: FakeDataCenter; hv: FakeHypervisor; source: BufferSource; image: Buffer; vmId: string; volumeId: string }> {
  const dc = new FakeDataCenter({ clock: new VirtualClock(), seed: 3 });
  const site = dc.addSite('recovery');
  dc.addHost(site.id, 'h');
  const image = Buffer.alloc(512 * KiB);
  for (let i = 0; i < image.length; i += 4096) if ((i / 4096) % 3 !== 0) image.fill(i / 4096, i, i + 4096); // some zero blocks
  image.fill(0, 128 * KiB, 192 * KiB); // one whole zero chunk
  const source = new BufferSource(new Map([['src-vol', image]]));
  const hv = new FakeHypervisor(dc, site.id);
  const vm = await hv.createRecoveryVm({ name: 'r', sourceVmId: 'src', disks: [{ volumeId: 'src-vol', source }], nics: [] });
  await hv.powerOn(vm.id);
  return { dc, hv, source, image, vmId: vm.id, volumeId: vm.volumes[0].id };
}

describe('fake recovery disk promotion', () => {
  it('copies the image into the disk, keeps the VM\'s writes, and stops reading the image once detached', async () => {
    const { dc, hv, source, image, vmId, volumeId } = await setup();
    const own = Buffer.alloc(1024, 0xee);
    await dc.guestWrite(vmId, volumeId, 10 * KiB, own); // a partial chunk of the VM's own
    const expected = Buffer.from(image);
    own.copy(expected, 10 * KiB);
    assert.equal(dc.isOnImage(vmId, volumeId), true);
    // A write that lands while a promotion read is in flight must win too.
    const promoting = hv.promotion.promoteDisk(vmId, volumeId, 0, 256 * KiB);
    const late = Buffer.alloc(512, 0xab);
    await dc.guestWrite(vmId, volumeId, 70 * KiB, late);
    late.copy(expected, 70 * KiB);
    await promoting;
    await hv.promotion.promoteDisk(vmId, volumeId, 256 * KiB, 256 * KiB);
    await hv.promotion.detachDiskSource(vmId, volumeId);
    assert.equal(dc.isOnImage(vmId, volumeId), false);
    const reads = source.reads;
    image.fill(0x11); // the image changes (or goes away): the promoted disk must not care
    assert.equal(sha256(await dc.guestRead(vmId, volumeId, 0, expected.length)), sha256(expected));
    assert.equal(source.reads, reads, 'no read reached the image after detaching');
    assert.ok(dc.inventory().datastores.some((d) => d.capacityBytes - d.freeBytes === 7 * 64 * KiB), 'the all-zero chunk stayed thin (7 of 8 chunks allocated)');
  });

  it('refuses to promote a volume that is not a recovery disk', async () => {
    const { dc } = await setup();
    const site = dc.sites()[0];
    const vm = dc.createVm({ name: 'plain', hostId: dc.inventory(site.id).hosts[0].id, volumes: [{ sizeBytes: 64 * KiB }] });
    await assert.rejects(dc.promoteRecoveryDisk(vm.id, vm.volumes[0].id, 0, 64 * KiB), ValidationError);
    assert.throws(() => dc.detachRecoveryDiskSource(vm.id, vm.volumes[0].id), ValidationError);
  });
});
