// Checks every answer the API tests receive against the OpenAPI document the manager serves: the status
// must be documented for the operation (or by its `default`), the media type must be one it lists, and a
// JSON body must match the schema (objects are closed, so an undocumented field fails too). The document
// is fetched once per test process, dereferenced with swagger-parser and compiled with ajv (JSON Schema
// 2020-12, the dialect of OpenAPI 3.1).
import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { ValidateFunction } from 'ajv';
import type { OpenAPIV3_1 } from 'openapi-types';

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

interface Operation {
  method: string;
  template: string;
  pattern: RegExp;
  params: number;
  responses: Record<string, OpenAPIV3_1.ResponseObject>;
}

interface Answer {
  status: number;
  body: unknown;
  text: string;
  headers: Headers;
}

/** A compiled view of the document: operations by path pattern and a validator per response schema. */
export class OpenApiChecker {
  private readonly validators = new Map<object, ValidateFunction>();
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });

  constructor(private readonly operations: Operation[], private readonly errorSchema: object) {
    (addFormats as unknown as (a: Ajv2020) => void)(this.ajv);
  }

  static async fromDocument(document: unknown): Promise<OpenApiChecker> {
    const doc = (await SwaggerParser.dereference(structuredClone(document) as OpenAPIV3_1.Document)) as OpenAPIV3_1.Document;
    const operations: Operation[] = [];
    for (const [template, item] of Object.entries(doc.paths ?? {})) {
      for (const method of ['get', 'put', 'post', 'delete', 'patch'] as const) {
        const op = (item as Record<string, OpenAPIV3_1.OperationObject | undefined>)[method];
        if (!op) continue;
        const source = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+');
        operations.push({ method: method.toUpperCase(), template, pattern: new RegExp(`^${source}$`), params: (template.match(/\{/g) ?? []).length, responses: (op.responses ?? {}) as Record<string, OpenAPIV3_1.ResponseObject> });
      }
    }
    // Fastify prefers static segments to parameters: so does the lookup.
    operations.sort((a, b) => a.params - b.params);
    return new OpenApiChecker(operations, (doc.components?.schemas?.Error ?? {}) as object);
  }

  /** What is wrong with `answer` to `method path` (empty when it is as documented). */
  check(method: string, path: string, answer: Answer): string[] {
    const bare = path.split('?')[0];
    const op = this.operations.find((o) => o.method === method && o.pattern.test(bare));
    const mediaType = (answer.headers.get('content-type') ?? '').split(';')[0].trim();
    if (!op) {
      // No such route: fastify's not-found answer must still be the error body.
      return answer.status === 404 ? this.validate(this.errorSchema, answer.body, `${method} ${bare} (no route) 404`) : [`${method} ${bare}: no documented operation, yet answered ${answer.status}`];
    }
    const where = `${method} ${op.template} → ${answer.status}`;
    const response = op.responses[String(answer.status)] ?? op.responses.default;
    if (!response) return [`${where}: status not documented`];
    const content = response.content ?? {};
    if (Object.keys(content).length === 0) return answer.text === '' ? [] : [`${where}: documented without a body, answered ${answer.text.slice(0, 80)}`];
    const media = content[mediaType];
    if (!media) return [`${where}: answered ${mediaType || 'no content type'}, documented ${Object.keys(content).join(', ')}`];
    if (mediaType !== 'application/json') return typeof answer.body === 'string' || answer.text === '' ? [] : [`${where}: expected a ${mediaType} body`];
    return this.validate((media.schema ?? {}) as object, answer.body, where);
  }

  private validate(schema: object, body: unknown, where: string): string[] {
    let v = this.validators.get(schema);
    if (!v) {
      v = this.ajv.compile(schema);
      this.validators.set(schema, v);
    }
    if (v(body)) return [];
    return (v.errors ?? []).map((e) => `${where}: body${e.instancePath} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`);
  }
}

let shared: Promise<OpenApiChecker> | undefined;

/** The checker for this test process (the document is the same for every manager the tests start). */
export function checkerFor(base: string, fetchFn: Fetch): Promise<OpenApiChecker> {
  shared ??= (async () => {
    const res = await fetchFn(`${base}/v1/openapi.json`);
    return OpenApiChecker.fromDocument(await res.json());
  })();
  return shared;
}

/** Throws when an answer does not match the document. */
export async function checkResponse(base: string, method: string, path: string, answer: Answer, fetchFn: Fetch): Promise<void> {
  const problems = (await checkerFor(base, fetchFn)).check(method, path, answer);
  if (problems.length > 0) throw new Error(`the answer does not match the OpenAPI document:\n  ${problems.slice(0, 10).join('\n  ')}`);
}
