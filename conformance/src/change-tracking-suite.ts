// The change-tracking suite (C1–C5): what the change-tracking capture mode promises beyond the journal,
// sync and recovery suites — a cycle's checkpoint is listed only when all of it is durable, no write
// between two views is missed, a lost token means a delta sync (never a silent gap), no view is left on
// the platform whatever fails, and a first cycle reads only allocated space. Runs through the pipeline
// (appliances, site link, journals) against the harness's `changeTracking`; images are compared with
// the oracle by hash.
import assert from 'node:assert/strict';
import { VIEW_NAME_PREFIX, type ChangeTracking, type Checkpoint } from '@opencdp/core';
import type { CaseContext } from './case-context.js';
import type { ConformanceCase } from './conformance-case.js';
import type { OracleSnapshot } from './oracle.js';
import { PipelineRig, type PipelineOptions } from './pipeline-rig.js';
import { assertSequence, rig } from './sync-suite.js';

const KiB = 1024;
const MiB = 1024 * KiB;

function tracking(ctx: CaseContext): ChangeTracking {
  const t = ctx.harness.hypervisor.changeTracking;
  assert.ok(t, 'capabilities.changeTracking is true but the harness\'s hypervisor has no changeTracking');
  return t;
}

/** Started, written to, converged, with a verified checkpoint: the usual start of a case. */
async function replicating(ctx: CaseContext, options: Partial<PipelineOptions> = {}): Promise<{ r: PipelineRig; cp: Checkpoint; snapshot: OracleSnapshot }> {
  const r = await rig(ctx, options);
  await r.start();
  await r.randomWrites(20);
  await r.converge();
  const cp = await r.cutAndVerify('start');
  return { r, cp, snapshot: ctx.oracle.snapshot() };
}

/** `bytes` of data in 64 KiB writes spread over every volume: a cycle long enough to interrupt on a slow link. */
async function writeMuch(ctx: CaseContext, r: PipelineRig, bytes: number): Promise<void> {
  const volumes = r.vms.flatMap((vm) => vm.volumes.map((v) => ({ vm, v })));
  for (let i = 0; i * 64 * KiB < bytes; i++) {
    const { vm, v } = volumes[i % volumes.length];
    const offset = ctx.random.int(0, v.sizeBytes / (64 * KiB) - 1) * 64 * KiB;
    await r.write(vm.id, v.id, offset, ctx.random.bytes(64 * KiB));
  }
}

/** Cuts a checkpoint and waits until part of its cycle — not all — reached the journals. */
async function cutAndHalfShip(r: PipelineRig, tag: string, after: Checkpoint): Promise<Checkpoint> {
  const cp = r.scheduler.cut('tagged', tag);
  assert.ok(cp, `a checkpoint could be cut (${r.scheduler.blockedBy() ?? ''})`);
  await r.waitFor('part of the cycle to reach the journals', () => r.vms.some((vm) => r.journal(vm.id).lastSeq > after.seq), 30_000);
  assert.ok(!r.checkpoints().some((c) => c.id === cp.id), `checkpoint '${cp.id}' is listed already: the cycle was not interrupted mid-way (slow the link)`);
  return cp;
}

async function ourViews(ctx: CaseContext): Promise<string[]> {
  return (await tracking(ctx).listViews(VIEW_NAME_PREFIX)).map((v) => v.name);
}

function sentBytes(r: PipelineRig): number {
  return r.senders.reduce((n, s) => n + s.currentStats().syncBytesSent, 0);
}

export const changeTrackingSuite: readonly ConformanceCase[] = [
  {
    id: 'C1.1',
    title: 'a cycle cut off by a link loss mid-way is never listed: the previous checkpoint stays the newest and equals the oracle; the next cycle covers it all',
    needs: ['changeTracking'],
    async run(ctx) {
      const { r, cp: before, snapshot } = await replicating(ctx, { link: { bytesPerSecond: 512 * KiB } });
      await writeMuch(ctx, r, 2 * MiB);
      const halfShipped = await cutAndHalfShip(r, 'half-shipped', before);
      r.network.partition('protected', 'recovery');
      await r.advance(500);
      assert.equal(r.checkpoints().at(-1)?.id, before.id, 'the newest listed checkpoint is the one before the interrupted cycle');
      await r.verify(before.id, snapshot);
      r.network.heal('protected', 'recovery');
      await r.converge();
      await r.cutAndVerify('after-link-loss');
      assert.ok(!r.checkpoints().some((c) => c.id === halfShipped.id), 'the interrupted cycle\'s checkpoint is never listed');
    },
  },
  {
    id: 'C1.2',
    title: 'a cycle cut off by a kill of the recovery appliance (power cut of its storage) mid-way is never listed: the previous checkpoint stays the newest and equals the oracle',
    needs: ['changeTracking', 'faultStorageCrash'],
    async run(ctx) {
      const { r, cp: before, snapshot } = await replicating(ctx, { link: { bytesPerSecond: 512 * KiB } });
      for (const seed of [1, 2]) {
        await writeMuch(ctx, r, 2 * MiB);
        const last = r.checkpoints().at(-1)!;
        const halfShipped = await cutAndHalfShip(r, `half-shipped-${seed}`, last);
        await ctx.harness.crashRecoveryStorage(seed);
        await r.restartRecovery();
        // The restarted appliance reopens the journals (recovering them from storage) when the sender reconnects.
        await r.waitFor('the journals to reopen', () => r.vms.every((vm) => r.recovery.journal(r.groupId, vm.id) !== undefined));
        assert.equal(r.checkpoints().at(-1)?.id, last.id, `seed ${seed}: the newest listed checkpoint is the one before the interrupted cycle`);
        await r.converge();
        const after = await r.cutAndVerify(`after-kill-${seed}`);
        assert.ok(!r.checkpoints().some((c) => c.id === halfShipped.id), `seed ${seed}: the interrupted cycle's checkpoint is never listed`);
        assert.ok(after.id !== halfShipped.id);
      }
      await r.verify(before.id, snapshot);
    },
  },
  {
    id: 'C2.1',
    title: 'no misses: overlapping, unaligned and racing writes between views are all in the next checkpoint\'s image (hash compare with the oracle)',
    needs: ['changeTracking'],
    async run(ctx) {
      const { r } = await replicating(ctx);
      const granularity = tracking(ctx).granularityBytes;
      for (let round = 0; round < 12; round++) {
        // Overlapping writes over a hot spot: the later one must win.
        await r.randomWrites(6, 24 * KiB);
        for (let i = 0; i < 6; i++) {
          const vm = ctx.random.pick(r.vms);
          const v = vm.volumes[0];
          // Unaligned to the platform's granularity: one sector straddling or inside a tracking block.
          const sectors = granularity / v.sectorSize;
          const offset = (ctx.random.int(0, 63) * Math.max(1, sectors) + ctx.random.int(0, Math.max(0, sectors - 1))) * v.sectorSize;
          await r.write(vm.id, v.id, offset, ctx.random.bytes(v.sectorSize * ctx.random.int(1, 3)));
        }
        // Writes racing a cycle: some land before its view, some after; the next cycle must hold them all.
        const racing = r.randomWrites(4, 16 * KiB);
        if (r.scheduler.cut('auto') === undefined) assert.fail(`a checkpoint could be cut in round ${round} (${r.scheduler.blockedBy() ?? ''})`);
        await racing;
        await r.converge();
        await r.cutAndVerify(`round-${round}`);
      }
    },
  },
  {
    id: 'C3.1',
    title: 'a token reset: the next cycle runs a delta sync of the VM\'s volumes (VolumeDeltaSync, ProtectedStorageError, an event naming the cause), sends only what changed, and its checkpoint equals the oracle',
    needs: ['changeTracking', 'faultChangeTracking'],
    async run(ctx) {
      const { r } = await replicating(ctx);
      const [a] = r.vms;
      await ctx.harness.injectFault({ kind: 'token-reset', vmId: a.id });
      let changed = 0;
      for (let i = 0; i < 8; i++) {
        const v = a.volumes[i % a.volumes.length];
        await r.write(a.id, v.id, ctx.random.int(0, v.sizeBytes / (4 * KiB) - 1) * 4 * KiB, ctx.random.bytes(4 * KiB));
        changed += 4 * KiB;
      }
      const sentBefore = sentBytes(r);
      const noticesBefore = r.notices.length;
      await r.cutAndVerify('after-token-reset');
      const lost = r.notices.slice(noticesBefore).filter((n) => n.kind === 'change-token-lost');
      assert.deepEqual([...new Set(lost.map((n) => n.volumeId))].sort(), a.volumes.map((v) => v.id).sort(), 'an event for every volume of the reset VM');
      assert.ok(lost.every((n) => n.vmId === a.id && /reset/.test(n.message)), `the events name the VM and the cause: ${lost.map((n) => n.message).join(' | ')}`);
      const delta = r.tracker.history.find((t) => t.to.subStatus === 'VolumeDeltaSync');
      assert.ok(delta, `a VolumeDeltaSync (saw ${r.tracker.subStatuses().join(' → ')})`);
      assert.equal(delta.to.trigger, 'ProtectedStorageError');
      assert.match(delta.to.reason, /token.*reset/, 'the status reason names the cause');
      assertSequence(r.tracker.subStatuses(), ['None', 'VolumeDeltaSync', 'None'], 'token reset');
      const sent = sentBytes(r) - sentBefore;
      assert.ok(sent > 0 && sent <= 2 * changed, `the delta sync sent ${sent} bytes of data for ${changed} changed bytes (bounded, never a silent empty cycle)`);
      // Every VM reset: the whole group compares.
      for (const vm of r.vms) await ctx.harness.injectFault({ kind: 'token-reset', vmId: vm.id });
      await r.randomWrites(6);
      await r.cutAndVerify('after-group-reset');
      assert.ok(r.tracker.history.some((t) => t.to.subStatus === 'DeltaSync' && t.to.trigger === 'ProtectedStorageError'), 'a reset of every VM runs a DeltaSync');
    },
  },
  {
    id: 'C4.1',
    title: 'no leaked views: after a failing view creation, a failing release, a view lost mid-cycle, a token reset and a kill -9 of the protected appliance mid-cycle, the platform holds no view of ours and the images equal the oracle',
    needs: ['changeTracking', 'faultChangeTracking'],
    async run(ctx) {
      const { r } = await replicating(ctx, { link: { bytesPerSecond: 1 * MiB } });
      const none = async (when: string): Promise<void> => {
        await r.cyclesEnded(); // a cycle releases its views on the way out, after its checkpoint is listed
        assert.deepEqual(await ourViews(ctx), [], `no view of ours is left on the platform ${when}`);
      };
      await none('after a clean cycle');

      await ctx.harness.injectFault({ kind: 'view-open-fail' });
      await r.randomWrites(5);
      const refused = r.scheduler.cut('tagged', 'no-view');
      await r.advance(3000);
      assert.ok(!r.checkpoints().some((c) => c.id === refused?.id), 'no checkpoint without a view');
      await none('while views cannot be taken');
      await ctx.harness.clearFaults();
      await r.converge();
      await r.cutAndVerify('after-open-failures');
      await none('after views can be taken again');

      await ctx.harness.injectFault({ kind: 'view-release-fail' });
      await r.randomWrites(5);
      await r.cutAndVerify('release-fails');
      await r.cyclesEnded();
      assert.ok((await ourViews(ctx)).length > 0, 'the view the platform would not release is still there (the fault works)');
      await ctx.harness.clearFaults();
      await r.randomWrites(3);
      await r.cutAndVerify('after-release-failures');
      await none('once releases work again (the leftover is released before the next cycle)');
      assert.ok(r.notices.some((n) => n.kind === 'view-release-failed') && r.notices.some((n) => n.kind === 'view-leftover-released'), 'the failed release and the late one are reported');

      await writeMuch(ctx, r, 2 * MiB);
      await cutAndHalfShip(r, 'view-lost', r.checkpoints().at(-1)!);
      await ctx.harness.injectFault({ kind: 'view-lost' });
      await r.converge();
      await r.cutAndVerify('after-view-lost');
      await none('after a view vanished mid-cycle');

      await ctx.harness.injectFault({ kind: 'token-reset', vmId: r.vms[0].id });
      await r.randomWrites(5);
      await r.cutAndVerify('after-token-reset');
      await none('after a token reset');

      await writeMuch(ctx, r, 2 * MiB);
      await cutAndHalfShip(r, 'killed', r.checkpoints().at(-1)!);
      assert.ok((await ourViews(ctx)).length > 0, 'a view is open mid-cycle');
      await r.killProtected();
      assert.ok((await ourViews(ctx)).length > 0, 'a killed appliance released nothing');
      await r.start();
      await r.converge();
      await none('once the killed appliance\'s successor started (leftovers found by name and released)');
      await r.randomWrites(5);
      await r.cutAndVerify('after-kill');
      await none('at the end');
    },
  },
  {
    id: 'C5.1',
    title: 'the first cycle reads allocated regions only: a 64 MiB volume holding 1 MiB is read at most twice its allocated bytes, and the image equals the oracle',
    needs: ['changeTracking'],
    async run(ctx) {
      const r = await PipelineRig.create(ctx, { vms: [{ name: 'sparse', volumes: [{ sizeBytes: 64 * MiB }] }] });
      ctx.onDispose(() => r.stop());
      const vm = r.vms[0];
      const volume = vm.volumes[0];
      let written = 0;
      for (let i = 0; i < 16; i++) {
        await r.write(vm.id, volume.id, i * 4 * MiB + ctx.random.int(0, 15) * 64 * KiB, ctx.random.bytes(64 * KiB));
        written += 64 * KiB;
      }
      await r.start();
      await r.converge();
      assertSequence(r.tracker.subStatuses(), ['InitialSync', 'None'], 'the first cycle');
      const read = r.senders.reduce((n, s) => n + (s.currentStats().viewBytesRead ?? 0), 0);
      const t = tracking(ctx);
      await t.enable(vm.id);
      const view = await t.openView([vm.id], `${VIEW_NAME_PREFIX}conformance-c5`);
      let allocated = 0;
      try {
        for (const region of await view.allocated(volume.id)) allocated += region.length;
      } finally {
        await t.releaseView(view.id);
      }
      assert.ok(allocated >= written, `the platform lists at least what was written as allocated (${allocated} of ${written})`);
      assert.ok(read > 0 && read <= 2 * allocated, `the first cycle read ${read} bytes for ${allocated} allocated bytes (≤ 2×)`);
      await r.cutAndVerify('first');
    },
  },
];
