// The fastify server of the /v1 REST API: HTTPS (plain HTTP only on loopback, or when insisted on), the
// usual security headers on every answer (HSTS over HTTPS), authentication and roles on every route (a
// route's `config.role`; paired managers by their pairing secret, checked before their input is), inputs
// validated by the route's JSON Schemas with ajv set to neither strip unknown fields nor coerce types, one
// error body `{error, message, field}` for every failure, and the OpenAPI document generated from the same
// schemas by @fastify/swagger. RestServer is what the manager's lifecycle starts and stops.
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import helmet from '@fastify/helmet';
import swagger from '@fastify/swagger';
import { isLoopbackHost, OpenCdpError, ValidationError, schemaError } from '@opencdp/core';
import type { ErrorObject } from 'ajv';
import { roleAllows } from '../accounts/accounts.js';
import { ForbiddenError, httpStatusOf, TooManyAttemptsError } from '../errors.js';
import type { ManagerHttpServer } from '../manager-http-server.js';
import type { ManagerParts } from '../manager-parts.js';
import type { ManagerMetrics } from '../metrics.js';
import { PEER_SECRET_HEADER } from '../sites/peer-transports.js';
import { SESSION_HEADER, tokenOf } from './credentials.js';
import { responseSchemas } from './response-schemas.js';
import { registerRoutes } from './routes.js';

export interface RestServerOptions {
  /** HTTPS with this certificate and key (PEM). */
  tls?: { certPem: string; keyPem: string };
  /** Allows plain HTTP beyond loopback. */
  insecureHttp?: boolean;
  /** The token that reads /metrics without a session (none: /metrics is public). */
  metricsToken?: string;
}

/** Largest request body (a group definition with 1000 VMs fits many times over). */
export const BODY_LIMIT_BYTES = 1024 * 1024;

const TAGS: Array<{ name: string; description: string }> = [
  { name: 'session', description: 'Log in (Basic auth) and out, whose session a token is, change one\'s own password' },
  { name: 'users', description: 'Users and roles (viewer reads, operator acts, admin also manages users and pairing)' },
  { name: 'sites', description: 'This site, paired sites, pairing, and the appliances this manager drives' },
  { name: 'inventory', description: 'The platforms this manager reaches: VMs, hosts, networks, datastores, folders, volumes' },
  { name: 'vpgs', description: 'Protection groups (VPGs): create, list, delete, pause, resume, force sync' },
  { name: 'lookups', description: 'The enum codes the API uses' },
  { name: 'checkpoints', description: 'Checkpoints of a group; tagged checkpoints' },
  { name: 'recovery', description: 'Failover test, failover, move, clone, and their commit and rollback' },
  { name: 'file restore', description: 'Files from a checkpoint of a VM volume' },
  { name: 'vms', description: 'Protected VMs with their figures' },
  { name: 'tasks', description: 'Every action is a task: poll, cancel' },
  { name: 'events', description: 'Every traceable change' },
  { name: 'alerts', description: 'Standing alerts, dismiss and undismiss' },
  { name: 'reports', description: 'Recovery reports' },
  { name: 'vpgSettings', description: 'Settings drafts: open, edit part by part, commit into a group' },
  { name: 'meta', description: 'This document and the Prometheus metrics' },
];

/** Builds the server with every route; `routes` collects `METHOD url` of each as it registers. */
export async function buildServer(parts: ManagerParts, metrics: ManagerMetrics, routes: string[] = [], options: RestServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: parts.log.child({ component: 'rest' }) as unknown as FastifyBaseLogger,
    exposeHeadRoutes: false,
    bodyLimit: BODY_LIMIT_BYTES,
    // Long path parameters reach the route's schema (which refuses them with 400 naming the field) instead of the router's bare 414.
    routerOptions: { maxParamLength: 4096 },
    // The router's own refusals (a malformed URL) answer with the same error body as everything else.
    frameworkErrors: (error, _req, reply) => {
      void (reply as unknown as { status(n: number): { send(b: unknown): unknown } }).status(400).send({ error: error.code ?? 'BAD_REQUEST', message: error.message, field: null });
    },
    ...(options.tls ? { https: { key: options.tls.keyPem, cert: options.tls.certPem, minVersion: 'TLSv1.2' as const } } : {}),
    ajv: {
      // Unknown fields are errors (additionalProperties: false), not silently dropped; types are never coerced.
      customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: true, strict: false },
    },
  });
  // Answers are serialized as they are: response schemas document them (and the API tests check them); a
  // schema-driven serializer would silently drop a field the schema forgot.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) routes.push(`${method} ${r.url}`);
  });
  for (const [id, schema] of Object.entries(responseSchemas)) app.addSchema({ $id: id, ...schema });

  await app.register(helmet, {
    // An API, not pages: nothing may be framed, scripted or embedded; HSTS only means something over HTTPS.
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] } },
    hsts: options.tls ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    crossOriginResourcePolicy: { policy: 'same-origin' },
    xFrameOptions: { action: 'deny' },
  });
  app.addHook('onRequest', async (_req, reply) => {
    // Answers carry sessions, secrets and state: never kept by a cache.
    void reply.header('cache-control', 'no-store');
  });

  await app.register(swagger, {
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'OpenCDP manager REST API', version: '1.0.0', license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
        description: 'Shaped after the anchor\'s /v1 API: log in with POST /v1/session/add (Basic auth), send the token in x-zerto-session or as a Bearer token. Served over HTTPS; clients pin the manager\'s certificate by its SHA-256 fingerprint or trust its PEM.',
      },
      servers: [{
        url: '{scheme}://{host}:{port}', description: 'a manager (`opencdp manager start`)',
        variables: { scheme: { enum: ['https', 'http'], default: 'https' }, host: { default: 'localhost' }, port: { default: '9080' } },
      }],
      tags: TAGS,
      components: {
        securitySchemes: {
          session: { type: 'apiKey', in: 'header', name: SESSION_HEADER, description: 'the token from POST /v1/session/add' },
          bearer: { type: 'http', scheme: 'bearer', description: 'the same token as a Bearer token' },
          basic: { type: 'http', scheme: 'basic', description: 'user and password, on POST /v1/session/add only' },
          peerSecret: { type: 'apiKey', in: 'header', name: PEER_SECRET_HEADER, description: 'a paired manager\'s secret from pairing' },
        },
      },
      security: [{ session: [] }, { bearer: [] }],
    },
  });

  app.addHook('onRequest', async (req) => {
    const role = req.routeOptions.config?.role;
    if (!role || role === 'public') return;
    if (role === 'peer') {
      // Before the body is even validated: an anonymous caller learns nothing about this route's input.
      const secret = req.headers[PEER_SECRET_HEADER];
      req.peerSite = parts.peering.authenticatePeer(typeof secret === 'string' ? secret : undefined);
      return;
    }
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
      if (e instanceof TooManyAttemptsError) void reply.header('retry-after', String(Math.ceil(e.retryAfterMs / 1000)));
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
    void reply.status(404).send({ error: 'NOT_FOUND', message: `no route ${req.method} ${req.url.slice(0, 200)}`, field: null });
  });

  registerRoutes(app, parts, metrics, options.metricsToken);
  await app.ready();
  return app;
}

/** The REST API as the manager's HTTP port: built on the first `listen`. */
export class RestServer implements ManagerHttpServer {
  private app?: FastifyInstance;
  private readonly registered: string[] = [];

  constructor(private readonly parts: ManagerParts, private readonly metrics: ManagerMetrics, private readonly options: RestServerOptions = {}) {}

  async listen(host: string, port: number): Promise<string> {
    if (!this.options.tls && !this.options.insecureHttp && !isLoopbackHost(host)) {
      throw new ValidationError(`the REST API on ${host} would be plain HTTP: passwords and session tokens would cross the network in clear`, 'listen',
        'serve HTTPS (a certificate and key, or the self-signed one `opencdp manager start` makes), listen on loopback, or insist with --insecure-http');
    }
    this.app = await buildServer(this.parts, this.metrics, this.registered, this.options);
    await this.app.listen({ host, port });
    const addr = this.app.server.address() as AddressInfo;
    const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return `${this.options.tls ? 'https' : 'http'}://${h}:${addr.port}`;
  }

  async close(): Promise<void> {
    await this.app?.close();
  }

  routes(): string[] {
    return [...this.registered];
  }
}
