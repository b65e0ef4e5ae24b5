// The AWS conformance harness in both capture modes (S3 on s3rver; EBS/EC2 simulated): capabilities say
// what each really offers; the change-tracking variant's protected VMs are simulated EC2 instances whose
// guest writes show in the next view, and its injected change-tracking faults behave as the port says.
import assert from 'node:assert/strict';
import { CAPABILITIES, ChangeTokenLostError, ChangeViewError, VIEW_NAME_PREFIX, seededRandom } from '@opencdp/core';
import { createAwsHarness, type AwsHarness } from './aws-harness.js';

describe('AWS conformance harness (S3 on s3rver, EBS/EC2 simulated)', function () {
  this.timeout(120_000);
  let harness: AwsHarness | undefined;

  afterEach(async () => {
    await harness?.dispose();
    harness = undefined;
  });

  it('simulated: the splitter variant protects fake VMs into S3 and recovers into EC2; its capability table is complete and truthful', async () => {
    harness = await createAwsHarness();
    assert.equal(harness.capture, 'splitter');
    assert.deepEqual(Object.keys(harness.capabilities).sort(), [...CAPABILITIES].sort());
    assert.equal(harness.capabilities.writeTap, true);
    assert.match(String(harness.capabilities.changeTracking), /change-tracking/);
    assert.equal(harness.recoveryHypervisor.platform, 'aws');
    assert.equal(harness.recoveryStorage.kind, 's3');
    const vm = await harness.createVm({ name: 'web', volumes: [{ sizeBytes: 1 << 20 }] });
    await harness.guestWrite(vm.id, vm.volumes[0].id, 0, Buffer.alloc(4096, 1));
    assert.deepEqual(await harness.hypervisor.readVolume(vm.id, vm.volumes[0].id, 0, 4096), Buffer.alloc(4096, 1));
    // A power cut of the recovery appliance loses what was not flushed, keeps what was.
    const file = await harness.recoveryStorage.open('journals/x/seg', { create: true });
    await file.write(0, Buffer.from('durable'));
    await file.flush();
    await file.write(7, Buffer.from(' and not'));
    await harness.crashRecoveryStorage(1);
    assert.deepEqual(await harness.recoveryStorage.readAll('journals/x/seg'), Buffer.from('durable'));
  });

  it('simulated: the change-tracking variant protects EC2 instances by EBS snapshots; token reset, lost views and failing opens are injected', async () => {
    harness = await createAwsHarness({ capture: 'change-tracking' });
    assert.equal(harness.capabilities.changeTracking, true);
    assert.equal(harness.capabilities.faultChangeTracking, true);
    assert.match(String(harness.capabilities.writeTap), /no write splitter/);
    const ct = harness.hypervisor.changeTracking!;
    const vm = await harness.createVm({ name: 'db', volumes: [{ sizeBytes: 2 << 20 }] });
    assert.equal(vm.volumes[0].sizeBytes, 1024 ** 3, 'EBS volumes come in whole GiB');
    const data = seededRandom(1).bytes(8192);
    await harness.guestWrite(vm.id, vm.volumes[0].id, 1 << 20, data);
    const v1 = await ct.openView([vm.id], `${VIEW_NAME_PREFIX}h-1`);
    assert.deepEqual(await v1.read(vm.volumes[0].id, 1 << 20, 8192), data);
    const token = v1.token(vm.volumes[0].id);
    await ct.releaseView(v1.id);
    await harness.guestWrite(vm.id, vm.volumes[0].id, 0, data);
    await harness.injectFault({ kind: 'token-reset', vmId: vm.id });
    const v2 = await ct.openView([vm.id], `${VIEW_NAME_PREFIX}h-2`);
    await assert.rejects(v2.changedSince(vm.volumes[0].id, token), ChangeTokenLostError);
    await harness.injectFault({ kind: 'view-lost' });
    assert.deepEqual(await ct.listViews(VIEW_NAME_PREFIX), []);
    await assert.rejects(v2.read(vm.volumes[0].id, 0, 4096), ChangeViewError);
    await harness.injectFault({ kind: 'view-open-fail' });
    await assert.rejects(ct.openView([vm.id], `${VIEW_NAME_PREFIX}h-3`), ChangeViewError);
    await harness.clearFaults();
    const v3 = await ct.openView([vm.id], `${VIEW_NAME_PREFIX}h-4`);
    assert.deepEqual(await v3.read(vm.volumes[0].id, 0, 8192), data);
    await ct.releaseView(v3.id);
  });
});
