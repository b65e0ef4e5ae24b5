import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import SwaggerParser from '@apidevtools/swagger-parser';
import type { OpenAPIV3_1 } from 'openapi-types';
import { OpenApiChecker } from '../testing/response-checker.js';
import { startWorld, type World } from '../testing/spec-helpers.js';

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

/** Runs @redocly/cli's own `redocly lint` with its recommended rules on a document; its JSON report. */
async function redoclyLint(doc: unknown): Promise<{ totals: { errors: number; warnings: number }; problems: Array<{ ruleId: string; severity: string; message: string; location: Array<{ pointer: string }> }> }> {
  const dir = mkdtempSync(join(tmpdir(), 'opencdp-openapi-'));
  try {
    const file = join(dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(doc));
    const cli = join(dirname(createRequire(import.meta.url).resolve('@redocly/cli/package.json')), 'bin', 'cli.js');
    // Exit code 1 means errors were found; the JSON report is on stdout either way.
    const { stdout } = await promisify(execFile)(process.execPath, [cli, 'lint', file, '--extends', 'recommended', '--format', 'json'], { maxBuffer: 64 * 1024 * 1024 })
      .catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
    return JSON.parse(stdout.slice(stdout.indexOf('{')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('manager OpenAPI document', function () {
  this.timeout(120_000);
  let w: World;
  let doc: OpenAPIV3_1.Document;
  const operations = (): Array<[string, string, OpenAPIV3_1.OperationObject]> =>
    Object.entries(doc.paths ?? {}).flatMap(([path, item]) => METHODS.filter((m) => (item as Record<string, unknown>)[m]).map((m) => [path, m, (item as Record<string, OpenAPIV3_1.OperationObject>)[m]] as [string, string, OpenAPIV3_1.OperationObject]));
  before(async () => {
    w = await startWorld({ https: true });
    doc = (await w.http.get('/v1/openapi.json')).body as OpenAPIV3_1.Document;
  });
  after(async () => {
    await w.close();
  });

  it('is served without a session over HTTPS and is a valid OpenAPI 3.1 document (swagger-parser)', async () => {
    assert.equal(doc.openapi, '3.1.0');
    const api = (await SwaggerParser.validate(structuredClone(doc))) as OpenAPIV3_1.Document;
    assert.ok(api.paths);
    assert.equal(doc.servers?.[0]?.url, w.manager.url, 'the first server is this manager');
    assert.match(w.manager.url, /^https:/);
  });

  it('lints with zero errors under Redocly\'s recommended rules', async () => {
    const report = await redoclyLint(doc);
    const errors = report.problems.filter((p) => p.severity === 'error').map((p) => `${p.ruleId} ${p.location[0]?.pointer}: ${p.message}`);
    assert.deepEqual(errors, []);
    assert.equal(report.totals.errors, 0);
    // What remains are warnings about the two documents-about-the-API routes having no 4xx answer.
    assert.ok(report.totals.warnings <= 2, JSON.stringify(report.problems.map((p) => [p.ruleId, p.location[0]?.pointer])));
  });

  it('lists every registered route, and nothing else', async () => {
    const documented = new Set(operations().map(([path, method]) => `${method.toUpperCase()} ${path}`));
    const registered = new Set(w.manager.registeredRoutes().map((r) => r.replace(/:([A-Za-z]+)/g, '{$1}')));
    assert.ok(registered.size > 80, `only ${registered.size} routes`);
    assert.deepEqual([...registered].filter((r) => !documented.has(r)), [], 'registered but not documented');
    assert.deepEqual([...documented].filter((r) => !registered.has(r)), [], 'documented but not registered');
    for (const must of ['POST /v1/session/add', 'GET /v1/session', 'PUT /v1/session/password', 'PUT /v1/users/{name}/role', 'GET /v1/vpgs', 'POST /v1/vpgs/{vpgIdentifier}/Failover',
      'GET /v1/tasks/{taskIdentifier}', 'POST /v1/tasks/{taskIdentifier}/cancel', 'GET /v1/volumes', 'GET /v1/datastores', 'GET /v1/virtualizationsites/{siteIdentifier}/folders',
      'GET /v1/vpgSettings', 'PUT /v1/vpgSettings/{vpgSettingsIdentifier}/scripting', 'PUT /v1/vpgSettings/{vpgSettingsIdentifier}/vms/{vmIdentifier}/nics',
      'POST /v1/vpgSettings/{vpgSettingsIdentifier}/commit', 'GET /metrics']) {
      assert.ok(documented.has(must), must);
    }
  });

  it('gives every operation a unique operationId, its real success answers with schemas, and error answers with the error schema', () => {
    const ids = operations().map(([, , op]) => op.operationId);
    assert.ok(ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z0-9]+$/.test(id)), 'operationIds');
    assert.equal(new Set(ids).size, ids.length, 'unique');
    const codes = (path: string, method: string): string[] => Object.keys((doc.paths?.[path] as Record<string, OpenAPIV3_1.OperationObject>)[method].responses ?? {});
    // The examples: creations answer 201, deletions and log-out 204.
    assert.ok(codes('/v1/users', 'post').includes('201') && codes('/v1/vpgs', 'post').includes('201') && codes('/v1/vpgSettings', 'post').includes('201'));
    assert.ok(codes('/v1/session', 'delete').includes('204') && codes('/v1/users/{name}', 'delete').includes('204'));
    for (const [path, method, op] of operations()) {
      const responses = op.responses as Record<string, OpenAPIV3_1.ResponseObject>;
      const success = Object.entries(responses).filter(([code]) => /^2\d\d$/.test(code));
      assert.ok(success.length > 0, `${method} ${path}: no success answer`);
      for (const [code, r] of success) {
        if (code === '204') assert.equal(r.content, undefined, `${method} ${path} 204 has no body`);
        else assert.ok(Object.values(r.content ?? {}).every((m) => m.schema), `${method} ${path} ${code}: a schema for every media type`);
      }
      for (const [code, r] of Object.entries(responses).filter(([c]) => !/^2\d\d$/.test(c))) {
        assert.deepEqual(r.content?.['application/json']?.schema, { $ref: '#/components/schemas/Error' }, `${method} ${path} ${code}`);
      }
      assert.ok(responses.default, `${method} ${path}: a default error answer`);
    }
  });

  it('documents request schemas that refuse unknown fields, the security schemes, and the login without a body', () => {
    const failover = doc.paths?.['/v1/vpgs/{vpgIdentifier}/Failover']?.post as OpenAPIV3_1.OperationObject;
    const schema = (failover.requestBody as OpenAPIV3_1.RequestBodyObject).content['application/json'].schema as OpenAPIV3_1.SchemaObject;
    assert.equal(schema.additionalProperties, false);
    assert.ok(schema.properties?.checkpointIdentifier && schema.properties.commitPolicy);
    assert.deepEqual(Object.keys(doc.components?.securitySchemes ?? {}).sort(), ['basic', 'bearer', 'peerSecret', 'session']);
    const login = doc.paths?.['/v1/session/add']?.post as OpenAPIV3_1.OperationObject;
    assert.deepEqual(login.security, [{ basic: [] }]);
    assert.equal(login.requestBody, undefined, 'the login takes no body');
    assert.deepEqual((doc.paths?.['/v1/peersites/sync']?.post as OpenAPIV3_1.OperationObject).security, [{ peerSecret: [] }]);
    assert.deepEqual((doc.paths?.['/v1/openapi.json']?.get as OpenAPIV3_1.OperationObject).security, []);
  });

  it('the answer checker the API tests use flags an undocumented status, an undocumented field and a wrong media type', async () => {
    const checker = await OpenApiChecker.fromDocument(doc);
    const headers = (type: string): Headers => new Headers({ 'content-type': type });
    const task = { taskIdentifier: 't', type: 'x', vpgIdentifier: null, status: { state: 6, stateName: 'Completed', progress: 100, step: 'done' }, started: '2026-01-01T00:00:00.000Z', completed: null, error: null, initiatedBy: null, isCancellable: false, result: null };
    assert.deepEqual(checker.check('GET', '/v1/tasks/t', { status: 200, body: task, text: JSON.stringify(task), headers: headers('application/json') }), []);
    assert.match(checker.check('GET', '/v1/tasks/t', { status: 200, body: { ...task, secret: 1 }, text: '', headers: headers('application/json') }).join(), /must NOT have additional properties/);
    assert.match(checker.check('GET', '/v1/tasks/t', { status: 200, body: 'a,b', text: 'a,b', headers: headers('text/csv') }).join(), /answered text\/csv/);
    assert.match(checker.check('DELETE', '/v1/session', { status: 200, body: {}, text: '{}', headers: headers('application/json') }).join(), /.+/, 'a 200 where 204 is documented is an error body, which {} is not');
    assert.match(checker.check('GET', '/v1/vpgs/statuses', { status: 200, body: [{ value: 'x', name: 1 }], text: '', headers: headers('application/json') }).join(), /must be integer/, 'static paths win over parameters');
  });
});
