// The rest of the anchor's /v1 that users script against: volumes, datastores, folders, site-type
// filters, the settings draft's scripting and per-VM parts, listing drafts, and task cancel. Every answer
// is also checked against the OpenAPI document by the test client.
import { strict as assert } from 'node:assert';
import { TaskState } from '../store.js';
import { createSyncedGroup, startWorld, waitTask, type World } from '../testing/spec-helpers.js';

describe('manager REST API: volumes, datastores, folders, site types, scripting and per-VM draft parts, draft list, task cancel (recording appliance)', () => {
  let w: World;
  beforeEach(async () => {
    w = await startWorld();
    await w.http.login();
  });
  afterEach(async () => {
    await w.close();
  });

  it('lists protected volumes per group, every datastore, and a site\'s folders', async () => {
    const id = await createSyncedGroup(w, 'app', ['site-a-vm-1', 'site-a-vm-2']);
    const volumes = (await w.http.get('/v1/volumes')).body as Array<Record<string, unknown>>;
    assert.deepEqual(volumes.map((v) => [v.volumeIdentifier, v.vmIdentifier, v.vpgIdentifier, v.sizeInMB]), [
      ['site-a-vm-1-disk-0', 'site-a-vm-1', id, 64], ['site-a-vm-2-disk-0', 'site-a-vm-2', id, 64],
    ]);
    assert.equal((await w.http.get('/v1/volumes?protectedVmIdentifier=site-a-vm-2')).body.length, 1);
    assert.equal((await w.http.get('/v1/volumes?vpgIdentifier=nope')).body.length, 0);
    const datastores = (await w.http.get('/v1/datastores')).body as Array<{ datastoreIdentifier: string; siteIdentifier: string; capacityInMB: number }>;
    assert.deepEqual(datastores.map((d) => [d.siteIdentifier, d.datastoreIdentifier]), [['site-a', 'site-a-ds-1'], ['site-a', 'site-a-ds-2'], ['site-b', 'site-b-ds-1'], ['site-b', 'site-b-ds-2']]);
    assert.equal((await w.http.get('/v1/datastores?siteIdentifier=site-b')).body.length, 2);
    assert.deepEqual((await w.http.get('/v1/virtualizationsites/site-a/folders')).body, [{ folderIdentifier: 'site-a-folder-1', folderName: 'production', vmIdentifiers: ['site-a-vm-1'] }]);
    assert.equal((await w.http.get('/v1/virtualizationsites/elsewhere/folders')).status, 404);
  });

  it('filters groups by the protected and recovery site type', async () => {
    await createSyncedGroup(w);
    assert.equal((await w.http.get('/v1/vpgs?protectedSiteType=recording&recoverySiteType=recording')).body.length, 1);
    assert.equal((await w.http.get('/v1/vpgs?protectedSiteType=vsphere')).body.length, 0);
    assert.equal((await w.http.get('/v1/vpgs?recoverySiteType=hyperv')).body.length, 0);
    assert.equal((await w.http.get('/v1/vpgs?protectedSiteType=')).status, 400);
  });

  it('edits scripts and per-VM placement, NICs and volumes in a draft, lists drafts, and commits them into the recovery plan', async () => {
    const d = await w.http.post('/v1/vpgSettings', {});
    const draft = d.body.vpgSettingsIdentifier as string;
    const base = `/v1/vpgSettings/${draft}`;
    await w.http.put(`${base}/basic`, { name: 'erp', recoverySiteIdentifier: 'site-b' });
    await w.http.put(`${base}/vms`, [{ vmIdentifier: 'site-a-vm-1' }, { vmIdentifier: 'site-a-vm-2' }]);
    const scripting = { preRecovery: { command: 'stop-app.sh', parameters: ['--graceful'], timeoutInSeconds: 120 }, postRecovery: { command: 'dns-update.sh', timeoutInSeconds: 30 } };
    assert.deepEqual((await w.http.put(`${base}/scripting`, scripting)).body, scripting);
    const before = w.manager.store.digest();
    for (const bad of [{ preRecovery: { command: '../../bin/sh', timeoutInSeconds: 5 } }, { preRecovery: { command: 'x.sh', timeoutInSeconds: 0 } }, { postRecovery: { command: 'x.sh' } }]) {
      assert.equal((await w.http.put(`${base}/scripting`, bad)).status, 400, JSON.stringify(bad));
    }
    assert.equal(w.manager.store.digest(), before);
    assert.deepEqual((await w.http.put(`${base}/vms/site-a-vm-1`, { recoveryHostIdentifier: 'site-b-host-1' })).body, { vmIdentifier: 'site-a-vm-1', recoveryHostIdentifier: 'site-b-host-1' });
    assert.equal((await w.http.put(`${base}/vms/site-a-vm-9`, {})).status, 404);
    const nics = [{ nicIndex: 0, liveNetworkIdentifier: 'site-b-net', testNetworkIdentifier: 'site-b-test-net', testIpv4: '10.0.0.7' }];
    assert.deepEqual((await w.http.put(`${base}/vms/site-a-vm-2/nics`, nics)).body, nics);
    assert.deepEqual((await w.http.get(`${base}/networks`)).body.nics, [{ vmIdentifier: 'site-a-vm-2', ...nics[0] }]);
    const volumes = await w.http.get(`${base}/vms/site-a-vm-1/volumes`);
    assert.deepEqual(volumes.body, [{ volumeIdentifier: 'site-a-vm-1-disk-0', volumeName: 'disk-0', sizeInMB: 64, datastoreIdentifier: null }]);
    const put = await w.http.put(`${base}/vms/site-a-vm-1/volumes`, [{ volumeIdentifier: 'site-a-vm-1-disk-0', datastoreIdentifier: 'site-b-ds-2' }]);
    assert.deepEqual(put.body.map((v: { datastoreIdentifier: string }) => v.datastoreIdentifier), ['site-b-ds-2']);
    assert.equal((await w.http.put(`${base}/vms/site-a-vm-1/volumes`, [{ volumeIdentifier: 'site-a-vm-2-disk-0', datastoreIdentifier: 'site-b-ds-2' }])).status, 400);
    assert.deepEqual((await w.http.get(`${base}/vms/site-a-vm-1`)).body, { vmIdentifier: 'site-a-vm-1', recoveryHostIdentifier: 'site-b-host-1', recoveryDatastoreIdentifier: 'site-b-ds-2' });
    const list = (await w.http.get('/v1/vpgSettings')).body as Array<{ vpgSettingsIdentifier: string; name: string }>;
    assert.deepEqual(list.map((x) => [x.vpgSettingsIdentifier, x.name]), [[draft, 'erp']]);
    const c = await w.http.post(`${base}/commit`);
    assert.equal((await waitTask(w, c.body.taskIdentifier)).state, TaskState.Completed);
    const plan = (await w.http.get(`/v1/vpgs/${c.body.vpgIdentifier}`)).body.recoveryPlan;
    assert.deepEqual(plan.scripts, { preRecovery: { command: 'stop-app.sh', parameters: ['--graceful'], timeoutSeconds: 120 }, postRecovery: { command: 'dns-update.sh', timeoutSeconds: 30 } });
    assert.deepEqual(plan.vms, [{ vmId: 'site-a-vm-1', hostId: 'site-b-host-1', datastoreId: 'site-b-ds-2' }]);
    assert.deepEqual(w.siteB.callsOf('defineRecoveryGroup').map(([def]) => (def as { plan: unknown }).plan), [plan], 'the recovery appliance got the plan with its scripts');
    // A draft of the group gives the parts back as they were set.
    const again = await w.http.post('/v1/vpgSettings', { vpgIdentifier: c.body.vpgIdentifier });
    assert.deepEqual((await w.http.get(`/v1/vpgSettings/${again.body.vpgSettingsIdentifier}/scripting`)).body, scripting);
    assert.deepEqual((await w.http.get('/v1/vpgSettings')).body.length, 1);
  });

  it('cancels a failover while it starts: Cancelling, then rolled back and Stopped with a report; a finished task cannot be', async () => {
    const id = await createSyncedGroup(w);
    let release!: () => void;
    w.siteB.gate = new Promise((r) => (release = r));
    const f = await w.http.post(`/v1/vpgs/${id}/Failover`, { commitPolicy: 2, shutdownPolicy: 0 });
    const task = f.body.taskIdentifier as string;
    assert.equal((await w.http.get(`/v1/tasks/${task}`)).body.isCancellable, true);
    const c = await w.http.post(`/v1/tasks/${task}/cancel`);
    assert.equal(c.status, 200);
    assert.deepEqual([c.body.status.state, c.body.status.stateName, c.body.isCancellable], [TaskState.Cancelling, 'Cancelling', false]);
    release();
    w.siteB.gate = undefined;
    const ended = await waitTask(w, task);
    assert.equal(ended.state, TaskState.Stopped);
    assert.deepEqual(w.siteB.callsOf('recovery.rollback'), [[id]]);
    assert.ok((ended.result as { reportIdentifier: string }).reportIdentifier);
    assert.equal((await w.http.get('/v1/reports/recovery')).body.length, 1);
    assert.equal((await w.http.get(`/v1/events?eventType=TaskCancelled`)).body.length, 1);
    // The group is free again; a finished task and a task that is not cancellable are refused with 409.
    const before = w.manager.store.digest();
    assert.equal((await w.http.post(`/v1/tasks/${task}/cancel`)).status, 409);
    const pause = await w.http.post(`/v1/vpgs/${id}/pause`);
    await waitTask(w, pause.body.taskIdentifier);
    const settled = w.manager.store.digest();
    assert.notEqual(settled, before);
    assert.equal((await w.http.post(`/v1/tasks/${pause.body.taskIdentifier}/cancel`)).status, 409);
    assert.equal((await w.http.post('/v1/tasks/task-nope/cancel')).status, 404);
    assert.equal(w.manager.store.digest(), settled);
  });

  it('cancels a failover test while it starts: the test VMs go again and the report says so', async () => {
    const id = await createSyncedGroup(w);
    let release!: () => void;
    w.siteB.gate = new Promise((r) => (release = r));
    const t = await w.http.post(`/v1/vpgs/${id}/FailoverTest`, {});
    await w.http.post(`/v1/tasks/${t.body.taskIdentifier}/cancel`);
    release();
    w.siteB.gate = undefined;
    assert.equal((await waitTask(w, t.body.taskIdentifier)).state, TaskState.Stopped);
    assert.deepEqual(w.siteB.callsOf('recovery.stopFailoverTest'), [[{ groupId: id, success: false, summary: 'cancelled while starting' }]]);
  });
});
