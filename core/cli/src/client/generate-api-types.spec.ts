import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { apiTypesSource, GENERATED_FILE, managerOpenApiDocument } from './generate-api-types.js';

describe('the CLI\'s typed client and the manager\'s OpenAPI document', function () {
  this.timeout(120_000);

  it('the committed opencdp-api.ts is what openapi-typescript generates from the document today (run `npm run gen:api -w @opencdp/cli` when this fails)', async () => {
    const doc = await managerOpenApiDocument();
    const fresh = await apiTypesSource(doc);
    const committed = await readFile(GENERATED_FILE, 'utf8');
    if (fresh !== committed) {
      const a = fresh.split('\n');
      const b = committed.split('\n');
      const line = a.findIndex((l, i) => l !== b[i]);
      assert.fail(`opencdp-api.ts drifted from the document at line ${line + 1}:\n  generated: ${a[line]}\n  committed: ${b[line]}`);
    }
    // It types what the CLI uses: the operations and the components it reads.
    for (const name of ['"/v1/vpgs/{vpgIdentifier}/Failover"', 'createVpg:', 'Task: {', 'Error: {']) assert.ok(committed.includes(name), name);
  });
});
