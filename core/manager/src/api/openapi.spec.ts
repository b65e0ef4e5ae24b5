import { strict as assert } from 'node:assert';
import SwaggerParser from '@apidevtools/swagger-parser';
import type { OpenAPIV3_1 } from 'openapi-types';
import { startWorld, type World } from '../testing/spec-helpers.js';

describe('manager OpenAPI document', () => {
  let w: World;
  before(async () => {
    w = await startWorld();
  });
  after(async () => {
    await w.close();
  });

  it('is served without a session and is a valid OpenAPI 3.1 document', async () => {
    const r = await w.http.get('/v1/openapi.json');
    assert.equal(r.status, 200);
    assert.equal(r.body.openapi, '3.1.0');
    const api = (await SwaggerParser.validate(structuredClone(r.body))) as OpenAPIV3_1.Document;
    assert.ok(api.paths);
  });

  it('lists every registered route, and nothing else', async () => {
    const doc = (await w.http.get('/v1/openapi.json')).body as OpenAPIV3_1.Document;
    const documented = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths ?? {})) {
      for (const method of ['get', 'put', 'post', 'delete', 'patch']) {
        if ((item as Record<string, unknown>)[method]) documented.add(`${method.toUpperCase()} ${path}`);
      }
    }
    const registered = new Set(w.manager.registeredRoutes().map((r) => r.replace(/:([A-Za-z]+)/g, '{$1}')));
    assert.ok(registered.size > 60, `only ${registered.size} routes`);
    assert.deepEqual([...registered].filter((r) => !documented.has(r)), [], 'registered but not documented');
    assert.deepEqual([...documented].filter((r) => !registered.has(r)), [], 'documented but not registered');
    for (const must of ['POST /v1/session/add', 'GET /v1/vpgs', 'POST /v1/vpgs/{vpgIdentifier}/Failover', 'GET /v1/tasks/{taskIdentifier}', 'POST /v1/vpgSettings/{vpgSettingsIdentifier}/commit', 'GET /metrics']) {
      assert.ok(documented.has(must), must);
    }
  });

  it('documents the request schemas (unknown fields refused) and the security schemes', async () => {
    const doc = (await w.http.get('/v1/openapi.json')).body as OpenAPIV3_1.Document;
    const failover = doc.paths?.['/v1/vpgs/{vpgIdentifier}/Failover']?.post as OpenAPIV3_1.OperationObject;
    const schema = (failover.requestBody as OpenAPIV3_1.RequestBodyObject).content['application/json'].schema as OpenAPIV3_1.SchemaObject;
    assert.equal(schema.additionalProperties, false);
    assert.ok(schema.properties?.checkpointIdentifier && schema.properties.commitPolicy);
    assert.deepEqual(Object.keys(doc.components?.securitySchemes ?? {}).sort(), ['basic', 'bearer', 'session']);
    const login = doc.paths?.['/v1/session/add']?.post as OpenAPIV3_1.OperationObject;
    assert.deepEqual(login.security, []);
  });
});
