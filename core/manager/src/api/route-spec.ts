// What every route file of the /v1 REST API shares: the RouteSpec a route is declared as (method, URL,
// least role, operationId, JSON Schemas of the request and of every answer, handler), the schema
// fragments used across routes, and the helpers that read a request. Route files return RouteSpec lists;
// routes.ts registers them, adding the error answers every route shares.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ValidationError } from '@opencdp/core';
import type { Role, SessionRow, SiteRow } from '../store.js';
import { closed, schemaRef, type Schema } from './response-schemas.js';

export type { Schema };

/** `public`: no session; `peer`: a paired manager, by its pairing secret; else the least user role. */
export type RouteRole = Role | 'public' | 'peer';
export type Json = Record<string, unknown>;

declare module 'fastify' {
  interface FastifyContextConfig {
    role?: RouteRole;
  }
  interface FastifyRequest {
    session?: SessionRow;
    /** The paired site that authenticated a `peer` route. */
    peerSite?: SiteRow;
  }
}

/** A documented answer: JSON (`schema`), none (`schema: null`, e.g. 204), or another media type. */
export interface ResponseDoc {
  description: string;
  schema?: Schema | null;
  /** Media type when not JSON (text/csv, application/octet-stream, text/plain); the body is then a string. */
  contentType?: string;
  /** Another media type the same answer may come as, on request (e.g. text/csv with ?format=csv). */
  alsoAs?: string;
  /** Response headers worth documenting (Content-Range of a partial download, a file's hash), by name: each a schema with its description. */
  headers?: Record<string, Schema>;
}

export interface RouteSpec {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  role: RouteRole;
  /** Unique, stable name of the operation (client generators name their functions after it). */
  operationId: string;
  summary: string;
  tags: string[];
  params?: Schema;
  querystring?: Schema;
  body?: Schema;
  /** Request headers the route reads (e.g. Range), as an open object schema (other headers pass). */
  headers?: Schema;
  /** Every success answer by status. */
  responses: Record<number, ResponseDoc>;
  /** Error statuses this route can answer beyond what every route of its kind can (404, 409, 429, 502, 503, …). */
  errors?: number[];
  /** Security requirements when not the role's (e.g. Basic auth on the login route). */
  security?: Array<Record<string, string[]>>;
  handler: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

/** A JSON answer documented by a component schema or an inline one. */
export const json = (description: string, schema: Schema | string): ResponseDoc => ({ description, schema: typeof schema === 'string' ? schemaRef(schema) : schema });
/** A JSON list of a component. */
export const listOf = (description: string, component: string): ResponseDoc => ({ description, schema: { type: 'array', items: schemaRef(component) } });
export const noContent = (description: string): ResponseDoc => ({ description, schema: null });
/** The answer of an action: the task to poll plus what else it tells (a new group's id, a tag's checkpoint id). */
export const taskStarted = (extra: Record<string, unknown> = {}, description = 'the action was accepted; poll GET /v1/tasks/{taskIdentifier}'): ResponseDoc => ({
  description, schema: closed({ taskIdentifier: { type: 'string' }, ...extra }),
});

// Schema fragments ------------------------------------------------------------------------------------

export const id = { type: 'string', minLength: 1, maxLength: 200 } as const;
export const dateTime = { type: 'string', format: 'date-time' } as const;
/** Query strings stay strings in the schema (nothing is coerced behind the user's back) and are converted by the handler. */
export const intString = { type: 'string', pattern: '^[0-9]{1,9}$' } as const;
export const obj = (properties: Record<string, unknown>, required: string[] = []): Schema => ({ type: 'object', additionalProperties: false, properties, ...(required.length ? { required } : {}) });
export const vpgParams = obj({ vpgIdentifier: id }, ['vpgIdentifier']);
export const vmIdentifiers = { type: 'array', items: id, maxItems: 1000 } as const;

/** A pre- or post-recovery script: a file name in the recovery appliance's scripts folder, its parameters, its timeout. */
export const recoveryScriptSchema = obj({
  command: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$', description: 'file name of an executable in the recovery appliance\'s scripts folder' },
  parameters: { type: 'array', maxItems: 32, items: { type: 'string', maxLength: 1024 } },
  timeoutSeconds: { type: 'integer', minimum: 1, maximum: 3600 },
}, ['command', 'timeoutSeconds']);

export const recoveryPlanSchema = obj({
  hostId: id,
  datastoreId: id,
  vms: { type: 'array', maxItems: 1000, items: obj({ vmId: id, hostId: id, datastoreId: id }, ['vmId']) },
  scripts: obj({ preRecovery: recoveryScriptSchema, postRecovery: recoveryScriptSchema }),
  bootGroups: { type: 'array', maxItems: 100, items: obj({ name: { type: 'string', minLength: 1, maxLength: 80 }, delaySeconds: { type: 'integer', minimum: 0, maximum: 86_400 }, vmIds: vmIdentifiers }, ['name', 'delaySeconds', 'vmIds']) },
  nics: {
    type: 'array', maxItems: 1000,
    items: obj({ vmId: id, nicIndex: { type: 'integer', minimum: 0, maximum: 64 }, liveNetworkId: id, testNetworkId: id, liveIpv4: { type: 'string', format: 'ipv4' }, testIpv4: { type: 'string', format: 'ipv4' } }, ['vmId', 'nicIndex', 'liveNetworkId', 'testNetworkId']),
  },
});

// Reading a request (its parts were validated by the route's schemas) ------------------------------------

export const params = (req: FastifyRequest): Record<string, string> => req.params as Record<string, string>;
export const query = (req: FastifyRequest): Record<string, string | undefined> => req.query as Record<string, string | undefined>;
export const body = (req: FastifyRequest): Json => (req.body ?? {}) as Json;
/** The user of the request's session (routes with a role always have one). */
export const userOf = (req: FastifyRequest): string | undefined => req.session?.user;
/** The answer of an action: the task to poll, and what else the route tells. */
export const taskBody = (taskIdentifier: string, extra: Json = {}): Json => ({ taskIdentifier, ...extra });

export function dateOf(value: string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new ValidationError(`'${field}' is not a date-time`, field);
  return t;
}
