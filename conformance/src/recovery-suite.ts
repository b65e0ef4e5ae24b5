// The recovery suite (R1–R10): failover test, failover, move, clone, file restore, boot order and
// networks, promotion, recovery without a manager, group deletion — driven through the orchestrator
// over a replicating pipeline, and checked by hashing recovered VMs' volumes against the oracle at
// the chosen checkpoint, by network isolation, by what vanished, and by phases and reports.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CheckpointNotFoundError, ConflictError, InvalidStateError, ValidationError, findDebugfs,
  type ActiveRecovery, type FailoverRequest, type RecoveryReport,
} from '@opencdp/core';
import type { CaseContext } from './case-context.js';
import type { ConformanceCase } from './conformance-case.js';
import { Oracle, assertImageEquals } from './oracle.js';
import { RecoveryRig, type RecoveryRigOptions } from './recovery-rig.js';

const KiB = 1024;
const MiB = 1024 * KiB;

function failoverRequest(r: RecoveryRig, overrides: Partial<FailoverRequest> = {}): FailoverRequest {
  return {
    groupId: r.groupId, shutdownPolicy: 'shutdown', timeToWaitBeforeShutdownSec: 0, commitPolicy: 'none', commitPolicyTimeoutSec: 0,
    reverseProtection: false, ...overrides,
  };
}

/** Progress seen by a sink: must start at 0, never go back, and end at 100. */
function progressLog(): { sink: (p: number, step: string) => void; seen: { p: number; step: string }[]; check(what: string): void } {
  const seen: { p: number; step: string }[] = [];
  return {
    seen,
    sink: (p, step) => { seen.push({ p, step }); },
    check(what) {
      assert.ok(seen.length >= 2, `${what}: progress was reported (${seen.length} updates)`);
      assert.equal(seen[0].p, 0, `${what}: progress starts at 0`);
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i].p >= seen[i - 1].p, `${what}: progress never goes back (${seen[i - 1].p} → ${seen[i].p} at '${seen[i].step}')`);
      assert.equal(seen.at(-1)!.p, 100, `${what}: progress ends at 100`);
    },
  };
}

function assertReport(report: RecoveryReport, expected: Partial<Pick<RecoveryReport, 'kind' | 'result' | 'summary' | 'outcome'>> & { checkpointId?: string; steps?: string[] }): void {
  if (expected.kind) assert.equal(report.kind, expected.kind, 'report kind');
  if (expected.outcome) assert.equal(report.outcome, expected.outcome, 'report outcome');
  if (expected.result) assert.equal(report.result, expected.result, `report result (steps: ${report.steps.map((s) => `${s.name} ${s.result}${s.detail ? ` (${s.detail.slice(0, 200)})` : ''}`).join(', ')})`);
  if (expected.summary !== undefined) assert.equal(report.summary, expected.summary, 'report summary');
  if (expected.checkpointId) assert.equal(report.checkpoint.id, expected.checkpointId, 'report checkpoint');
  assert.ok(report.endedAt >= report.startedAt, `report ends after it starts (started ${report.startedAt}, ended ${report.endedAt})`);
  for (const s of report.steps) assert.ok(s.endedAt >= s.startedAt && s.startedAt >= report.startedAt, `step '${s.name}' lies within the report`);
  for (const name of expected.steps ?? []) {
    const s = report.steps.find((x) => x.name === name);
    assert.ok(s, `report has step '${name}' (has ${report.steps.map((x) => x.name).join(', ')})`);
  }
}

/** Writes random 4 KiB-aligned blocks into a running recovered VM through the harness; returns what it wrote. */
async function scratchWrites(ctx: CaseContext, r: RecoveryRig, vmId: string, count: number, oracle?: Oracle): Promise<{ volumeId: string; offset: number; data: Buffer }[]> {
  const vm = await r.recoveryHypervisor.getVm(vmId);
  const out: { volumeId: string; offset: number; data: Buffer }[] = [];
  for (let i = 0; i < count; i++) {
    const v = ctx.random.pick(vm.volumes);
    const offset = ctx.random.int(0, v.sizeBytes / (4 * KiB) - 1) * 4 * KiB;
    const data = ctx.random.bytes(4 * KiB);
    if (oracle) await oracle.guestWrite(ctx.harness, vmId, v.id, offset, data);
    else await ctx.harness.guestWrite(vmId, v.id, offset, data);
    out.push({ volumeId: v.id, offset, data });
  }
  return out;
}

async function rig(ctx: CaseContext, options: RecoveryRigOptions = {}, writes = 20): Promise<RecoveryRig> {
  return RecoveryRig.start(ctx, options, writes);
}

async function expectError(what: string, action: Promise<unknown>, type: new (...args: never[]) => Error, message?: RegExp): Promise<void> {
  await assert.rejects(action, (e: unknown) => {
    assert.ok(e instanceof type, `${what}: expected a ${type.name}, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    if (message) assert.match((e as Error).message, message);
    return true;
  }, `${what} is refused`);
}

export const recoverySuite: readonly ConformanceCase[] = [
  {
    id: 'R1.1',
    title: 'failover test at a chosen checkpoint: VMs equal the oracle, on isolated networks; replication continues; scratch writes vanish on stop; the report holds the verdict',
    needs: ['writeTap', 'recoveryVm'],
    async run(ctx) {
      const r = await rig(ctx);
      const chosen = await r.checkpoint('chosen');
      await r.pipeline.randomWrites(20);
      await r.checkpoint('later');
      const progress = progressLog();
      const test = await r.run('the failover test to start', r.orchestrator.startFailoverTest({ groupId: r.groupId, checkpointId: chosen.cp.id }, progress.sink));
      assert.equal(test.kind, 'FailoverTest');
      assert.equal(test.phase, 'running');
      assert.equal(test.checkpoint.id, chosen.cp.id);
      await r.assertRecovered(test.vms, chosen.snapshot, 'failover test');
      for (const v of test.vms) {
        assert.ok(await r.onIsolatedNetworks(v.recoveredVmId), `test VM '${v.recoveredVmId}' is only on isolated test networks`);
        assert.equal((await r.recoveryHypervisor.getVm(v.recoveredVmId)).powerState, 'on');
      }
      // Scratch writes are visible in the test VM while it runs.
      const vm0 = test.vms[0].recoveredVmId;
      const scratch = await scratchWrites(ctx, r, vm0, 6);
      for (const w of scratch) assert.deepEqual(await r.recoveryHypervisor.readVolume(vm0, w.volumeId, w.offset, w.data.length), w.data, 'a scratch write reads back in the test VM');
      // Replication goes on meanwhile, and the journal never sees the scratch writes.
      await r.pipeline.randomWrites(20);
      const during = await r.checkpoint('during-test');
      await r.pipeline.verify(chosen.cp.id, chosen.snapshot);
      assert.deepEqual(await r.orchestrator.active(r.groupId), { ...test, vms: test.vms });
      const report = await r.run('the test to stop', r.orchestrator.stopFailoverTest({ groupId: r.groupId, success: true, summary: 'all services answered' }));
      progress.check('failover test');
      assertReport(report, { kind: 'FailoverTest', outcome: 'test-stopped', result: 'Success', summary: 'all services answered', checkpointId: chosen.cp.id, steps: ['open-images', 'create-test-vms', 'power-on', 'remove-test-vms'] });
      for (const v of test.vms) assert.equal(await r.vmExists(v.recoveredVmId), false, `test VM '${v.recoveredVmId}' is gone after the stop`);
      assert.equal(await r.orchestrator.active(r.groupId), undefined);
      // A new test at the same checkpoint: the scratch writes are gone for good.
      const again = await r.run('a second test', r.orchestrator.startFailoverTest({ groupId: r.groupId, checkpointId: chosen.cp.id }));
      await r.assertRecovered(again.vms, chosen.snapshot, 'second failover test (no scratch writes left)');
      const failed = await r.run('the second test to stop', r.orchestrator.stopFailoverTest({ groupId: r.groupId, success: false, summary: 'db did not start' }));
      assertReport(failed, { kind: 'FailoverTest', outcome: 'test-stopped', result: 'Fail', summary: 'db did not start' });
      await r.pipeline.verify(during.cp.id, during.snapshot);
      assert.equal((await r.orchestrator.reports(r.groupId)).length, 2);
    },
  },
  {
    id: 'R1.2',
    title: 'failover test of some VMs at the latest checkpoint; a second operation while it runs is refused with ConflictError and changes nothing; stopping a test that does not run is refused',
    needs: ['writeTap', 'recoveryVm'],
    async run(ctx) {
      const r = await rig(ctx);
      const latest = await r.checkpoint();
      const one = r.vms[1].id;
      const test = await r.run('the test', r.orchestrator.startFailoverTest({ groupId: r.groupId, vmIds: [one] }));
      assert.equal(test.checkpoint.id, latest.cp.id, 'the latest checkpoint by default');
      assert.deepEqual(test.vms.map((v) => v.sourceVmId), [one]);
      await r.assertRecovered(test.vms, latest.snapshot, 'partial failover test');
      assert.ok(await r.onIsolatedNetworks(test.vms[0].recoveredVmId), 'the test VM is only on isolated test networks');
      const before = (await r.recoveryHypervisor.inventory()).vms.length;
      await expectError('a failover during a test', r.orchestrator.failover(failoverRequest(r, { shutdownPolicy: 'none' })), ConflictError, /already has a recovery operation/);
      await expectError('a second test', r.orchestrator.startFailoverTest({ groupId: r.groupId }), ConflictError);
      await expectError('a clone during a test', r.orchestrator.clone({ groupId: r.groupId }), ConflictError);
      await expectError('a commit of a test', r.orchestrator.commit({ groupId: r.groupId }), InvalidStateError);
      assert.equal((await r.recoveryHypervisor.inventory()).vms.length, before, 'refused operations created no VM');
      for (const vm of r.vms) assert.equal((await ctx.harness.hypervisor.getVm(vm.id)).powerState, 'on', 'refused operations shut nothing down');
      assert.deepEqual(r.site.calls, [], 'refused operations did not touch the protected site');
      await r.run('stop', r.orchestrator.stopFailoverTest({ groupId: r.groupId, success: true }));
      await expectError('stopping again', r.orchestrator.stopFailoverTest({ groupId: r.groupId, success: true }), InvalidStateError);
    },
  },
  {
    id: 'R2.1',
    title: 'failover live to a chosen checkpoint with shutdown: protected VMs off, recovered VMs equal the oracle on live networks, before-commit, then commit: Recovered, promoted, protection stopped',
    needs: ['writeTap', 'recoveryVm'],
    async run(ctx) {
      const r = await rig(ctx);
      const chosen = await r.checkpoint('chosen');
      await r.pipeline.randomWrites(15);
      await r.checkpoint('later');
      const progress = progressLog();
      const fo = await r.run('failover', r.orchestrator.failover(failoverRequest(r, { checkpointId: chosen.cp.id, shutdownPolicy: 'shutdown', timeToWaitBeforeShutdownSec: 30 }), progress.sink));
      assert.equal(fo.kind, 'Failover');
      assert.equal(fo.phase, 'before-commit');
      assert.equal(fo.checkpoint.id, chosen.cp.id);
      for (const vm of r.vms) assert.equal((await ctx.harness.hypervisor.getVm(vm.id)).powerState, 'off', `protected VM '${vm.id}' was shut down`);
      await r.assertRecovered(fo.vms, chosen.snapshot, 'failover before commit');
      for (const v of fo.vms) {
        assert.equal(await r.onIsolatedNetworks(v.recoveredVmId), false, 'live failover VMs are on live networks');
        assert.equal((await r.recoveryHypervisor.getVm(v.recoveredVmId)).powerState, 'on');
      }
      const report = await r.run('commit', r.orchestrator.commit({ groupId: r.groupId }, progress.sink));
      progress.check('failover');
      assertReport(report, { kind: 'Failover', outcome: 'committed', result: 'Success', checkpointId: chosen.cp.id, steps: ['shutdown-protected-vms', 'open-images', 'create-recovery-vms', 'power-on', 'stop-protection', 'promote'] });
      assert.ok(r.site.calls.includes('shutdown:shutdown') && r.site.calls.includes('stop-protection:keep'), `protected site calls: ${r.site.calls.join(', ')}`);
      assert.equal(await r.orchestrator.active(r.groupId), undefined);
      // Committed and promoted: the VMs hold the checkpoint's data on their own disks.
      await r.assertRecovered(fo.vms, chosen.snapshot, 'failover after commit and promotion');
      for (const v of fo.vms) assert.ok(await r.vmExists(v.recoveredVmId), 'committed VMs stay');
    },
  },
  {
    id: 'R2.2',
    title: 'failover with force shutdown, then rollback: recovered VMs and their writes are gone, protected VMs run again, replication continues and the next checkpoint equals the oracle',
    needs: ['writeTap', 'recoveryVm'],
    async run(ctx) {
      const r = await rig(ctx);
      const latest = await r.checkpoint();
      const fo = await r.run('failover', r.orchestrator.failover(failoverRequest(r, { shutdownPolicy: 'force', timeToWaitBeforeShutdownSec: 5 })));
      assert.equal(fo.checkpoint.id, latest.cp.id, 'latest checkpoint by default');
      await r.assertRecovered(fo.vms, latest.snapshot, 'failover');
      await scratchWrites(ctx, r, fo.vms[0].recoveredVmId, 4);
      const progress = progressLog();
      progress.sink(0, 'start');
      const report = await r.run('rollback', r.orchestrator.rollback(r.groupId, progress.sink));
      progress.check('rollback');
      assertReport(report, { kind: 'Failover', outcome: 'rolled-back', result: 'Success', steps: ['remove-recovered-vms', 'power-on-protected-vms'] });
      for (const v of fo.vms) assert.equal(await r.vmExists(v.recoveredVmId), false, 'rolled-back VMs are gone');
      for (const vm of r.vms) assert.equal((await ctx.harness.hypervisor.getVm(vm.id)).powerState, 'on', 'protected VMs run again');
      assert.ok(!r.site.calls.some((c) => c.startsWith('stop-protection')), 'protection was never stopped');
      await r.pipeline.randomWrites(20);
      await r.checkpoint('after-rollback');
      assert.equal(r.pipeline.observe().subStatus, 'None', 'the group protects again');
      await expectError('a rollback with nothing to roll back', r.orchestrator.rollback(r.groupId), InvalidStateError);
    },
  },
  {
    id: 'R2.3',
    title: 'commit policies: commit after N s and roll back after N s apply on the clock, not before; commit policy with 0 s applies at once',
    needs: ['writeTap', 'recoveryVm', 'virtualClock'],
    async run(ctx) {
      const r = await rig(ctx);
      const latest = await r.checkpoint();
      // Roll back after 30 s (protected VMs keep running: shutdown policy none).
      const fo = await r.run('failover', r.orchestrator.failover(failoverRequest(r, { shutdownPolicy: 'none', commitPolicy: 'rollback', commitPolicyTimeoutSec: 30 })));
      assert.equal(fo.phase, 'before-commit');
      await r.pipeline.advance(25_000, 500);
      assert.equal((await r.orchestrator.active(r.groupId))?.phase, 'before-commit', 'still before commit 25 s in');
      await r.pipeline.advance(6_000, 500);
      assert.equal(await r.orchestrator.active(r.groupId), undefined, 'rolled back after 30 s');
      assertReport(r.lastReport(), { kind: 'Failover', outcome: 'rolled-back', result: 'Success', steps: ['remove-recovered-vms'] });
      for (const v of fo.vms) assert.equal(await r.vmExists(v.recoveredVmId), false);
      // Commit after 10 s.
      await r.pipeline.converge();
      const cp2 = await r.checkpoint();
      const fo2 = await r.run('failover', r.orchestrator.failover(failoverRequest(r, { shutdownPolicy: 'shutdown', commitPolicy: 'commit', commitPolicyTimeoutSec: 10 })));
      assert.equal(fo2.phase, 'before-commit');
      await r.pipeline.advance(9_000, 500);
      assert.equal((await r.orchestrator.active(r.groupId))?.phase, 'before-commit', 'still before commit 9 s in');
      await r.pipeline.advance(2_000, 500);
      await r.pipeline.waitFor('the automatic commit to end', () => r.orchestrator.current(r.groupId) === undefined);
      assertReport(r.lastReport(), { kind: 'Failover', outcome: 'committed', result: 'Success', checkpointId: cp2.cp.id, steps: ['stop-protection', 'promote'] });
      await r.assertRecovered(fo2.vms, cp2.snapshot, 'auto-committed failover');
      assert.ok(latest.cp.seq <= cp2.cp.seq);
    },
  },
  {
    id: 'R2.4',
    title: 'failover to a chosen checkpoint, commit with reverse protection: a delta sync back onto the original disks sends only the differing blocks, and the original site then holds the recovered VMs exactly',
    needs: ['writeTap', 'recoveryVm', 'reverseProtection'],
    async run(ctx) {
      const r = await rig(ctx, {}, 30);
      const chosen = await r.checkpoint('chosen');
      const atCheckpoint = r.contents();
      // Written after the chosen checkpoint: on the original disks, not in the recovered VMs.
      const later: { vmId: string; volumeId: string; offset: number }[] = [];
      for (let i = 0; i < 4; i++) {
        const vm = ctx.random.pick(r.vms);
        const v = vm.volumes[0];
        const offset = ctx.random.int(0, v.sizeBytes / (4 * KiB) - 1) * 4 * KiB;
        await r.pipeline.write(vm.id, v.id, offset, ctx.random.bytes(4 * KiB));
        later.push({ vmId: vm.id, volumeId: v.id, offset });
      }
      await r.checkpoint('later');
      const fo = await r.run('failover', r.orchestrator.failover(failoverRequest(r, { checkpointId: chosen.cp.id, shutdownPolicy: 'shutdown', reverseProtection: true })));
      // A second oracle follows the recovered VMs from the checkpoint's content on.
      const mirror = new Oracle();
      for (const v of fo.vms) {
        const vm = await r.recoveryHypervisor.getVm(v.recoveredVmId);
        mirror.addVm(vm);
        const source = r.vms.find((x) => x.id === v.sourceVmId)!;
        source.volumes.forEach((sv, i) => mirror.record(vm.id, vm.volumes[i].id, 0, atCheckpoint.get(source.id)!.get(sv.id)!));
      }
      for (const v of fo.vms) await scratchWrites(ctx, r, v.recoveredVmId, 3, mirror);
      const report = await r.run('commit with reverse protection', r.orchestrator.commit({ groupId: r.groupId }));
      assertReport(report, { kind: 'Failover', outcome: 'committed', result: 'Success', steps: ['stop-protection', 'promote', 'reverse-protection'] });
      const reverse = await r.reverseConverged();
      const differing = await differingBytes(r, fo.vms, mirror);
      const sent = reverse.sender.currentStats().syncBytesSent;
      assert.ok(differing > 0, `the two sides differ before reverse protection (observed ${differing} differing bytes)`);
      assert.ok(sent >= differing, `the delta sync sent at least the ${differing} differing bytes (sent ${sent})`);
      assert.ok(sent <= differing * 2, `only differing blocks crossed: ${differing} bytes differ, ${sent} bytes of data sent (seeded locally: ${reverse.seededBytes})`);
      // Writes after the reverse sync replicate too.
      for (const v of fo.vms) await scratchWrites(ctx, r, v.recoveredVmId, 2, mirror);
      await r.verifyReverse(mirror.snapshot());
      assert.ok(later.length > 0);
    },
  },
  {
    id: 'R2.5',
    title: 'bad failover requests are refused with typed errors and change nothing: a checkpoint of another group, an unknown checkpoint, an unknown policy or VM, an unknown group; another group recovers meanwhile',
    needs: ['writeTap', 'recoveryVm'],
    async run(ctx) {
      const r = await rig(ctx);
      await r.checkpoint();
      const other = await r.addGroup('pg-2');
      const otherCp = await other.cutAndVerify('other');
      const vmsBefore = (await r.recoveryHypervisor.inventory()).vms.length;
      await expectError('a checkpoint of another group', r.orchestrator.failover(failoverRequest(r, { checkpointId: otherCp.id })), CheckpointNotFoundError, new RegExp(otherCp.id));
      await expectError('a failover test to a checkpoint of another group', r.orchestrator.startFailoverTest({ groupId: r.groupId, checkpointId: otherCp.id }), CheckpointNotFoundError);
      await expectError('an unknown checkpoint', r.orchestrator.failover(failoverRequest(r, { checkpointId: 'no-such-cp' })), CheckpointNotFoundError, /no-such-cp/);
      await expectError('an unknown shutdown policy', r.orchestrator.failover(failoverRequest(r, { shutdownPolicy: 'gently' as never })), ValidationError, /shutdownPolicy/);
      await expectError('a negative timeout', r.orchestrator.failover(failoverRequest(r, { commitPolicyTimeoutSec: -1 })), ValidationError, /commitPolicyTimeoutSec/);
      await expectError('a VM outside the group', r.orchestrator.failover(failoverRequest(r, { vmIds: ['vm-none'] })), ValidationError, /vm-none/);
      await expectError('an unknown group', r.orchestrator.failover(failoverRequest(r, { groupId: 'no-such-group' })), Error, /no-such-group/);
      assert.equal((await r.recoveryHypervisor.inventory()).vms.length, vmsBefore, 'no VM was created');
      for (const vm of r.vms) assert.equal((await ctx.harness.hypervisor.getVm(vm.id)).powerState, 'on', 'no protected VM was shut down');
      assert.equal(await r.orchestrator.active(r.groupId), undefined, 'no operation is left behind');
      assert.deepEqual(r.orchestrator.reportsNow(), [], 'refused requests leave no report');
      // The group is still free for a real operation, and one operation per group does not block another group.
      const fo = await r.run('failover', r.orchestrator.failover(failoverRequest(r, { shutdownPolicy: 'none' })));
      const otherSnapshot = ctx.oracle.snapshot();
      const otherTest = await r.run('a test of the other group', r.orchestrator.startFailoverTest({ groupId: 'pg-2', checkpointId: otherCp.id }));
      assert.equal(otherTest.groupId, 'pg-2');
      await assertImageEquals(await r.recoveryHypervisor.getVm(otherTest.vms[0].recoveredVmId).then((vm) => ({ read: (_v: string, o: number, l: number) => r.recoveryHypervisor.readVolume(vm.id, vm.volumes[0].id, o, l) })),
        { vmId: other.vms[0].id, volumes: [{ ...otherSnapshot.vm(other.vms[0].id).volumes[0], volumeId: other.vms[0].volumes[0].id }] }, 'the other group\'s test VM');
      await r.run('stop the other test', r.orchestrator.stopFailoverTest({ groupId: 'pg-2', success: true }));
      await r.run('rollback', r.orchestrator.rollback(r.groupId));
      assert.ok(fo.vms.length === r.vms.length);
    },
  },
  {
    id: 'R3.1',
    title: 'move: source shut down, final sync and checkpoint holding every write, recovered VMs equal the oracle; commit without keeping the source VMs deletes them',
    needs: ['writeTap', 'recoveryVm'],
    async run(ctx) {
      const r = await rig(ctx);
      await r.checkpoint();
      await r.pipeline.randomWrites(25); // not checkpointed yet: only the move's final checkpoint holds them
      const progress = progressLog();
      const mv = await r.run('move', r.orchestrator.move({ groupId: r.groupId, commitPolicy: 'none', commitPolicyTimeoutSec: 0, forceShutdown: false, reverseProtection: false, keepSourceVms: false }, progress.sink));
      assert.equal(mv.kind, 'Move');
      assert.equal(mv.phase, 'before-commit');
      assert.equal(mv.checkpoint.tag, 'move', 'recovered at the final checkpoint');
      assert.ok(r.site.finalSnapshot);
      await r.assertRecovered(mv.vms, r.site.finalSnapshot, 'move');
      const report = await r.run('commit', r.orchestrator.commit({ groupId: r.groupId }, progress.sink));
      progress.check('move');
      assertReport(report, { kind: 'Move', outcome: 'committed', result: 'Success', checkpointId: mv.checkpoint.id, steps: ['shutdown-source-vms', 'final-checkpoint', 'power-on', 'stop-protection', 'promote'] });
      assert.ok(r.site.calls.includes('stop-protection:delete'), `source VMs deleted on commit: ${r.site.calls.join(', ')}`);
      const protectedVms = (await ctx.harness.hypervisor.inventory()).vms.map((v) => v.id);
      for (const vm of r.vms) assert.ok(!protectedVms.includes(vm.id), `source VM '${vm.id}' was deleted`);
      await r.assertRecovered(mv.vms, r.site.finalSnapshot, 'move after commit');
    },
  },
  {
    id: 'R3.2',
    title: 'move rollback: moved VMs removed, source VMs back on, replication continues; move with keepSourceVms and reverse protection keeps the source VMs and protects back by delta sync',
    needs: ['writeTap', 'recoveryVm', 'reverseProtection'],
    async run(ctx) {
      const r = await rig(ctx);
      await r.pipeline.randomWrites(10);
      const mv = await r.run('move', r.orchestrator.move({ groupId: r.groupId, commitPolicy: 'none', commitPolicyTimeoutSec: 0, forceShutdown: true, reverseProtection: false, keepSourceVms: true }));
      assert.ok(r.site.calls.includes('shutdown:force'));
      await r.run('rollback', r.orchestrator.rollback(r.groupId));
      for (const v of mv.vms) assert.equal(await r.vmExists(v.recoveredVmId), false);
      for (const vm of r.vms) assert.equal((await ctx.harness.hypervisor.getVm(vm.id)).powerState, 'on');
      await r.pipeline.randomWrites(10);
      await r.checkpoint('after-move-rollback');
      // Now for real, with reverse protection.
      const mv2 = await r.run('move', r.orchestrator.move({ groupId: r.groupId, commitPolicy: 'commit', commitPolicyTimeoutSec: 0, forceShutdown: false, reverseProtection: true, keepSourceVms: true }));
      assert.equal(mv2.phase, 'done', 'commit policy with 0 s commits at once');
      assertReport(r.lastReport(), { kind: 'Move', outcome: 'committed', result: 'Success', steps: ['reverse-protection'] });
      assert.ok(r.site.calls.includes('stop-protection:keep'));
      for (const vm of r.vms) assert.ok(await ctx.harness.hypervisor.getVm(vm.id), 'source VMs kept');
      const reverse = await r.reverseConverged();
      // After a move nothing differs: the delta sync only compares.
      assert.equal(reverse.sender.currentStats().syncBytesSent, 0, 'a move leaves both sides equal: no data crosses');
      const mirror = new Oracle();
      for (const v of mv2.vms) {
        const vm = await r.recoveryHypervisor.getVm(v.recoveredVmId);
        mirror.addVm(vm);
        const source = r.vms.find((x) => x.id === v.sourceVmId)!;
        source.volumes.forEach((sv, i) => mirror.record(vm.id, vm.volumes[i].id, 0, ctx.oracle.read(source.id, sv.id, 0, sv.sizeBytes)));
      }
      for (const v of mv2.vms) await scratchWrites(ctx, r, v.recoveredVmId, 3, mirror);
      await r.verifyReverse(mirror.snapshot());
    },
  },
  {
    id: 'R4.1',
    title: 'clone at a chosen checkpoint onto a chosen datastore: the copy equals the oracle and is independent of the journal; replication continues',
    needs: ['writeTap', 'recoveryVm', 'recoveryPromotion'],
    async run(ctx) {
      const r = await rig(ctx);
      const chosen = await r.checkpoint('chosen');
      await r.pipeline.randomWrites(10);
      await r.checkpoint('later');
      const datastores = (await r.recoveryHypervisor.inventory()).datastores;
      const ds = datastores.at(-1)!;
      await expectError('an unknown datastore', r.orchestrator.clone({ groupId: r.groupId, datastoreId: 'ds-none' }), ValidationError, /ds-none/);
      const progress = progressLog();
      const report = await r.run('clone', r.orchestrator.clone({ groupId: r.groupId, checkpointId: chosen.cp.id, datastoreId: ds.id }, progress.sink));
      progress.check('clone');
      assertReport(report, { kind: 'Clone', outcome: 'cloned', result: 'Success', checkpointId: chosen.cp.id, steps: ['open-images', 'create-clone-vms', 'promote'] });
      assert.equal(await r.orchestrator.active(r.groupId), undefined);
      await r.assertRecovered(report.vms, chosen.snapshot, 'clone');
      const after = (await r.recoveryHypervisor.inventory()).datastores.find((d) => d.id === ds.id)!;
      assert.ok(after.freeBytes < ds.freeBytes, `the clone's data lives on the chosen datastore (${ds.freeBytes} → ${after.freeBytes} bytes free)`);
      // Replication went on; the clone does not follow it.
      await r.pipeline.randomWrites(20);
      await r.checkpoint('after-clone');
      await r.assertRecovered(report.vms, chosen.snapshot, 'clone after more replication');
      for (const v of report.vms) assert.equal((await r.recoveryHypervisor.getVm(v.recoveredVmId)).powerState, 'off', 'clones are left powered off');
    },
  },
  {
    id: 'R5.1',
    title: 'file restore: a checkpoint\'s ext4 volume opened read-only lists and extracts files byte for byte; paths with .. or escaping the volume are refused with ValidationError',
    needs: ['writeTap', 'recoveryVm'],
    async run(ctx) {
      const mkfs = ['/usr/sbin/mkfs.ext4', '/sbin/mkfs.ext4'].find((p) => existsSync(p));
      if (!mkfs || !findDebugfs()) {
        if (process.env.CI === 'true') assert.fail('file restore needs e2fsprogs (mkfs.ext4, debugfs); install it in CI');
        process.stderr.write('R5.1: SKIPPED LOCALLY — e2fsprogs (mkfs.ext4, debugfs) is not installed\n');
        return;
      }
      const r = await rig(ctx, {}, 0);
      const dir = await mkdtemp(join(tmpdir(), 'opencdp-r5-'));
      ctx.onDispose(() => rm(dir, { recursive: true, force: true }));
      const files: Record<string, Buffer> = {
        '/etc/hosts': Buffer.from('127.0.0.1 localhost\n'),
        '/data/blob.bin': ctx.random.bytes(100_000),
        '/data/with space.txt': Buffer.from('spaces are fine'),
      };
      for (const [p, data] of Object.entries(files)) {
        await mkdir(join(dir, 'root', p, '..'), { recursive: true });
        await writeFile(join(dir, 'root', p), data);
      }
      const image = join(dir, 'fs.img');
      await new Promise<void>((resolve, reject) => execFile(mkfs, ['-q', '-F', '-b', '4096', '-d', join(dir, 'root'), image, '2M'], (e) => (e ? reject(e) : resolve())));
      const bytes = await readFile(image);
      const vm = r.vms[0];
      const volume = vm.volumes[0];
      for (let at = 0; at < bytes.length; at += 256 * KiB) await r.pipeline.write(vm.id, volume.id, at, bytes.subarray(at, at + 256 * KiB));
      const withFiles = await r.checkpoint('files');
      // Change a file afterwards: the restore must show the checkpoint's version.
      await r.pipeline.write(vm.id, volume.id, 0, Buffer.alloc(bytes.length)); // the file system is wiped
      await r.checkpoint('wiped');
      const session = await r.orchestrator.openFileRestore(r.groupId, withFiles.cp.id, vm.id, volume.id);
      const root = await r.orchestrator.listFiles(session.id, '/');
      assert.deepEqual(root.filter((e) => e.type === 'directory').map((e) => e.path).sort(), ['/data', '/etc', '/lost+found']);
      const data = await r.orchestrator.listFiles(session.id, '/data');
      assert.deepEqual(data.map((e) => [e.path, e.type, e.sizeBytes]), [['/data/blob.bin', 'file', 100_000], ['/data/with space.txt', 'file', 15]]);
      for (const [p, content] of Object.entries(files)) assert.ok((await r.orchestrator.extractFile(session.id, p)).equals(content), `${p} extracts byte for byte`);
      for (const bad of ['/../etc/hosts', '/data/../../x', '../etc', 'etc/hosts', '/data/"; rdump / /tmp; "', '/a\nb']) {
        await expectError(`path ${JSON.stringify(bad)}`, r.orchestrator.listFiles(session.id, bad), ValidationError);
        await expectError(`path ${JSON.stringify(bad)}`, r.orchestrator.extractFile(session.id, bad), ValidationError);
      }
      await expectError('a missing file', r.orchestrator.extractFile(session.id, '/etc/shadow'), ValidationError, /does not exist/);
      await expectError('a directory', r.orchestrator.extractFile(session.id, '/etc'), ValidationError);
      // Refusals changed nothing: the session still works, and so does replication.
      assert.ok((await r.orchestrator.extractFile(session.id, '/etc/hosts')).equals(files['/etc/hosts']));
      await r.orchestrator.closeFileRestore(session.id);
      await expectError('a closed session', r.orchestrator.listFiles(session.id, '/'), Error, /does not exist/);
      await expectError('another group\'s checkpoint', r.orchestrator.openFileRestore(r.groupId, 'other-cp', vm.id, volume.id), CheckpointNotFoundError);
      await r.pipeline.randomWrites(5);
      await r.checkpoint();
    },
  },
  {
    id: 'R6.1',
    title: 'boot groups power on in order with their delays on the clock; NICs follow the live and test mappings with re-IP',
    needs: ['writeTap', 'recoveryVm', 'virtualClock'],
    async run(ctx) {
      const r = await rig(ctx, {
        plan: (vms) => ({
          bootGroups: [{ name: 'database', delaySeconds: 40, vmIds: [vms[1].id] }, { name: 'app', delaySeconds: 0, vmIds: [vms[0].id] }],
          nics: [{ vmId: vms[0].id, nicIndex: 0, liveNetworkId: '', testNetworkId: '', liveIpv4: '10.1.0.10', testIpv4: '192.168.77.10' }],
        }),
      });
      // Map onto the recovery site's real networks (known only now).
      const networks = (await r.recoveryHypervisor.inventory()).networks;
      const live = networks.find((n) => !n.isolated);
      const test = networks.find((n) => n.isolated);
      assert.ok(live && test, `the recovery platform lists a live and an isolated (test) network: observed ${JSON.stringify(networks.map((n) => ({ id: n.id, isolated: n.isolated })))}`);
      const def = r.directory.group(r.groupId)!;
      def.plan.nics = def.plan.nics!.map((n) => ({ ...n, liveNetworkId: live.id, testNetworkId: test.id }));
      const latest = await r.checkpoint();
      const t0 = ctx.harness.clock.now();
      const tst = await r.run('failover test', r.orchestrator.startFailoverTest({ groupId: r.groupId }));
      const byName = (a: ActiveRecovery, source: string): ActiveRecovery['vms'][number] => {
        const found = a.vms.find((v) => v.sourceVmId === source);
        assert.ok(found, `the ${a.kind} recovered source VM '${source}': observed recovered VMs for ${a.vms.map((v) => v.sourceVmId).join(', ') || 'none'}`);
        return found;
      };
      const db = byName(tst, r.vms[1].id);
      const app = byName(tst, r.vms[0].id);
      assert.equal(db.bootGroup, 'database');
      assert.equal(app.bootGroup, 'app');
      assert.ok(db.poweredOnAt !== undefined && db.poweredOnAt >= t0 && db.poweredOnAt < t0 + 1000, `the first boot group powers on at once: expected within 1000 ms of ${t0}, observed ${db.poweredOnAt ?? 'never'}`);
      assert.equal(app.poweredOnAt! - db.poweredOnAt!, 40_000, 'the next boot group waits the 40 s delay');
      const appVm = await r.recoveryHypervisor.getVm(app.recoveredVmId);
      assert.deepEqual(appVm.nics.map((n) => [n.networkId, n.ipv4]), [[test.id, '192.168.77.10']], 'test NIC mapping with re-IP');
      assert.ok(await r.onIsolatedNetworks(db.recoveredVmId), 'an unmapped NIC goes to the test network in a test');
      await r.assertRecovered(tst.vms, latest.snapshot, 'boot-ordered test');
      await r.run('stop', r.orchestrator.stopFailoverTest({ groupId: r.groupId, success: true }));
      const fo = await r.run('failover', r.orchestrator.failover(failoverRequest(r, { shutdownPolicy: 'none' })));
      const liveApp = await r.recoveryHypervisor.getVm(byName(fo, r.vms[0].id).recoveredVmId);
      assert.deepEqual(liveApp.nics.map((n) => [n.networkId, n.ipv4]), [[live.id, '10.1.0.10']], 'live NIC mapping with re-IP');
      assert.equal(await r.onIsolatedNetworks(byName(fo, r.vms[1].id).recoveredVmId), false, 'an unmapped NIC goes to the live network in a failover');
      await r.run('rollback', r.orchestrator.rollback(r.groupId));
    },
  },
  {
    id: 'R7.1',
    title: 'promotion: recovered VMs run at once on the journal\'s image; after commit the journal is promoted into their disks in the background (phase promoting, progress rising) while they keep running and writing',
    needs: ['writeTap', 'recoveryVm', 'virtualClock', 'recoveryPromotion'],
    async run(ctx) {
      const r = await rig(ctx, { promotionBytesPerSecond: 1 * MiB }, 30);
      const latest = await r.checkpoint();
      const fo = await r.run('failover', r.orchestrator.failover(failoverRequest(r, { shutdownPolicy: 'shutdown' })));
      const mirror = new Oracle();
      for (const v of fo.vms) {
        const vm = await r.recoveryHypervisor.getVm(v.recoveredVmId);
        assert.equal(vm.powerState, 'on', 'running before any promotion');
        mirror.addVm(vm);
        const source = r.vms.find((x) => x.id === v.sourceVmId)!;
        source.volumes.forEach((sv, i) => mirror.record(vm.id, vm.volumes[i].id, 0, ctx.oracle.read(source.id, sv.id, 0, sv.sizeBytes)));
      }
      const commit = r.orchestrator.commit({ groupId: r.groupId });
      let done = false;
      void commit.then(() => { done = true; }, () => { done = true; });
      const seen: number[] = [];
      await r.pipeline.waitFor('promotion to start', () => r.orchestrator.current(r.groupId)?.phase === 'promoting');
      while (!done) {
        const a = r.orchestrator.current(r.groupId);
        if (a?.phase === 'promoting') seen.push(a.promotionPercent ?? -1);
        // The VMs run and write during promotion; their writes must win over the promoted data.
        if (a?.phase === 'promoting' && seen.length % 5 === 1) for (const v of fo.vms) await scratchWrites(ctx, r, v.recoveredVmId, 1, mirror);
        await r.pipeline.advance(200, 100);
      }
      const report = await commit;
      assertReport(report, { kind: 'Failover', outcome: 'committed', result: 'Success', steps: ['promote'] });
      assert.ok(seen.length >= 5, `promotion took a while on the clock (${seen.length} observations)`);
      assert.ok(seen.some((p) => p > 0 && p < 100), `progress was seen between 0 and 100: ${seen.join(', ')}`);
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i] >= seen[i - 1], `promotion progress never goes back (observed ${seen[i - 1]} → ${seen[i]})`);
      for (const v of fo.vms) {
        const vm = await r.recoveryHypervisor.getVm(v.recoveredVmId);
        await assertImageEquals({ read: (volumeId, offset, length) => r.recoveryHypervisor.readVolume(vm.id, volumeId, offset, length) }, mirror.snapshot().vm(vm.id), `promoted VM '${vm.id}'`);
      }
      // The journal no longer backs the VMs: every image is closed, so the checkpoint is no longer pinned.
      await r.pipeline.verify(latest.cp.id, latest.snapshot);
    },
  },
  {
    id: 'R8.1',
    title: 'with both managers down (no checkpoint scheduler, protected site unreachable) a failover to the last checkpoint still works and commits; the report records what could not be done',
    needs: ['writeTap', 'recoveryVm'],
    async run(ctx) {
      const r = await rig(ctx);
      const last = await r.checkpoint();
      r.pipeline.scheduler.stop();
      r.pipeline.scheduler.setManagerReachable(false);
      r.site.reachable = false;
      await r.pipeline.randomWrites(10); // replicated, but no checkpoint holds them
      await r.pipeline.advance(2000);
      assert.equal(r.pipeline.checkpoints().at(-1)?.id, last.cp.id, 'no checkpoint was cut without the manager');
      assert.deepEqual((await r.orchestrator.listCheckpoints(r.groupId)).map((c) => c.id), r.pipeline.checkpoints().map((c) => c.id));
      await expectError('a failover that must shut the protected VMs down', r.orchestrator.failover(failoverRequest(r, { shutdownPolicy: 'shutdown' })), Error, /unreachable/);
      assertReport(r.lastReport(), { kind: 'Failover', outcome: 'aborted', result: 'Fail', steps: ['shutdown-protected-vms'] });
      const fo = await r.run('failover', r.orchestrator.failover(failoverRequest(r, { shutdownPolicy: 'none' })));
      assert.equal(fo.checkpoint.id, last.cp.id);
      await r.assertRecovered(fo.vms, last.snapshot, 'failover without managers');
      const report = await r.run('commit', r.orchestrator.commit({ groupId: r.groupId }));
      assertReport(report, { kind: 'Failover', outcome: 'committed', result: 'Success' });
      const stop = report.steps.find((s) => s.name === 'stop-protection');
      assert.equal(stop?.result, 'Fail', 'stopping protection at the unreachable site is recorded as failed');
      assert.match(stop?.detail ?? '', /unreachable/);
      await r.assertRecovered(fo.vms, last.snapshot, 'committed without managers');
    },
  },
  {
    id: 'R9.1',
    title: 'delete a group keeping the recovery volumes: journals go, replica volumes stay; refused while an operation runs unless forced; force delete works with the protected site unreachable',
    needs: ['writeTap', 'recoveryVm'],
    async run(ctx) {
      const r = await rig(ctx);
      await r.checkpoint();
      const storage = ctx.harness.recoveryStorage;
      const files = await storage.list(`journals/${r.groupId}/`);
      const replicas = files.filter((f) => /\/replica\/[^/]+\.img$/.test(f));
      assert.equal(replicas.length, 3, `one replica volume per protected volume: ${files.join(', ')}`);
      const test = await r.run('test', r.orchestrator.startFailoverTest({ groupId: r.groupId }));
      await expectError('an unforced delete during a test', r.orchestrator.deleteGroup({ groupId: r.groupId, keepRecoveryVolumes: true, force: false }), ConflictError);
      assert.deepEqual(await storage.list(`journals/${r.groupId}/`), files, 'the refused delete changed nothing');
      r.site.reachable = false;
      const progress = progressLog();
      await r.run('force delete', r.orchestrator.deleteGroup({ groupId: r.groupId, keepRecoveryVolumes: true, force: true }, progress.sink));
      progress.check('delete');
      for (const v of test.vms) assert.equal(await r.vmExists(v.recoveredVmId), false, 'the test VMs went with the group');
      assert.deepEqual(await storage.list(`journals/${r.groupId}/`), replicas, 'only the replica volumes are kept');
      await expectError('an operation on the deleted group', r.orchestrator.listCheckpoints(r.groupId), Error, /does not exist/);
    },
  },
  {
    id: 'R9.2',
    title: 'delete a group without keeping volumes: every file of the group goes; an unforced delete with the protected site unreachable is refused and changes nothing',
    needs: ['writeTap', 'recoveryVm'],
    async run(ctx) {
      const r = await rig(ctx);
      await r.checkpoint();
      const storage = ctx.harness.recoveryStorage;
      const files = await storage.list(`journals/${r.groupId}/`);
      r.site.reachable = false;
      await expectError('an unforced delete with the protected site down', r.orchestrator.deleteGroup({ groupId: r.groupId, keepRecoveryVolumes: false, force: false }), Error, /unreachable/);
      assert.deepEqual(await storage.list(`journals/${r.groupId}/`), files, 'nothing was deleted');
      assert.equal((await r.orchestrator.listCheckpoints(r.groupId)).length, 1, 'the group still recovers');
      r.site.reachable = true;
      await r.run('delete', r.orchestrator.deleteGroup({ groupId: r.groupId, keepRecoveryVolumes: false, force: false }));
      assert.deepEqual(await storage.list(`journals/${r.groupId}/`), []);
      assert.ok(r.site.calls.includes('stop-protection:keep'), 'protection was stopped first');
    },
  },
  {
    id: 'R10.1',
    title: 'every operation reports progress from 0 to 100 and ends in a report with timed steps; a failed operation ends in a Fail report and leaves nothing behind',
    needs: ['writeTap', 'recoveryVm', 'recoveryPromotion'],
    async run(ctx) {
      const r = await rig(ctx);
      const cp = await r.checkpoint();
      const runs: [string, () => Promise<unknown>][] = [
        ['test', async () => {
          const p = progressLog();
          await r.run('test', r.orchestrator.startFailoverTest({ groupId: r.groupId }, p.sink));
          await r.run('stop', r.orchestrator.stopFailoverTest({ groupId: r.groupId, success: true }, p.sink));
          p.check('failover test');
        }],
        ['clone', async () => {
          const p = progressLog();
          await r.run('clone', r.orchestrator.clone({ groupId: r.groupId }, p.sink));
          p.check('clone');
        }],
      ];
      for (const [, fn] of runs) await fn();
      // A failover whose protected site fails during shutdown: Fail report, nothing recovered, VMs untouched.
      r.site.reachable = false;
      const vmsBefore = (await r.recoveryHypervisor.inventory()).vms.length;
      await expectError('failover', r.orchestrator.failover(failoverRequest(r, { shutdownPolicy: 'force' })), Error, /unreachable/);
      const failed = r.lastReport();
      assertReport(failed, { kind: 'Failover', outcome: 'aborted', result: 'Fail', checkpointId: cp.cp.id });
      assert.match(failed.summary ?? '', /unreachable/);
      assert.equal((await r.recoveryHypervisor.inventory()).vms.length, vmsBefore, 'nothing was left behind');
      assert.equal(await r.orchestrator.active(r.groupId), undefined);
      const reports = await r.orchestrator.reports(r.groupId);
      assert.deepEqual(reports.map((x) => [x.kind, x.result]), [['FailoverTest', 'Success'], ['Clone', 'Success'], ['Failover', 'Fail']]);
      assert.equal(new Set(reports.map((x) => x.id)).size, reports.length, 'report ids are unique');
      for (const rep of reports) assert.equal(rep.groupName, r.pipeline.settings.name);
    },
  },
];

/** Bytes (in 4 KiB blocks) where the original disks and the recovered VMs differ. */
async function differingBytes(r: RecoveryRig, vms: ActiveRecovery['vms'], mirror: Oracle): Promise<number> {
  let n = 0;
  for (const v of vms) {
    const source = r.vms.find((x) => x.id === v.sourceVmId)!;
    const recovered = await r.recoveryHypervisor.getVm(v.recoveredVmId);
    for (let i = 0; i < source.volumes.length; i++) {
      const sv = source.volumes[i];
      const a = await r.ctx.harness.hypervisor.readVolume(source.id, sv.id, 0, sv.sizeBytes);
      const b = mirror.read(recovered.id, recovered.volumes[i].id, 0, sv.sizeBytes);
      for (let at = 0; at < sv.sizeBytes; at += 4 * KiB) if (!a.subarray(at, at + 4 * KiB).equals(b.subarray(at, at + 4 * KiB))) n += 4 * KiB;
    }
  }
  return n;
}
