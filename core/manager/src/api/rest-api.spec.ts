import { strict as assert } from 'node:assert';
import { ADMIN, createSyncedGroup, startWorld, waitTask, type World } from '../testing/spec-helpers.js';
import { TaskState } from '../store.js';

describe('manager REST API with a recording appliance', () => {
  let w: World;
  beforeEach(async () => {
    w = await startWorld();
  });
  afterEach(async () => {
    await w.close();
  });

  describe('authentication and roles', () => {
    it('refuses calls without a session, with a wrong password, or after the session expired', async () => {
      let r = await w.http.get('/v1/vpgs');
      assert.equal(r.status, 401);
      assert.equal(r.body.error, 'UNAUTHENTICATED');
      r = await w.http.request('POST', '/v1/session/add', undefined, { authorization: `Basic ${Buffer.from('admin:wrong-password').toString('base64')}` });
      assert.equal(r.status, 401);
      const token = await w.http.login();
      assert.ok(token.length > 20);
      assert.equal((await w.http.get('/v1/vpgs')).status, 200);
      // The anchor's newer style: Authorization: Bearer.
      const bearer = await w.http.request('GET', '/v1/localsite', undefined, { authorization: `Bearer ${token}` });
      assert.equal(bearer.status, 200);
      assert.equal(bearer.body.siteIdentifier, 'site-a');
      await w.clock.advance(31 * 60_000);
      r = await w.http.get('/v1/vpgs');
      assert.equal(r.status, 401);
      assert.match(r.body.message, /expired/);
    });

    it('lets a viewer read but not fail over, and an operator act but not manage users or pairing', async () => {
      await w.http.login();
      const id = await createSyncedGroup(w);
      assert.equal((await w.http.post('/v1/users', { name: 'vera', password: 'viewer-lantern-7', role: 'viewer' })).status, 201);
      assert.equal((await w.http.post('/v1/users', { name: 'otto', password: 'operator-compass-9', role: 'operator' })).status, 201);
      await w.http.login('vera', 'viewer-lantern-7');
      assert.equal((await w.http.get(`/v1/vpgs/${id}`)).status, 200);
      const denied = await w.http.post(`/v1/vpgs/${id}/Failover`, {});
      assert.equal(denied.status, 403);
      assert.equal(denied.body.error, 'FORBIDDEN');
      assert.equal(w.siteB.callsOf('recovery.failover').length, 0);
      await w.http.login('otto', 'operator-compass-9');
      assert.equal((await w.http.post('/v1/peersites/generatetoken')).status, 403);
      assert.equal((await w.http.post('/v1/users', { name: 'x', password: 'velvet-ladder-8', role: 'admin' })).status, 403);
      assert.equal((await w.http.post(`/v1/vpgs/${id}/pause`)).status, 200);
    });
  });

  describe('groups', () => {
    beforeEach(async () => {
      await w.http.login();
    });

    it('creates a group: validates, stores, protects through the protected appliance, and reports the task', async () => {
      const r = await w.http.post('/v1/vpgs', { settings: { name: 'db', rpoTargetSeconds: 60 }, vmIdentifiers: ['site-a-vm-1'], recoverySiteIdentifier: 'site-b' });
      assert.equal(r.status, 201);
      const task = await waitTask(w, r.body.taskIdentifier);
      assert.equal(task.state, TaskState.Completed);
      assert.equal(task.progress, 100);
      const [spec] = w.siteA.callsOf('protectGroup')[0] as [{ groupId: string; vmIds: string[]; recoveryAddress: string; settings: { checkpointIntervalMs: number } }];
      assert.equal(spec.groupId, r.body.vpgIdentifier);
      assert.deepEqual(spec.vmIds, ['site-a-vm-1']);
      assert.equal(spec.recoveryAddress, 'site:site-b');
      assert.equal(spec.settings.checkpointIntervalMs, 5000, 'defaults filled by core');
      const g = await w.http.get(`/v1/vpgs/${r.body.vpgIdentifier}`);
      assert.equal(g.body.vpgName, 'db');
      assert.equal(g.body.configuredRpoSeconds, 60);
      assert.equal(g.body.priority, 1);
      assert.equal(g.body.provisionedStorageInMB, 64);
      const list = await w.http.get('/v1/vpgs?name=db');
      assert.equal(list.body.length, 1);
      assert.equal((await w.http.get('/v1/vpgs?name=other')).body.length, 0);
      assert.equal((await w.http.get('/v1/vpgs?recoverySiteIdentifier=site-b')).body.length, 1);
    });

    it('rejects bad input with 400 naming the field, and changes nothing', async () => {
      const before = w.manager.store.digest();
      let r = await w.http.post('/v1/vpgs', { settings: { name: 'db' }, vmIdentifiers: ['site-a-vm-1'], recoverySiteIdentifier: 'site-b', colour: 'red' });
      assert.equal(r.status, 400);
      assert.deepEqual([r.body.error, r.body.field], ['VALIDATION', 'colour']);
      r = await w.http.post('/v1/vpgs', { settings: { name: 'db', checkpointIntervalMs: 5 }, vmIdentifiers: ['site-a-vm-1'], recoverySiteIdentifier: 'site-b' });
      assert.equal(r.status, 400);
      assert.equal(r.body.field, 'settings.checkpointIntervalMs');
      r = await w.http.post('/v1/vpgs', { settings: { name: 'db' }, vmIdentifiers: ['no-such-vm'], recoverySiteIdentifier: 'site-b' });
      assert.equal(r.status, 400);
      assert.equal(r.body.field, 'vmIdentifiers');
      r = await w.http.post('/v1/vpgs', { settings: { name: 'db' }, vmIdentifiers: ['site-a-vm-1'], recoverySiteIdentifier: 'nowhere' });
      assert.equal(r.status, 400);
      assert.equal(r.body.field, 'recoverySiteIdentifier');
      r = await w.http.get('/v1/vpgs?status=abc');
      assert.equal(r.status, 400);
      assert.equal(r.body.field, 'status');
      r = await w.http.get('/v1/vpgs/nope');
      assert.equal(r.status, 404);
      assert.equal(r.body.error, 'NOT_FOUND');
      assert.equal(w.manager.store.digest(), before);
      assert.equal(w.siteA.callsOf('protectGroup').length, 0);
    });

    it('lets a VM be in several groups, and lists VMs per group', async () => {
      const a = await createSyncedGroup(w, 'a', ['site-a-vm-1', 'site-a-vm-2']);
      const b = await createSyncedGroup(w, 'b', ['site-a-vm-1']);
      const all = await w.http.get('/v1/vms');
      assert.equal(all.body.filter((v: { vmIdentifier: string }) => v.vmIdentifier === 'site-a-vm-1').length, 2);
      const ofB = await w.http.get(`/v1/vms?vpgIdentifier=${b}`);
      assert.deepEqual(ofB.body.map((v: { vmIdentifier: string; vmName: string }) => [v.vmIdentifier, v.vmName]), [['site-a-vm-1', 'vm-1']]);
      assert.notEqual(a, b);
    });

    it('pauses, resumes and force-syncs through the protected appliance', async () => {
      const id = await createSyncedGroup(w);
      for (const [verb, method] of [['pause', 'pause'], ['resume', 'resume'], ['forcesync', 'forceSync']]) {
        const r = await w.http.post(`/v1/vpgs/${id}/${verb}`);
        assert.equal(r.status, 200, verb);
        assert.equal((await waitTask(w, r.body.taskIdentifier)).state, TaskState.Completed);
        assert.deepEqual(w.siteA.callsOf(method), [[id]]);
      }
    });

    it('deletes a group with keepRecoveryVolumes and force passed on to the recovery side', async () => {
      const id = await createSyncedGroup(w);
      const r = await w.http.delete(`/v1/vpgs/${id}`, { keepRecoveryVolumes: true, force: false });
      assert.equal(r.status, 200);
      assert.equal((await waitTask(w, r.body.taskIdentifier)).state, TaskState.Completed);
      assert.deepEqual(w.siteB.callsOf('recovery.deleteGroup'), [[{ groupId: id, keepRecoveryVolumes: true, force: false }]]);
      assert.equal((await w.http.get(`/v1/vpgs/${id}`)).status, 404);
      assert.ok((await w.http.get('/v1/events?eventType=GroupDeleted')).body.length === 1);
    });

    it('answers the lookups with the anchor\'s codes', async () => {
      const st = await w.http.get('/v1/vpgs/statuses');
      assert.deepEqual(st.body.find((x: { name: string }) => x.name === 'MeetingSLA'), { value: 1, name: 'MeetingSLA' });
      assert.equal((await w.http.get('/v1/vpgs/substatuses')).body.find((x: { name: string }) => x.name === 'BitmapSync').value, 23);
      assert.deepEqual((await w.http.get('/v1/vpgs/failovercommitpolicies')).body.map((x: { value: number }) => x.value), [0, 1, 2]);
      assert.deepEqual((await w.http.get('/v1/vpgs/failovershutdownpolicies')).body.map((x: { name: string }) => x.name), ['None', 'Shutdown', 'ForceShutdown']);
      assert.deepEqual((await w.http.get('/v1/vpgs/priorities')).body.map((x: { name: string }) => x.name), ['Low', 'Medium', 'High']);
    });

    it('exports the groups as CSV', async () => {
      await createSyncedGroup(w, 'name, with "quotes"');
      for (const path of ['/v1/vpgs?format=csv', '/v1/vpgs/export.csv']) {
        const r = await w.http.get(path);
        assert.equal(r.status, 200);
        assert.match(r.headers.get('content-type') ?? '', /text\/csv/);
        const lines = r.text.trim().split('\r\n');
        assert.equal(lines.length, 2);
        assert.match(lines[0], /^vpgName,vpgIdentifier,statusName/);
        assert.ok(lines[1].startsWith('"name, with ""quotes""",vpg-'), lines[1]);
      }
    });
  });

  describe('checkpoints', () => {
    beforeEach(async () => {
      await w.http.login();
    });

    it('cuts auto checkpoints of every group on a cadence in one barrier with one timestamp and unique ids', async () => {
      const a = await createSyncedGroup(w, 'a');
      const b = await createSyncedGroup(w, 'b');
      w.siteA.calls.length = 0;
      await w.clock.advance(3000);
      const cuts = w.siteA.callsOf('cutCheckpoints').map(([r]) => r as { groupIds: string[]; timestamp: number; ids: Record<string, string>; kind: string });
      assert.equal(cuts.length, 3);
      for (const c of cuts) {
        assert.deepEqual([...c.groupIds].sort(), [a, b].sort());
        assert.equal(c.kind, 'auto');
      }
      const ids = cuts.flatMap((c) => Object.values(c.ids));
      assert.equal(new Set(ids).size, ids.length, 'ids never repeat');
      assert.deepEqual(cuts.map((c) => c.timestamp), [1, 2, 3].map((i) => cuts[0].timestamp + (i - 1) * 1000));
    });

    it('adds a tagged checkpoint, lists by date range, and gives stats', async () => {
      const id = await createSyncedGroup(w);
      await w.clock.advance(2000);
      const r = await w.http.post(`/v1/vpgs/${id}/checkpoints`, { checkpointName: 'before-upgrade' });
      assert.equal(r.status, 200);
      assert.equal((await waitTask(w, r.body.taskIdentifier)).state, TaskState.Completed);
      const list = (await w.http.get(`/v1/vpgs/${id}/checkpoints`)).body as Array<{ checkpointIdentifier: string; timeStamp: string; tag: string | null; type: string }>;
      const tagged = list.find((c) => c.tag === 'before-upgrade')!;
      assert.equal(tagged.checkpointIdentifier, r.body.checkpointIdentifier);
      assert.equal(tagged.type, 'tagged');
      const since = await w.http.get(`/v1/vpgs/${id}/checkpoints?startDate=${encodeURIComponent(tagged.timeStamp)}`);
      assert.ok(since.body.length >= 1 && since.body.length < list.length);
      const stats = await w.http.get(`/v1/vpgs/${id}/checkpoints/stats`);
      assert.equal(stats.body.earliest.checkpointIdentifier, list[0].checkpointIdentifier);
      assert.equal(stats.body.latest.checkpointIdentifier, list[list.length - 1].checkpointIdentifier);
    });

    it('tags several groups at once with one timestamp', async () => {
      const a = await createSyncedGroup(w, 'a');
      const b = await createSyncedGroup(w, 'b');
      w.siteA.calls.length = 0;
      const r = await w.http.post('/v1/vpgs/checkpoints', { vpgIdentifiers: [a, b], checkpointName: 'release-7' });
      assert.equal(r.status, 200);
      await waitTask(w, r.body.taskIdentifier);
      const [[req]] = w.siteA.callsOf('cutCheckpoints') as [[{ groupIds: string[]; tag: string }]];
      assert.deepEqual(req.groupIds, [a, b]);
      assert.equal(req.tag, 'release-7');
    });

    it('cuts nothing while the manager is stopped (J8), and says it is synchronizing when it returns', async () => {
      const id = await createSyncedGroup(w);
      const dir = w.dir;
      await w.manager.stop();
      const before = w.siteA.callsOf('cutCheckpoints').length;
      await w.clock.advance(10_000);
      assert.equal(w.siteA.callsOf('cutCheckpoints').length, before, 'no checkpoint while the manager is down');
      const { startManager } = await import('../manager-module.js');
      const { pino } = await import('pino');
      const again = await startManager({ dataDir: dir, siteId: 'site-a', clock: w.clock, appliances: [w.siteA, w.siteB], logger: pino({ level: 'silent' }) });
      try {
        await w.clock.advance(2000);
        assert.ok(w.siteA.callsOf('cutCheckpoints').length > before, 'checkpoints resume');
        const sync = again.store.listEvents({ type: 'SiteSynchronization' });
        assert.equal(sync.length, 1);
        assert.match(sync[0].description, /synchronizing with site site-a: the manager was down for 10 s/);
        const cps = w.siteA.checkpointsOf.get(id)!;
        const gaps = cps.slice(1).map((c, i) => c.timestamp - cps[i].timestamp);
        assert.ok(gaps.includes(11_000), `the outage shows as a gap in the checkpoint list: ${gaps}`);
        assert.equal(again.group(id).name, 'app');
      } finally {
        await again.stop();
      }
      w.manager = again; // already stopped; close() only removes the folder
    });
  });

  describe('status, events and alerts', () => {
    beforeEach(async () => {
      await w.http.login();
    });

    it('records every status transition as an event with a reason', async () => {
      const id = await createSyncedGroup(w);
      await w.clock.advance(1000);
      let g = (await w.http.get(`/v1/vpgs/${id}`)).body;
      assert.equal(g.statusName, 'MeetingSLA');
      w.siteA.facts.set(id, { ...w.siteA.facts.get(id)!, phase: 'recording', connected: false, bitmapBytes: 4096 });
      await w.clock.advance(1000);
      g = (await w.http.get(`/v1/vpgs/${id}`)).body;
      assert.deepEqual([g.status, g.subStatus, g.health], [2, 24, 'red']);
      assert.equal(g.bitmapBytes, 4096);
      const events = (await w.http.get(`/v1/events?vpgIdentifier=${id}&eventType=GroupStatusChanged`)).body as Array<{ description: string }>;
      assert.ok(events.length >= 2);
      assert.match(events[events.length - 1].description, /MeetingSLA\/None → NotMeetingSLA\/DisconnectedFromPeer: the site link is down/);
    });

    it('raises an RPO alert above target, clears it, and dismisses / undismisses', async () => {
      const id = await createSyncedGroup(w);
      w.siteA.refuseCheckpoints = true;
      await w.clock.advance(35_000);
      let alerts = (await w.http.get(`/v1/alerts?vpgIdentifier=${id}`)).body as Array<{ alertIdentifier: string; type: string; level: string; isDismissed: boolean }>;
      const rpo = alerts.find((a) => a.type === 'RpoAboveTarget');
      assert.ok(rpo, JSON.stringify(alerts));
      assert.equal(rpo.level, 'warning');
      assert.equal((await w.http.get(`/v1/vpgs/${id}`)).body.alertStatus, 1);
      assert.equal((await w.http.post(`/v1/alerts/${rpo.alertIdentifier}/dismiss`)).status, 200);
      assert.equal((await w.http.get(`/v1/alerts/${rpo.alertIdentifier}`)).body.isDismissed, true);
      assert.equal((await w.http.post(`/v1/alerts/${rpo.alertIdentifier}/undismiss`)).status, 200);
      assert.equal((await w.http.get(`/v1/alerts/${rpo.alertIdentifier}`)).body.isDismissed, false);
      w.siteA.refuseCheckpoints = false;
      await w.clock.advance(2000);
      alerts = (await w.http.get(`/v1/alerts?vpgIdentifier=${id}`)).body;
      assert.equal(alerts.filter((a) => a.type === 'RpoAboveTarget').length, 0);
      assert.equal((await w.http.get(`/v1/alerts?vpgIdentifier=${id}&includeCleared=true`)).body.length, 1);
      assert.equal((await w.http.post('/v1/alerts/alert-999/dismiss')).status, 404);
    });

    it('raises history warnings below 85 % and errors below 75 % of the configured history, never during initial sync, and the journal warning threshold', async () => {
      // History of 0.05 h = 3 minutes, so the virtual hours stay few.
      const H = 180_000;
      const id = await createSyncedGroup(w, 'app', ['site-a-vm-1'], { journalHistoryHours: 0.05 });
      const journal = (historyMs: number, usedBytes = 10) => [{ vmId: 'site-a-vm-1', usedBytes, hardLimitBytes: 1000, warningBytes: 800, historyMs, historyStatus: 'ok' as const }];
      const facts = w.siteA.facts.get(id)!;
      await w.clock.advance(2 * H);
      facts.journals = journal(0.8 * H);
      await w.clock.advance(1000);
      let alerts = (await w.http.get(`/v1/alerts?vpgIdentifier=${id}`)).body as Array<{ type: string; level: string }>;
      assert.deepEqual(alerts.filter((a) => a.type === 'HistoryNotMeetingSLA').map((a) => a.level), ['warning']);
      facts.journals = journal(0.7 * H, 900);
      await w.clock.advance(1000);
      alerts = (await w.http.get(`/v1/alerts?vpgIdentifier=${id}`)).body;
      assert.deepEqual(alerts.filter((a) => a.type === 'HistoryNotMeetingSLA').map((a) => a.level), ['error']);
      assert.equal(alerts.filter((a) => a.type === 'JournalWarningThreshold').length, 1);
      assert.equal((await w.http.get(`/v1/vpgs/${id}`)).body.alertStatus, 2);
      facts.journals = journal(0.9 * H, 10);
      await w.clock.advance(1000);
      assert.equal((await w.http.get(`/v1/alerts?vpgIdentifier=${id}`)).body.length, 0, 'cleared once history and journal are back');
      // A new group in initial sync with no history raises nothing.
      const r = await w.http.post('/v1/vpgs', { settings: { name: 'fresh', journalHistoryHours: 0.05 }, vmIdentifiers: ['site-a-vm-2'], recoverySiteIdentifier: 'site-b' });
      await waitTask(w, r.body.taskIdentifier);
      w.siteA.facts.set(r.body.vpgIdentifier, { groupId: r.body.vpgIdentifier, phase: 'initial-sync', connected: true, journals: journal(0) });
      await w.clock.advance(2 * H);
      assert.equal((await w.http.get(`/v1/alerts?vpgIdentifier=${r.body.vpgIdentifier}`)).body.length, 0);
    });

    it('computes IOPS, throughput and WAN figures from the counters and serves them as Prometheus metrics', async () => {
      const id = await createSyncedGroup(w);
      const f = w.siteA.facts.get(id)!;
      Object.assign(f, { writes: 1000, writtenBytes: 4 * 1024 * 1024, wireBytes: 1024 * 1024, bitmapBytes: 0 });
      await w.clock.advance(1000);
      Object.assign(f, { writes: 3000, writtenBytes: 12 * 1024 * 1024, wireBytes: 3 * 1024 * 1024 });
      await w.clock.advance(1000);
      const g = (await w.http.get(`/v1/vpgs/${id}`)).body;
      assert.equal(g.ioPs, 2000);
      assert.equal(g.throughputInMB, 8);
      assert.equal(g.wanThroughputInMB, 2);
      const metrics = await w.http.request('GET', '/metrics', undefined, { 'x-zerto-session': 'none' });
      assert.equal(metrics.status, 200);
      assert.match(metrics.text, new RegExp(`opencdp_vpg_iops\\{vpg="${id}",vpg_name="app"\\} 2000`));
      assert.match(metrics.text, new RegExp(`opencdp_vpg_wan_bytes_total\\{vpg="${id}",vpg_name="app"\\} ${3 * 1024 * 1024}`));
      assert.match(metrics.text, /# TYPE opencdp_vpg_wan_bytes_total counter/);
      assert.match(metrics.text, /opencdp_vpg_rpo_seconds\{/);
      assert.match(metrics.text, /opencdp_vpg_journal_history_seconds\{/);
      assert.match(metrics.text, /opencdp_vpg_bitmap_bytes\{/);
      assert.match(metrics.text, /opencdp_tasks\{state="Completed"\} [1-9]/);
    });
  });

  describe('users', () => {
    it('adds and deletes users; a deleted user\'s sessions end', async () => {
      await w.http.login();
      await w.http.post('/v1/users', { name: 'vera', password: 'viewer-lantern-7', role: 'viewer' });
      assert.equal((await w.http.post('/v1/users', { name: 'vera', password: 'viewer-lantern-7', role: 'viewer' })).status, 409);
      assert.equal((await w.http.post('/v1/users', { name: 'bad', password: 'short', role: 'viewer' })).body.field, 'password');
      const admin = w.http.token!;
      const vera = await w.http.login('vera', 'viewer-lantern-7');
      w.http.token = admin;
      assert.equal((await w.http.delete('/v1/users/vera')).status, 204);
      w.http.token = vera;
      assert.equal((await w.http.get('/v1/vpgs')).status, 401);
      w.http.token = admin;
      assert.deepEqual((await w.http.get('/v1/users')).body.map((u: { name: string }) => u.name), [ADMIN.user]);
    });
  });
});
