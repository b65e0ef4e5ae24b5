import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { AuthenticationError } from '../errors.js';
import { createSyncedGroup, startWorld, type World } from '../testing/spec-helpers.js';

// Random JSON at every route: the manager never answers 500, and a refused request (4xx) changes nothing
// in the store (compared by digest). Pairing goes to a transport that refuses, so nothing leaves the machine.
describe('manager REST API under random input, with a recording appliance', () => {
  let w: World;
  let known: Record<string, string>;
  before(async () => {
    w = await startWorld({ pairTransport: async () => { throw new AuthenticationError('test transport refuses pairing'); } });
    await w.http.login();
    const group = await createSyncedGroup(w);
    await w.clock.advance(2000);
    const draft = await w.http.post('/v1/vpgSettings', {});
    const tasks = await w.http.get('/v1/tasks');
    const cps = await w.http.get(`/v1/vpgs/${group}/checkpoints`);
    known = {
      vpgIdentifier: group, vpgSettingsIdentifier: draft.body.vpgSettingsIdentifier, taskIdentifier: tasks.body[0].taskIdentifier,
      checkpointIdentifier: cps.body[0].checkpointIdentifier, name: 'admin', siteIdentifier: 'site-b', alertIdentifier: 'alert-1', sessionIdentifier: 'fr-1',
    };
  });
  after(async () => {
    await w.close();
  });

  it('never answers 500, and changes nothing when it refuses', async () => {
    // Logging out would end the test's own session: everything after would be a trivial 401.
    const routes = w.manager.registeredRoutes().filter((r) => r !== 'DELETE /v1/session');
    const fieldNames = ['name', 'settings', 'vmIdentifiers', 'recoverySiteIdentifier', 'checkpointIdentifier', 'checkpointId', 'commitPolicy', 'shutdownPolicy',
      'keepRecoveryVolumes', 'force', 'checkpointName', 'vpgIdentifiers', 'failoverTestSuccess', 'isReverseProtection', 'password', 'role', 'token', 'hostName', 'port',
      'vmIdentifier', 'volumeIdentifier', 'rpoInSeconds', 'path', 'status', 'startDate', 'pageSize', 'format'];
    const value = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(...Object.values(known), 'site-b', 'site-a-vm-1', 0, 1, 2, true, '/etc/../x', '2026-01-01T00:00:00Z'));
    const body = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.dictionary(fc.constantFrom(...fieldNames), value, { maxKeys: 4 }), fc.constant(undefined));
    const query = fc.dictionary(fc.oneof(fc.constantFrom(...fieldNames), fc.string({ maxLength: 6 })), fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom(...Object.values(known), '5', '1001')), { maxKeys: 3 });
    const param = fc.oneof(fc.string({ maxLength: 20 }), fc.constant('__known__'));
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), body, query, fc.array(param, { minLength: 4, maxLength: 4 }), async (route, b, q, params) => {
        const [method, url] = route.split(' ');
        let i = 0;
        const path = url.replace(/:([A-Za-z]+)/g, (_, name: string) => {
          const p = params[i++];
          return encodeURIComponent(p === '__known__' ? known[name] ?? 'x' : p || 'x');
        });
        const qs = new URLSearchParams(q as Record<string, string>).toString();
        await w.manager.whenIdle();
        const before = w.manager.store.digest();
        const r = await w.http.request(method, qs ? `${path}?${qs}` : path, method === 'GET' ? undefined : b);
        seen.set(r.status, (seen.get(r.status) ?? 0) + 1);
        assert.ok(r.status < 500 || r.status === 501 || r.status === 503, `${method} ${path} ${JSON.stringify(b)} → ${r.status} ${r.text}`);
        if (r.status >= 400) {
          assert.equal(typeof r.body?.error, 'string', `${route}: error body ${r.text}`);
          assert.equal(w.manager.store.digest(), before, `${method} ${path} ${JSON.stringify(b)} → ${r.status} changed the store`);
        }
      }),
      { numRuns: Number(process.env.FC_RUNS ?? 150), seed: Number(process.env.FC_SEED ?? 4242) },
    );
    if (process.env.FC_VERBOSE) console.log([...seen]);
    assert.ok((seen.get(400) ?? 0) > 10, `statuses seen: ${JSON.stringify([...seen])}`);
  });
});
