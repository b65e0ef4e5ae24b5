import { strict as assert } from 'node:assert';
import { evaluateGroupState, type ActiveRecovery } from '@opencdp/core';
import { TaskState } from '../store.js';
import { addGroup, siteEach } from '../testing/spec-helpers.js';
import { overlay } from './monitor.js';

describe('manager monitor', () => {
  const s = siteEach();

  it('puts the group\'s lifecycle and a failover or move in progress above the replication state', () => {
    const streaming = evaluateGroupState({ phase: 'streaming', connected: true, vmCount: 1, hasCheckpoints: true, rpoTargetMs: 30_000, historyStatus: 'ok', actualRpoMs: 1000 });
    const op = (kind: ActiveRecovery['kind'], phase: ActiveRecovery['phase']): ActiveRecovery => ({ id: 'op', groupId: 'g', kind, phase, checkpoint: { id: 'cp', groupId: 'g', seq: 1, timestamp: 0, kind: 'auto' }, startedAt: 0, vms: [] });
    const view = (lifecycle: 'active' | 'deleting' | 'recovered', active?: ActiveRecovery): string[] => {
      const st = overlay({ lifecycle }, streaming, active);
      return [st.status, st.subStatus, st.health];
    };
    assert.deepEqual(view('active'), [streaming.status, streaming.subStatus, streaming.health]);
    assert.deepEqual(view('deleting'), ['Deleting', 'Deleting', streaming.health]);
    assert.deepEqual(view('recovered'), ['Recovered', 'None', 'green']);
    assert.deepEqual(view('active', op('Failover', 'before-commit')), ['FailingOver', 'FailingOverBeforeCommit', streaming.health]);
    assert.deepEqual(view('active', op('Move', 'rolling-back')), ['Moving', 'MovingRollingBack', streaming.health]);
    assert.deepEqual(view('active', op('FailoverTest', 'running')), [streaming.status, streaming.subStatus, streaming.health], 'a test leaves protection as it is');
  });

  it('records a status transition once, with its reason, and computes rates from the counters between polls', async () => {
    const { monitor, events } = s.parts;
    const id = await addGroup(s.site);
    await monitor.pollAll();
    await monitor.pollAll();
    const transitions = (): string[] => events.list({ groupId: id, type: 'GroupStatusChanged' }).map((e) => e.description);
    assert.equal(transitions().length, 1, 'one poll after another with nothing new is no transition');
    assert.match(transitions()[0], /^group 'app': \w+\/\w+: \S/);
    s.site.siteA.facts.set(id, { groupId: id, phase: 'streaming', connected: true, writes: 0, writtenBytes: 0, wireBytes: 0 });
    await s.site.clock.advance(1000);
    s.site.siteA.facts.set(id, { ...s.site.siteA.facts.get(id)!, writes: 500, writtenBytes: 2_048_000, wireBytes: 1_000_000 });
    await s.site.clock.advance(1000);
    const rt = monitor.runtimeOf(id)!;
    assert.deepEqual([rt.iops, rt.throughputBytesPerSec, rt.wanBytesPerSec, rt.wanBytes], [500, 2_048_000, 1_000_000, 1_000_000]);
    assert.match(transitions().at(-1)!, /→ MeetingSLA\/None/);
    monitor.forget(id);
    assert.equal(monitor.runtimeOf(id), undefined);
  });

  it('closes the waiting start task of an operation that ended at the recovery site without this manager, fetching nothing it has', async () => {
    const { monitor, recovery, tasks } = s.parts;
    const id = await addGroup(s.site);
    await s.site.clock.advance(1000);
    const started = await recovery.failover(id, { shutdownPolicy: 'none', timeToWaitBeforeShutdownSec: 0, commitPolicy: 'commit', commitPolicyTimeoutSec: 60, reverseProtection: false });
    await s.site.manager.whenIdle();
    await monitor.pollAll();
    assert.equal(tasks.get(started).state, TaskState.WaitingForUserInput, 'still running at the recovery site');
    s.site.siteB.activeOps.delete(id); // its commit policy applied there
    await monitor.pollAll();
    const t = tasks.get(started);
    assert.deepEqual([t.state, t.step], [TaskState.Completed, 'ended outside this manager']);
  });
});
