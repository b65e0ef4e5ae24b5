// The fastify server of the /v1 REST API: authentication and roles on every route (a route's `config.role`),
// inputs validated by the route's JSON Schemas with ajv set to neither strip unknown fields nor coerce
// types, one error body `{error, message, field}` for every failure, and the OpenAPI document generated
// from the same schemas by @fastify/swagger.
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import { OpenCdpError, ValidationError, schemaError } from '@opencdp/core';
import type { ErrorObject } from 'ajv';
import { AuthenticationError, ForbiddenError, httpStatusOf } from '../errors.js';
import { REGISTERED_ROUTES_KEY, roleAllows, type Manager } from '../manager.js';
import type { Role, SessionRow } from '../store.js';
import { registerRoutes } from './routes.js';

export type RouteRole = Role | 'public';

declare module 'fastify' {
  interface FastifyContextConfig {
    role?: RouteRole;
  }
  interface FastifyRequest {
    session?: SessionRow;
  }
}

export const SESSION_HEADER = 'x-zerto-session';


export async function buildServer(manager: Manager): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: manager.log.child({ component: 'rest' }) as unknown as FastifyBaseLogger,
    exposeHeadRoutes: false,
    bodyLimit: 1024 * 1024,
    ajv: {
      // Unknown fields are errors (additionalProperties: false), not silently dropped; types are never coerced.
      customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: true, strict: false },
    },
  });
  const routes: string[] = [];
  app.decorate(REGISTERED_ROUTES_KEY, routes);
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
    const session = manager.authenticate(tokenOf(req));
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

  registerRoutes(app, manager);
  await app.ready();
  return app;
}

function tokenOf(req: FastifyRequest): string | undefined {
  const header = req.headers[SESSION_HEADER];
  if (typeof header === 'string' && header) return header;
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
  return undefined;
}

/** Parses `Authorization: Basic …` into user and password. */
export function basicCredentials(req: FastifyRequest): { user: string; password: string } {
  const auth = req.headers.authorization;
  if (!auth?.startsWith('Basic ')) throw new AuthenticationError('POST /v1/session/add needs Basic authentication');
  const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) throw new AuthenticationError('malformed Basic credentials');
  return { user: decoded.slice(0, i), password: decoded.slice(i + 1) };
}
