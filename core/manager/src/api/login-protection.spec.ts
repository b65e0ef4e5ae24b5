// Brute force against the login over real HTTPS: the backoff engages after a few wrong passwords (429 with
// Retry-After, an event and a site alert), the right password is refused during the wait and works once it
// is over; and the rest of the account routes: whose session it is, changing one's own password, roles;
// and who may read /metrics.
import { strict as assert } from 'node:assert';
import { ADMIN, startWorld, type World } from '../testing/spec-helpers.js';

const basic = (user: string, password: string): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

describe('manager login protection over HTTPS (recording appliance)', function () {
  this.timeout(120_000);
  let w: World;
  beforeEach(async () => {
    w = await startWorld({ https: true });
  });
  afterEach(async () => {
    await w.close();
  });

  it('40 wrong passwords in a row: the backoff engages after 5 with an event and an alert, and the right password works once the wait is over', async () => {
    const statuses: number[] = [];
    let retryAfter = 0;
    for (let i = 0; i < 40; i++) {
      const r = await w.http.request('POST', '/v1/session/add', undefined, basic(ADMIN.user, `guess-${i}-wrong`));
      statuses.push(r.status);
      if (r.status === 429) retryAfter = Number(r.headers.get('retry-after'));
    }
    assert.deepEqual(statuses.slice(0, 5), [401, 401, 401, 401, 401]);
    assert.ok(statuses.slice(5).every((s) => s === 429), statuses.join());
    assert.equal(retryAfter, 1, 'one failure past the threshold: wait 1 s');
    const during = await w.http.request('POST', '/v1/session/add', undefined, basic(ADMIN.user, ADMIN.password));
    assert.deepEqual([during.status, during.body.error], [429, 'TOO_MANY_ATTEMPTS'], 'the right password is not even checked while the user must wait');
    // Refusals carry the security headers too.
    const h = (name: string): string => during.headers.get(name) ?? '';
    assert.deepEqual([h('strict-transport-security'), h('x-content-type-options'), h('cache-control'), h('x-frame-options')], ['max-age=31536000; includeSubDomains', 'nosniff', 'no-store', 'DENY']);
    assert.match(h('content-security-policy'), /default-src 'none'.*frame-ancestors 'none'/);
    await w.clock.advance(retryAfter * 1000);
    const token = await w.http.login();
    assert.ok(token);
    const events = (await w.http.get('/v1/events?eventType=LoginThrottled')).body as Array<{ description: string }>;
    assert.deepEqual(events.map((e) => e.description), ['5 failed logins for user \'admin\': further attempts must wait (backoff)', '5 failed logins for address 127.0.0.1: further attempts must wait (backoff)']);
    const alerts = (await w.http.get('/v1/alerts')).body as Array<{ type: string; vpgIdentifier: string | null; level: string }>;
    assert.deepEqual(alerts.map((a) => [a.type, a.vpgIdentifier, a.level]), [['LoginThrottled', null, 'warning']]);
  });

  it('says whose session a token is, lets a user change their own password, and lets an admin change a role that live sessions take at once', async () => {
    await w.http.login();
    const me = (await w.http.get('/v1/session')).body;
    assert.deepEqual([me.user, me.role], [ADMIN.user, 'admin']);
    assert.equal((await w.http.post('/v1/users', { name: 'otto', password: 'aaaaaaaa', role: 'operator' })).status, 400, 'the password policy applies');
    assert.equal((await w.http.post('/v1/users', { name: 'otto', password: 'operator-compass-9', role: 'operator' })).body.role, 'operator');
    const admin = w.http.token!;
    await w.http.login('otto', 'operator-compass-9');
    const otto = w.http.token!;
    assert.equal((await w.http.put('/v1/session/password', { currentPassword: 'wrong-one', newPassword: 'granite-orchard-5' })).status, 401);
    assert.equal((await w.http.put('/v1/session/password', { currentPassword: 'operator-compass-9', newPassword: 'otto-otto-otto-1' })).status, 400, 'not the user name');
    assert.equal((await w.http.put('/v1/session/password', { currentPassword: 'operator-compass-9', newPassword: 'granite-orchard-5' })).status, 204);
    assert.equal((await w.http.get('/v1/session')).body.user, 'otto', 'the session that changed it stays');
    assert.equal((await w.http.request('POST', '/v1/session/add', undefined, basic('otto', 'operator-compass-9'))).status, 401, 'the old password is gone');
    w.http.token = admin;
    assert.equal((await w.http.put('/v1/users/otto/role', { role: 'viewer' })).body.role, 'viewer');
    assert.equal((await w.http.put('/v1/users/admin/role', { role: 'viewer' })).status, 409, 'the last administrator stays one');
    w.http.token = otto;
    assert.equal((await w.http.get('/v1/session')).body.role, 'viewer');
    assert.equal((await w.http.post('/v1/vpgs/any/pause')).status, 403, 'the new role applies at once');
  });
  it('with a metrics token, /metrics answers only that token (Bearer) or a session; without one it stays public', async () => {
    const token = 'prometheus-scrape-token-0123456789abcdef';
    const m = await startWorld({ https: true, metricsToken: token });
    try {
      const scrape = (headers: Record<string, string>): Promise<number> => m.http.request('GET', '/metrics', undefined, headers).then((r) => r.status);
      assert.deepEqual([await scrape({}), await scrape({ authorization: 'Bearer wrong-token-of-some-length-000000' }), await scrape({ authorization: `Bearer ${token}x` })], [401, 401, 401]);
      const answer = await m.http.request('GET', '/metrics', undefined, { authorization: `Bearer ${token}` });
      assert.equal(answer.status, 200);
      assert.match(answer.text, /opencdp_tasks\{/);
      await m.http.login();
      assert.equal((await m.http.get('/metrics')).status, 200, 'a session reads them too');
      // The scrape token is not a session: it opens nothing else.
      assert.equal((await m.http.request('GET', '/v1/vpgs', undefined, { authorization: `Bearer ${token}` })).status, 401);
    } finally {
      await m.close();
    }
    assert.equal((await w.http.request('GET', '/metrics', undefined, {})).status, 200, 'no metrics token: public');
  });
});
