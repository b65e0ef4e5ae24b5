// The sync suite: the protection pipeline (appliances, site link, journals) survives every disturbance
// with the right kind of sync and the right status — checked by the sub-status sequence, the trigger,
// whether recovery stays possible, and by comparing the next checkpoint's image with the oracle.
import assert from 'node:assert/strict';
import type { ConformanceCase } from './conformance-case.js';
import type { CaseContext } from './case-context.js';
import { PipelineRig, type PipelineOptions } from './pipeline-rig.js';

const KiB = 1024;
const MiB = 1024 * KiB;

async function rig(ctx: CaseContext, options: Partial<PipelineOptions> = {}): Promise<PipelineRig> {
  const [h1, h2] = await ctx.protectedHosts();
  const r = await PipelineRig.create(ctx, {
    vms: [
      { name: 'app', ...(h1 ? { hostId: h1 } : {}), volumes: [{ sizeBytes: 4 * MiB }, { sizeBytes: 2 * MiB, sectorSize: 4096 }] },
      { name: 'db', ...(h2 ? { hostId: h2 } : {}), volumes: [{ sizeBytes: 4 * MiB }] },
    ],
    ...options,
  });
  ctx.onDispose(() => r.stop());
  return r;
}

/** A rig replicating, with `writes` random writes made and converged: the usual start of a case. */
async function streaming(ctx: CaseContext, writes = 20, options: Partial<PipelineOptions> = {}): Promise<PipelineRig> {
  const r = await rig(ctx, options);
  await r.start();
  await r.randomWrites(writes);
  await r.converge();
  return r;
}

/** Sub-statuses seen, with consecutive repeats folded (a tracker only records changes, but two rigs may interleave). */
function subStatuses(r: PipelineRig): string[] {
  return r.tracker.subStatuses();
}

function assertSequence(seen: string[], expected: string[], what: string): void {
  let i = 0;
  for (const s of seen) if (s === expected[i]) i++;
  assert.equal(i, expected.length, `${what}: expected the sub-statuses ${expected.join(' → ')} in order, saw ${seen.join(' → ')}`);
}

export const syncSuite: readonly ConformanceCase[] = [
  {
    id: 'S1.1',
    title: 'initial sync copies data written before protection; no checkpoint until it completes; then the image equals the protected volumes',
    needs: ['writeTap'],
    async run(ctx) {
      // A slow link makes the initial sync last long enough to watch it.
      const r = await rig(ctx, { link: { bytesPerSecond: 1 * MiB } });
      for (let i = 0; i < 40; i++) await r.randomWrites(1, 64 * KiB); // before protection: only the initial sync can carry these
      await r.start();
      await r.advance(200);
      assert.equal(r.observe().subStatus, 'InitialSync');
      assert.equal(r.observe().status, 'Initializing');
      assert.equal(r.scheduler.cut('auto'), undefined, 'no checkpoint while the initial sync runs');
      assert.equal(r.checkpoints().length, 0, 'no recovery before the initial sync completes');
      await r.randomWrites(20);
      await r.converge();
      const cp = await r.cutAndVerify();
      assertSequence(subStatuses(r), ['InitialSync', 'None'], 'initial sync');
      assert.equal(r.observe().status, 'MeetingSLA');
      assert.ok(cp);
    },
  },
  {
    id: 'S1.2',
    title: 'a preseeded group starts with a delta sync: only the blocks that differ cross the link',
    needs: ['writeTap'],
    async run(ctx) {
      const r = await rig(ctx);
      await r.start();
      await r.randomWrites(30, 64 * KiB);
      await r.converge();
      await r.cutAndVerify();
      await r.stopProtected();
      // Changes made while unprotected: the recovery site holds the rest already.
      let changed = 0;
      for (let i = 0; i < 8; i++) {
        const vm = r.vms[0];
        const v = vm.volumes[0];
        const offset = ctx.random.int(0, v.sizeBytes / 4096 - 1) * 4096;
        await r.write(vm.id, v.id, offset, ctx.random.bytes(4096));
        changed += 4096;
      }
      await r.start({ preseeded: true });
      await r.converge();
      assertSequence(subStatuses(r), ['DeltaSync', 'None'], 'preseeded start');
      const sent = r.senders.reduce((n, s) => n + s.currentStats().syncBytesSent, 0);
      assert.ok(sent <= changed * 2, `a delta sync of ${changed} changed bytes sent ${sent} bytes of data`);
      await r.cutAndVerify();
    },
  },
  {
    id: 'S2.1',
    title: 'link down: writes go on into the bitmap, DisconnectedFromPeer with recovery possible, no checkpoints; link back: BitmapSync, then the next checkpoint equals the protected volumes',
    needs: ['writeTap'],
    async run(ctx) {
      const r = await streaming(ctx);
      const before = await r.cutAndVerify('before-outage');
      const snapshotBefore = ctx.oracle.snapshot();
      r.network.partition('protected', 'recovery');
      await r.advance(100);
      const down = r.observe();
      assert.equal(down.subStatus, 'DisconnectedFromPeer');
      assert.equal(down.recoveryPossible, true);
      await r.randomWrites(40);
      assert.equal(r.scheduler.cut('auto'), undefined, 'no checkpoint while the link is down');
      await r.verify(before.id, snapshotBefore); // recovery to the last checkpoint stays possible
      r.network.heal('protected', 'recovery');
      await r.converge();
      assertSequence(subStatuses(r), ['None', 'DisconnectedFromPeer', 'BitmapSync', 'None'], 'link outage');
      assert.ok(r.tracker.history.some((t) => t.to.subStatus === 'BitmapSync' && t.to.trigger === 'RecoveryApplianceCommunicationProblem'), 'bitmap sync after an outage has trigger RecoveryApplianceCommunicationProblem');
      await r.cutAndVerify();
    },
  },
  {
    id: 'S2.2',
    title: 'link-flap soak: random partitions, heals and resets during a workload; every checkpoint cut on the way equals the oracle, and the group converges',
    needs: ['writeTap'],
    async run(ctx) {
      const r = await streaming(ctx, 10, { link: { latencyMs: 2 } });
      const cut: { id: string; snapshot: ReturnType<typeof ctx.oracle.snapshot> }[] = [];
      let partitioned = false;
      for (let round = 0; round < 60; round++) {
        await r.randomWrites(ctx.random.int(1, 6), 16 * KiB);
        const action = ctx.random.int(0, 9);
        if (action === 0 && !partitioned) {
          r.network.partition('protected', 'recovery');
          partitioned = true;
        } else if (action === 1 && partitioned) {
          r.network.heal('protected', 'recovery');
          partitioned = false;
        } else if (action === 2) {
          r.network.resetAll();
        }
        await r.advance(ctx.random.int(5, 120));
        const snapshot = ctx.oracle.snapshot();
        const cp = r.scheduler.cut('auto');
        if (cp) cut.push({ id: cp.id, snapshot });
      }
      r.network.heal('protected', 'recovery');
      await r.converge();
      const listed = new Set(r.checkpoints().map((c) => c.id));
      const verified = cut.filter((c) => listed.has(c.id));
      assert.ok(verified.length >= 5, `enough checkpoints survived the flapping to compare (${verified.length} of ${cut.length})`);
      for (const c of verified) await r.verify(c.id, c.snapshot);
      assert.ok(r.tracker.history.filter((t) => t.to.subStatus === 'BitmapSync').length >= 2, 'the flaps caused several bitmap syncs');
      await r.cutAndVerify();
    },
  },
  {
    id: 'S3.1',
    title: 'buffer pressure on a slow link: the sender falls back to its bitmap (NetworkCongestion), then bitmap-syncs and converges',
    needs: ['writeTap'],
    async run(ctx) {
      const r = await rig(ctx, { bufferBytes: 256 * KiB, link: { bytesPerSecond: 200 * KiB } });
      await r.start();
      await r.converge();
      await r.randomWrites(80, 64 * KiB);
      await r.converge(300_000);
      assert.ok(r.tracker.history.some((t) => t.to.trigger === 'NetworkCongestion'), `a fallback with trigger NetworkCongestion (saw ${r.tracker.history.map((t) => `${t.to.subStatus}/${t.to.trigger ?? '-'}`).join(', ')})`);
      await r.cutAndVerify();
    },
  },
  {
    id: 'S4.1',
    title: 'a long outage: the bitmap never passes its memory budget, and the resync converges to the protected volumes',
    needs: ['writeTap'],
    async run(ctx) {
      const budget = 8 * KiB;
      const r = await rig(ctx, { bitmapBudgetBytes: budget });
      await r.start();
      await r.converge();
      r.network.partition('protected', 'recovery');
      await r.advance(50);
      let peak = 0;
      for (let i = 0; i < 300; i++) {
        await r.randomWrites(1, 8 * KiB);
        for (const s of r.senders) peak = Math.max(peak, s.currentStats().bitmapBytes);
      }
      assert.ok(peak <= budget, `bitmap peak ${peak} bytes ≤ budget ${budget}`);
      r.network.heal('protected', 'recovery');
      await r.converge();
      await r.cutAndVerify();
    },
  },
  {
    id: 'S5.1',
    title: 'recovery appliance restart: the sender reconnects, bitmap-syncs what it could not deliver, and converges; listed checkpoints survive',
    needs: ['writeTap'],
    async run(ctx) {
      const r = await streaming(ctx);
      const cp = await r.cutAndVerify();
      const snapshot = ctx.oracle.snapshot();
      await r.restartRecovery();
      await r.randomWrites(20);
      await r.converge();
      assertSequence(subStatuses(r), ['None', 'DisconnectedFromPeer', 'BitmapSync', 'None'], 'recovery appliance restart');
      await r.verify(cp.id, snapshot);
      await r.cutAndVerify();
    },
  },
  {
    id: 'S5.2',
    title: 'protected appliance restart (memory lost): a delta sync by checksum comparison brings the sides in line',
    needs: ['writeTap'],
    async run(ctx) {
      const r = await streaming(ctx);
      await r.cutAndVerify();
      await r.stopProtected();
      await r.randomWrites(10); // nobody is splitting these
      await r.start();
      await r.converge();
      assertSequence(subStatuses(r), ['DeltaSync', 'None'], 'protected appliance restart');
      await r.cutAndVerify();
    },
  },
  {
    id: 'S5.3',
    title: 'force sync: DeltaSync with trigger ForceSync; with both sides equal nothing but hashes crosses',
    needs: ['writeTap'],
    async run(ctx) {
      const r = await streaming(ctx);
      const sentBefore = r.senders.reduce((n, s) => n + s.currentStats().syncBytesSent, 0);
      for (const s of r.senders) s.forceSync();
      await r.advance(20);
      await r.converge();
      assertSequence(subStatuses(r), ['None', 'DeltaSync', 'None'], 'force sync');
      assert.ok(r.tracker.history.some((t) => t.to.subStatus === 'DeltaSync' && t.to.trigger === 'ForceSync'), 'the delta sync has trigger ForceSync');
      const sent = r.senders.reduce((n, s) => n + s.currentStats().syncBytesSent, 0) - sentBefore;
      assert.equal(sent, 0, 'no block data crosses when both sides are equal');
      await r.cutAndVerify();
    },
  },
  {
    id: 'S5.4',
    title: 'protected host restart: the platform closes the tap, no checkpoint while it is down, the tap is re-attached and a delta sync converges',
    needs: ['writeTap', 'faultHostRestart'],
    async run(ctx) {
      const r = await streaming(ctx);
      await r.cutAndVerify();
      const [a, b] = r.vms;
      await ctx.harness.injectFault({ kind: 'host-restart', hostId: a.hostId });
      await r.advance(100);
      assert.equal(r.scheduler.cut('auto'), undefined, 'no checkpoint while a VM of the group is not split');
      // The other host's VM keeps replicating meanwhile.
      const { offset, data } = ctx.randomExtent(b.volumes[0], 16 * KiB);
      await r.write(b.id, b.volumes[0].id, offset, data);
      await r.converge();
      assertSequence(subStatuses(r), ['None', 'DeltaSync', 'None'], 'host restart');
      await r.randomWrites(10);
      await r.converge();
      await r.cutAndVerify();
    },
  },
  {
    id: 'S7.1',
    title: 'adding a VM to a running group: VolumeInitialSync copies that VM only, the others keep streaming, then checkpoints resume and cover it',
    needs: ['writeTap'],
    async run(ctx) {
      const r = await streaming(ctx);
      await r.cutAndVerify();
      const vm = await r.createVm({ name: 'added', hostId: r.vms[0].hostId, volumes: [{ sizeBytes: 2 * MiB }] });
      let existing = 0;
      for (let i = 0; i < 8; i++) {
        const { offset, data } = ctx.randomExtent(vm.volumes[0], 64 * KiB);
        await r.write(vm.id, vm.volumes[0].id, offset, data);
        existing += data.length;
      }
      const syncedBefore = r.senders.reduce((n, s) => n + s.currentStats().syncBytesSent, 0);
      await r.addVm(vm);
      await r.randomWrites(20);
      await r.converge();
      assertSequence(subStatuses(r), ['None', 'VolumeInitialSync', 'None'], 'adding a VM');
      const synced = r.senders.reduce((n, s) => n + s.currentStats().syncBytesSent, 0) - syncedBefore;
      assert.ok(synced <= Math.max(existing, 64 * KiB) * 2 + 1 * MiB, `the volume initial sync copied the new VM only (${synced} bytes for ${existing} bytes of data on it)`);
      await r.cutAndVerify();
    },
  },
  {
    id: 'S8.1',
    title: 'pause and resume: ReplicationPausedUserInitiated, no checkpoints while paused, resume runs a bitmap sync and converges',
    needs: ['writeTap'],
    async run(ctx) {
      const r = await rig(ctx);
      await r.start();
      await r.converge();
      for (const s of r.senders) s.pause();
      await r.advance(20);
      assert.equal(r.observe().subStatus, 'ReplicationPausedUserInitiated');
      await r.randomWrites(30);
      assert.equal(r.scheduler.cut('auto'), undefined, 'no checkpoint while paused');
      for (const s of r.senders) s.resume();
      await r.converge();
      assertSequence(subStatuses(r), ['ReplicationPausedUserInitiated', 'BitmapSync', 'None'], 'pause and resume');
      await r.cutAndVerify();
    },
  },
  {
    id: 'S9.1',
    title: 'journal storage error: JournalStorageError, changes recorded meanwhile; once storage works a sync converges',
    needs: ['writeTap', 'faultStorageError'],
    async run(ctx) {
      const r = await streaming(ctx, 10);
      await r.cutAndVerify();
      await ctx.harness.injectFault({ kind: 'storage-error' });
      await r.randomWrites(20);
      await r.waitFor('JournalStorageError', () => r.observe().subStatus === 'JournalStorageError', 10_000);
      await r.randomWrites(10);
      await ctx.harness.clearFaults();
      await r.converge();
      assertSequence(subStatuses(r), ['JournalStorageError', 'BitmapSync', 'None'], 'journal storage error');
      await r.cutAndVerify();
    },
  },
  {
    id: 'J2.3',
    title: 'write order across two hosts\' appliances: a write issued after another completed is never in a checkpoint without it (neither / both / only the first)',
    needs: ['writeTap'],
    async run(ctx) {
      const r = await rig(ctx);
      assert.notEqual(r.vms[0].hostId, r.vms[1].hostId, 'the two VMs sit on different hosts (one appliance each)');
      await r.start();
      await r.converge();
      const [a, b] = r.vms;
      const rounds = 40;
      const pattern = (i: number, who: number): Buffer => Buffer.alloc(4096, 1 + ((i * 2 + who) % 250));
      for (let i = 0; i < rounds; i++) {
        await r.write(a.id, a.volumes[0].id, i * 4096, pattern(i, 0));
        if (ctx.random.int(0, 2) === 0) r.scheduler.cut('auto');
        await r.write(b.id, b.volumes[0].id, i * 4096, pattern(i, 1));
        if (ctx.random.int(0, 2) === 0) r.scheduler.cut('auto');
        if (i % 10 === 9) await r.advance(50);
      }
      await r.converge();
      let onlyFirst = 0;
      for (const cp of r.checkpoints()) {
        const ia = await r.journal(a.id).openImage(cp.id);
        const ib = await r.journal(b.id).openImage(cp.id);
        try {
          for (let i = 0; i < rounds; i++) {
            const state = async (img: typeof ia, volumeId: string, who: number): Promise<boolean> => {
              const got = await img.read(volumeId, i * 4096, 4096);
              if (got.equals(pattern(i, who))) return true;
              assert.ok(got.every((x) => x === 0), `checkpoint ${cp.id}: block ${i} of ${volumeId} is neither the write nor zeros`);
              return false;
            };
            const hasA = await state(ia, a.volumes[0].id, 0);
            const hasB = await state(ib, b.volumes[0].id, 1);
            assert.ok(hasA || !hasB, `checkpoint ${cp.id} holds VM ${b.id}'s write ${i} but not VM ${a.id}'s, which completed before it was issued`);
            if (hasA && !hasB) onlyFirst++;
          }
        } finally {
          ia.close();
          ib.close();
        }
      }
      assert.ok(onlyFirst > 0, 'some checkpoint fell between a pair\'s two writes, so the order was really tested');
      await r.cutAndVerify();
    },
  },
  {
    id: 'J8.1',
    title: 'manager outage: replication continues and trimming goes on, no checkpoints are cut; on return a synchronizing event, checkpoints resume and the gap shows',
    needs: ['writeTap', 'virtualClock'],
    async run(ctx) {
      const r = await rig(ctx, { settings: { checkpointIntervalMs: 1000, journalHistoryHours: 10 / 3600 }, autoCheckpoints: true });
      await r.start();
      await r.converge();
      await r.advance(3000);
      const returned: number[] = [];
      r.scheduler.on('manager-returned', (e) => returned.push(e.outageMs));
      r.scheduler.setManagerReachable(false);
      const downAt = r.clock.now();
      const lastSeqs = (): number => r.vms.reduce((n, vm) => n + r.journal(vm.id).lastSeq, 0);
      const seqBefore = lastSeqs();
      const cpsBefore = r.checkpoints().map((c) => c.id);
      for (let i = 0; i < 15; i++) {
        await r.randomWrites(4);
        await r.advance(1000);
      }
      assert.ok(lastSeqs() > seqBefore, 'writes kept reaching the journals');
      assert.ok(r.checkpoints().every((c) => c.timestamp <= downAt), 'no checkpoint was cut while the manager was away');
      assert.ok(r.checkpoints().length < cpsBefore.length, 'trimming went on during the outage');
      r.scheduler.setManagerReachable(true);
      assert.deepEqual(returned, [15_000]);
      await r.advance(3000);
      const cps = r.checkpoints();
      const after = cps.filter((c) => c.timestamp > downAt);
      assert.ok(after.length >= 2, 'checkpoints resumed');
      const gap = after[0].timestamp - Math.max(...cps.filter((c) => c.timestamp <= downAt).map((c) => c.timestamp), downAt - 1000);
      assert.ok(gap >= 15_000, `the checkpoint list shows the ${gap} ms gap`);
      await r.cutAndVerify();
    },
  },
];
