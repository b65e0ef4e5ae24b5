// The conformance harnesses on the SIMULATED Hyper-V host, ready for the kernel's change-tracking mode:
// capabilities say what Hyper-V has (change tracking, not a splitter), guest writes land in the VM's VHDX,
// and each change-tracking fault has the effect the port's contract names.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { ChangeTokenLostError, ChangeViewError, seededRandom, type HypervisorAdapter } from '@opencdp/core';
import { createHypervHarness, createHypervRecoveryHarness, HYPERV_UNSUPPORTED, type HypervHarness } from './hyperv-harness.js';

describe('Hyper-V conformance harnesses (SIMULATED Hyper-V host)', function () {
  this.timeout(120_000);
  let h: HypervHarness;

  beforeEach(async () => {
    h = await createHypervHarness({ capture: 'change-tracking' });
  });
  afterEach(async () => {
    const dir = h.sim.workDir;
    await h.dispose();
    assert.equal(await fs.stat(dir).then(() => true, () => false), false, 'dispose removes the host folder');
  });

  it('reports its capabilities truthfully: change tracking and its faults yes, a splitter no (with the reason)', () => {
    assert.equal(h.capabilities.changeTracking, true);
    assert.equal(h.capabilities.faultChangeTracking, true);
    assert.equal(h.capabilities.recoveryVm, true);
    assert.equal(h.capabilities.writeTap, HYPERV_UNSUPPORTED.writeTap);
    assert.equal((h.hypervisor as HypervisorAdapter).openTap, undefined, 'no splitter is offered');
    assert.ok(h.hypervisor.changeTracking);
  });

  it('guest writes land in the VM\'s disk; hot-added volumes too; views see them', async () => {
    const vm = await h.createVm({ name: 'a', volumes: [{ sizeBytes: 2 * 1024 * 1024 }] });
    const data = seededRandom(2).bytes(8192);
    await h.guestWrite(vm.id, vm.volumes[0].id, 4096, data);
    assert.deepEqual(await h.hypervisor.readVolume(vm.id, vm.volumes[0].id, 4096, 8192), data);
    const added = await h.addVolume!(vm.id, { sizeBytes: 1024 * 1024 });
    await h.guestWrite(vm.id, added.id, 0, data);
    assert.deepEqual(await h.hypervisor.readVolume(vm.id, added.id, 0, 8192), data);
    const ct = h.hypervisor.changeTracking;
    await ct.enable(vm.id);
    const v = await ct.openView([vm.id], 'opencdp-h-1');
    assert.deepEqual(await v.read(added.id, 0, 8192), data);
    await ct.releaseView(v.id);
  });

  it('each change-tracking fault does what the port says: open fails, release fails (view stays listed), token reset, view lost', async () => {
    const vm = await h.createVm({ name: 'b', volumes: [{ sizeBytes: 1024 * 1024 }] });
    const vol = vm.volumes[0].id;
    const ct = h.hypervisor.changeTracking;
    await ct.enable(vm.id);
    await h.injectFault({ kind: 'view-open-fail' });
    await assert.rejects(ct.openView([vm.id], 'opencdp-f-1'), ChangeViewError);
    assert.deepEqual(await ct.listViews('opencdp-'), [], 'nothing left');
    await h.clearFaults();
    const v1 = await ct.openView([vm.id], 'opencdp-f-2');
    const t1 = v1.token(vol);
    await h.injectFault({ kind: 'view-release-fail' });
    await assert.rejects(ct.releaseView(v1.id), ChangeViewError);
    assert.equal((await ct.listViews('opencdp-')).length, 1);
    await h.clearFaults();
    await ct.releaseView(v1.id);
    await h.injectFault({ kind: 'token-reset', vmId: vm.id });
    const v2 = await ct.openView([vm.id], 'opencdp-f-3');
    await assert.rejects(v2.changedSince(vol, t1), ChangeTokenLostError);
    await h.injectFault({ kind: 'view-lost' });
    assert.deepEqual(await ct.listViews('opencdp-'), [], 'the view vanished from the platform');
    await ct.releaseView(v2.id);
  });

  it('the recovery variant: the fake data centre protects, Hyper-V recovers; guest writes go to whichever platform owns the VM', async () => {
    const r = await createHypervRecoveryHarness();
    try {
      assert.equal(r.capabilities.writeTap, true);
      assert.equal(r.capabilities.recoveryVm, true);
      assert.equal(r.recoveryHypervisor.platform, 'hyperv');
      const vm = await r.createVm({ name: 'p', volumes: [{ sizeBytes: 1024 * 1024 }] });
      await r.guestWrite(vm.id, vm.volumes[0].id, 0, Buffer.alloc(4096, 3));
      assert.deepEqual(await r.hypervisor.readVolume(vm.id, vm.volumes[0].id, 0, 4096), Buffer.alloc(4096, 3));
    } finally {
      await r.dispose();
    }
  });
});
