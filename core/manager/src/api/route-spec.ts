// What every route file of the /v1 REST API shares: the RouteSpec a route is declared as (method, URL,
// least role, JSON Schemas, handler), the schema fragments used across routes, and the helpers that read
// a request. Route files return RouteSpec lists; routes.ts registers them, so whatever every route gains
// later (operationIds, response schemas) is added in one place.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ValidationError } from '@opencdp/core';
import type { Role, SessionRow } from '../store.js';

export type RouteRole = Role | 'public';
export type Json = Record<string, unknown>;
export type Schema = Record<string, unknown>;

declare module 'fastify' {
  interface FastifyContextConfig {
    role?: RouteRole;
  }
  interface FastifyRequest {
    session?: SessionRow;
  }
}

export interface RouteSpec {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  role: RouteRole;
  summary: string;
  tags: string[];
  params?: Schema;
  querystring?: Schema;
  body?: Schema;
  response?: Record<number, Schema>;
  handler: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

// Schema fragments ------------------------------------------------------------------------------------

export const id = { type: 'string', minLength: 1, maxLength: 200 } as const;
export const dateTime = { type: 'string', format: 'date-time' } as const;
/** Query strings stay strings in the schema (nothing is coerced behind the user's back) and are converted by the handler. */
export const intString = { type: 'string', pattern: '^[0-9]{1,9}$' } as const;
export const obj = (properties: Record<string, unknown>, required: string[] = []): Schema => ({ type: 'object', additionalProperties: false, properties, ...(required.length ? { required } : {}) });
export const vpgParams = obj({ vpgIdentifier: id }, ['vpgIdentifier']);
export const taskAnswer = { description: 'the action was accepted; poll GET /v1/tasks/{taskIdentifier}', ...obj({ taskIdentifier: { type: 'string' } }, ['taskIdentifier']) };
export const vmIdentifiers = { type: 'array', items: id, maxItems: 1000 } as const;

export const recoveryPlanSchema = obj({
  hostId: id,
  datastoreId: id,
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
