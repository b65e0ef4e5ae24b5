// Standby EBS snapshot chains against the EBS/EC2 SIMULATION: the chain follows the replica as the
// journal promotes into it, a failover from a standby writes only the blocks changed since (replica
// changes plus the image's journaled writes) and still equals the oracle; a failed update loses no
// change; after a restart (changes unknown) the failover copies fully and stays correct.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Journal, MemoryStorage, VirtualClock, seededRandom, type Random, type RecoveryVmSpec } from '@opencdp/core';
import { AwsHypervisor } from '../aws-hypervisor.js';
import { EBS_BLOCK_SIZE } from '../ebs/ebs-direct.js';
import { readBlocks } from '../simulation/simulated-block-store.js';
import { SIM_LIVE_SUBNET, startSimulatedAws, type SimulatedAwsRig } from '../testing/simulated-aws-rig.js';
import { ReplicaTrackingStorage } from './replica-tracking-storage.js';
import { StandbyChains } from './standby-chains.js';

const MiB = 1024 * 1024;
const VOLUME = { id: 'disk-a', sizeBytes: 8 * MiB, sectorSize: 512 };
const KEY = { groupId: 'g1', vmId: 'vm-a', volumeId: 'disk-a' };
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('standby EBS snapshot chains (simulated EBS/EC2)', function () {
  this.timeout(120_000);
  let clock: VirtualClock;
  let rig: SimulatedAwsRig;
  let chains: StandbyChains;
  let memory: MemoryStorage;
  let journal: Journal;
  let expected: Buffer;
  let seq: number;
  let random: Random;


  async function start(): Promise<void> {
    chains = new StandbyChains({ ebs: rig.hypervisor.ebs, ec2: rig.hypervisor.ec2, storage: memory, clock, intervalMs: 0 });
    // The hypervisor reads the chain: rebuild it around this one.
    rig = { ...rig, hypervisor: new AwsHypervisor({
      ec2: rig.ec2Client, ebs: rig.ebsClient, clock, standby: chains, wait: { pollMs: 2000, timeoutMs: 600_000 }, recovery: { securityGroupIds: ['sg-1'] },
    }) };
    journal = await Journal.open({
      storage: new ReplicaTrackingStorage(memory, chains), clock, path: 'journals/g1/vm-a', vmId: 'vm-a', volumes: [VOLUME],
      historyMs: 10_000, hardLimitBytes: 256 * MiB, warningBytes: 200 * MiB,
    });
  }

  /** `count` writes inside `blocks` (block indices), applied to the oracle, then a checkpoint. */
  async function writes(count: number, blocks: number[]): Promise<string> {
    for (let i = 0; i < count; i++) {
      const block = random.pick(blocks);
      const length = random.int(1, 16) * 512;
      const offset = block * EBS_BLOCK_SIZE + random.int(0, (EBS_BLOCK_SIZE - length) / 512) * 512;
      const data = random.bytes(length);
      await journal.append({ volumeId: VOLUME.id, offset, data, seq: ++seq });
      data.copy(expected, offset);
    }
    const id = `cp-${seq}`;
    await journal.addCheckpoint({ id, groupId: 'g1', seq, timestamp: clock.now(), kind: 'auto' });
    return id;
  }

  /**
   * Writes to `replicaBlocks` under one checkpoint and to `journalBlocks` under a later one, then lets
   * the history pass the older checkpoints so that the first is promoted into the replica while the
   * second stays journaled (the oldest retained checkpoint is always the promoted one).
   */
  async function promoteNext(replicaBlocks: number[], journalBlocks: number[]): Promise<{ promoted: string; journaled: string }> {
    await clock.advance(5000);
    const promoted = await writes(10, replicaBlocks);
    await clock.advance(1000);
    const journaled = await writes(6, journalBlocks);
    // The 10 s history has passed the previous checkpoint, not yet `promoted`.
    await clock.advance(4001);
    assert.deepEqual(journal.checkpoints().map((c) => c.id), [promoted, journaled], 'the older checkpoints were trimmed and promoted');
    return { promoted, journaled };
  }

  async function recover(cpId: string): Promise<{ blocksWritten: number; fromStandby: boolean }> {
    const image = await journal.openImage(cpId);
    try {
      const spec: RecoveryVmSpec = { name: 'vm-a', sourceVmId: 'vm-a', disks: [{ volumeId: VOLUME.id, source: image }], nics: [{ networkId: SIM_LIVE_SUBNET }] };
      const vm = await rig.hypervisor.createRecoveryVm(spec);
      const snapshot = rig.sim.state.snapshots.get(vm.volumes[0].id)!;
      assert.equal(sha(readBlocks(rig.sim.state.blocks, snapshot.blocks, 0, VOLUME.sizeBytes)), sha(expected), `the recovered disk equals the oracle at ${cpId}`);
      const stats = rig.hypervisor.diskWrites.at(-1)!;
      await rig.hypervisor.deleteVm(vm.id);
      return { blocksWritten: stats.blocksWritten, fromStandby: stats.fromStandby };
    } finally {
      image.close();
    }
  }

  beforeEach(async () => {
    clock = new VirtualClock(Date.now());
    // Snapshots complete at once here, so nothing polls: the clock moves only where the test moves it,
    // and promotion happens exactly where the test puts it.
    rig = await startSimulatedAws({ clock });
    memory = new MemoryStorage();
    expected = Buffer.alloc(VOLUME.sizeBytes);
    seq = 0;
    random = seededRandom(3);
    await start();
  });

  afterEach(async () => {
    await journal.close();
    await chains.stop();
    await rig.dispose();
  });

  it('simulated: a failover from a standby writes only the blocks changed since it (replica changes and journaled writes) and equals the oracle', async () => {
    await writes(40, [0, 1, 2, 3, 4, 5, 6, 7]);
    await clock.advance(11_000);
    await writes(1, [0]);
    await clock.advance(1);
    // Everything but the last write is promoted into the replica; the chain starts with a full copy.
    await chains.update(KEY);
    const [first] = chains.snapshotsOf(KEY);
    assert.ok(first);
    assert.equal(rig.sim.state.snapshots.get(first)!.parentId, undefined, 'a full copy starts the chain');
    // Now the replica changes in blocks 2 and 5 only (promotion), and the journal holds writes to block 7.
    const promoted = await promoteNext([2, 5], [7]);
    const latest = promoted.journaled;
    const base = chains.base(KEY)!;
    assert.deepEqual([...base.changed].sort(), [2, 5], 'blocks the replica changed since the standby');
    const failover = await recover(latest);
    assert.deepEqual(failover, { blocksWritten: 3, fromStandby: true }, 'blocks 2, 5 (replica) and 7 (journal)');
    // The chain moves on: the next snapshot is a child holding those blocks, the failover after it writes only block 7.
    await chains.update(KEY);
    const chain = chains.snapshotsOf(KEY);
    assert.equal(chain.length, 2);
    assert.equal(rig.sim.state.snapshots.get(chain[1])!.parentId, first);
    assert.deepEqual(await recover(latest), { blocksWritten: 1, fromStandby: true });
    await promoteNext([3], [6]);
    await chains.update(KEY);
    assert.deepEqual(chains.snapshotsOf(KEY).length, 2, 'older snapshots are pruned');
    assert.equal(rig.sim.state.snapshots.has(first), false);
  });

  it('simulated: a failed update keeps its changes for the next one; after a restart the failover copies fully and stays right', async () => {
    await writes(30, [0, 1, 2, 3]);
    await clock.advance(11_000);
    await writes(1, [0]);
    await clock.advance(1);
    await chains.update(KEY);
    const cp = (await promoteNext([4, 6], [1])).journaled;
    rig.sim.inject({ kind: 'snapshot-error', count: 1 });
    await assert.rejects(chains.update(KEY));
    assert.deepEqual([...chains.base(KEY)!.changed].sort(), [4, 6], 'nothing the failed update was writing is forgotten');
    assert.equal((await recover(cp)).fromStandby, true);
    // Restart: a new chain object finds the standby snapshots by tag but cannot know what changed since.
    await journal.close();
    await chains.stop();
    await start();
    await chains.load();
    assert.equal(chains.base(KEY), undefined);
    const full = await recover(cp);
    assert.equal(full.fromStandby, false);
    await chains.update(KEY);
    const fresh = chains.snapshotsOf(KEY).at(-1)!;
    assert.equal(rig.sim.state.snapshots.get(fresh)!.parentId, undefined, 'a fresh chain after a restart');
    assert.equal((await recover(cp)).fromStandby, true);
  });
});
