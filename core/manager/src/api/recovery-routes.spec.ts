import { strict as assert } from 'node:assert';
import { createSyncedGroup, startWorld, waitTask, type World } from '../testing/spec-helpers.js';
import { TaskState } from '../store.js';

describe('manager recovery routes with a recording appliance', () => {
  let w: World;
  let id: string;
  beforeEach(async () => {
    w = await startWorld();
    await w.http.login();
    id = await createSyncedGroup(w);
    await w.clock.advance(2000);
  });
  afterEach(async () => {
    await w.close();
  });

  it('runs a failover test to a chosen checkpoint (either field name), stops it with a verdict, and stores the report', async () => {
    const cps = (await w.http.get(`/v1/vpgs/${id}/checkpoints`)).body as Array<{ checkpointIdentifier: string }>;
    const chosen = cps[0].checkpointIdentifier;
    const r = await w.http.post(`/v1/vpgs/${id}/FailoverTest`, { checkpointId: chosen, vmIdentifiers: ['site-a-vm-1'] });
    assert.equal(r.status, 200);
    const t = await waitTask(w, r.body.taskIdentifier);
    assert.equal(t.state, TaskState.WaitingForUserInput);
    assert.deepEqual(w.siteB.callsOf('recovery.startFailoverTest'), [[{ groupId: id, checkpointId: chosen, vmIds: ['site-a-vm-1'] }]]);
    await w.clock.advance(1000);
    assert.deepEqual((await w.http.get(`/v1/vpgs/${id}`)).body.activeOperation, { kind: 'FailoverTest', phase: 'running' });
    const stop = await w.http.post(`/v1/vpgs/${id}/FailoverTestStop`, { failoverTestSuccess: true, failoverTestSummary: 'app answered' });
    assert.equal(stop.status, 200);
    assert.equal((await waitTask(w, stop.body.taskIdentifier)).state, TaskState.Completed);
    assert.equal((await waitTask(w, r.body.taskIdentifier)).state, TaskState.Completed, 'the test task ends with the stop');
    const reports = await w.http.get('/v1/reports/recovery?recoveryType=FailoverTest');
    assert.equal(reports.body.length, 1);
    assert.equal(reports.body[0].summary, 'app answered');
    assert.equal(reports.headers.get('x-total-count'), '1');
    assert.equal((await w.http.get(`/v1/vpgs/${id}`)).body.lastTest.success, true);
    // the other spelling
    const again = await w.http.post(`/v1/vpgs/${id}/FailoverTest`, { checkpointIdentifier: chosen });
    assert.equal(again.status, 200);
  });

  it('refuses a failover while another recovery operation runs (409), changing nothing', async () => {
    const r = await w.http.post(`/v1/vpgs/${id}/FailoverTest`, {});
    await waitTask(w, r.body.taskIdentifier);
    const before = w.manager.store.digest();
    const calls = w.siteB.calls.length;
    const f = await w.http.post(`/v1/vpgs/${id}/Failover`, { commitPolicy: 2 });
    assert.equal(f.status, 409);
    assert.equal(f.body.error, 'CONFLICT');
    assert.match(f.body.message, /FailoverTest in progress/);
    assert.equal(w.manager.store.digest(), before);
    assert.equal(w.siteB.calls.filter((c, i) => i >= calls && c.method === 'recovery.failover').length, 0);
  });

  it('refuses a second operation while the first is still starting (the appliance has not answered yet)', async () => {
    let open!: () => void;
    w.siteB.gate = new Promise((resolve) => (open = resolve));
    const first = await w.http.post(`/v1/vpgs/${id}/Failover`, {});
    assert.equal(first.status, 200);
    const second = await w.http.post(`/v1/vpgs/${id}/Move`, {});
    assert.equal(second.status, 409);
    const running = (await w.http.get(`/v1/tasks/${first.body.taskIdentifier}`)).body;
    assert.deepEqual([running.status.state, running.status.progress, running.status.step], [TaskState.InProgress, 50, 'creating VMs'], 'the appliance\'s progress shows in the task');
    open();
    assert.equal((await waitTask(w, first.body.taskIdentifier)).state, TaskState.WaitingForUserInput);
  });

  it('refuses a checkpoint of another group (404) and an unknown VM (400), changing nothing', async () => {
    const other = await createSyncedGroup(w, 'other', ['site-a-vm-3']);
    await w.clock.advance(1000);
    const foreign = ((await w.http.get(`/v1/vpgs/${other}/checkpoints`)).body as Array<{ checkpointIdentifier: string }>)[0].checkpointIdentifier;
    const before = w.manager.store.digest();
    let r = await w.http.post(`/v1/vpgs/${id}/Failover`, { checkpointIdentifier: foreign });
    assert.equal(r.status, 404);
    assert.equal(r.body.error, 'CHECKPOINT_NOT_FOUND');
    r = await w.http.post(`/v1/vpgs/${id}/FailoverTest`, { vmIdentifiers: ['site-a-vm-3'] });
    assert.equal(r.status, 400);
    assert.equal(r.body.field, 'vmIdentifiers');
    r = await w.http.post(`/v1/vpgs/${id}/CloneStart`, { checkpointIdentifier: 'a', checkpointId: 'b' });
    assert.equal(r.status, 400);
    assert.equal(r.body.field, 'checkpointId');
    r = await w.http.post(`/v1/vpgs/${id}/Failover`, { commitPolicy: 7 });
    assert.equal(r.status, 400);
    assert.equal(r.body.field, 'commitPolicy');
    assert.equal(w.manager.store.digest(), before);
    assert.equal(w.siteB.callsOf('recovery.failover').length, 0);
  });

  it('fails over with the anchor\'s enums, waits for the user, commits, and marks the group Recovered', async () => {
    const r = await w.http.post(`/v1/vpgs/${id}/Failover`, { commitPolicy: 2, shutdownPolicy: 1, timeToWaitBeforeShutdownInSec: 30, isReverseProtection: false });
    assert.equal((await waitTask(w, r.body.taskIdentifier)).state, TaskState.WaitingForUserInput);
    const [[req]] = w.siteB.callsOf('recovery.failover') as [[Record<string, unknown>]];
    assert.deepEqual(req, { groupId: id, shutdownPolicy: 'shutdown', timeToWaitBeforeShutdownSec: 30, commitPolicy: 'none', commitPolicyTimeoutSec: 0, reverseProtection: false });
    await w.clock.advance(1000);
    let g = (await w.http.get(`/v1/vpgs/${id}`)).body;
    assert.deepEqual([g.statusName, g.subStatusName], ['FailingOver', 'FailingOverBeforeCommit']);
    assert.equal((await w.http.post(`/v1/vpgs/${id}/MoveCommit`, {})).status, 409, 'a failover is not a move');
    const c = await w.http.post(`/v1/vpgs/${id}/FailoverCommit`, { isReverseProtection: false });
    assert.equal((await waitTask(w, c.body.taskIdentifier)).state, TaskState.Completed);
    assert.equal((await waitTask(w, r.body.taskIdentifier)).state, TaskState.Completed);
    await w.clock.advance(1000);
    g = (await w.http.get(`/v1/vpgs/${id}`)).body;
    assert.deepEqual([g.status, g.statusName], [8, 'Recovered']);
    const cuts = w.siteA.callsOf('cutCheckpoints').length;
    await w.clock.advance(3000);
    assert.equal(w.siteA.callsOf('cutCheckpoints').length, cuts, 'a recovered group gets no checkpoints');
    assert.equal((await w.http.get('/v1/reports/recovery?recoveryType=Failover&state=Success')).body.length, 1);
  });

  it('closes a waiting failover task when the operation ended on its own (commit policy applied at the recovery site)', async () => {
    const r = await w.http.post(`/v1/vpgs/${id}/Failover`, { commitPolicy: 1, commitPolicyTimeout: 60 });
    assert.equal((await waitTask(w, r.body.taskIdentifier)).state, TaskState.WaitingForUserInput);
    await w.clock.advance(1000);
    assert.equal((await waitTask(w, r.body.taskIdentifier)).state, TaskState.WaitingForUserInput, 'still before commit');
    w.siteB.activeOps.delete(id);
    await w.clock.advance(1000);
    assert.equal((await waitTask(w, r.body.taskIdentifier)).state, TaskState.Completed);
  });

  it('commits a failover with reverse protection: the sites swap and the recovered VMs are the protected ones', async () => {
    const r = await w.http.post(`/v1/vpgs/${id}/Failover`, {});
    await waitTask(w, r.body.taskIdentifier);
    const c = await w.http.post(`/v1/vpgs/${id}/FailoverCommit`, { isReverseProtection: true });
    await waitTask(w, c.body.taskIdentifier);
    const g = (await w.http.get(`/v1/vpgs/${id}`)).body;
    assert.deepEqual([g.protectedSiteIdentifier, g.recoverySiteIdentifier], ['site-b', 'site-a']);
    assert.deepEqual(g.vmIdentifiers, [`recovered-${id}`]);
  });

  it('moves and rolls back, and clones with a datastore', async () => {
    const m = await w.http.post(`/v1/vpgs/${id}/Move`, { commitPolicy: 0, commitPolicyTimeout: 60, forceShutdown: true, keepSourceVms: true, continueOnPreScriptFailure: false });
    assert.equal((await waitTask(w, m.body.taskIdentifier)).state, TaskState.WaitingForUserInput);
    assert.deepEqual(w.siteB.callsOf('recovery.move')[0][0], { groupId: id, commitPolicy: 'rollback', commitPolicyTimeoutSec: 60, forceShutdown: true, reverseProtection: false, keepSourceVms: true, continueOnPreScriptFailure: false });
    const rb = await w.http.post(`/v1/vpgs/${id}/MoveRollback`);
    assert.equal((await waitTask(w, rb.body.taskIdentifier)).state, TaskState.Completed);
    assert.equal((await w.http.post(`/v1/vpgs/${id}/MoveRollback`)).status, 409, 'nothing left to roll back');
    const cl = await w.http.post(`/v1/vpgs/${id}/CloneStart`, { datastoreIdentifier: 'site-b-ds-1' });
    assert.equal((await waitTask(w, cl.body.taskIdentifier)).state, TaskState.Completed);
    assert.deepEqual(w.siteB.callsOf('recovery.clone')[0][0], { groupId: id, datastoreId: 'site-b-ds-1' });
    assert.equal((await w.http.post(`/v1/vpgs/${id}/CloneAbort`)).status, 409);
    const all = await w.http.get('/v1/reports/recovery?pageSize=1&pageNumber=2');
    assert.equal(all.headers.get('x-total-count'), '2');
    assert.equal(all.body.length, 1);
    assert.equal((await w.http.get('/v1/reports/recovery?pageSize=1001')).status, 400);
  });

  it('opens a checkpoint for file restore, lists and extracts files, and rejects paths that escape', async () => {
    const cp = ((await w.http.get(`/v1/vpgs/${id}/checkpoints`)).body as Array<{ checkpointIdentifier: string }>)[0].checkpointIdentifier;
    const open = await w.http.post(`/v1/vpgs/${id}/filerestore`, { checkpointIdentifier: cp, vmIdentifier: 'site-a-vm-1', volumeIdentifier: 'site-a-vm-1-disk-0' });
    assert.equal(open.status, 200);
    assert.ok(open.body.taskIdentifier);
    const s = open.body.sessionIdentifier as string;
    const list = await w.http.get(`/v1/filerestore/${s}/files?path=${encodeURIComponent('/etc')}`);
    assert.deepEqual(list.body, [{ path: '/etc/hosts', type: 'file', sizeBytes: 20 }]);
    const file = await w.http.get(`/v1/filerestore/${s}/file?path=${encodeURIComponent('/etc/hosts')}`);
    assert.equal(file.text, '127.0.0.1 localhost\n');
    for (const bad of ['/etc/../../x', 'etc/hosts', '/a/..']) {
      const r = await w.http.get(`/v1/filerestore/${s}/files?path=${encodeURIComponent(bad)}`);
      assert.equal(r.status, 400, bad);
      assert.equal(r.body.field, 'path');
    }
    assert.equal(w.siteB.callsOf('recovery.listFiles').length, 1, 'escaping paths never reach the appliance');
    assert.equal((await w.http.delete(`/v1/filerestore/${s}`)).status, 204);
    assert.equal((await w.http.get(`/v1/filerestore/${s}/files?path=/`)).status, 404);
  });

  it('answers 503 when it reaches no recovery appliance of the group, changing nothing', async () => {
    const dir = w.dir;
    await w.manager.stop();
    const { startManager } = await import('../manager-module.js');
    const { pino } = await import('pino');
    const { HttpClient } = await import('../testing/spec-helpers.js');
    const protectedOnly = await startManager({ dataDir: dir, listen: '127.0.0.1:0', siteId: 'site-a', clock: w.clock, appliances: [w.siteA], logger: pino({ level: 'silent' }) });
    try {
      const http = new HttpClient(protectedOnly.url);
      await http.login();
      const before = protectedOnly.store.digest();
      const r = await http.post(`/v1/vpgs/${id}/FailoverTest`, {});
      assert.equal(r.status, 503);
      assert.equal(r.body.error, 'APPLIANCE_UNAVAILABLE');
      assert.equal(protectedOnly.store.digest(), before);
      // Checkpoints still list: the ones this manager cut.
      assert.ok((await http.get(`/v1/vpgs/${id}/checkpoints`)).body.length >= 2);
    } finally {
      await protectedOnly.stop();
    }
  });

  it('recovers with only the recovery site\'s appliance reachable (R8: the protected site and its manager are gone)', async () => {
    const dir = w.dir;
    await w.manager.stop();
    const { startManager } = await import('../manager-module.js');
    const { pino } = await import('pino');
    const { HttpClient } = await import('../testing/spec-helpers.js');
    // The recovery site's manager: its own store, only site-b's appliance.
    const recoverySide = await startManager({ dataDir: `${dir}/b`, listen: '127.0.0.1:0', siteId: 'site-b', clock: w.clock, appliances: [w.siteB], admin: { user: 'admin', password: 'harbour-lantern-42' }, logger: pino({ level: 'silent' }) });
    try {
      // It knows the group (a paired manager shares definitions; here it is copied from site-a's store).
      const { Store } = await import('../store.js');
      const old = Store.open(dir);
      const g = old.getGroup(id)!;
      old.close();
      recoverySide.store.putGroup(g);
      const http = new HttpClient(recoverySide.url);
      await http.login();
      const r = await http.post(`/v1/vpgs/${id}/Failover`, {});
      assert.equal(r.status, 200);
      await recoverySide.whenIdle();
      assert.equal((await http.get(`/v1/tasks/${r.body.taskIdentifier}`)).body.status.state, TaskState.WaitingForUserInput);
      const c = await http.post(`/v1/vpgs/${id}/FailoverCommit`, {});
      await recoverySide.whenIdle();
      assert.equal((await http.get(`/v1/tasks/${c.body.taskIdentifier}`)).body.status.state, TaskState.Completed);
      // After the commit the group is Recovered: protected-side actions are refused with a reason.
      assert.equal((await http.post(`/v1/vpgs/${id}/pause`)).status, 409, 'a recovered group cannot be paused');
    } finally {
      await recoverySide.stop();
    }
  });
});
