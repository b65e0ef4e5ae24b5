// EC2 change tracking by EBS snapshots against the EBS/EC2 SIMULATION: views are frozen, crash-consistent
// sets of one instance's volumes; the first cycle reads only allocated blocks; later cycles list exactly
// the 512 KiB blocks the guest changed (no misses); taken tokens outlive their view until retired;
// leftovers are found by tag; a lost token is ChangeTokenLostError, never an empty cycle; a view that
// cannot be taken leaves nothing behind.
import assert from 'node:assert/strict';
import { ChangeTokenLostError, ChangeViewError, VIEW_NAME_PREFIX, ValidationError, VirtualClock, seededRandom, type VmInfo } from '@opencdp/core';
import { EBS_BLOCK_SIZE } from '../ebs/ebs-direct.js';
import { writeBlocks } from '../simulation/simulated-block-store.js';
import { launchInstance, startSimulatedAws, type SimulatedAwsRig } from '../testing/simulated-aws-rig.js';
import type { EbsChangeTracking } from './ebs-change-tracking.js';

describe('EbsChangeTracking of EC2 instances (simulated EBS/EC2)', function () {
  this.timeout(120_000);
  let clock: VirtualClock;
  let rig: SimulatedAwsRig;
  let ct: EbsChangeTracking;
  let vm: VmInfo;

  beforeEach(async () => {
    clock = new VirtualClock(Date.now());
    rig = await startSimulatedAws({ clock });
    ct = rig.hypervisor.changeTracking!;
    vm = await launchInstance(rig, 'app-1', [1, 1]);
  });

  afterEach(async () => {
    await rig.dispose();
  });

  function guestWrite(volumeIndex: number, offset: number, data: Buffer): void {
    const v = rig.sim.state.guestVolume(vm.id, vm.volumes[volumeIndex].id);
    writeBlocks(rig.sim.state.blocks, v.blocks, offset, data);
  }

  it('simulated: first view reads allocated blocks, the next lists exactly the changed blocks, views are frozen, tokens outlive their view until retired', async () => {
    assert.equal(ct.multiVmViews, false);
    assert.equal(ct.granularityBytes, EBS_BLOCK_SIZE);
    assert.ok(ct.minIntervalMs >= 60_000, 'snapshot cycles are minutes, not seconds');
    await ct.enable(vm.id);
    const random = seededRandom(5);
    const a = random.bytes(8192);
    guestWrite(0, 3 * EBS_BLOCK_SIZE + 4096, a);
    guestWrite(1, 0, random.bytes(512));
    const v1 = await ct.openView([vm.id], `${VIEW_NAME_PREFIX}g1-1`);
    assert.deepEqual(await v1.allocated(vm.volumes[0].id), [{ volumeId: vm.volumes[0].id, offset: 3 * EBS_BLOCK_SIZE, length: EBS_BLOCK_SIZE }]);
    assert.deepEqual(await v1.read(vm.volumes[0].id, 3 * EBS_BLOCK_SIZE + 4096, 8192), a);
    const t0 = v1.token(vm.volumes[0].id);
    // Writes after the view never show through it.
    const b = random.bytes(4096);
    guestWrite(0, 3 * EBS_BLOCK_SIZE + 4096, b);
    guestWrite(0, 9 * EBS_BLOCK_SIZE, b);
    guestWrite(0, 10 * EBS_BLOCK_SIZE - 512, b.subarray(0, 1024));
    assert.deepEqual(await v1.read(vm.volumes[0].id, 3 * EBS_BLOCK_SIZE + 4096, 8192), a);
    await ct.releaseView(v1.id);
    assert.deepEqual(await ct.listViews(VIEW_NAME_PREFIX), [], 'a released view is no longer listed');
    assert.equal(rig.sim.state.snapshots.has(t0), true, 'the token taken from it stays');
    assert.equal(rig.sim.state.snapshots.has(v1.id.split(',')[1]), false, 'the snapshot whose token was not taken is gone');

    const v2 = await ct.openView([vm.id], `${VIEW_NAME_PREFIX}g1-2`);
    assert.deepEqual(await v2.changedSince(vm.volumes[0].id, t0), [
      { volumeId: vm.volumes[0].id, offset: 3 * EBS_BLOCK_SIZE, length: EBS_BLOCK_SIZE },
      { volumeId: vm.volumes[0].id, offset: 9 * EBS_BLOCK_SIZE, length: 2 * EBS_BLOCK_SIZE },
    ]);
    assert.deepEqual((await v2.read(vm.volumes[0].id, 3 * EBS_BLOCK_SIZE + 4096, 4096)), b);
    const t1 = v2.token(vm.volumes[0].id);
    await ct.retireToken(vm.id, vm.volumes[0].id, t0);
    assert.equal(rig.sim.state.snapshots.has(t0), false, 'a retired token is deleted');
    await ct.retireToken(vm.id, vm.volumes[0].id, 'snap-0123456789abcdef0');
    await ct.retireToken(vm.id, vm.volumes[0].id, 'not-a-token');
    // A token of the other volume is of another lineage: lost, never an empty answer.
    await assert.rejects(v2.changedSince(vm.volumes[1].id, t1), (e: unknown) => e instanceof ChangeTokenLostError && e.reason === 'reset');
    await assert.rejects(v2.changedSince(vm.volumes[0].id, t0), (e: unknown) => e instanceof ChangeTokenLostError && e.reason === 'expired');
    await ct.releaseView(v2.id);
    await ct.releaseView(v2.id);
    await ct.disable(vm.id);
    assert.equal(rig.sim.state.snapshots.size - 2, 0, 'only the two base snapshots of the launch remain');
  });

  it('simulated: leftover views of a killed process are listed by prefix and released; multi-instance views and failed views are refused, leaving nothing', async () => {
    const left = await ct.openView([vm.id], `${VIEW_NAME_PREFIX}g1-7`);
    const other = await launchInstance(rig, 'app-2', [1]);
    await assert.rejects(ct.openView([vm.id, other.id], `${VIEW_NAME_PREFIX}both`), ValidationError);
    // A new tracker (as after kill -9) finds the view by its tag.
    const { EbsChangeTracking } = await import('./ebs-change-tracking.js');
    const fresh = new EbsChangeTracking(rig.hypervisor.ec2, rig.hypervisor.ebs, clock);
    const listed = await fresh.listViews(VIEW_NAME_PREFIX);
    assert.deepEqual(listed.map((v) => [v.name, v.vmIds]), [[`${VIEW_NAME_PREFIX}g1-7`, [vm.id]]]);
    assert.deepEqual(listed[0].id.split(',').sort(), left.id.split(',').sort());
    await fresh.releaseView(listed[0].id);
    assert.deepEqual(await fresh.listViews(VIEW_NAME_PREFIX), []);
    const before = rig.sim.state.snapshots.size;
    rig.sim.inject({ kind: 'snapshot-error', count: 1 });
    await assert.rejects(ct.openView([vm.id], `${VIEW_NAME_PREFIX}g1-8`), ChangeViewError);
    assert.equal(rig.sim.state.snapshots.size, before, 'a view that failed left no snapshot');
  });
});
