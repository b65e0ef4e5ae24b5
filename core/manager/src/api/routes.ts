// The /v1 routes, shaped after the anchor's REST API (REFERENCE.md): each route file declares its routes
// as RouteSpecs (JSON Schemas with additionalProperties false, the least role that may call it, and a
// handler that turns the request into a call on one part of the manager). This file registers them in
// one order with fastify, which is where anything every route gains (operationIds, response schemas)
// belongs. Actions answer `{taskIdentifier}`.
import type { FastifyInstance } from 'fastify';
import type { ManagerParts } from '../manager-parts.js';
import type { ManagerMetrics } from '../metrics.js';
import { checkpointRoutes } from './checkpoint-routes.js';
import { draftRoutes } from './draft-routes.js';
import { groupRoutes } from './group-routes.js';
import { imageRoutes } from './image-routes.js';
import { monitorRoutes } from './monitor-routes.js';
import { recoveryRoutes } from './recovery-routes.js';
import type { RouteSpec } from './route-spec.js';
import { sessionRoutes } from './session-routes.js';
import { siteRoutes } from './site-routes.js';

export function registerRoutes(app: FastifyInstance, parts: ManagerParts, metrics: ManagerMetrics): void {
  const add = (r: RouteSpec): void => {
    app.route({
      method: r.method,
      url: r.url,
      config: { role: r.role },
      schema: {
        summary: r.summary,
        tags: r.tags,
        ...(r.role === 'public' ? { security: [] } : {}),
        ...(r.params ? { params: r.params } : {}),
        ...(r.querystring ? { querystring: r.querystring } : {}),
        ...(r.body ? { body: r.body } : {}),
        ...(r.response ? { response: r.response } : {}),
      },
      handler: r.handler,
    });
  };
  const documents: RouteSpec[] = [
    { method: 'GET', url: '/v1/openapi.json', role: 'public', tags: ['meta'], summary: 'This API as an OpenAPI 3.1 document', handler: async () => app.swagger() },
    {
      method: 'GET', url: '/metrics', role: 'public', tags: ['meta'], summary: 'Prometheus metrics',
      handler: async (_req, reply) => reply.type(metrics.contentType).send(await metrics.text()),
    },
  ];
  for (const routes of [
    sessionRoutes(parts), siteRoutes(parts), groupRoutes(parts), checkpointRoutes(parts), recoveryRoutes(parts), imageRoutes(parts), monitorRoutes(parts), draftRoutes(parts), documents,
  ]) {
    for (const r of routes) add(r);
  }
}
