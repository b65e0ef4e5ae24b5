// The vSphere conformance harness (change-tracking mode) on vcsim, whose CBT and snapshot disk data are the
// fixture's SIMULATION: capabilities as stated, protected VMs and the guest's writes, hot-added disks, and
// the change-tracking faults the kernel's C cases inject, each observed through the adapter.
import assert from 'node:assert/strict';
import { AlignmentError, CAPABILITIES, ChangeTokenLostError, ChangeViewError, InvalidStateError, ValidationError, VirtualClock, VolumeRangeError } from '@opencdp/core';
import type { HypervisorAdapter } from '@opencdp/core';
import { createVsphereHarness, VSPHERE_SECTOR_SIZES, VSPHERE_UNSUPPORTED, type VsphereHarness } from './vsphere-harness.js';
import { SectorSizeUnsupportedError } from './vsphere-errors.js';
import { requireVcsimOrSkip } from './testing/vcsim-fixture.js';
import { sha256, snapshotNames } from './testing/spec-helpers.js';

const MiB = 1024 * 1024;

describe('vSphere conformance harness on vcsim (SIMULATED CBT and snapshot data)', function () {
  this.timeout(60_000);
  let h: VsphereHarness;

  before(async function () {
    this.timeout(400_000);
    requireVcsimOrSkip(this);
    h = await createVsphereHarness();
  });
  after(async () => {
    await h?.dispose();
  });

  it('states every capability, true only for what it does, with reasons for the rest; refuses the splitter mode', async () => {
    assert.deepEqual(Object.keys(h.capabilities).sort(), [...CAPABILITIES].sort());
    assert.equal(h.capabilities.writeTap, VSPHERE_UNSUPPORTED.writeTap);
    for (const c of ['changeTracking', 'faultChangeTracking', 'recoveryVm', 'virtualClock', 'volumeHotAdd', 'faultStorageCrash'] as const) assert.equal(h.capabilities[c], true, c);
    assert.equal(h.capabilities.faultHostRestart, VSPHERE_UNSUPPORTED.hostRestart);
    assert.equal((h.hypervisor as HypervisorAdapter).openTap, undefined, 'no splitter is offered');
    assert.ok(h.clock instanceof VirtualClock);
    assert.equal(h.hypervisor.changeTracking.multiVmViews, false);
    await assert.rejects(createVsphereHarness({ capture: 'splitter' }), ValidationError);
    await assert.rejects(h.injectFault({ kind: 'host-restart', hostId: 'host-1' }), ValidationError);
  });

  it('makes protected VMs on the cluster\'s hosts; the guest\'s writes land in their disks; bad writes fail typed; disks hot-add', async () => {
    const a = await h.createVm({ name: 'h-app', volumes: [{ sizeBytes: 2 * MiB }, { sizeBytes: 1 * MiB }] });
    const b = await h.createVm({ name: 'h-db', volumes: [{ sizeBytes: 1 * MiB }] });
    assert.notEqual(a.hostId, b.hostId, 'round robin over the protected hosts');
    assert.equal(a.powerState, 'on');
    const data = Buffer.alloc(8192, 0x5a);
    await h.guestWrite(a.id, a.volumes[1].id, 4096, data);
    assert.equal(sha256(await h.hypervisor.readVolume(a.id, a.volumes[1].id, 4096, 8192)), sha256(data));
    await assert.rejects(h.guestWrite(a.id, a.volumes[1].id, 100, data), AlignmentError);
    await assert.rejects(h.guestWrite(a.id, a.volumes[1].id, MiB - 512, data), VolumeRangeError);
    const added = await h.addVolume!(b.id, { sizeBytes: 3 * MiB });
    assert.equal(added.sizeBytes, 3 * MiB);
    assert.equal((await h.hypervisor.getVm(b.id)).volumes.length, 2);
    await h.guestWrite(b.id, added.id, 0, data);
    assert.equal(sha256(await h.hypervisor.readVolume(b.id, added.id, 0, 8192)), sha256(data));
    const t = h.clock.now();
    await h.advance(5000);
    assert.equal(h.clock.now(), t + 5000);
  });

  it('hosts 512-byte sectors only: a 4096-byte volume is refused naming the field, before anything is made', async () => {
    assert.deepEqual([h.sectorSizes, h.recoverySectorSizes], [VSPHERE_SECTOR_SIZES, VSPHERE_SECTOR_SIZES]);
    assert.deepEqual(VSPHERE_SECTOR_SIZES, [512]);
    const before = (await h.hypervisor.inventory()).vms.map((v) => v.id).sort();
    await assert.rejects(h.createVm({ name: 'h-4k', volumes: [{ sizeBytes: MiB }, { sizeBytes: MiB, sectorSize: 4096 }] }),
      (e: unknown) => e instanceof SectorSizeUnsupportedError && e.field === 'volumes[1].sectorSize' && e.sectorSize === 4096);
    assert.deepEqual((await h.hypervisor.inventory()).vms.map((v) => v.id).sort(), before, 'no VM was made');
    const vm = await h.createVm({ name: 'h-512', volumes: [{ sizeBytes: MiB, sectorSize: 512 }] });
    await assert.rejects(h.addVolume!(vm.id, { sizeBytes: MiB, sectorSize: 4096 }), (e: unknown) => e instanceof SectorSizeUnsupportedError && e.field === 'sectorSize');
    assert.deepEqual((await h.hypervisor.getVm(vm.id)).volumes.map((v) => v.sectorSize), [512], 'no disk was added');
  });

  it('a powered-off VM refuses guest writes and deleteVm refuses a running VM, both with InvalidStateError; once off it deletes', async () => {
    const vm = await h.createVm({ name: 'h-power', volumes: [{ sizeBytes: MiB }] });
    await assert.rejects(h.hypervisor.deleteVm(vm.id), (e: unknown) => e instanceof InvalidStateError && /powered on/.test(e.message));
    assert.equal((await h.hypervisor.getVm(vm.id)).powerState, 'on', 'the refused delete left it running');
    await h.hypervisor.powerOff(vm.id);
    const before = sha256(await h.hypervisor.readVolume(vm.id, vm.volumes[0].id, 0, MiB));
    await assert.rejects(h.guestWrite(vm.id, vm.volumes[0].id, 0, Buffer.alloc(4096, 1)), (e: unknown) => e instanceof InvalidStateError && /poweredOff/.test(e.message));
    assert.equal(sha256(await h.hypervisor.readVolume(vm.id, vm.volumes[0].id, 0, MiB)), before, 'the refused write changed nothing');
    await h.hypervisor.deleteVm(vm.id);
    assert.ok(!(await h.hypervisor.inventory()).vms.some((v) => v.id === vm.id));
  });

  it('injects the change-tracking faults: views that fail to open or release, a token reset, lost views', async () => {
    const vm = await h.createVm({ name: 'h-ct', volumes: [{ sizeBytes: 1 * MiB }] });
    const volumeId = vm.volumes[0].id;
    const ct = h.hypervisor.changeTracking;
    await ct.enable(vm.id);
    await h.injectFault({ kind: 'view-open-fail' });
    await assert.rejects(ct.openView([vm.id], 'opencdp-f1'), (e: unknown) => e instanceof ChangeViewError && e.step === 'open');
    await assert.rejects(ct.openView([vm.id], 'opencdp-f1'), ChangeViewError, 'until cleared');
    assert.deepEqual(await snapshotNames(h.hypervisor.client, vm.id), [], 'nothing left on the platform');
    await h.clearFaults();
    const v1 = await ct.openView([vm.id], 'opencdp-f1');
    await h.injectFault({ kind: 'view-release-fail' });
    await assert.rejects(ct.releaseView(v1.id), (e: unknown) => e instanceof ChangeViewError && e.step === 'release');
    assert.deepEqual((await ct.listViews('opencdp-')).map((v) => v.id), [v1.id], 'the view stays on the platform');
    await h.clearFaults();
    const token = v1.token(volumeId);
    await ct.releaseView(v1.id);
    await h.guestWrite(vm.id, volumeId, 0, Buffer.alloc(4096, 1));
    await h.injectFault({ kind: 'token-reset', vmId: vm.id });
    const v2 = await ct.openView([vm.id], 'opencdp-f2');
    await assert.rejects(v2.changedSince(volumeId, token), (e: unknown) => e instanceof ChangeTokenLostError && e.reason === 'reset');
    await h.injectFault({ kind: 'view-lost' });
    assert.deepEqual(await ct.listViews('opencdp-'), [], 'the platform no longer lists it');
    await assert.rejects(v2.read(volumeId, 0, 4096), (e: unknown) => e instanceof ChangeViewError && e.step === 'read');
    await ct.releaseView(v2.id);
  });

  it('dispose logs out and stops vcsim', async () => {
    const other = await createVsphereHarness();
    const url = other.fixture.url;
    await other.dispose();
    await assert.rejects(fetch(url), 'vcsim is gone');
  });
});
