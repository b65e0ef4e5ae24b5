// An attacker's and a careless client's view of the API: every documented route gets random and malformed
// bodies, queries, headers and paths, wrong content types, and 10 MiB bodies. The manager must never
// answer 5xx, a refused request (4xx) must change nothing in the store (compared by digest), and every
// answer must be as the OpenAPI document says (the test client checks each one). The login backoff is
// raised for this world only: guessing is its own spec; here garbage credentials must not lock the test
// out of its own session.
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import type { OpenAPIV3_1 } from 'openapi-types';
import { AuthenticationError } from '../errors.js';
import { ADMIN, createSyncedGroup, startWorld, type HttpAnswer, type World } from '../testing/spec-helpers.js';

interface Op { method: string; path: string; params: string[]; query: string[]; bodyFields: string[]; hasBody: boolean }

const METHODS = ['get', 'put', 'post', 'delete'] as const;
/** Tables only an audit trail may grow on a refused login (LoginThrottled events and their site alert). */
const AUDIT_TABLES = ['events', 'alerts', 'meta'];

describe('manager REST API under attack: fuzzed requests on every documented route (recording appliance)', function () {
  this.timeout(300_000);
  let w: World;
  let ops: Op[];
  let known: Record<string, string>;

  const digestWithout = (skip: string[]): string => {
    const db = w.manager.store.db;
    const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).all() as { name: string }[]).map((t) => t.name).filter((t) => !skip.includes(t));
    return JSON.stringify(tables.map((t) => db.prepare(`SELECT * FROM "${t}" ORDER BY rowid`).all()));
  };

  before(async () => {
    w = await startWorld({
      pairTransport: async () => { throw new AuthenticationError('test transport refuses pairing'); },
      loginThrottle: { threshold: 1_000_000 },
    });
    await w.http.login();
    const group = await createSyncedGroup(w);
    await w.clock.advance(2000);
    const draft = await w.http.post('/v1/vpgSettings', { vpgIdentifier: group });
    const tasks = await w.http.get('/v1/tasks');
    const cps = await w.http.get(`/v1/vpgs/${group}/checkpoints`);
    known = {
      vpgIdentifier: group, vpgSettingsIdentifier: draft.body.vpgSettingsIdentifier, taskIdentifier: tasks.body[0].taskIdentifier, checkpointIdentifier: cps.body[0].checkpointIdentifier,
      name: ADMIN.user, siteIdentifier: 'site-b', alertIdentifier: 'alert-1', sessionIdentifier: 'fr-1', vmIdentifier: 'site-a-vm-1',
    };
    const doc = (await w.http.get('/v1/openapi.json')).body as OpenAPIV3_1.Document;
    ops = Object.entries(doc.paths ?? {}).flatMap(([path, item]) => METHODS.filter((m) => (item as Record<string, unknown>)[m]).map((m) => {
      const op = (item as Record<string, OpenAPIV3_1.OperationObject>)[m];
      const parameters = (op.parameters ?? []) as OpenAPIV3_1.ParameterObject[];
      const schema = (op.requestBody as OpenAPIV3_1.RequestBodyObject | undefined)?.content['application/json']?.schema as OpenAPIV3_1.SchemaObject | undefined;
      return {
        method: m.toUpperCase(), path, params: parameters.filter((p) => p.in === 'path').map((p) => p.name), query: parameters.filter((p) => p.in === 'query').map((p) => p.name),
        bodyFields: Object.keys(schema?.properties ?? ((schema as { items?: OpenAPIV3_1.SchemaObject } | undefined)?.items)?.properties ?? {}), hasBody: schema !== undefined,
      };
    }));
  });
  after(async () => {
    await w.close();
  });

  /** Sends one fuzzed request; afterwards the test's own session works again (a fuzzed logout or password change may end it). */
  async function send(op: Op, path: string, init: { headers: Record<string, string>; body?: string | Buffer }): Promise<HttpAnswer> {
    await w.manager.whenIdle();
    const login = op.path === '/v1/session/add' || op.path === '/v1/session/password';
    const before = digestWithout(login ? AUDIT_TABLES : []);
    const eventsBefore = w.manager.store.listEvents().length;
    const r = await w.http.send(op.method, path, init);
    await w.manager.whenIdle();
    const what = `${op.method} ${path} ${JSON.stringify(init.headers)} ${String(init.body ?? '').slice(0, 200)} → ${r.status} ${r.text.slice(0, 300)}`;
    assert.ok(r.status < 500, what);
    if (r.status >= 400) {
      assert.equal(typeof r.body?.error, 'string', what);
      assert.equal(digestWithout(login ? AUDIT_TABLES : []), before, `a refusal changed the store: ${what}`);
      if (login) assert.deepEqual(w.manager.store.listEvents().slice(eventsBefore).filter((e) => !['LoginThrottled', 'AlertRaised'].includes(e.type)), [], what);
    }
    if ((await w.http.get('/v1/session')).status === 401) await w.http.login();
    return r;
  }

  it('never answers 5xx, changes nothing when it refuses, and answers only as documented', async () => {
    const seen = new Map<number, number>();
    const junk = fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('../../etc/passwd', '%2e%2e%2f', '\u0000', 'x'.repeat(600), '💥', '{"$ne":null}', "' OR 1=1 --", '<script>'));
    const value = fc.oneof(fc.jsonValue({ maxDepth: 2 }), junk, fc.constantFrom(...Object.values(known), 'site-b', 'site-a-vm-1', 0, 1, 2, -1, 2 ** 53, true, null, '2026-01-01T00:00:00Z'));
    const headerSet = fc.oneof({ arbitrary: fc.constant('session'), weight: 8 }, { arbitrary: fc.constantFrom('none', 'garbage-token', 'garbage-basic', 'right-basic', 'peer-secret', 'huge-bearer'), weight: 3 });
    const bodyKind = fc.constantFrom('fields', 'fields', 'json', 'malformed', 'text', 'none', 'array');
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ops), fc.array(fc.oneof(junk, fc.constant('__known__')), { minLength: 3, maxLength: 3 }),
        fc.dictionary(fc.oneof(fc.string({ maxLength: 8 }), fc.constant('__documented__')), fc.oneof(junk, fc.constantFrom(...Object.values(known), '5', '1001', 'csv', 'true')), { maxKeys: 3 }),
        headerSet, bodyKind, fc.dictionary(fc.string({ maxLength: 12 }), value, { maxKeys: 3 }), fc.array(value, { maxLength: 4 }), fc.nat(),
        async (op, params, query, auth, kind, extra, values, pick) => {
          let i = 0;
          const path = op.path.replace(/\{([A-Za-z]+)\}/g, (_, name: string) => {
            const p = params[i++];
            return encodeURIComponent(p === '__known__' ? known[name] ?? 'x' : p || 'x');
          });
          const q = new URLSearchParams();
          for (const [k, v] of Object.entries(query)) q.set(k === '__documented__' && op.query.length ? op.query[pick % op.query.length] : k, String(v));
          const headers: Record<string, string> = {};
          if (auth === 'session') headers['x-zerto-session'] = w.http.token!;
          if (auth === 'garbage-token') headers['x-zerto-session'] = 'deadbeef'.repeat(6);
          if (auth === 'garbage-basic') headers.authorization = `Basic ${Buffer.from(`admin:${String(values[0] ?? 'x')}`).toString('base64')}`;
          if (auth === 'right-basic') headers.authorization = `Basic ${Buffer.from(`${ADMIN.user}:${ADMIN.password}`).toString('base64')}`;
          if (auth === 'peer-secret') headers['x-opencdp-peer-secret'] = 'guessed-peer-secret';
          if (auth === 'huge-bearer') headers.authorization = `Bearer ${'A'.repeat(8000)}`;
          let body: string | undefined;
          if (op.method !== 'GET') {
            if (kind === 'fields') body = JSON.stringify(Object.fromEntries(op.bodyFields.map((f, j) => [f, values[(j + pick) % Math.max(1, values.length)]]).filter((_, j) => (pick >> j) % 2 === 0).concat(Object.entries(extra).slice(0, pick % 2))));
            else if (kind === 'json') body = JSON.stringify(values[0] ?? extra);
            else if (kind === 'array') body = JSON.stringify(values);
            else if (kind === 'malformed') body = '{"settings": {"name": ';
            else if (kind === 'text') body = 'name=erp&x=1';
            if (body !== undefined) headers['content-type'] = kind === 'text' ? 'text/plain' : 'application/json';
          }
          const qs = q.toString();
          const r = await send(op, qs ? `${path}?${qs}` : path, { headers, ...(body !== undefined ? { body } : {}) });
          seen.set(r.status, (seen.get(r.status) ?? 0) + 1);
        }),
      { numRuns: Number(process.env.FC_RUNS ?? 400), seed: Number(process.env.FC_SEED ?? 1717) },
    );
    if (process.env.FC_VERBOSE) console.log([...seen].sort());
    for (const status of [400, 401, 404]) assert.ok((seen.get(status) ?? 0) > 5, `statuses seen: ${JSON.stringify([...seen])}`);
  });

  it('refuses a 10 MiB body on every route that writes with 413 (or 401 without a session), changing nothing', async () => {
    const big = JSON.stringify({ name: 'x'.repeat(10 * 1024 * 1024) });
    let refused = 0;
    for (const op of ops.filter((o) => o.method !== 'GET')) {
      const path = op.path.replace(/\{([A-Za-z]+)\}/g, (_, name: string) => encodeURIComponent(known[name] ?? 'x'));
      const r = await send(op, path, { headers: { 'content-type': 'application/json', ...(op.path === '/v1/peersites/sync' ? {} : { 'x-zerto-session': w.http.token! }) }, body: big });
      assert.ok([413, 401].includes(r.status), `${op.method} ${op.path} → ${r.status}`);
      if (r.status === 413) refused++;
    }
    assert.ok(refused > 30, `${refused} routes answered 413`);
  });
});
