// The fastify server of the /v1 REST API: authentication and roles on every route (a route's `config.role`),
// inputs validated by the route's JSON Schemas with ajv set to neither strip unknown fields nor coerce
// types, one error body `{error, message, field}` for every failure, and the OpenAPI document generated
// from the same schemas by @fastify/swagger. RestServer is what the manager's lifecycle starts and stops.
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { OpenCdpError, ValidationError, schemaError } from '@opencdp/core';
import type { ErrorObject } from 'ajv';
import { roleAllows } from '../accounts/accounts.js';
import { ForbiddenError, httpStatusOf } from '../errors.js';
import type { ManagerHttpServer } from '../manager-http-server.js';
import type { ManagerParts } from '../manager-parts.js';
import type { ManagerMetrics } from '../metrics.js';
import { SESSION_HEADER, tokenOf } from './credentials.js';
import { registerRoutes } from './routes.js';

/** Builds the server with every route; `routes` collects `METHOD url` of each as it registers. */
export async function buildServer(parts: ManagerParts, metrics: ManagerMetrics, routes: string[] = []): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: parts.log.child({ component: 'rest' }) as unknown as FastifyBaseLogger,
    exposeHeadRoutes: false,
    bodyLimit: 1024 * 1024,
    ajv: {
      // Unknown fields are errors (additionalProperties: false), not silently dropped; types are never coerced.
      customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: true, strict: false },
    },
  });
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) routes.push(`${method} ${r.url}`);
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'OpenCDP manager REST API', version: '1.0.0', description: 'Shaped after the anchor\'s /v1 API: log in with POST /v1/session/add (Basic auth), send the token in x-zerto-session or as a Bearer token.' },
      components: {
        securitySchemes: {
          session: { type: 'apiKey', in: 'header', name: SESSION_HEADER },
          bearer: { type: 'http', scheme: 'bearer' },
          basic: { type: 'http', scheme: 'basic' },
        },
      },
      security: [{ session: [] }, { bearer: [] }],
    },
  });

  app.addHook('onRequest', async (req) => {
    const role = req.routeOptions.config?.role;
    if (!role || role === 'public') return;
    const session = parts.accounts.authenticate(tokenOf(req));
    if (!roleAllows(session.role, role)) throw new ForbiddenError(session.role, role);
    req.session = session;
  });

  // A POST without a body (curl -X POST …/pause) validates as an empty object, so required fields still fail by name.
  app.addHook('preValidation', async (req) => {
    if (req.body === undefined && req.routeOptions.schema?.body) (req as { body: unknown }).body = {};
  });

  app.setErrorHandler((error: FastifyError & { validation?: ErrorObject[]; validationContext?: string }, req, reply) => {
    let status: number;
    let body: { error: string; message: string; field: string | null; hint?: string };
    if (error.validation) {
      const v = schemaError(error.validationContext ?? 'request', error.validation);
      status = 400;
      body = { error: v.code, message: v.message, field: v.field ?? null };
    } else if (error instanceof OpenCdpError) {
      const e: OpenCdpError = error;
      status = httpStatusOf(e);
      body = { error: e.code, message: e.message, field: e instanceof ValidationError ? e.field ?? null : null, ...(e.hint ? { hint: e.hint } : {}) };
    } else if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      status = error.statusCode;
      body = { error: error.code ?? 'BAD_REQUEST', message: error.message, field: null };
    } else {
      status = 500;
      body = { error: 'INTERNAL', message: 'internal error; the manager log has the details', field: null };
      req.log.error({ err: error }, 'unexpected error');
    }
    if (status === 401) reply.header('www-authenticate', 'Basic realm="opencdp", Bearer');
    void reply.status(status).send(body);
  });

  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ error: 'NOT_FOUND', message: `no route ${req.method} ${req.url}`, field: null });
  });

  registerRoutes(app, parts, metrics);
  await app.ready();
  return app;
}

/** The REST API as the manager's HTTP port: built on the first `listen`. */
export class RestServer implements ManagerHttpServer {
  private app?: FastifyInstance;
  private readonly registered: string[] = [];

  constructor(private readonly parts: ManagerParts, private readonly metrics: ManagerMetrics) {}

  async listen(host: string, port: number): Promise<string> {
    this.app = await buildServer(this.parts, this.metrics, this.registered);
    await this.app.listen({ host, port });
    const addr = this.app.server.address() as AddressInfo;
    const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return `http://${h}:${addr.port}`;
  }

  async close(): Promise<void> {
    await this.app?.close();
  }

  routes(): string[] {
    return [...this.registered];
  }
}
