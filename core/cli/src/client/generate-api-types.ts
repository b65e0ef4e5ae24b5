// Generates the typed client's types (opencdp-api.ts) from the manager's OpenAPI document with
// openapi-typescript, so the CLI and the API cannot drift apart: a spec regenerates them in memory and
// fails when the committed file differs. Run `npm run gen:api -w @opencdp/cli` after changing a route.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildServer, ManagerMetrics, startManager } from '@opencdp/manager';
import openapiTS, { astToString } from 'openapi-typescript';
import { pino } from 'pino';

export const GENERATED_FILE = fileURLToPath(new URL('../../src/client/opencdp-api.ts', import.meta.url));

const HEADER = `// The manager's /v1 REST API as TypeScript types, generated from its OpenAPI document by openapi-typescript
// (client/generate-api-types.ts). Do not edit: run \`npm run gen:api -w @opencdp/cli\` after changing a route;
// a spec fails when this file and the document drift apart. The CLI's client (openapi-fetch) is typed by it.
/* eslint-disable */
`;

/** The OpenAPI document of a manager, built without listening (no address: the servers are the template). */
export async function managerOpenApiDocument(): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(path.join(tmpdir(), 'opencdp-openapi-'));
  const manager = await startManager({ dataDir: dir, siteId: 'site-a', appliances: [], logger: pino({ level: 'silent' }) });
  try {
    const app = await buildServer(manager.parts, new ManagerMetrics(manager.parts));
    // @fastify/swagger decorates the instance; its type augmentation lives in the manager's package.
    const doc = (app as unknown as { swagger(): Record<string, unknown> }).swagger();
    await app.close();
    return structuredClone(doc);
  } finally {
    await manager.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The source of opencdp-api.ts for a document. */
export async function apiTypesSource(document: Record<string, unknown>): Promise<string> {
  const ast = await openapiTS(document as unknown as Parameters<typeof openapiTS>[0], { alphabetize: true });
  return HEADER + astToString(ast);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const source = await apiTypesSource(await managerOpenApiDocument());
  await writeFile(GENERATED_FILE, source);
  console.log(`wrote ${GENERATED_FILE} (${source.length} characters)`);
}
