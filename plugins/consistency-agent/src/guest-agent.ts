// The guest agent service: a small HTTP server inside the guest (loopback unless configured otherwise,
// bearer-token auth) through which the kernel freezes and thaws the guest around an application-
// consistent checkpoint. Bad input changes nothing and gets a 4xx with a JSON error body.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OpenCdpError, SystemClock } from '@opencdp/core';
import type { Clock } from '@opencdp/core';
import { MAX_MAX_FREEZE_MS } from './config.js';
import type { AgentConfig } from './config.js';
import { AgentConfigError, FreezeBusyError, FreezeExpiredError, QuiesceFailedError, ThawIncompleteError } from './errors.js';
import { FsfreezeCommand } from './filesystem-freezer.js';
import type { FilesystemFreezer } from './filesystem-freezer.js';
import { GuestFreezer } from './guest-freezer.js';
import type { AgentLog } from './guest-freezer.js';
import { FREEZE_PATH, STATUS_PATH, THAW_PATH } from './protocol.js';
import type { ErrorBody, FreezeRequest, ThawRequest } from './protocol.js';

const MAX_BODY_BYTES = 64 * 1024;

/** HTTP status for each error code the agent sends; anything else is a 500. */
const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  BAD_JSON: 400,
  VALIDATION: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  UNKNOWN_TOKEN: 404,
  METHOD_NOT_ALLOWED: 405,
  FREEZE_BUSY: 409,
  ALREADY_THAWED: 409,
  FREEZE_EXPIRED: 410,
  BODY_TOO_LARGE: 413,
  QUIESCE_FAILED: 500,
  THAW_INCOMPLETE: 500,
};

/** An error answer built here (bad request, auth, routing) rather than by the freezer. */
class HttpProblem extends OpenCdpError {}

export interface GuestAgentServerOptions {
  freezer: GuestFreezer;
  /** Bearer token every request must carry. */
  authToken: string;
  /** Default 127.0.0.1: nothing outside the guest reaches the agent unless the config says so. */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  log?: AgentLog;
}

export class GuestAgentServer {
  private readonly server: Server;
  private readonly tokenDigest: Buffer;
  private readonly log: AgentLog;
  private address: AddressInfo | undefined;

  constructor(private readonly options: GuestAgentServerOptions) {
    this.tokenDigest = digest(options.authToken);
    this.log = options.log ?? (() => undefined);
    this.server = createServer((req, res) => { void this.handle(req, res); });
  }

  get freezer(): GuestFreezer {
    return this.options.freezer;
  }

  /** Base URL once listening, e.g. `http://127.0.0.1:9480`. */
  get url(): string {
    if (!this.address) throw new Error('the guest agent is not listening');
    const host = this.address.family === 'IPv6' ? `[${this.address.address}]` : this.address.address;
    return `http://${host}:${this.address.port}`;
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.address = this.server.address() as AddressInfo;
    this.log('info', `guest agent listening on ${this.url}`);
    return this.url;
  }

  /** Stops taking requests, thaws whatever is frozen, and closes. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    await this.options.freezer.close();
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let callerGone = false;
    res.on('close', () => { if (!res.writableFinished) callerGone = true; });
    try {
      if (!this.authorized(req)) {
        this.log('warn', `refused ${req.method} ${req.url} from ${req.socket.remoteAddress}: bad or missing bearer token`);
        res.setHeader('WWW-Authenticate', 'Bearer realm="opencdp-guest-agent"');
        throw new HttpProblem('UNAUTHORIZED', 'missing or wrong bearer token', 'send Authorization: Bearer <the agent token>');
      }
      const path = new URL(req.url ?? '/', 'http://agent').pathname;
      const method = ({ [FREEZE_PATH]: 'POST', [THAW_PATH]: 'POST', [STATUS_PATH]: 'GET' } as Record<string, string>)[path];
      if (!method) throw new HttpProblem('NOT_FOUND', `no such endpoint: ${path}`, `use ${FREEZE_PATH}, ${THAW_PATH} or ${STATUS_PATH}`);
      if (req.method !== method) {
        res.setHeader('Allow', method);
        throw new HttpProblem('METHOD_NOT_ALLOWED', `${path} takes ${method}, not ${req.method}`);
      }
      if (path === STATUS_PATH) return send(res, 200, this.freezer.status());
      const body = await readJson(req);
      if (path === FREEZE_PATH) {
        const result = await this.freezer.freeze(parseFreezeRequest(body));
        if (callerGone) {
          // Nobody holds the token now, so nobody would thaw: do it instead of waiting for the watchdog.
          this.log('warn', 'the caller went away before it got the freeze token: thawing now');
          await this.freezer.abandon(result.token);
          return;
        }
        return send(res, 200, result);
      }
      return send(res, 200, await this.freezer.thaw(parseThawRequest(body).token));
    } catch (error) {
      sendError(res, error);
    }
  }

  private authorized(req: IncomingMessage): boolean {
    const match = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    // Digests first: timingSafeEqual needs equal lengths, and comparing digests leaks nothing about the token.
    return match !== null && timingSafeEqual(digest(match[1]!), this.tokenDigest);
  }
}

export interface GuestAgentDeps {
  clock?: Clock;
  /** Default: `fsfreeze` (or the config's freezeCommand). Tests pass a fake. */
  freezer?: FilesystemFreezer;
  log?: AgentLog;
  /** Overrides the config's listen port (0 = any free port). */
  port?: number;
}

/** Builds (but does not start) the guest agent a config file describes. */
export function createGuestAgent(config: AgentConfig, deps: GuestAgentDeps = {}): GuestAgentServer {
  if (config.authToken === undefined) {
    throw new AgentConfigError('the guest agent service needs authToken or authTokenFile', config.file, 'authToken');
  }
  const freezer = new GuestFreezer({
    hooks: config.hooks,
    mounts: config.mounts,
    maxFreezeMs: config.maxFreezeMs,
    clock: deps.clock ?? new SystemClock(),
    freezer: deps.freezer ?? new FsfreezeCommand(config.freezeCommand ? { command: config.freezeCommand } : {}),
    cwd: config.dir,
    ...(deps.log ? { log: deps.log } : {}),
  });
  return new GuestAgentServer({
    freezer,
    authToken: config.authToken,
    host: config.listen.host,
    port: deps.port ?? config.listen.port,
    ...(deps.log ? { log: deps.log } : {}),
  });
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  // Past the limit, keep draining without keeping: leaving the loop would destroy the socket before the 413.
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  }
  if (size > MAX_BODY_BYTES) throw new HttpProblem('BODY_TOO_LARGE', `request body over ${MAX_BODY_BYTES} bytes`);
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HttpProblem('BAD_JSON', `the body is not JSON: ${(error as Error).message}`, 'send a JSON object');
  }
}

function bodyObject(body: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpProblem('VALIDATION', 'the body must be a JSON object');
  const record = body as Record<string, unknown>;
  const unknown = Object.keys(record).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) throw new HttpProblem('VALIDATION', `unknown field(s): ${unknown.join(', ')}`, `allowed: ${allowed.join(', ') || 'none'}`);
  return record;
}

/** Hand-validated: two one-field bodies do not justify a schema library in the guest. */
function parseFreezeRequest(body: unknown): FreezeRequest {
  const { timeoutMs } = bodyObject(body, ['timeoutMs']);
  if (timeoutMs === undefined) return {};
  if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_MAX_FREEZE_MS) {
    throw new HttpProblem('VALIDATION', `timeoutMs must be a whole number from 1 to ${MAX_MAX_FREEZE_MS}`);
  }
  return { timeoutMs };
}

function parseThawRequest(body: unknown): ThawRequest {
  const { token } = bodyObject(body, ['token']);
  if (typeof token !== 'string' || token === '') throw new HttpProblem('VALIDATION', 'token must be the non-empty string the freeze returned');
  return { token };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
  res.end(text);
}

function sendError(res: ServerResponse, error: unknown): void {
  const known = error instanceof OpenCdpError;
  const code = known ? error.code : 'INTERNAL';
  const details: Record<string, unknown> | undefined =
    error instanceof QuiesceFailedError ? { failed: error.failed, undoErrors: error.undoErrors }
    : error instanceof ThawIncompleteError ? { errors: error.errors }
    : error instanceof FreezeBusyError ? { state: error.state }
    : error instanceof FreezeExpiredError ? { reason: error.reason }
    : undefined;
  const body: ErrorBody = {
    error: {
      code,
      // The unformatted message: the hint travels in its own field.
      message: known ? stripHint(error) : `internal error: ${(error as Error)?.message ?? String(error)}`,
      ...(known && error.hint ? { hint: error.hint } : {}),
      ...(details ? { details } : {}),
    },
  };
  send(res, STATUS_BY_CODE[code] ?? 500, body);
}

function stripHint(error: OpenCdpError): string {
  const suffix = error.hint ? ` (${error.hint})` : '';
  return suffix && error.message.endsWith(suffix) ? error.message.slice(0, -suffix.length) : error.message;
}
