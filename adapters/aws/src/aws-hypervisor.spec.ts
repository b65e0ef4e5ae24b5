// Recovery into EBS and EC2 through the real SDK clients against the EBS/EC2 SIMULATION: every disk of
// a recovered VM equals its point-in-time image (compared by hash, block by block, against an oracle
// the journal never saw), NICs land on the mapped subnets with their addresses, bad specs change
// nothing, and every failure — a snapshot that fails, an instance that does not start, throttling past
// the retries — leaves no snapshot, AMI, volume or instance behind.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  Journal, MemoryStorage, UnknownVmError, ValidationError, VirtualClock, seededRandom,
  type PointInTimeImage, type RecoveryVmSpec,
} from '@opencdp/core';
import { AwsApiError, AwsChecksumError, InstanceStateError, SnapshotFailedError } from './aws-errors.js';
import { EBS_BLOCK_SIZE } from './ebs/ebs-direct.js';
import { SIM_LIVE_SUBNET, SIM_TEST_SUBNET, startSimulatedAws, whileAdvancing, type SimulatedAwsRig } from './testing/simulated-aws-rig.js';
import { readBlocks } from './simulation/simulated-block-store.js';

const MiB = 1024 * 1024;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const VOLUMES = [{ id: 'disk-0', sizeBytes: 3 * MiB + 512 * 1024, sectorSize: 512 }, { id: 'disk-1', sizeBytes: 1 * MiB, sectorSize: 4096 }];

interface Source {
  image: PointInTimeImage;
  expected: Map<string, Buffer>;
  journal: Journal;
}

/** A journal with random writes (a real point-in-time image) and the plain buffers it must equal. */
async function imageSource(clock: VirtualClock, seed: number): Promise<Source> {
  const journal = await Journal.open({ storage: new MemoryStorage(), clock, path: 'journals/g1/vm-src', vmId: 'vm-src', volumes: VOLUMES, historyMs: 3_600_000, hardLimitBytes: 256 * MiB, warningBytes: 200 * MiB });
  const expected = new Map(VOLUMES.map((v) => [v.id, Buffer.alloc(v.sizeBytes)]));
  const random = seededRandom(seed);
  for (let seq = 1; seq <= 60; seq++) {
    const v = random.pick(VOLUMES);
    const sectors = random.int(1, 64);
    const offset = random.int(0, v.sizeBytes / v.sectorSize - sectors) * v.sectorSize;
    const data = random.bytes(sectors * v.sectorSize);
    await journal.append({ volumeId: v.id, offset, data, seq });
    data.copy(expected.get(v.id)!, offset);
  }
  await journal.addCheckpoint({ id: 'cp-1', groupId: 'g1', seq: 60, timestamp: clock.now(), kind: 'tagged' });
  return { image: await journal.openImage('cp-1'), expected, journal };
}

function spec(src: Source, overrides: Partial<RecoveryVmSpec> = {}): RecoveryVmSpec {
  return {
    name: 'db (recovered)', sourceVmId: 'vm-src',
    disks: VOLUMES.map((v) => ({ volumeId: v.id, source: src.image })),
    nics: [{ networkId: SIM_LIVE_SUBNET, ipv4: '10.1.0.77' }, { networkId: SIM_LIVE_SUBNET }],
    ...overrides,
  };
}

describe('AwsHypervisor recovery into EBS and EC2 (simulated EBS/EC2)', function () {
  this.timeout(120_000);
  let clock: VirtualClock;
  let rig: SimulatedAwsRig;
  let src: Source;

  beforeEach(async () => {
    clock = new VirtualClock(Date.now());
    rig = await startSimulatedAws({ clock, delays: { snapshotMs: 30_000, bootMs: 20_000, stopMs: 5000, terminateMs: 5000 } });
    src = await imageSource(clock, 7);
  });

  afterEach(async () => {
    src.image.close();
    await src.journal.close();
    await rig.dispose();
  });

  const run = <T>(p: Promise<T>): Promise<T> => whileAdvancing(clock, p);

  it('simulated: a recovered VM is an AMI of snapshots equal to the image until powered on, then an instance on the mapped subnet with its address; deleteVm leaves nothing', async () => {
    const hv = rig.hypervisor;
    const vm = await run(hv.createRecoveryVm(spec(src)));
    assert.match(vm.id, /^ami-/);
    assert.equal(vm.powerState, 'off');
    assert.deepEqual(vm.volumes.map((v) => v.sizeBytes), VOLUMES.map((v) => v.sizeBytes));
    for (const [k, v] of VOLUMES.entries()) {
      const snapshot = rig.sim.state.snapshots.get(vm.volumes[k].id)!;
      assert.equal(snapshot.state, 'completed');
      assert.equal(snapshot.volumeSize, 1, 'rounded up to one GiB');
      // Read back both ways: through the adapter (EBS direct) and straight from the simulation's blocks.
      assert.equal(sha(await run(hv.readVolume(vm.id, vm.volumes[k].id, 0, v.sizeBytes))), sha(src.expected.get(v.id)!), `disk ${k} through readVolume`);
      assert.equal(sha(readBlocks(rig.sim.state.blocks, snapshot.blocks, 0, v.sizeBytes)), sha(src.expected.get(v.id)!), `disk ${k} in the snapshot`);
    }
    const zeroBlocks = Math.ceil(VOLUMES[0].sizeBytes / EBS_BLOCK_SIZE) + Math.ceil(VOLUMES[1].sizeBytes / EBS_BLOCK_SIZE) - hv.diskWrites.reduce((n, d) => n + d.blocksWritten, 0);
    assert.ok(zeroBlocks >= 0);
    assert.equal((await hv.inventory()).vms.filter((v) => v.id === vm.id).length, 1, 'listed before it ever ran');

    await run(hv.powerOn(vm.id));
    const on = await hv.getVm(vm.id);
    assert.equal(on.id, vm.id, 'the VM keeps its id once launched');
    assert.equal(on.powerState, 'on');
    assert.deepEqual(on.nics.map((n) => [n.networkId, n.ipv4]), [[SIM_LIVE_SUBNET, '10.1.0.77'], [SIM_LIVE_SUBNET, '10.1.0.4']]);
    assert.match(on.volumes[0].id, /^vol-/);
    for (const [k, v] of VOLUMES.entries()) {
      const volume = rig.sim.state.volumes.get(on.volumes[k].id)!;
      assert.equal(sha(readBlocks(rig.sim.state.blocks, volume.blocks, 0, v.sizeBytes)), sha(src.expected.get(v.id)!), `disk ${k} of the running instance`);
    }
    // A guest write shows in the next read; a disk named by its old snapshot id still resolves.
    const [instanceId] = [...rig.sim.state.instances.keys()];
    const volume = rig.sim.state.guestVolume(instanceId, on.volumes[1].id);
    const scratch = seededRandom(9).bytes(4096);
    const { writeBlocks } = await import('./simulation/simulated-block-store.js');
    writeBlocks(rig.sim.state.blocks, volume.blocks, 8192, scratch);
    assert.deepEqual(await run(hv.readVolume(vm.id, vm.volumes[1].id, 8192, 4096)), scratch);

    await run(hv.shutdownGuest(vm.id));
    assert.equal((await hv.getVm(vm.id)).powerState, 'off');
    await run(hv.powerOn(vm.id));
    await run(hv.powerOff(vm.id));
    await run(hv.deleteVm(vm.id));
    assert.deepEqual(rig.sim.state.census(), { snapshots: 0, volumes: 0, instances: 0, images: 0 });
    await assert.rejects(hv.getVm(vm.id), UnknownVmError);
  });

  it('simulated: test networks get the test security groups; bad specs are refused with ValidationError and create nothing', async () => {
    const hv = rig.hypervisor;
    const bad: [Partial<RecoveryVmSpec>, string][] = [
      [{ nics: [{ networkId: 'subnet-0nope' }] }, 'nics'],
      [{ nics: [{ networkId: SIM_LIVE_SUBNET, ipv4: '192.168.77.5' }] }, 'nics'],
      [{ datastoreId: 'floppy' }, 'datastoreId'],
      [{ hostId: 'eu-west-1c' }, 'hostId'],
      [{ disks: [] }, 'disks'],
    ];
    for (const [overrides, field] of bad) {
      await assert.rejects(run(hv.createRecoveryVm(spec(src, overrides))), (e: unknown) => e instanceof ValidationError && e.field === field);
    }
    assert.deepEqual(rig.sim.state.census(), { snapshots: 0, volumes: 0, instances: 0, images: 0 });
    const vm = await run(hv.createRecoveryVm(spec(src, { nics: [{ networkId: SIM_TEST_SUBNET, ipv4: '192.168.77.10' }], datastoreId: 'io2' })));
    await run(hv.powerOn(vm.id));
    const instance = [...rig.sim.state.instances.values()][0];
    assert.deepEqual(instance.nics.map((n) => [n.subnetId, n.privateIp, n.groups]), [[SIM_TEST_SUBNET, '192.168.77.10', ['sg-0test']]]);
    assert.ok(instance.devices.every((d) => rig.sim.state.volumes.get(d.volumeId)?.type === 'io2'));
    const inventory = await hv.inventory();
    assert.deepEqual(inventory.networks.map((n) => [n.id, n.isolated]), [[SIM_LIVE_SUBNET, false], [SIM_TEST_SUBNET, true]]);
    const io2 = inventory.datastores.find((d) => d.id === 'io2')!;
    assert.equal(io2.capacityBytes - io2.freeBytes, 2 * 1024 ** 3, 'two 1 GiB volumes use the io2 quota');
  });

  it('simulated: a snapshot that fails, throttling past the retries, and an instance that does not start are typed errors that leave nothing behind', async () => {
    const hv = rig.hypervisor;
    rig.sim.inject({ kind: 'snapshot-error', count: 1 });
    await assert.rejects(run(hv.createRecoveryVm(spec(src))), SnapshotFailedError);
    assert.deepEqual(rig.sim.state.census(), { snapshots: 0, volumes: 0, instances: 0, images: 0 });

    rig.sim.inject({ kind: 'throttle', service: 'ebs', operation: 'PutSnapshotBlock', count: 1000 });
    await assert.rejects(run(hv.createRecoveryVm(spec(src))), (e: unknown) => e instanceof AwsApiError && e.awsCode === 'RequestThrottledException' && /parallelism/.test(e.message));
    rig.sim.clearFaults();
    assert.deepEqual(rig.sim.state.census(), { snapshots: 0, volumes: 0, instances: 0, images: 0 });

    const vm = await run(hv.createRecoveryVm(spec(src)));
    rig.sim.inject({ kind: 'launch-failure', count: 1 });
    await assert.rejects(run(hv.powerOn(vm.id)), (e: unknown) => e instanceof InstanceStateError && /Server.InternalError/.test(e.message));
    assert.equal(rig.sim.state.census().volumes, 0, 'the failed instance took its volumes with it');
    await run(hv.deleteVm(vm.id));
    assert.deepEqual(rig.sim.state.census(), { snapshots: 0, volumes: 0, instances: 0, images: 0 });
  });

  it('simulated: throttling and 5xx answers shorter than the retries are absorbed; the recovered disks still equal the image', async () => {
    const hv = rig.hypervisor;
    rig.sim.inject({ kind: 'throttle', service: 'ebs', operation: 'PutSnapshotBlock', count: 3 });
    rig.sim.inject({ kind: 'server-error', service: 'ebs', operation: 'CompleteSnapshot', count: 1 });
    rig.sim.inject({ kind: 'throttle', service: 'ec2', operation: 'RegisterImage', count: 1 });
    const vm = await run(hv.createRecoveryVm(spec(src)));
    const puts = rig.sim.state.calls.filter((c) => c === 'ebs:PutSnapshotBlock').length;
    assert.equal(puts, hv.diskWrites.reduce((n, d) => n + d.blocksWritten, 0) + 3, 'three PutSnapshotBlock calls were retried');
    for (const [k, v] of VOLUMES.entries()) assert.equal(sha(await run(hv.readVolume(vm.id, vm.volumes[k].id, 0, v.sizeBytes))), sha(src.expected.get(v.id)!));
  });

  it('simulated: a block read back with a wrong checksum is read again, and refused when it stays wrong', async () => {
    const hv = rig.hypervisor;
    const vm = await run(hv.createRecoveryVm(spec(src)));
    rig.sim.inject({ kind: 'corrupt-block', count: 1 });
    assert.equal(sha(await run(hv.readVolume(vm.id, vm.volumes[1].id, 0, VOLUMES[1].sizeBytes))), sha(src.expected.get('disk-1')!));
    rig.sim.inject({ kind: 'corrupt-block', count: 100 });
    await assert.rejects(run(hv.readVolume(vm.id, vm.volumes[1].id, 0, 4096)), AwsChecksumError);
  });
});
