// No secret in clear at rest or in the logs: two HTTPS managers log at trace level while users log in (and
// fail to), passwords are set and changed, and the sites pair and sync; then every byte of both data dirs
// (database, WAL, key files) and of both logs is searched for every password, session token, pairing
// token, peer secret and the TLS private key.
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { VirtualClock } from '@opencdp/core';
import { pino } from 'pino';
import { SecretBox } from '../sites/secret-box.js';
import { ADMIN, startWorld, testCertificate, type World } from '../testing/spec-helpers.js';

/** Every file under `dir`, with its bytes. */
function filesUnder(dir: string): Array<[string, Buffer]> {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [[p, readFileSync(p)] as [string, Buffer]];
  });
}

/** `secret` in clear, or in base64 (as in a Basic header), anywhere in `bytes`. */
function holds(bytes: Buffer, secret: string): boolean {
  return bytes.includes(Buffer.from(secret)) || bytes.includes(Buffer.from(Buffer.from(secret).toString('base64').replace(/=+$/, '')));
}

describe('manager secrets at rest and in logs (two HTTPS managers, recording appliances)', function () {
  this.timeout(120_000);
  const logs = { a: [] as string[], b: [] as string[] };
  let a: World;
  let b: World;

  before(async () => {
    const clock = new VirtualClock();
    a = await startWorld({ https: true, clock, logger: pino({ level: 'trace' }, { write: (line: string) => void logs.a.push(line) }) });
    b = await startWorld({ https: true, clock, siteId: 'site-b', logger: pino({ level: 'trace' }, { write: (line: string) => void logs.b.push(line) }) });
  });
  after(async () => {
    for (const w of [a, b]) rmSync(w?.dir ?? '', { recursive: true, force: true });
  });

  it('keeps no password, token, peer secret or private key in clear in the data dirs or the logs', async () => {
    const secrets: Record<string, string> = { 'admin password': ADMIN.password, 'TLS private key': testCertificate().keyPem.split('\n')[1] };
    secrets['session token of A'] = await a.http.login();
    secrets['session token of B'] = await b.http.login();
    // A wrong password is logged as a failure, never as the password tried.
    secrets['a wrong password'] = 'almost-the-right-one-7';
    const basic = `Basic ${Buffer.from(`${ADMIN.user}:${secrets['a wrong password']}`).toString('base64')}`;
    assert.equal((await a.http.request('POST', '/v1/session/add', undefined, { authorization: basic })).status, 401);
    secrets['first password of otto'] = 'operator-compass-9';
    secrets['second password of otto'] = 'granite-orchard-5';
    assert.equal((await a.http.post('/v1/users', { name: 'otto', password: secrets['first password of otto'], role: 'operator' })).status, 201);
    const adminToken = a.http.token;
    secrets['session token of otto'] = await a.http.login('otto', secrets['first password of otto']);
    assert.equal((await a.http.put('/v1/session/password', { currentPassword: secrets['first password of otto'], newPassword: secrets['second password of otto'] })).status, 204);
    a.http.token = adminToken;

    const t = await b.http.post('/v1/peersites/generatetoken');
    secrets['pairing token'] = t.body.token as string;
    const fingerprint = testCertificate().fingerprintSha256;
    const paired = await a.http.post('/v1/peersites', { hostName: '127.0.0.1', port: Number(new URL(b.manager.url).port), token: secrets['pairing token'], certificateFingerprint: fingerprint });
    assert.equal(paired.status, 200, paired.text);
    await a.manager.whenIdle();
    await b.manager.whenIdle();
    // The secret each manager presents to the other is kept sealed; open it with the data dir's key to know what to look for.
    secrets['secret A presents to B'] = SecretBox.open(a.dir).open(a.manager.parts.sites.peer('site-b')!.outboundSecretSealed!);
    secrets['secret B presents to A'] = SecretBox.open(b.dir).open(b.manager.parts.sites.peer('site-a')!.outboundSecretSealed!);
    assert.notEqual(secrets['secret A presents to B'], secrets['secret B presents to A']);
    // A peer sync that carries A's secret, so it crosses the wire and reaches B's log path at least once more.
    assert.equal((await b.http.request('POST', '/v1/peersites/sync', { siteIdentifier: 'site-a', groups: [], deleted: [] }, { 'x-opencdp-peer-secret': secrets['secret A presents to B'] })).status, 200);

    const found = (): string[] => {
      const places: Array<[string, Buffer]> = [...filesUnder(a.dir), ...filesUnder(b.dir), ['log of A', Buffer.from(logs.a.join(''))], ['log of B', Buffer.from(logs.b.join(''))]];
      return Object.entries(secrets).flatMap(([what, secret]) => places.filter(([, bytes]) => holds(bytes, secret)).map(([where]) => `${what} in ${where}`));
    };
    assert.ok(logs.a.length > 0 && logs.b.length > 0, `the managers did log (trace level): ${logs.a.length} and ${logs.b.length} lines`);
    // The search itself finds what is there: the logs name the routes called, the database the user created.
    assert.ok(holds(Buffer.from(logs.a.join('')), '/v1/session/password') && holds(Buffer.from(logs.b.join('')), '/v1/peersites/sync'));
    assert.ok(filesUnder(a.dir).some(([, bytes]) => holds(bytes, 'otto')));
    assert.ok(filesUnder(a.dir).some(([p]) => p.endsWith('-wal')), 'the WAL is searched while the database is open');
    assert.deepEqual(found(), [], 'while running');
    await a.manager.stop();
    await b.manager.stop();
    assert.deepEqual(found(), [], 'after a stop (the WAL checkpointed into the database)');
  });
});
