import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SystemClock } from '@opencdp/core';
import { pino } from 'pino';
import type { Manager } from '../manager.js';
import { startManager } from '../manager-module.js';
import { RecordingAppliance } from '../testing/recording-appliance.js';
import { ADMIN, HttpClient, testCertificate } from '../testing/spec-helpers.js';
import { trustingFetch } from '../tls-pinning.js';
import { PEER_ALERT } from './peer-watch.js';

// Two real managers paired over HTTPS on loopback (the test certificate, pinned) (the recovery site's is watched from the protected one
// and the other way round); the other site's manager is really stopped and started again on its data dir.
describe('manager peer watch: "not connected to site X" and "synchronizing with site X" (seed 000)', function () {
  this.timeout(60_000);
  const dirs: string[] = [];
  const managers: Manager[] = [];
  const clock = new SystemClock();
  const cert = testCertificate();
  const trust = { fingerprint: cert.fingerprintSha256 };
  const start = async (siteId: string, dir: string, port = 0): Promise<Manager> => {
    const m = await startManager({
      dataDir: dir, siteId, listen: `127.0.0.1:${port}`, tls: { certPem: cert.certPem, keyPem: cert.keyPem }, clock, admin: ADMIN, logger: pino({ level: 'silent' }), passwordCost: 1024,
      appliances: [new RecordingAppliance('site-a', undefined, { recovery: false }), new RecordingAppliance('site-b')],
      pollIntervalMs: 60_000, peerHeartbeatMs: 200, peerDownAfterMs: 1000,
    });
    managers.push(m);
    return m;
  };
  const tmp = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'opencdp-peer-watch-'));
    dirs.push(d);
    return d;
  };
  after(async () => {
    for (const m of managers) await m.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const waitFor = async <T>(what: string, probe: () => Promise<T | undefined>, limitMs = 15_000): Promise<T> => {
    const deadline = Date.now() + limitMs;
    for (;;) {
      const v = await probe();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  it('the recovery site\'s manager raises the alert within seconds of losing the protected site\'s manager, and records the synchronizing event when it returns', async () => {
    const dirA = tmp();
    let a = await start('site-a', dirA);
    const b = await start('site-b', tmp());
    const apiA = new HttpClient(a.url, trust);
    const apiB = new HttpClient(b.url, trust);
    await apiA.login();
    await apiB.login();
    const { body: tok } = await apiA.post('/v1/peersites/generatetoken', {});
    const portA = Number(new URL(a.url).port);
    assert.equal((await apiB.post('/v1/peersites', { hostName: '127.0.0.1', port: portA, token: tok.token, certificateFingerprint: cert.fingerprintSha256 })).status, 200);
    await waitFor('B connected to A', async () => ((await apiB.get('/v1/peersites/connections')).body as { connected: boolean }[])[0]?.connected === true || undefined);

    // A wrong secret is refused: the heartbeat proves the caller is the paired site.
    const forged = await trustingFetch(trust)(`${a.url}/v1/peersites/heartbeat`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-opencdp-peer-secret': 'not-the-secret-at-all' }, body: JSON.stringify({ siteIdentifier: 'site-b' }) });
    assert.equal(forged.status, 401);

    await a.stop();
    const lostAt = Date.now();
    const alert = await waitFor('the not-connected alert at B', async () => {
      const alerts = (await apiB.get('/v1/alerts')).body as { type: string; description: string; siteIdentifier: string; vpgIdentifier: unknown }[];
      return alerts.find((x) => x.type === PEER_ALERT);
    });
    const tookMs = Date.now() - lostAt;
    assert.ok(tookMs < 10_000, `raised within seconds (${tookMs} ms; heartbeat 200 ms, silence 1 s)`);
    assert.equal(alert.description, 'The manager is not connected to site site-a');
    assert.deepEqual([alert.siteIdentifier, alert.vpgIdentifier], ['site-a', null]);
    assert.equal(((await apiB.get('/v1/peersites/connections')).body as { connected: boolean }[])[0].connected, false);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(((await apiB.get('/v1/alerts')).body as { type: string }[]).filter((x) => x.type === PEER_ALERT).length, 1, 'raised once, not once per heartbeat');

    a = await start('site-a', dirA, portA);
    await waitFor('the synchronizing event at B', async () => {
      const events = (await apiB.get('/v1/events?eventType=SiteSynchronization')).body as { description: string }[];
      return events.find((e) => e.description.startsWith('synchronizing with site site-a'));
    });
    const standing = ((await apiB.get('/v1/alerts')).body as { type: string }[]).filter((x) => x.type === PEER_ALERT);
    assert.deepEqual(standing, [], 'the alert cleared');
    const cleared = ((await apiB.get('/v1/alerts?includeCleared=true')).body as { type: string; cleared: string | null }[]).filter((x) => x.type === PEER_ALERT);
    assert.equal(cleared.length, 1);
    assert.ok(cleared[0].cleared);
  });
});
