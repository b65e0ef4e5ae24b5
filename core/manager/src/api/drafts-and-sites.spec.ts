import { strict as assert } from 'node:assert';
import { createServer } from 'node:net';
import { startWorld, testCertificate, waitTask, type World } from '../testing/spec-helpers.js';

/** A loopback port nobody listens on (taken and released). */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
import { TaskState } from '../store.js';

describe('manager settings drafts and site pairing with a recording appliance', () => {
  let w: World;
  beforeEach(async () => {
    w = await startWorld();
    await w.http.login();
  });
  afterEach(async () => {
    await w.close();
  });

  it('creates a group through a draft: parts are checked on PUT, the whole through core\'s schema on commit', async () => {
    const d = await w.http.post('/v1/vpgSettings', {});
    assert.equal(d.status, 201);
    const base = `/v1/vpgSettings/${d.body.vpgSettingsIdentifier}`;
    assert.equal((await w.http.put(`${base}/basic`, { name: 'erp', rpoInSeconds: 120, journalHistoryInHours: 12, priority: 2, recoverySiteIdentifier: 'site-b', checkpointIntervalInMs: 2000 })).status, 200);
    const bad = await w.http.put(`${base}/basic`, { name: 'erp', rpoInSecs: 120 });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'rpoInSecs');
    assert.equal((await w.http.put(`${base}/journal`, { limitation: { hardLimitInMB: 2048, warningThresholdInMB: 1024 } })).status, 200);
    assert.equal((await w.http.put(`${base}/vms`, [{ vmIdentifier: 'site-a-vm-1' }, { vmIdentifier: 'site-a-vm-2' }])).status, 200);
    assert.equal((await w.http.put(`${base}/bootgroup`, { bootGroups: [{ name: 'db', delayInSeconds: 30, vmIdentifiers: ['site-a-vm-1'] }] })).status, 200);
    assert.equal((await w.http.put(`${base}/networks`, { nics: [{ vmIdentifier: 'site-a-vm-1', nicIndex: 0, liveNetworkIdentifier: 'site-b-net', testNetworkIdentifier: 'site-b-test-net', testIpv4: '10.0.0.5' }] })).status, 200);
    assert.equal((await w.http.put(`${base}/recovery`, { defaultDatastoreIdentifier: 'site-b-ds-1' })).status, 200);
    assert.deepEqual((await w.http.get(`${base}/vms`)).body, [{ vmIdentifier: 'site-a-vm-1' }, { vmIdentifier: 'site-a-vm-2' }]);
    const c = await w.http.post(`${base}/commit`);
    assert.equal(c.status, 200, c.text);
    assert.equal((await waitTask(w, c.body.taskIdentifier)).state, TaskState.Completed);
    const g = (await w.http.get(`/v1/vpgs/${c.body.vpgIdentifier}`)).body;
    assert.deepEqual([g.vpgName, g.configuredRpoSeconds, g.priority, g.checkpointIntervalMs], ['erp', 120, 2, 2000]);
    assert.deepEqual(g.settings.journal, { hardLimit: { mb: 2048 }, warningThreshold: { mb: 1024 } });
    assert.deepEqual(g.recoveryPlan.bootGroups, [{ name: 'db', delaySeconds: 30, vmIds: ['site-a-vm-1'] }]);
    assert.equal(g.recoveryPlan.datastoreId, 'site-b-ds-1');
    assert.equal((await w.http.get(base)).status, 404, 'a committed draft is gone');
  });

  it('refuses to commit an incomplete or invalid draft, changing nothing', async () => {
    const d = await w.http.post('/v1/vpgSettings', {});
    const base = `/v1/vpgSettings/${d.body.vpgSettingsIdentifier}`;
    await w.http.put(`${base}/basic`, { name: 'erp', recoverySiteIdentifier: 'site-b' });
    const before = w.manager.store.digest();
    let r = await w.http.post(`${base}/commit`);
    assert.equal(r.status, 400);
    assert.equal(r.body.field, 'vms');
    await w.http.put(`${base}/vms`, [{ vmIdentifier: 'site-a-vm-1' }]);
    await w.http.put(`${base}/journal`, { limitation: { hardLimitInMB: 100, warningThresholdInMB: 200 } });
    const mid = w.manager.store.digest();
    r = await w.http.post(`${base}/commit`);
    assert.equal(r.status, 400);
    assert.equal(r.body.field, 'journal.warningThreshold');
    assert.equal(w.manager.store.digest(), mid);
    assert.notEqual(before, mid);
    await w.http.put(`${base}/bootgroup`, { bootGroups: [{ name: 'x', delayInSeconds: 0, vmIdentifiers: ['site-a-vm-9'] }] });
    await w.http.put(`${base}/journal`, {});
    r = await w.http.post(`${base}/commit`);
    assert.equal(r.status, 400);
    assert.equal(r.body.field, 'bootGroups.0.vmIds');
    assert.equal(w.manager.groups().length, 0);
  });

  it('edits an existing group through a draft; a changed VM list re-protects with the replicas as preseeded targets', async () => {
    const created = await w.http.post('/v1/vpgs', { settings: { name: 'erp' }, vmIdentifiers: ['site-a-vm-1'], recoverySiteIdentifier: 'site-b' });
    await waitTask(w, created.body.taskIdentifier);
    const id = created.body.vpgIdentifier;
    const d = await w.http.post('/v1/vpgSettings', { vpgIdentifier: id });
    const base = `/v1/vpgSettings/${d.body.vpgSettingsIdentifier}`;
    assert.equal((await w.http.get(`${base}/basic`)).body.name, 'erp');
    await w.http.put(`${base}/vms`, [{ vmIdentifier: 'site-a-vm-1' }, { vmIdentifier: 'site-a-vm-3' }]);
    const c = await w.http.post(`${base}/commit`);
    assert.equal(c.body.vpgIdentifier, id);
    assert.equal((await waitTask(w, c.body.taskIdentifier)).state, TaskState.Completed);
    const protects = w.siteA.callsOf('protectGroup') as Array<[{ vmIds: string[]; preseeded?: boolean }]>;
    assert.equal(protects.length, 2);
    assert.deepEqual(protects[1][0].vmIds, ['site-a-vm-1', 'site-a-vm-3']);
    assert.equal(protects[1][0].preseeded, true);
    assert.equal(w.siteA.callsOf('unprotectGroup').length, 1);
  });

  it('pairs two HTTPS managers with a one-time, expiring token, each pinning the other\'s certificate; a wrong pin or an unreachable peer is a 502 that changes nothing', async () => {
    const a = await startWorld({ https: true, clock: w.clock });
    const b = await startWorld({ siteId: 'site-b', clock: w.clock, https: true });
    try {
      await a.http.login();
      await b.http.login();
      const fingerprint = (await b.http.get('/v1/localsite')).body.certificateFingerprint as string;
      assert.equal(fingerprint, testCertificate().fingerprintSha256);
      const port = Number(new URL(b.manager.url).port);
      const before = a.manager.store.digest();
      // The 500: a peer that cannot be reached is a clear 502 now.
      const closed = await a.http.post('/v1/peersites', { hostName: '127.0.0.1', port: await closedPort(), token: 'a-token-of-length', certificateFingerprint: fingerprint });
      assert.deepEqual([closed.status, closed.body.error], [502, 'PEER_UNREACHABLE']);
      const t = await b.http.post('/v1/peersites/generatetoken');
      assert.equal(t.status, 200);
      const wrongPin = await a.http.post('/v1/peersites', { hostName: '127.0.0.1', port, token: t.body.token, certificateFingerprint: 'ab'.repeat(32) });
      assert.deepEqual([wrongPin.status, wrongPin.body.error], [502, 'PEER_NOT_TRUSTED']);
      assert.equal(a.manager.store.digest(), before, 'refusals changed nothing');
      const p = await a.http.post('/v1/peersites', { hostName: '127.0.0.1', port, token: t.body.token, certificateFingerprint: fingerprint.match(/../g)!.join(':').toUpperCase() });
      assert.equal(p.status, 200, p.text);
      assert.equal(p.body.siteIdentifier, 'site-b');
      const peersOfA = (await a.http.get('/v1/peersites')).body as Array<{ siteIdentifier: string; certificateFingerprint: string }>;
      assert.deepEqual(peersOfA.map((x) => [x.siteIdentifier, x.certificateFingerprint]), [['site-b', fingerprint]]);
      const peersOfB = (await b.http.get('/v1/peersites')).body as Array<{ siteIdentifier: string; certificateFingerprint: string }>;
      assert.deepEqual(peersOfB.map((x) => [x.siteIdentifier, x.certificateFingerprint]), [['site-a', fingerprint]], 'B pins A\'s certificate, which A sent when pairing');
      // One-time: the same token again is refused, and nothing changes.
      await b.manager.whenIdle();
      await a.manager.whenIdle();
      const paired = a.manager.store.digest();
      const again = await a.http.post('/v1/peersites', { hostName: '127.0.0.1', port, token: t.body.token, certificateFingerprint: fingerprint });
      assert.equal(again.status, 401);
      assert.equal(a.manager.store.digest(), paired);
      // Expiring: a fresh token is refused after its lifetime.
      const t2 = await b.http.post('/v1/peersites/generatetoken');
      await w.clock.advance(11 * 60_000);
      await a.http.login();
      assert.equal((await a.http.post('/v1/peersites', { hostName: '127.0.0.1', port, token: t2.body.token, certificateFingerprint: fingerprint })).status, 401);
      assert.equal((await a.http.delete('/v1/peersites/site-b')).status, 204);
      assert.equal((await a.http.get('/v1/peersites')).body.length, 0);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('shares group definitions with the paired manager (plain HTTP on loopback), which lists them, cuts no checkpoints for them, and follows deletes', async () => {
    const other = await startWorld({ siteId: 'site-b', clock: w.clock });
    try {
      await other.http.login();
      const t = await other.http.post('/v1/peersites/generatetoken');
      const paired = await w.http.post('/v1/peersites', { hostName: '127.0.0.1', port: Number(new URL(other.manager.url).port), token: t.body.token, useHttps: false });
      assert.equal(paired.status, 200, paired.text);
      const created = await w.http.post('/v1/vpgs', { settings: { name: 'erp', checkpointIntervalMs: 1000 }, vmIdentifiers: ['site-a-vm-1'], recoverySiteIdentifier: 'site-b' });
      await w.manager.whenIdle();
      const id = created.body.vpgIdentifier as string;
      const seen = (await other.http.get(`/v1/vpgs/${id}`)).body;
      assert.deepEqual([seen.vpgName, seen.protectedSiteIdentifier, seen.recoverySiteIdentifier], ['erp', 'site-a', 'site-b']);
      await w.clock.advance(3000);
      assert.equal(other.siteA.callsOf('cutCheckpoints').length, 0, 'the protected site\'s manager cuts the checkpoints');
      assert.ok(w.siteA.callsOf('cutCheckpoints').length >= 2);
      // A caller without the pairing secret is refused before its body is read, and changes nothing.
      await other.manager.whenIdle();
      const before = other.manager.store.digest();
      const forged = await other.http.request('POST', '/v1/peersites/sync', { siteIdentifier: 'site-a', groups: [], deleted: [id] }, { 'x-opencdp-peer-secret': 'guessed-secret-123' });
      assert.equal(forged.status, 401);
      const probe = await other.http.request('POST', '/v1/peersites/sync', { nonsense: true });
      assert.deepEqual([probe.status, probe.body.error], [401, 'UNAUTHENTICATED'], 'an anonymous caller learns nothing about the body it expects');
      assert.equal(other.manager.store.digest(), before);
      await w.http.login();
      const del = await w.http.delete(`/v1/vpgs/${id}`, { force: true });
      await waitTask(w, del.body.taskIdentifier);
      await w.manager.whenIdle();
      await other.http.login();
      assert.equal((await other.http.get(`/v1/vpgs/${id}`)).status, 404, 'the delete reached the peer');
    } finally {
      await other.close();
    }
  });

  it('lists the appliances it drives, its local site and the inventories it reaches', async () => {
    const vras = (await w.http.get('/v1/vras')).body as Array<{ siteIdentifier: string; recoveryRole: boolean }>;
    assert.deepEqual(vras.map((v) => [v.siteIdentifier, v.recoveryRole]), [['site-a', false], ['site-b', true]]);
    assert.deepEqual((await w.http.get('/v1/virtualizationsites')).body, [{ siteIdentifier: 'site-a', local: true, siteType: 'recording' }, { siteIdentifier: 'site-b', local: false, siteType: 'recording' }]);
    const vms = (await w.http.get('/v1/virtualizationsites/site-a/vms')).body as Array<{ vmIdentifier: string; volumes: Array<{ sizeInMB: number }> }>;
    assert.deepEqual(vms.map((v) => v.vmIdentifier), ['site-a-vm-1', 'site-a-vm-2', 'site-a-vm-3']);
    assert.equal(vms[0].volumes[0].sizeInMB, 64);
    assert.deepEqual((await w.http.get('/v1/virtualizationsites/site-b/networks')).body.map((n: { isolated: boolean }) => n.isolated), [false, true]);
    assert.equal((await w.http.get('/v1/virtualizationsites/site-b/datastores')).body[0].datastoreIdentifier, 'site-b-ds-1');
    assert.equal((await w.http.get('/v1/virtualizationsites/nowhere/hosts')).status, 404);
    const local = (await w.http.get('/v1/localsite')).body;
    assert.equal(local.siteIdentifier, 'site-a');
    assert.equal(local.url, w.manager.url);
    assert.equal(local.certificateFingerprint, null, 'plain HTTP on loopback: no certificate');
  });
});
