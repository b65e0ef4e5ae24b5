import { strict as assert } from 'node:assert';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilePermissionError, SiteIdentity, ValidationError } from '@opencdp/core';
import { pino } from 'pino';
import { readManagerConfig, startManagerCommand } from './manager-command.js';
import { parseListen } from './manager-options.js';
import { HttpClient, testCertificate } from './testing/spec-helpers.js';
import { RecordingAppliance } from './testing/recording-appliance.js';

describe('manager start command', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'opencdp-manager-cmd-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts from a config file, connects the configured appliances, and serves the API', async () => {
    const config = join(dir, 'manager.json');
    writeFileSync(config, JSON.stringify({ siteId: 'site-a', siteName: 'Prod', admin: { user: 'root', password: 'granite-orchard-5' }, appliances: [{ siteId: 'site-b', url: 'http://127.0.0.1:1', token: 't' }] }), { mode: 0o600 });
    const connected: string[] = [];
    const m = await startManagerCommand({ dataDir: join(dir, 'data'), listen: '127.0.0.1:0', config, http: true }, {
      connectAppliance: (spec) => (connected.push(spec.siteId), new RecordingAppliance(spec.siteId)),
      overrides: { logger: (await import('pino')).pino({ level: 'silent' }) }, warn: () => undefined,
    });
    try {
      assert.deepEqual(connected, ['site-b']);
      const http = new HttpClient(m.url);
      await http.login('root', 'granite-orchard-5');
      const site = await http.get('/v1/localsite');
      assert.deepEqual([site.body.siteIdentifier, site.body.siteName], ['site-a', 'Prod']);
      assert.equal((await http.get('/v1/vras')).body[0].siteIdentifier, 'site-b');
    } finally {
      await m.stop();
    }
  });

  it('names the bad field of a config file or a listen address', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ siteId: 'a', colour: 'red' }));
    assert.throws(() => readManagerConfig(bad), (e: ValidationError) => e.field === 'colour');
    writeFileSync(bad, JSON.stringify({ appliances: [{ siteId: 'b' }] }));
    assert.throws(() => readManagerConfig(bad), (e: ValidationError) => e.field === 'appliances.0');
    assert.throws(() => readManagerConfig(join(dir, 'missing.json')), (e: ValidationError) => e.field === 'config');
    writeFileSync(bad, JSON.stringify({ metricsToken: 'short' }));
    assert.throws(() => readManagerConfig(bad), (e: ValidationError) => e.field === 'metricsToken');
    writeFileSync(bad, JSON.stringify({ metricsToken: 'a-scrape-token-long-enough-0123' }));
    assert.equal(readManagerConfig(bad).metricsToken, 'a-scrape-token-long-enough-0123');
    assert.throws(() => parseListen('nohost'), (e: ValidationError) => e.field === 'listen');
    assert.deepEqual(parseListen('[::1]:8080'), { host: '::1', port: 8080 });
    assert.deepEqual(parseListen('0.0.0.0:9080'), { host: '0.0.0.0', port: 9080 });
  });

  it('refuses to start without a site id or on a data dir of another site', async () => {
    await assert.rejects(startManagerCommand({ dataDir: dir, listen: '127.0.0.1:0' }), (e: ValidationError) => e.field === 'siteId' || /site/.test(e.message));
    const { startManager } = await import('./manager-module.js');
    const { pino } = await import('pino');
    const m = await startManager({ dataDir: dir, siteId: 'site-a', appliances: [], logger: pino({ level: 'silent' }) });
    await m.stop();
    await assert.rejects(startManager({ dataDir: dir, siteId: 'site-b', appliances: [], logger: pino({ level: 'silent' }) }), /belongs to site 'site-a'/);
  });

  const quiet = { overrides: { logger: pino({ level: 'silent' }) }, warn: () => undefined };

  it('serves HTTPS by default with a self-signed certificate kept in the data dir (0600), whose fingerprint clients pin and which survives a restart', async function () {
    this.timeout(60_000);
    const data = join(dir, 'data');
    const m = await startManagerCommand({ dataDir: data, listen: '127.0.0.1:0', siteId: 'site-a' }, quiet);
    let fingerprint: string;
    try {
      assert.match(m.url, /^https:\/\//);
      fingerprint = m.parts.lifecycle.tlsFingerprint!;
      assert.match(fingerprint, /^[0-9a-f]{64}$/);
      assert.deepEqual(['tls', 'tls/manager.key', 'tls/manager.crt'].map((f) => (statSync(join(data, f)).mode & 0o777).toString(8)), ['700', '600', '600']);
      const pinned = new HttpClient(m.url, { fingerprint });
      assert.equal((await pinned.get('/v1/openapi.json')).status, 200);
      const res = await pinned.get('/v1/openapi.json');
      assert.match(res.headers.get('strict-transport-security') ?? '', /max-age=31536000/);
      await assert.rejects(new HttpClient(m.url, { fingerprint: 'ab'.repeat(32) }).get('/v1/openapi.json'), /fingerprint/);
      await assert.rejects(fetch(`${m.url}/v1/openapi.json`), 'an unpinned client does not trust it');
    } finally {
      await m.stop();
    }
    const again = await startManagerCommand({ dataDir: data, listen: '127.0.0.1:0', siteId: 'site-a' }, quiet);
    try {
      assert.equal(again.parts.lifecycle.tlsFingerprint, fingerprint, 'the same certificate after a restart');
    } finally {
      await again.stop();
    }
  });

  it('serves HTTPS with a certificate and key from files', async () => {
    const cert = testCertificate();
    writeFileSync(join(dir, 'c.pem'), cert.certPem);
    writeFileSync(join(dir, 'k.pem'), cert.keyPem, { mode: 0o600 });
    const m = await startManagerCommand({ dataDir: join(dir, 'data'), listen: '127.0.0.1:0', siteId: 'site-a', tlsCert: join(dir, 'c.pem'), tlsKey: join(dir, 'k.pem') }, quiet);
    try {
      assert.equal(m.parts.lifecycle.tlsFingerprint, cert.fingerprintSha256);
      assert.equal((await new HttpClient(m.url, { ca: cert.certPem }).get('/v1/openapi.json')).status, 200, 'trusting the PEM as CA works too');
    } finally {
      await m.stop();
    }
  });

  it('refuses plain HTTP beyond loopback, an https appliance without the site identity, and a plain-HTTP appliance elsewhere', async () => {
    await assert.rejects(startManagerCommand({ dataDir: join(dir, 'd1'), listen: '0.0.0.0:0', siteId: 'site-a', http: true }, quiet), (e: ValidationError) => e.field === 'listen');
    const config = join(dir, 'm.json');
    writeFileSync(config, JSON.stringify({ siteId: 'site-a', appliances: [{ siteId: 'site-b', url: 'https://127.0.0.1:7101', token: 'a-token-for-the-control-link' }] }), { mode: 0o600 });
    await assert.rejects(startManagerCommand({ dataDir: join(dir, 'd2'), listen: '127.0.0.1:0', config, http: true }, quiet), (e: ValidationError) => e.field === 'identityFile');
    writeFileSync(config, JSON.stringify({ siteId: 'site-a', appliances: [{ siteId: 'site-b', url: 'http://192.0.2.7:7101', token: 'a-token-for-the-control-link' }] }), { mode: 0o600 });
    await assert.rejects(startManagerCommand({ dataDir: join(dir, 'd3'), listen: '127.0.0.1:0', config, http: true }, quiet), (e: ValidationError) => e.field === 'appliances.0.url');
    assert.throws(() => { writeFileSync(config, JSON.stringify({ pollIntervalMs: 'fast' })); readManagerConfig(config); }, (e: ValidationError) => e.field === 'pollIntervalMs');
  });

  it('warns when the config or identity file is readable by others, and refuses to start with --strict', async () => {
    const identity = SiteIdentity.create('site-a');
    writeFileSync(join(dir, 'a.identity.json'), JSON.stringify(identity.toJSON()), { mode: 0o644 });
    chmodSync(join(dir, 'a.identity.json'), 0o644);
    const config = join(dir, 'm.json');
    writeFileSync(config, JSON.stringify({ siteId: 'site-a', identityFile: 'a.identity.json', admin: { user: 'root', password: 'granite-orchard-5' } }), { mode: 0o644 });
    chmodSync(config, 0o644);
    await assert.rejects(startManagerCommand({ dataDir: join(dir, 'd'), listen: '127.0.0.1:0', config, http: true, strict: true }, quiet),
      (e: unknown) => e instanceof FilePermissionError && e.problems.length === 2 && /m\.json' \(mode 644\) is open to its group and other users/.test(e.message));
    const warnings: string[] = [];
    const m = await startManagerCommand({ dataDir: join(dir, 'd'), listen: '127.0.0.1:0', config, http: true }, { ...quiet, warn: (w) => warnings.push(w) });
    await m.stop();
    assert.equal(warnings.filter((w) => /holds secrets/.test(w)).length, 2);
    assert.ok(warnings.some((w) => /plain HTTP \(loopback only\)/.test(w)));
    assert.ok(!warnings.some((w) => /first administrator/.test(w)), 'a new data dir is seeded from the config');
    chmodSync(config, 0o600);
    chmodSync(join(dir, 'a.identity.json'), 0o600);
    const later: string[] = [];
    const strict = await startManagerCommand({ dataDir: join(dir, 'd'), listen: '127.0.0.1:0', config, http: true, strict: true }, { ...quiet, warn: (w) => later.push(w) });
    await strict.stop();
    // Once seeded, the admin password left in the config is a secret in clear for nothing: said at each start.
    assert.deepEqual(later.filter((w) => !/plain HTTP/.test(w)).map((w) => w.replace(config, 'CONFIG')), ['CONFIG still holds the first administrator\'s password in clear, which only a new data dir uses: remove "admin" from it (or seed with OPENCDP_ADMIN_USER/OPENCDP_ADMIN_PASSWORD instead)']);
  });
});
