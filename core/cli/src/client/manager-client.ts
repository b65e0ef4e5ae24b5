// The client of the manager's REST API (/v1) for the CLI verbs and the demo: openapi-fetch typed by the
// types generated from the manager's OpenAPI document (opencdp-api.ts), over HTTPS with the manager's
// certificate pinned (--fingerprint) or trusted as a CA (--ca), session login with automatic re-login
// when the token expires, typed failures, and task polling.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { isLoopbackHost, normalizeFingerprint, OpenCdpError } from '@opencdp/core';
import { trustingFetch, type FetchFn } from '@opencdp/manager';
import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './opencdp-api.js';

export type ApiSchemas = components['schemas'];
export type TaskView = ApiSchemas['Task'];

export interface ManagerConnection {
  /** e.g. `https://127.0.0.1:9080` */
  url: string;
  user?: string;
  password?: string;
  /** A session token from an earlier login (used before user/password). */
  token?: string;
  /** SHA-256 fingerprint of the manager's certificate (as `opencdp manager start` printed it). */
  fingerprint?: string;
  /** A PEM file to trust as the manager's CA (its certificate itself, for a self-signed one). */
  ca?: string;
}

/** The manager answered with an error; `status` is the HTTP status, `field` the offending input. */
export class ApiError extends OpenCdpError {
  constructor(readonly status: number, code: string, message: string, readonly field?: string) {
    super(code, message);
  }
}

/** The user's input was wrong before anything reached the manager (a missing or malformed file, a bad URL). */
export class BadInputError extends OpenCdpError {
  constructor(message: string, hint?: string) {
    super('BAD_INPUT', message, hint);
  }
}

export class ManagerUnreachableError extends OpenCdpError {
  constructor(url: string, cause: string) {
    super('MANAGER_UNREACHABLE', `the manager at ${url} cannot be reached: ${cause}`, 'check --manager (and --fingerprint or --ca for https) and that the manager runs');
  }
}

/** Task states of the anchor's API. */
export const TASK_STATES: Record<number, string> = { 1: 'InProgress', 2: 'WaitingForUserInput', 3: 'Paused', 4: 'Failed', 5: 'Stopped', 6: 'Completed', 7: 'Cancelling' };
const FINAL_TASK_STATES = new Set([2, 4, 5, 6]);

/** What openapi-fetch answers: the parsed body of a success, or the error body and the response. */
interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

export class ManagerClient {
  /** The typed client: paths, parameters, bodies and answers as the manager's OpenAPI document says. */
  readonly api: Client<paths, 'application/json'>;
  private token?: string;
  private readonly send: FetchFn;

  constructor(private readonly connection: ManagerConnection) {
    this.token = connection.token;
    if (!URL.canParse(connection.url) || !/^https?:$/.test(new URL(connection.url).protocol)) {
      throw new BadInputError(`'${connection.url}' is not a manager URL`, 'write it as https://host:port');
    }
    const url = new URL(connection.url);
    if (url.protocol === 'http:' && !isLoopbackHost(url.hostname) && (connection.user || connection.password || connection.token)) {
      // Sending a password or a token in clear to another machine is what an attacker on the path waits for.
      throw new BadInputError(`'${connection.url}' is plain HTTP to another machine: the password or token would cross the network in clear`, 'use https:// (the manager serves HTTPS by default) with --fingerprint or --ca');
    }
    let ca: string | undefined;
    if (connection.ca) {
      try {
        ca = readFileSync(connection.ca, 'utf8');
      } catch (e) {
        throw new BadInputError(`cannot read the CA file ${connection.ca}: ${(e as Error).message}`);
      }
    }
    let fingerprint: string | undefined;
    if (connection.fingerprint) {
      try {
        fingerprint = normalizeFingerprint(connection.fingerprint);
      } catch (e) {
        throw new BadInputError((e as Error).message, 'pass the SHA-256 fingerprint the manager printed at start');
      }
    }
    this.send = trustingFetch({ ...(fingerprint ? { fingerprint } : {}), ...(ca ? { ca } : {}) });
    // JSON answers are what the typed calls read; the CSV and file routes are read with parseAs.
    this.api = createClient<paths, 'application/json'>({ baseUrl: connection.url.replace(/\/$/, ''), fetch: (request: Request) => this.authorized(request) });
  }

  get sessionToken(): string | undefined {
    return this.token;
  }

  /** Logs in (Basic auth) and keeps the session token. */
  async login(): Promise<string> {
    const { user, password } = this.connection;
    if (!user || password === undefined) throw new ApiError(401, 'UNAUTHORIZED', 'no credentials: pass --user and --password (or OPENCDP_USER / OPENCDP_PASSWORD)');
    const response = await this.fetch(new Request(new URL('/v1/session/add', this.connection.url), {
      method: 'POST', headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` },
    }));
    if (!response.ok) throw await failure(response, await response.json().catch(() => ({})));
    const body = (await response.json()) as ApiSchemas['Session'];
    const token = response.headers.get('x-zerto-session') ?? body.sessionToken;
    if (!token) throw new ApiError(response.status, 'NO_TOKEN', 'the manager accepted the login but returned no session token');
    this.token = token;
    return token;
  }

  /** The data of a typed call, or the ApiError its answer says. */
  async call<T>(pending: Promise<Answer<T>>): Promise<T> {
    const { data, error, response } = await pending;
    if (!response.ok) throw await failure(response, error);
    return data as T;
  }

  /** Raw text of a typed call that answers text (CSV export, metrics). */
  async text(pending: Promise<Answer<unknown>>): Promise<string> {
    return String(await this.call(pending));
  }

  /**
   * Streams the file a typed call answers (`parseAs: 'stream'`, sent like every call: pinned TLS, the
   * session) into `file`, hashing it on the way. The file is created 0600 with 'wx' before anything is
   * asked, so an existing file is never overwritten; a failed download removes the partial file. Resolves
   * with the bytes written, their SHA-256, and the hash the manager announced (x-opencdp-sha256).
   */
  async download(file: string, start: () => Promise<Answer<ReadableStream<Uint8Array> | null>>): Promise<{ bytes: number; sha256: string; expectedSha256?: string }> {
    const out = await open(file, 'wx', 0o600);
    const hash = createHash('sha256');
    let bytes = 0;
    let expected: string | undefined;
    try {
      const { data, error, response } = await start();
      if (!response.ok) throw await failure(response, error);
      expected = response.headers.get('x-opencdp-sha256') ?? undefined;
      // An empty file comes without a body.
      for await (const chunk of (data ?? []) as AsyncIterable<Uint8Array>) {
        hash.update(chunk);
        bytes += chunk.length;
        await out.write(chunk);
      }
      await out.sync();
    } catch (error) {
      await out.close();
      await rm(file, { force: true });
      throw error;
    }
    await out.close();
    return { bytes, sha256: hash.digest('hex'), ...(expected ? { expectedSha256: expected } : {}) };
  }

  /** Polls a task until it ends (or waits for the user); `onProgress` sees every change. */
  async waitForTask(taskId: string, onProgress?: (task: TaskView) => void, pollMs = 250): Promise<TaskView> {
    for (;;) {
      const task = await this.call(this.api.GET('/v1/tasks/{taskIdentifier}', { params: { path: { taskIdentifier: taskId } } }));
      onProgress?.(task);
      if (FINAL_TASK_STATES.has(task.status.state)) return task;
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  /** Sends with the session token; logs in first when there is none, and once more when it expired. */
  private async authorized(request: Request): Promise<Response> {
    if (!this.token) await this.login();
    // Read once: the request may be sent twice (after a re-login).
    const body = request.method === 'GET' || request.method === 'HEAD' ? undefined : Buffer.from(await request.arrayBuffer());
    const withToken = (): Request => {
      const headers = new Headers(request.headers);
      headers.set('authorization', `Bearer ${this.token}`);
      return new Request(request.url, { method: request.method, headers, ...(body && body.length > 0 ? { body } : {}) });
    };
    const response = await this.fetch(withToken());
    if (response.status === 401 && this.connection.user) {
      await this.login();
      return this.fetch(withToken());
    }
    return response;
  }

  private async fetch(request: Request): Promise<Response> {
    try {
      return await this.send(request);
    } catch (error) {
      if (error instanceof OpenCdpError) throw new ManagerUnreachableError(this.connection.url, error.message);
      throw new ManagerUnreachableError(this.connection.url, ((error as Error & { cause?: Error }).cause ?? (error as Error)).message);
    }
  }
}

async function failure(response: Response, error: unknown): Promise<ApiError> {
  const body = (typeof error === 'object' && error !== null ? error : {}) as { error?: string; code?: string; message?: string; field?: string | null };
  return new ApiError(response.status, body.code ?? body.error ?? `HTTP_${response.status}`, body.message ?? response.statusText, body.field ?? undefined);
}

/** Exit codes scripts can rely on. */
export const EXIT = { ok: 0, taskFailed: 1, badInput: 2, auth: 3, unreachable: 4, internal: 5 } as const;

export function exitCodeFor(error: unknown): number {
  if (error instanceof ManagerUnreachableError) return EXIT.unreachable;
  if (error instanceof BadInputError) return EXIT.badInput;
  if (error instanceof ApiError) {
    if (error.status === 401 || error.status === 403 || error.status === 429) return EXIT.auth;
    if (error.status >= 500) return EXIT.internal;
    return EXIT.badInput;
  }
  return EXIT.internal;
}
