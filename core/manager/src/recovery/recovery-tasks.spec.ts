import { strict as assert } from 'node:assert';
import { CheckpointNotFoundError, ConflictError, InvalidStateError, ValidationError } from '@opencdp/core';
import { TaskState } from '../store.js';
import { addGroup, siteEach } from '../testing/spec-helpers.js';
import { checkCheckpoint, checkVms, RecoveryGuard } from './recovery-guard.js';

describe('manager recovery tasks', () => {
  const s = siteEach();
  /** A protected group with one checkpoint at the recovery site. */
  async function recoverable(name = 'app'): Promise<string> {
    const id = await addGroup(s.site, name);
    await s.site.clock.advance(1000);
    return id;
  }
  const failoverRequest = { shutdownPolicy: 'none', timeToWaitBeforeShutdownSec: 0, commitPolicy: 'none', commitPolicyTimeoutSec: 0, reverseProtection: false } as const;

  it('holds one operation per group, whether this manager or the recovery appliance runs it', async () => {
    const { groups, appliances } = s.parts;
    const id = await recoverable();
    const g = groups.get(id);
    const guard = new RecoveryGuard(appliances);
    guard.hold(id);
    assert.throws(() => guard.assertIdle(g), ConflictError);
    guard.release(id);
    await guard.assertNoOperation(g);
    const recovery = appliances.recoveryOf(g);
    await checkCheckpoint(g, recovery, undefined);
    await assert.rejects(checkCheckpoint(g, recovery, 'site-a-cp-999'), CheckpointNotFoundError);
    assert.throws(() => checkVms(g, ['site-a-vm-1', 'site-b-vm-1']), (e: ValidationError) => e.field === 'vmIdentifiers');
    const task = await s.parts.recovery.failoverTest(id, {});
    await assert.rejects(s.parts.recovery.failover(id, failoverRequest), ConflictError, 'the test is starting through this manager');
    await s.site.manager.whenIdle();
    await assert.rejects(guard.assertNoOperation(g), ConflictError, 'the test runs at the recovery appliance');
    assert.equal(s.parts.tasks.get(task).state, TaskState.WaitingForUserInput);
    await assert.rejects(s.parts.recovery.commit(id, 'Failover', {}), InvalidStateError, 'a test is not committed');
    await s.parts.recovery.stopFailoverTest(id, { success: true, summary: 'all good' });
    await s.site.manager.whenIdle();
    assert.equal(s.parts.tasks.get(task).state, TaskState.Completed, 'stopping the test closes its start task');
    assert.deepEqual(groups.get(id).lastTest, { at: groups.get(id).lastTest!.at, success: true, summary: 'all good' });
  });

  it('fails over, waits for the user, and after a commit without reverse protection leaves the group Recovered', async () => {
    const { recovery, tasks, groups, reports, events } = s.parts;
    const id = await recoverable();
    const started = await recovery.failover(id, failoverRequest, 'ann');
    await s.site.manager.whenIdle();
    assert.equal(tasks.get(started).state, TaskState.WaitingForUserInput);
    const commit = await recovery.commit(id, 'Failover', {});
    await s.site.manager.whenIdle();
    assert.deepEqual([tasks.get(commit).state, tasks.get(started).state], [TaskState.Completed, TaskState.Completed]);
    assert.equal(groups.get(id).lifecycle, 'recovered');
    assert.deepEqual(reports.list({ offset: 0, limit: 10 }).reports.map((r) => [r.kind, r.result]), [['Failover', 'Success']]);
    assert.deepEqual(events.list({ groupId: id }).map((e) => e.type).filter((t) => t !== 'GroupStatusChanged'), ['GroupCreated', 'Failover', 'FailoverCommit', 'RecoveryReport', 'GroupRecovered']);
    await assert.rejects(recovery.failoverTest(id, {}), InvalidStateError, 'a recovered group is not protected');
  });

  it('commits a move with reverse protection: the sites swap and the recovered VMs become the protected ones', async () => {
    const { recovery, groups } = s.parts;
    const id = await recoverable();
    await recovery.move(id, { commitPolicy: 'none', commitPolicyTimeoutSec: 0, forceShutdown: false, reverseProtection: true, keepSourceVms: false });
    await s.site.manager.whenIdle();
    await recovery.commit(id, 'Move', { reverseProtection: true });
    await s.site.manager.whenIdle();
    const g = groups.get(id);
    assert.deepEqual([g.protectedSiteId, g.recoverySiteId, g.vmIds, g.lifecycle, g.syncedAt], ['site-b', 'site-a', [`recovered-${id}`], 'active', undefined]);
  });

  it('rolls back, clones, and refuses to abort a clone it cannot stop', async () => {
    const { recovery, tasks, groups } = s.parts;
    const id = await recoverable();
    assert.throws(() => recovery.cloneAbort(id), /has no clone in progress/);
    const failover = await recovery.failover(id, failoverRequest);
    await s.site.manager.whenIdle();
    const rollback = await recovery.rollback(id, 'Failover');
    await s.site.manager.whenIdle();
    assert.deepEqual([tasks.get(failover).state, tasks.get(rollback).state, groups.get(id).lifecycle], [TaskState.Completed, TaskState.Completed, 'active']);
    const clone = await recovery.clone(id, { datastoreId: 'site-b-ds-1' });
    await s.site.manager.whenIdle();
    assert.equal(tasks.get(clone).state, TaskState.Completed);
    assert.deepEqual((s.site.siteB.callsOf('recovery.clone')[0] as [{ datastoreId: string }])[0].datastoreId, 'site-b-ds-1');
  });
});
