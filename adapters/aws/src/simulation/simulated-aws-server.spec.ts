// The EBS direct / EC2 SIMULATION itself, driven by the real AWS SDK clients: it must refuse what AWS
// refuses (bad checksums, short blocks, writes to completed snapshots, wrong counts and aggregate
// checksums, stale or foreign block tokens, unrelated snapshots, bad signatures, unknown keys) and
// answer what the adapter relies on in the shapes the SDK parses. Every title says "simulated".
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  CompleteSnapshotCommand, GetSnapshotBlockCommand, ListChangedBlocksCommand, ListSnapshotBlocksCommand, PutSnapshotBlockCommand,
  StartSnapshotCommand, type EBSClient,
} from '@aws-sdk/client-ebs';
import {
  CreateSnapshotsCommand, DeleteSnapshotCommand, DescribeInstancesCommand, DescribeSnapshotsCommand, RegisterImageCommand,
  RunInstancesCommand, StopInstancesCommand, TerminateInstancesCommand, type EC2Client,
} from '@aws-sdk/client-ec2';
import { VirtualClock, seededRandom } from '@opencdp/core';
import { createEbsClient, createEc2Client } from '../aws-clients.js';
import { EBS_BLOCK_BYTES, readBlocks, writeBlocks } from './simulated-block-store.js';
import { SIMULATED_CREDENTIALS, SimulatedAwsServer } from './simulated-aws-server.js';

const sha64 = (b: Buffer): string => createHash('sha256').update(b).digest('base64');

function rejectsWith(code: string, reason?: string): (e: unknown) => boolean {
  return (e: unknown) => {
    const err = e as { name?: string; Reason?: string; message?: string };
    assert.equal(err.name, code, `expected ${code}, got ${err.name}: ${err.message}`);
    if (reason) assert.equal(err.Reason, reason);
    return true;
  };
}

describe('simulated EBS direct APIs and EC2 (SIMULATION) through the real SDK clients', function () {
  this.timeout(60_000);
  let sim: SimulatedAwsServer;
  let clock: VirtualClock;
  let ebs: EBSClient;
  let ec2: EC2Client;

  beforeEach(async () => {
    clock = new VirtualClock(Date.now());
    sim = await SimulatedAwsServer.start({ clock, delays: { snapshotMs: 60_000, bootMs: 30_000 } });
    ebs = createEbsClient({ region: 'eu-west-1', endpoint: sim.endpoint, credentials: SIMULATED_CREDENTIALS, maxAttempts: 1 });
    ec2 = createEc2Client({ region: 'eu-west-1', endpoint: sim.endpoint, credentials: SIMULATED_CREDENTIALS, maxAttempts: 1 });
  });

  afterEach(async () => {
    ebs.destroy();
    ec2.destroy();
    await sim.stop();
  });

  /** A completed EBS-direct snapshot holding `blocks` (index → data). */
  async function writeSnapshot(blocks: Map<number, Buffer>, sizeGiB = 1, parent?: string): Promise<string> {
    const { SnapshotId } = await ebs.send(new StartSnapshotCommand({ VolumeSize: sizeGiB, ...(parent ? { ParentSnapshotId: parent } : {}) }));
    const digests: Buffer[] = [];
    for (const [i, data] of [...blocks].sort(([a], [b]) => a - b)) {
      await ebs.send(new PutSnapshotBlockCommand({ SnapshotId, BlockIndex: i, BlockData: data, DataLength: data.length, Checksum: sha64(data), ChecksumAlgorithm: 'SHA256' }));
      digests.push(createHash('sha256').update(data).digest());
    }
    const linear = createHash('sha256').update(Buffer.concat(digests)).digest('base64');
    await ebs.send(new CompleteSnapshotCommand({ SnapshotId, ChangedBlocksCount: blocks.size, Checksum: linear, ChecksumAlgorithm: 'SHA256', ChecksumAggregationMethod: 'LINEAR' }));
    await clock.advance(60_000);
    return SnapshotId!;
  }

  it('simulated: a snapshot written block by block completes only after its delay, lists its blocks in pages and reads them back by token', async () => {
    const random = seededRandom(1);
    const blocks = new Map(Array.from({ length: 130 }, (_, k) => [k * 3, random.bytes(EBS_BLOCK_BYTES)] as const));
    const { SnapshotId, Status, BlockSize } = await ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }));
    assert.equal(Status, 'pending');
    assert.equal(BlockSize, EBS_BLOCK_BYTES);
    for (const [i, data] of blocks) await ebs.send(new PutSnapshotBlockCommand({ SnapshotId, BlockIndex: i, BlockData: data, DataLength: data.length, Checksum: sha64(data), ChecksumAlgorithm: 'SHA256' }));
    await ebs.send(new CompleteSnapshotCommand({ SnapshotId, ChangedBlocksCount: blocks.size }));
    await assert.rejects(ebs.send(new ListSnapshotBlocksCommand({ SnapshotId })), rejectsWith('ValidationException', 'INVALID_SNAPSHOT_ID'));
    await clock.advance(60_000);
    const first = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId, MaxResults: 100 }));
    assert.equal(first.Blocks!.length, 100);
    assert.ok(first.NextToken);
    const second = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId, MaxResults: 100, NextToken: first.NextToken }));
    assert.equal(second.Blocks!.length, 30);
    assert.equal(second.NextToken, undefined);
    const all = [...first.Blocks!, ...second.Blocks!];
    assert.deepEqual(all.map((b) => b.BlockIndex), [...blocks.keys()]);
    const pick = all[77];
    const got = await ebs.send(new GetSnapshotBlockCommand({ SnapshotId, BlockIndex: pick.BlockIndex, BlockToken: pick.BlockToken }));
    const data = Buffer.from(await got.BlockData!.transformToByteArray());
    assert.equal(sha64(data), sha64(blocks.get(pick.BlockIndex!)!));
    assert.equal(got.Checksum, sha64(data));
    // A token names its block and expires.
    await assert.rejects(ebs.send(new GetSnapshotBlockCommand({ SnapshotId, BlockIndex: all[0].BlockIndex, BlockToken: pick.BlockToken })), rejectsWith('ValidationException', 'INVALID_BLOCK_TOKEN'));
    await clock.advance(8 * 24 * 3_600_000);
    await assert.rejects(ebs.send(new GetSnapshotBlockCommand({ SnapshotId, BlockIndex: pick.BlockIndex, BlockToken: pick.BlockToken })), rejectsWith('ValidationException', 'INVALID_BLOCK_TOKEN'));
    await assert.rejects(ebs.send(new ListSnapshotBlocksCommand({ SnapshotId, MaxResults: 50 })), rejectsWith('ValidationException'));
  });

  it('simulated: refuses bad blocks, wrong counts and aggregate checksums, writes to sealed snapshots and unknown snapshots', async () => {
    const { SnapshotId } = await ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }));
    const data = Buffer.alloc(EBS_BLOCK_BYTES, 7);
    await assert.rejects(ebs.send(new PutSnapshotBlockCommand({ SnapshotId, BlockIndex: 0, BlockData: data, DataLength: data.length, Checksum: sha64(Buffer.alloc(EBS_BLOCK_BYTES)), ChecksumAlgorithm: 'SHA256' })),
      rejectsWith('ValidationException', 'INVALID_BLOCK'));
    const short = data.subarray(0, 4096);
    await assert.rejects(ebs.send(new PutSnapshotBlockCommand({ SnapshotId, BlockIndex: 0, BlockData: short, DataLength: short.length, Checksum: sha64(short), ChecksumAlgorithm: 'SHA256' })),
      rejectsWith('ValidationException', 'INVALID_BLOCK'));
    await assert.rejects(ebs.send(new PutSnapshotBlockCommand({ SnapshotId, BlockIndex: 2048, BlockData: data, DataLength: data.length, Checksum: sha64(data), ChecksumAlgorithm: 'SHA256' })),
      rejectsWith('ValidationException', 'INVALID_BLOCK'));
    await ebs.send(new PutSnapshotBlockCommand({ SnapshotId, BlockIndex: 5, BlockData: data, DataLength: data.length, Checksum: sha64(data), ChecksumAlgorithm: 'SHA256' }));
    await assert.rejects(ebs.send(new CompleteSnapshotCommand({ SnapshotId, ChangedBlocksCount: 2 })), rejectsWith('ValidationException'));
    await assert.rejects(ebs.send(new CompleteSnapshotCommand({ SnapshotId, ChangedBlocksCount: 1, Checksum: sha64(data), ChecksumAlgorithm: 'SHA256', ChecksumAggregationMethod: 'LINEAR' })),
      rejectsWith('ValidationException'));
    await ebs.send(new CompleteSnapshotCommand({ SnapshotId, ChangedBlocksCount: 1 }));
    await assert.rejects(ebs.send(new PutSnapshotBlockCommand({ SnapshotId, BlockIndex: 6, BlockData: data, DataLength: data.length, Checksum: sha64(data), ChecksumAlgorithm: 'SHA256' })),
      rejectsWith('ValidationException', 'INVALID_SNAPSHOT_ID'));
    await assert.rejects(ebs.send(new StartSnapshotCommand({ VolumeSize: 1, ParentSnapshotId: 'snap-00000000000000000' })), rejectsWith('ResourceNotFoundException', 'SNAPSHOT_NOT_FOUND'));
    await assert.rejects(ebs.send(new StartSnapshotCommand({ VolumeSize: 0 })), rejectsWith('ValidationException', 'INVALID_VOLUME_SIZE'));
    // A snapshot nobody completes goes to error after its Timeout.
    const { SnapshotId: abandoned } = await ebs.send(new StartSnapshotCommand({ VolumeSize: 1, Timeout: 10 }));
    await clock.advance(11 * 60_000);
    sim.state.tick();
    assert.equal(sim.state.snapshots.get(abandoned!)?.state, 'error');
  });

  it('simulated: a child snapshot inherits its parent; ListChangedBlocks lists what differs and refuses unrelated snapshots', async () => {
    const a = Buffer.alloc(EBS_BLOCK_BYTES, 1);
    const b = Buffer.alloc(EBS_BLOCK_BYTES, 2);
    const base = await writeSnapshot(new Map([[0, a], [1, a], [2, a]]));
    const child = await writeSnapshot(new Map([[1, b], [9, b]]), 1, base);
    const listed = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: child }));
    assert.deepEqual(listed.Blocks!.map((x) => x.BlockIndex), [0, 1, 2, 9]);
    const changed = await ebs.send(new ListChangedBlocksCommand({ FirstSnapshotId: base, SecondSnapshotId: child }));
    assert.deepEqual(changed.ChangedBlocks!.map((x) => [x.BlockIndex, x.FirstBlockToken !== undefined, x.SecondBlockToken !== undefined]), [[1, true, true], [9, false, true]]);
    const other = await writeSnapshot(new Map([[0, a]]));
    await assert.rejects(ebs.send(new ListChangedBlocksCommand({ FirstSnapshotId: other, SecondSnapshotId: child })), rejectsWith('ValidationException', 'UNRELATED_SNAPSHOTS'));
  });

  it('simulated: checks SigV4 signatures — an unknown key and a wrong secret are refused by EBS and EC2', async () => {
    const unknown = createEbsClient({ region: 'eu-west-1', endpoint: sim.endpoint, credentials: { accessKeyId: 'AKIAUNKNOWN', secretAccessKey: 'x' }, maxAttempts: 1 });
    await assert.rejects(unknown.send(new StartSnapshotCommand({ VolumeSize: 1 })), rejectsWith('UnrecognizedClientException'));
    const wrong = createEbsClient({ region: 'eu-west-1', endpoint: sim.endpoint, credentials: { ...SIMULATED_CREDENTIALS, secretAccessKey: 'wrong' }, maxAttempts: 1 });
    await assert.rejects(wrong.send(new StartSnapshotCommand({ VolumeSize: 1 })), rejectsWith('InvalidSignatureException'));
    const wrongEc2 = createEc2Client({ region: 'eu-west-1', endpoint: sim.endpoint, credentials: { ...SIMULATED_CREDENTIALS, secretAccessKey: 'wrong' }, maxAttempts: 1 });
    await assert.rejects(wrongEc2.send(new DescribeInstancesCommand({})), rejectsWith('SignatureDoesNotMatch'));
    assert.equal(sim.state.snapshots.size, 0, 'nothing was created');
    for (const c of [unknown, wrong, wrongEc2]) c.destroy();
  });

  it('simulated: throttling and 5xx on demand; the SDK\'s retries get through when the fault is shorter than its attempts', async () => {
    sim.inject({ kind: 'throttle', service: 'ebs', operation: 'StartSnapshot', count: 1 });
    await assert.rejects(ebs.send(new StartSnapshotCommand({ VolumeSize: 1 })), rejectsWith('RequestThrottledException', 'ACCOUNT_THROTTLED'));
    const patient = createEbsClient({ region: 'eu-west-1', endpoint: sim.endpoint, credentials: SIMULATED_CREDENTIALS, maxAttempts: 4 });
    sim.inject({ kind: 'server-error', service: 'ebs', count: 2 });
    const { SnapshotId } = await patient.send(new StartSnapshotCommand({ VolumeSize: 1 }));
    assert.ok(SnapshotId);
    assert.deepEqual(sim.state.calls.filter((c) => c === 'ebs:StartSnapshot').length, 4);
    sim.inject({ kind: 'throttle', service: 'ec2', count: 1 });
    await assert.rejects(ec2.send(new DescribeInstancesCommand({})), rejectsWith('RequestLimitExceeded'));
    patient.destroy();
  });

  it('simulated: EC2 — an AMI from a snapshot launches an instance with its NIC and IP; CreateSnapshots freezes its volumes; ListChangedBlocks sees guest writes', async () => {
    const root = await writeSnapshot(new Map([[0, Buffer.alloc(EBS_BLOCK_BYTES, 9)]]));
    const { ImageId } = await ec2.send(new RegisterImageCommand({ Name: 'sim-image', RootDeviceName: '/dev/xvda', BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: root } }] }));
    const live = 'subnet-0live0000000000000';
    const run = await ec2.send(new RunInstancesCommand({ ImageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.micro', NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: live, Groups: ['sg-1'], PrivateIpAddress: '10.1.0.10' }], TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'vm-1' }] }] }));
    const instance = run.Instances![0];
    assert.equal(instance.State?.Name, 'pending');
    assert.equal(instance.PrivateIpAddress, '10.1.0.10');
    await assert.rejects(ec2.send(new RunInstancesCommand({ ImageId, MinCount: 1, MaxCount: 1, NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: live, PrivateIpAddress: '10.1.0.10' }] })), rejectsWith('InvalidIPAddress.InUse'));
    await clock.advance(30_000);
    const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instance.InstanceId!] }));
    const i = described.Reservations![0].Instances![0];
    assert.equal(i.State?.Name, 'running');
    assert.deepEqual(i.Tags, [{ Key: 'Name', Value: 'vm-1' }]);
    assert.equal(i.NetworkInterfaces![0].SubnetId, live);
    const volumeId = i.BlockDeviceMappings![0].Ebs!.VolumeId!;
    const snap1 = await ec2.send(new CreateSnapshotsCommand({ InstanceSpecification: { InstanceId: i.InstanceId }, TagSpecifications: [{ ResourceType: 'snapshot', Tags: [{ Key: 'opencdp:view', Value: 'v1' }] }] }));
    assert.equal(snap1.Snapshots!.length, 1);
    assert.equal(snap1.Snapshots![0].State, 'pending');
    const v = sim.state.guestVolume(i.InstanceId!, volumeId);
    writeBlocks(sim.state.blocks, v.blocks, 3 * EBS_BLOCK_BYTES + 4096, Buffer.alloc(4096, 5));
    const snap2 = await ec2.send(new CreateSnapshotsCommand({ InstanceSpecification: { InstanceId: i.InstanceId } }));
    await clock.advance(60_000);
    const [s1, s2] = [snap1.Snapshots![0].SnapshotId!, snap2.Snapshots![0].SnapshotId!];
    const listedSnaps = await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: [{ Name: 'tag:opencdp:view', Values: ['v*'] }] }));
    assert.deepEqual(listedSnaps.Snapshots!.map((s) => [s.SnapshotId, s.State]), [[s1, 'completed']]);
    const changed = await ebs.send(new ListChangedBlocksCommand({ FirstSnapshotId: s1, SecondSnapshotId: s2 }));
    assert.deepEqual(changed.ChangedBlocks!.map((c) => c.BlockIndex), [3]);
    const block = await ebs.send(new GetSnapshotBlockCommand({ SnapshotId: s2, BlockIndex: 3, BlockToken: changed.ChangedBlocks![0].SecondBlockToken }));
    const bytes = Buffer.from(await block.BlockData!.transformToByteArray());
    assert.deepEqual(bytes.subarray(4096, 8192), Buffer.alloc(4096, 5));
    assert.deepEqual(readBlocks(sim.state.blocks, v.blocks, 0, 16), Buffer.alloc(16, 9));
    await assert.rejects(ec2.send(new DeleteSnapshotCommand({ SnapshotId: root })), rejectsWith('InvalidSnapshot.InUse'));
    await ec2.send(new StopInstancesCommand({ InstanceIds: [i.InstanceId!] }));
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [i.InstanceId!] }));
    assert.equal(sim.state.volumes.size, 0, 'the root volume went with the instance');
  });
});
