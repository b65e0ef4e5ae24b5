// The sync suite: the protection pipeline (appliances, site link, journals) survives every disturbance
// with the right kind of sync and the right status — checked by the sub-status sequence, the trigger,
// whether recovery stays possible, and by comparing the next checkpoint's image with the oracle.
import assert from 'node:assert/strict';
import type { ConformanceCase } from './conformance-case.js';
import type { CaseContext } from './case-context.js';
import { PipelineRig, type PipelineOptions } from './pipeline-rig.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Two VMs on the protected hosts (three volumes, two sector sizes) in a pipeline, not started (the change-tracking suite uses it too). */
export async function rig(ctx: CaseContext, options: Partial<PipelineOptions> = {}): Promise<PipelineRig> {
  const [h1, h2] = await ctx.protectedHosts();
  const r = await PipelineRig.create(ctx, {
    vms: [
      { name: 'app', ...(h1 ? { hostId: h1 } : {}), volumes: [{ sizeBytes: 4 * MiB }, { sizeBytes: 2 * MiB, sectorSize: ctx.largeSector }] },
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

/** The status transitions seen, as `SubStatus/trigger` (for messages that must say what was observed). */
function transitions(r: PipelineRig): string {
  return r.tracker.history.map((t) => `${t.to.subStatus}${t.to.trigger ? `/${t.to.trigger}` : ''}`).join(' → ') || 'none';
}

export function assertSequence(seen: string[], expected: string[], what: string): void {
  let i = 0;
  for (const s of seen) if (s === expected[i]) i++;
  assert.equal(i, expected.length, `${what}: expected the sub-statuses ${expected.join(' → ')} in order, saw ${seen.join(' → ')}`);
}

/** S6 set-up: a 2 MB journal per VM holding thirteen minutes of checkpoints (one every 30 s, little data each). */
async function withHistory(ctx: CaseContext, pauseMinutes: number): Promise<PipelineRig> {
  const r = await streaming(ctx, 10, { settings: { replicationPauseTimeMinutes: pauseMinutes, journal: { hardLimit: { mb: 2 }, warningThreshold: { mb: 1 } } } });
  for (let i = 0; i < 26; i++) {
    await r.randomWrites(1, 4 * KiB);
    await r.converge();
    assert.ok(r.scheduler.cut('auto'), `checkpoint ${i} could be cut (${r.scheduler.blockedBy() ?? ''})`);
    await r.advance(30_000, 1000);
  }
  return r;
}

/** Rewrites every protected volume in full: five times what a journal holds. */
async function rewriteEverything(ctx: CaseContext, r: PipelineRig): Promise<void> {
  for (const vm of r.vms) {
    for (const v of vm.volumes) {
      for (let off = 0; off < v.sizeBytes; off += 64 * KiB) await r.write(vm.id, v.id, off, ctx.random.bytes(Math.min(64 * KiB, v.sizeBytes - off)));
    }
  }
}

/** S6 while paused: ≥ ten minutes of checkpoints remain, the newest still recovers exactly, no new checkpoint. */
async function assertPausedSafely(r: PipelineRig, last: { id: string }, lastSnapshot: ReturnType<CaseContext['oracle']['snapshot']>, listedBefore: number): Promise<number> {
  const pausedAt = r.clock.now();
  const kept = r.checkpoints();
  assert.ok(kept.length > 0 && kept.length <= listedBefore, `checkpoints remain while paused (${kept.length} of ${listedBefore})`);
  assert.ok(pausedAt - kept[0].timestamp >= 10 * 60_000, `at least ten minutes of checkpoints remain while paused (${Math.round((pausedAt - kept[0].timestamp) / 1000)} s)`);
  assert.equal(kept.at(-1)!.id, last.id, 'the newest checkpoint is still listed');
  await r.verify(last.id, lastSnapshot); // recovery to the latest checkpoint stays exact
  assert.equal(r.scheduler.cut('auto'), undefined, 'no checkpoint while paused');
  return pausedAt;
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
      assert.ok(r.tracker.history.some((t) => t.to.subStatus === 'BitmapSync' && t.to.trigger === 'RecoveryApplianceCommunicationProblem'), `bitmap sync after an outage has trigger RecoveryApplianceCommunicationProblem (observed ${transitions(r)})`);
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
        // Change tracking: the checkpoint holds what its view holds; no write before that view is frozen.
        if (cp && (await r.frozen(cp))) cut.push({ id: cp.id, snapshot });
      }
      r.network.heal('protected', 'recovery');
      await r.converge();
      const listed = new Set(r.checkpoints().map((c) => c.id));
      const verified = cut.filter((c) => listed.has(c.id));
      assert.ok(verified.length >= 5, `enough checkpoints survived the flapping to compare (${verified.length} of ${cut.length})`);
      for (const c of verified) await r.verify(c.id, c.snapshot);
      assert.ok(r.tracker.history.filter((t) => t.to.subStatus === 'BitmapSync').length >= 2, `the flaps caused several bitmap syncs (observed ${transitions(r)})`);
      await r.cutAndVerify();
    },
  },
  {
    id: 'S2.3',
    title: 'a peer that goes silent without closing the link (no reset) is detected by the keep-alive within its bound; writes go to the bitmap, and after the link returns a bitmap sync converges',
    needs: ['writeTap'],
    async run(ctx) {
      const r = await streaming(ctx);
      const before = await r.cutAndVerify();
      const snapshot = ctx.oracle.snapshot();
      const connections = r.recovery.connections;
      await r.advance(60_000, 500);
      assert.equal(r.observe().subStatus, 'None', 'an idle healthy link stays up: its keep-alives are answered');
      assert.equal(r.recovery.connections, connections, 'no connection was dropped while idle');
      r.network.blackhole('protected', 'recovery');
      const silentAt = r.clock.now();
      await r.randomWrites(10);
      // Default keep-alive: a ping after 5 s of silence, dead after 15 s; detected within 20 s.
      await r.waitFor('the silent peer to be detected', () => r.observe().subStatus === 'DisconnectedFromPeer', 25_000);
      const detectedMs = r.clock.now() - silentAt;
      assert.ok(detectedMs <= 20_000, `a dead peer is detected within the keep-alive bound (${detectedMs} ms)`);
      assert.equal(r.recovery.connections, 0, 'the recovery appliance dropped the silent connections too');
      await r.randomWrites(10);
      await r.verify(before.id, snapshot);
      r.network.heal('protected', 'recovery');
      await r.converge();
      assertSequence(subStatuses(r), ['None', 'DisconnectedFromPeer', 'BitmapSync', 'None'], 'silent peer');
      await r.cutAndVerify();
    },
  },
  {
    id: 'S3.1',
    title: 'buffer pressure on a slow link: the sender falls back to its bitmap (NetworkCongestion), then bitmap-syncs and converges',
    needs: ['writeTap'],
    splitterOnly: 'buffer pressure is the splitter\'s (writes arrive faster than the link takes them); a change-tracking cycle reads at the link\'s pace',
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
    splitterOnly: 'the dirty-region bitmap is the splitter\'s; change tracking keeps no bitmap (the platform tracks changes)',
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
      assert.ok(r.tracker.history.some((t) => t.to.subStatus === 'DeltaSync' && t.to.trigger === 'ForceSync'), `the delta sync has trigger ForceSync (observed ${transitions(r)})`);
      const sent = r.senders.reduce((n, s) => n + s.currentStats().syncBytesSent, 0) - sentBefore;
      assert.equal(sent, 0, 'no block data crosses when both sides are equal');
      await r.cutAndVerify();
    },
  },
  {
    id: 'S5.4',
    title: 'protected host restart: the platform closes the tap, no checkpoint while it is down, the tap is re-attached and a delta sync converges',
    needs: ['writeTap', 'faultHostRestart'],
    splitterOnly: 'a host restart closes write taps; change tracking has none (a tracking reset is C3)',
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
    id: 'S5.5',
    title: 'hypervisor-manager restart: every tap closes while the VMs keep writing unsplit; no checkpoint meanwhile; a delta sync by checksum comparison sends only the blocks that differ',
    needs: ['writeTap', 'faultHypervisorManagerRestart'],
    splitterOnly: 'a hypervisor-manager restart closes write taps; change tracking has none (a tracking reset is C3)',
    async run(ctx) {
      const r = await streaming(ctx);
      await r.cutAndVerify();
      const sentBefore = r.senders.reduce((n, s) => n + s.currentStats().syncBytesSent, 0);
      await ctx.harness.injectFault({ kind: 'hypervisor-manager-restart' });
      // Nobody splits these: only the comparison can find them.
      let changed = 0;
      for (let i = 0; i < 12; i++) {
        const vm = r.vms[i % r.vms.length];
        const v = vm.volumes[0];
        await r.write(vm.id, v.id, ctx.random.int(0, v.sizeBytes / 4096 - 1) * 4096, ctx.random.bytes(4096));
        changed += 4096;
      }
      await r.advance(20);
      assert.equal(r.scheduler.cut('auto'), undefined, 'no checkpoint while the taps are down');
      await r.converge();
      assertSequence(subStatuses(r), ['None', 'DeltaSync', 'None'], 'hypervisor-manager restart');
      const sent = r.senders.reduce((n, s) => n + s.currentStats().syncBytesSent, 0) - sentBefore;
      assert.ok(sent > 0 && sent <= changed * 2, `the delta sync sent ${sent} bytes of block data for ${changed} changed bytes (only differing blocks cross)`);
      await r.cutAndVerify();
    },
  },
  {
    id: 'S6.1',
    title: 'a sync that fills the journal trims only while ten minutes of checkpoints remain, then pauses for replicationPauseTime (ReplicationPausedSystemInitiated) with recovery to the latest checkpoint still exact; it resumes only once the journals can make room, and converges',
    needs: ['writeTap', 'virtualClock'],
    async run(ctx) {
      const pauseMinutes = 2;
      const r = await withHistory(ctx, pauseMinutes);
      const last = await r.cutAndVerify('before-outage');
      const lastSnapshot = ctx.oracle.snapshot();
      const listedBefore = r.checkpoints().length;
      // An outage during which every volume is rewritten: the bitmap sync afterwards is five times the journal.
      r.network.partition('protected', 'recovery');
      await r.advance(100);
      await rewriteEverything(ctx, r);
      r.network.heal('protected', 'recovery');
      await r.waitFor('the system pause', () => r.observe().subStatus === 'ReplicationPausedSystemInitiated', 120_000);
      const pausedAt = await assertPausedSafely(r, last, lastSnapshot, listedBefore);
      await r.advance(30_000, 1000);
      assert.equal(r.observe().subStatus, 'ReplicationPausedSystemInitiated', 'still paused before replicationPauseTime has passed');
      // A failover test holds the oldest checkpoint open: the journals cannot make room, so the probe at the
      // end of the pause must keep the group paused until the image closes.
      const oldest = r.checkpoints()[0];
      const images = await Promise.all(r.vms.map((vm) => r.journal(vm.id).openImage(oldest.id)));
      await r.advance(pauseMinutes * 60_000 + 10_000, 1000);
      assert.equal(r.observe().subStatus, 'ReplicationPausedSystemInitiated', 'the pause is extended while the journals cannot make room (free space is probed before resuming)');
      for (const image of images) image.close();
      await r.converge(300_000);
      const resumed = r.tracker.history.find((t) => t.at >= pausedAt && t.from?.subStatus === 'ReplicationPausedSystemInitiated');
      assert.ok(resumed && resumed.at - pausedAt >= pauseMinutes * 60_000 + 40_000, `the pause lasted replicationPauseTime and then until the image closed (${resumed ? resumed.at - pausedAt : '?'} ms)`);
      assertSequence(subStatuses(r), ['None', 'DisconnectedFromPeer', 'BitmapSync', 'ReplicationPausedSystemInitiated', 'BitmapSync', 'None'], 'sync that fills the journal');
      for (const vm of r.vms) {
        const j = r.journal(vm.id).stats();
        assert.ok(j.usedBytes <= j.hardLimitBytes, `journal of ${vm.id} stayed under its hard limit (${j.usedBytes} of ${j.hardLimitBytes})`);
      }
      await r.randomWrites(10);
      await r.converge();
      await r.cutAndVerify();
    },
  },
  {
    id: 'S6.2',
    title: 'an initial sync larger than the journal completes (there is no checkpoint to protect, so nothing pauses) and the first checkpoint equals the protected volumes',
    needs: ['writeTap'],
    async run(ctx) {
      const r = await rig(ctx, { settings: { journal: { hardLimit: { mb: 2 }, warningThreshold: { mb: 1 } } } });
      for (const vm of r.vms) {
        for (const v of vm.volumes) {
          for (let off = 0; off < v.sizeBytes; off += 256 * KiB) await r.write(vm.id, v.id, off, ctx.random.bytes(Math.min(256 * KiB, v.sizeBytes - off)));
        }
      }
      await r.start();
      await r.converge();
      assert.ok(!subStatuses(r).includes('ReplicationPausedSystemInitiated'), `no pause without checkpoints (saw ${subStatuses(r).join(' → ')})`);
      assertSequence(subStatuses(r), ['InitialSync', 'None'], 'initial sync larger than the journal');
      await r.cutAndVerify();
      await r.randomWrites(20);
      await r.converge();
      await r.cutAndVerify();
    },
  },
  {
    id: 'S6.3',
    title: 'a force sync that fills the journal: DeltaSync (ForceSync), the system pause with the newest checkpoint still exact, then the delta sync resumes with its trigger and converges',
    needs: ['writeTap', 'virtualClock'],
    async run(ctx) {
      const pauseMinutes = 1;
      const r = await withHistory(ctx, pauseMinutes);
      const last = await r.cutAndVerify('before-force-sync');
      const lastSnapshot = ctx.oracle.snapshot();
      const listedBefore = r.checkpoints().length;
      // Changes nobody split (the protected appliances were down); the force sync must find them by comparison.
      await r.stopProtected();
      await rewriteEverything(ctx, r);
      await r.start();
      for (const s of r.senders) s.forceSync();
      await r.waitFor('the system pause', () => r.observe().subStatus === 'ReplicationPausedSystemInitiated', 120_000);
      await assertPausedSafely(r, last, lastSnapshot, listedBefore);
      await r.converge(pauseMinutes * 60_000 + 300_000);
      assertSequence(subStatuses(r), ['DeltaSync', 'ReplicationPausedSystemInitiated', 'DeltaSync', 'None'], 'force sync that fills the journal');
      const deltas = r.tracker.history.filter((t) => t.to.subStatus === 'DeltaSync');
      assert.ok(deltas.length >= 2 && deltas.every((t) => t.to.trigger === 'ForceSync'), `the delta sync keeps trigger ForceSync across the pause (${deltas.map((t) => t.to.trigger ?? '-').join(', ')})`);
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
    id: 'S7.2',
    title: 'adding a volume to a protected VM: VolumeInitialSync copies that volume only, then checkpoints resume and cover it',
    needs: ['writeTap', 'volumeHotAdd'],
    async run(ctx) {
      const r = await streaming(ctx);
      await r.cutAndVerify();
      const vm = r.vms[0];
      const syncedBefore = r.senders.reduce((n, s) => n + s.currentStats().syncBytesSent, 0);
      const volume = await r.addVolume(vm, { sizeBytes: 2 * MiB });
      // Written as the volume is being added: before, during and after the sync.
      let existing = 0;
      for (let i = 0; i < 6; i++) {
        const { offset, data } = ctx.randomExtent(volume, 64 * KiB);
        await r.write(vm.id, volume.id, offset, data);
        existing += data.length;
      }
      await r.randomWrites(20);
      await r.converge();
      assertSequence(subStatuses(r), ['None', 'VolumeInitialSync', 'None'], 'adding a volume');
      assert.ok(r.tracker.history.some((t) => t.to.subStatus === 'VolumeInitialSync' && t.to.trigger === 'ConfigurationChanged'), `the volume initial sync has trigger ConfigurationChanged (observed ${transitions(r)})`);
      const synced = r.senders.reduce((n, s) => n + s.currentStats().syncBytesSent, 0) - syncedBefore;
      assert.ok(synced <= existing + 256 * KiB, `the volume initial sync copied the new volume only (${synced} bytes for ${existing} bytes written to it)`);
      await r.cutAndVerify();
    },
  },
  {
    id: 'S7.3',
    title: 'removing a VM from a running group: its journal closes, the group syncs, checkpoints restart afterwards, and the remaining VMs\' images (old and new checkpoints) still match',
    needs: ['writeTap'],
    async run(ctx) {
      const [h1, h2] = await ctx.protectedHosts();
      const r = await rig(ctx, {
        vms: [
          { name: 'app', ...(h1 ? { hostId: h1 } : {}), volumes: [{ sizeBytes: 4 * MiB }] },
          { name: 'web', ...(h1 ? { hostId: h1 } : {}), volumes: [{ sizeBytes: 2 * MiB }] },
          { name: 'db', ...(h2 ? { hostId: h2 } : {}), volumes: [{ sizeBytes: 4 * MiB }] },
        ],
      });
      await r.start();
      await r.randomWrites(30);
      await r.converge();
      const before = await r.cutAndVerify('before-removal');
      const snapshotBefore = ctx.oracle.snapshot();
      const web = r.vms[1];
      const webJournal = r.journal(web.id);
      const webSeq = webJournal.lastSeq;
      // Writes in flight while the VM leaves (this also caught syncs sending out of sequence order, which lost data).
      const inFlight = r.randomWrites(10);
      await r.removeVm(web);
      await inFlight;
      await r.waitFor(`the journal of VM '${web.id}' to close`, () => r.recovery.journal(r.groupId, web.id) === undefined);
      await assert.rejects(webJournal.readAt(web.volumes[0].id, 0, 4096, webSeq), /closed/i, 'the removed VM\'s journal is closed');
      // The removed VM keeps running; its writes are nobody's business now.
      await r.write(web.id, web.volumes[0].id, 0, ctx.random.bytes(4096));
      await r.randomWrites(10);
      await r.converge();
      assertSequence(subStatuses(r), ['None', 'BitmapSync', 'None'], 'removing a VM');
      assert.ok(r.tracker.history.some((t) => t.to.subStatus === 'BitmapSync' && t.to.trigger === 'ConfigurationChanged'), `the sync after removing a VM has trigger ConfigurationChanged (observed ${transitions(r)})`);
      assert.ok(r.checkpoints().some((c) => c.id === before.id), `the remaining VMs keep their checkpoints: expected '${before.id}' among ${r.checkpoints().map((c) => c.id).join(', ') || 'none'}`);
      await r.verify(before.id, snapshotBefore);
      await r.cutAndVerify('after-removal');
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
    splitterOnly: 'the barrier holds guest writes across appliances; in change-tracking mode each appliance freezes its own views, so there is no cut across appliances',
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
      assert.ok(onlyFirst > 0, `some checkpoint fell between a pair's two writes, so the order was really tested (observed ${onlyFirst})`);
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
      assert.ok(lastSeqs() > seqBefore, `writes kept reaching the journals (sequence ${seqBefore} before, ${lastSeqs()} after)`);
      assert.ok(r.checkpoints().every((c) => c.timestamp <= downAt), `no checkpoint was cut while the manager was away (observed ${r.checkpoints().filter((c) => c.timestamp > downAt).map((c) => c.id).join(', ')})`);
      assert.ok(!r.checkpoints().some((c) => c.id === cpsBefore[0]), `trimming went on during the outage: the oldest checkpoint ${cpsBefore[0]} should be gone (observed ${r.checkpoints().map((c) => c.id).join(', ')})`);
      r.scheduler.setManagerReachable(true);
      assert.deepEqual(returned, [15_000]);
      await r.advance(3000);
      const cps = r.checkpoints();
      const after = cps.filter((c) => c.timestamp > downAt);
      assert.ok(after.length >= 2, `checkpoints resumed: expected at least 2 after the return, observed ${after.length}`);
      const gap = after[0].timestamp - Math.max(...cps.filter((c) => c.timestamp <= downAt).map((c) => c.timestamp), downAt - 1000);
      assert.ok(gap >= 15_000, `the checkpoint list shows the ${gap} ms gap`);
      await r.cutAndVerify();
    },
  },
];
