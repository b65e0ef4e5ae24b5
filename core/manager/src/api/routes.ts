// The /v1 routes, shaped after the anchor's REST API (REFERENCE.md): each route file declares its routes
// as RouteSpecs (JSON Schemas with additionalProperties false, the least role that may call it, an
// operationId, every answer's schema, and a handler that turns the request into a call on one part of
// the manager). This file registers them in one order with fastify and adds the error answers every route
// shares: 400 for input, 413/415 for bodies, 401/403 for roles, and a default, all with the Error schema.
import type { FastifyInstance } from 'fastify';
import type { ManagerParts } from '../manager-parts.js';
import type { ManagerMetrics } from '../metrics.js';
import { hashSecret, secretMatches } from '../sites/secret-box.js';
import { tokenOf } from './credentials.js';
import { checkpointRoutes } from './checkpoint-routes.js';
import { draftRoutes } from './draft-routes.js';
import { groupRoutes } from './group-routes.js';
import { imageRoutes } from './image-routes.js';
import { inventoryRoutes } from './inventory-routes.js';
import { monitorRoutes } from './monitor-routes.js';
import { recoveryRoutes } from './recovery-routes.js';
import { errorRef } from './response-schemas.js';
import type { ResponseDoc, RouteSpec, Schema } from './route-spec.js';
import { sessionRoutes } from './session-routes.js';
import { siteRoutes } from './site-routes.js';

const ERROR_TEXT: Record<number, string> = {
  400: 'invalid input: the field is named; nothing was changed',
  401: 'no session, a wrong or expired token (or, for peers, a wrong pairing secret)',
  403: 'the session\'s role may not do this',
  404: 'no such object (group, task, checkpoint, …)',
  409: 'conflicts with the current state (e.g. a recovery operation runs on the group); nothing was changed',
  410: 'the checkpoint was trimmed from the journal',
  413: 'the request body is larger than 1 MiB',
  415: 'the request body is not JSON',
  422: 'a typed error without a more specific status',
  429: 'too many failed logins: wait for Retry-After seconds',
  501: 'the appliance does not offer this',
  502: 'the peer manager cannot be reached or its certificate does not match the pin',
  503: 'an appliance this manager needs cannot be reached',
};

function responseOf(r: ResponseDoc): Schema {
  // Bytes of a file are documented as binary (generators then give a Blob or stream, not text).
  if (r.contentType) {
    const schema = r.contentType === 'application/octet-stream' ? { type: 'string', format: 'binary' } : { type: 'string' };
    return { description: r.description, ...(r.headers ? { headers: r.headers } : {}), content: { [r.contentType]: { schema } } };
  }
  if (r.schema === null) return { description: r.description, type: 'null' };
  if (r.alsoAs) return { description: r.description, content: { 'application/json': { schema: r.schema ?? {} }, [r.alsoAs]: { schema: { type: 'string' } } } };
  return { description: r.description, ...(r.schema ?? {}) };
}

/** The error statuses a route answers, from what it takes and who may call it, plus its own. */
function errorStatuses(r: RouteSpec): number[] {
  const statuses = new Set<number>(r.errors ?? []);
  if (r.params || r.querystring || r.body) statuses.add(400);
  if (r.body) {
    statuses.add(413);
    statuses.add(415);
  }
  if (r.role !== 'public') statuses.add(401);
  if (r.role === 'operator' || r.role === 'admin') statuses.add(403);
  return [...statuses].sort((a, b) => a - b);
}

export function registerRoutes(app: FastifyInstance, parts: ManagerParts, metrics: ManagerMetrics, metricsToken?: string): void {
  const metricsTokenHash = metricsToken === undefined ? undefined : hashSecret(metricsToken);
  const operationIds = new Set<string>();
  const add = (r: RouteSpec): void => {
    if (operationIds.has(r.operationId)) throw new Error(`operationId '${r.operationId}' is used twice`);
    operationIds.add(r.operationId);
    const response: Record<string, Schema> = {};
    for (const [status, doc] of Object.entries(r.responses)) response[status] = responseOf(doc);
    for (const status of errorStatuses(r)) response[String(status)] = { description: ERROR_TEXT[status] ?? 'error', ...errorRef };
    response.default = { description: 'any other failure, with the same error body', ...errorRef };
    app.route({
      method: r.method,
      url: r.url,
      config: { role: r.role },
      schema: {
        operationId: r.operationId,
        summary: r.summary,
        tags: r.tags,
        ...(r.security ? { security: r.security } : r.role === 'public' ? { security: [] } : r.role === 'peer' ? { security: [{ peerSecret: [] }] } : {}),
        ...(r.params ? { params: r.params } : {}),
        ...(r.querystring ? { querystring: r.querystring } : {}),
        ...(r.body ? { body: r.body } : {}),
        ...(r.headers ? { headers: r.headers } : {}),
        response,
      },
      handler: r.handler,
    });
  };
  const documents: RouteSpec[] = [
    {
      method: 'GET', url: '/v1/openapi.json', role: 'public', operationId: 'getOpenApiDocument', tags: ['meta'], summary: 'This API as an OpenAPI 3.1 document',
      responses: { 200: { description: 'the OpenAPI document', schema: { type: 'object' } } },
      handler: async () => {
        const doc = app.swagger() as { servers?: unknown[] };
        // The address this manager answers on first, then the template a generated client fills in.
        return parts.lifecycle.address ? { ...doc, servers: [{ url: parts.lifecycle.address, description: 'this manager' }, ...(doc.servers ?? [])] } : doc;
      },
    },
    {
      method: 'GET', url: '/metrics', role: 'public', operationId: 'getMetrics', tags: ['meta'],
      summary: 'Prometheus metrics (public, unless the manager has a metrics token: then that token as a Bearer token, or a session)',
      responses: { 200: { description: 'Prometheus text exposition format', contentType: 'text/plain' } }, errors: [401],
      security: [{}, { bearer: [] }, { session: [] }],
      handler: async (req, reply) => {
        if (metricsTokenHash !== undefined) {
          const presented = tokenOf(req);
          // The scrape token, compared as hashes in constant time; else it must be a live session.
          if (presented === undefined || !secretMatches(presented, metricsTokenHash)) parts.accounts.authenticate(presented);
        }
        return reply.type(metrics.contentType).send(await metrics.text());
      },
    },
  ];
  for (const routes of [
    sessionRoutes(parts), siteRoutes(parts), inventoryRoutes(parts), groupRoutes(parts), checkpointRoutes(parts), recoveryRoutes(parts), imageRoutes(parts), monitorRoutes(parts), draftRoutes(parts), documents,
  ]) {
    for (const r of routes) add(r);
  }
}
