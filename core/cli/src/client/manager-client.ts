// A small client of the manager's REST API (/v1) for the CLI verbs and the demo: session login with
// automatic re-login when the token expires, JSON in and out, typed failures, and task polling.
import { createHash } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { OpenCdpError } from '@opencdp/core';

export interface ManagerConnection {
  /** e.g. `http://127.0.0.1:9080` */
  url: string;
  user?: string;
  password?: string;
  /** A session token from an earlier login (used before user/password). */
  token?: string;
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
    super('MANAGER_UNREACHABLE', `the manager at ${url} cannot be reached: ${cause}`, 'check --manager and that the manager runs');
  }
}

/** Task states of the anchor's API. */
export const TASK_STATES: Record<number, string> = { 1: 'InProgress', 2: 'WaitingForUserInput', 3: 'Paused', 4: 'Failed', 5: 'Stopped', 6: 'Completed', 7: 'Cancelling' };
const FINAL_TASK_STATES = new Set([2, 4, 5, 6]);

export interface TaskView {
  taskIdentifier: string;
  type?: string;
  status: { state: number; progress: number; step?: string };
  result?: unknown;
  error?: string;
  [more: string]: unknown;
}

export class ManagerClient {
  private token?: string;

  constructor(private readonly connection: ManagerConnection) {
    this.token = connection.token;
    if (!URL.canParse(connection.url) || !/^https?:$/.test(new URL(connection.url).protocol)) {
      throw new BadInputError(`'${connection.url}' is not a manager URL`, 'write it as http://host:port');
    }
  }

  get sessionToken(): string | undefined {
    return this.token;
  }

  async login(): Promise<string> {
    const { user, password } = this.connection;
    if (!user || password === undefined) throw new ApiError(401, 'UNAUTHORIZED', 'no credentials: pass --user and --password (or OPENCDP_USER / OPENCDP_PASSWORD)');
    const response = await this.fetch('/v1/session/add', {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`, 'content-type': 'application/json' },
      body: '{}',
    });
    if (!response.ok) throw await this.failure(response);
    const token = response.headers.get('x-zerto-session') ?? ((await response.json()) as { sessionToken?: string }).sessionToken;
    if (!token) throw new ApiError(response.status, 'NO_TOKEN', 'the manager accepted the login but returned no session token');
    this.token = token;
    return token;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }

  delete<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('DELETE', path, body);
  }

  /** Raw text (CSV export, metrics). */
  async text(path: string): Promise<string> {
    return (await this.bytes(path)).toString('utf8');
  }

  /** Raw bytes (a restored file). */
  async bytes(path: string): Promise<Buffer> {
    const response = await this.authorized(path, { method: 'GET' });
    if (!response.ok) throw await this.failure(response);
    return Buffer.from(await response.arrayBuffer());
  }

  /**
   * Streams a download into `file` (created 0600, never overwritten) and hashes it on the way; a failed
   * download removes the partial file. Resolves with the bytes written and their SHA-256.
   */
  async download(path: string, file: string): Promise<{ bytes: number; sha256: string; expectedSha256?: string }> {
    const response = await this.authorized(path, { method: 'GET' });
    if (!response.ok || !response.body) throw await this.failure(response);
    const hash = createHash('sha256');
    let bytes = 0;
    const out = await open(file, 'wx', 0o600);
    try {
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
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
    const expected = response.headers.get('x-opencdp-sha256') ?? undefined;
    return { bytes, sha256: hash.digest('hex'), ...(expected ? { expectedSha256: expected } : {}) };
  }

  /** Polls a task until it ends (or waits for the user); `onProgress` sees every change. */
  async waitForTask(taskId: string, onProgress?: (task: TaskView) => void, pollMs = 250): Promise<TaskView> {
    for (;;) {
      const task = await this.get<TaskView>(`/v1/tasks/${encodeURIComponent(taskId)}`);
      onProgress?.(task);
      if (FINAL_TASK_STATES.has(task.status.state)) return task;
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const init: RequestInit = { method, headers: body === undefined ? {} : { 'content-type': 'application/json' } };
    if (body !== undefined) init.body = JSON.stringify(body);
    const response = await this.authorized(path, init);
    if (!response.ok) throw await this.failure(response);
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Sends with the session token; logs in first when there is none, and once more when it expired. */
  private async authorized(path: string, init: RequestInit): Promise<Response> {
    if (!this.token) await this.login();
    const send = (): Promise<Response> => this.fetch(path, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${this.token}` } });
    let response = await send();
    if (response.status === 401 && this.connection.user) {
      await this.login();
      response = await send();
    }
    return response;
  }

  private async fetch(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(new URL(path, this.connection.url), init);
    } catch (error) {
      throw new ManagerUnreachableError(this.connection.url, ((error as Error & { cause?: Error }).cause ?? (error as Error)).message);
    }
  }

  private async failure(response: Response): Promise<ApiError> {
    let body: { error?: string; code?: string; message?: string; field?: string } = {};
    try {
      body = (await response.json()) as typeof body;
    } catch {
      // Not JSON: the status line says enough.
    }
    return new ApiError(response.status, body.code ?? body.error ?? `HTTP_${response.status}`, body.message ?? response.statusText, body.field);
  }
}

/** Exit codes scripts can rely on. */
export const EXIT = { ok: 0, taskFailed: 1, badInput: 2, auth: 3, unreachable: 4, internal: 5 } as const;

export function exitCodeFor(error: unknown): number {
  if (error instanceof ManagerUnreachableError) return EXIT.unreachable;
  if (error instanceof BadInputError) return EXIT.badInput;
  if (error instanceof ApiError) {
    if (error.status === 401 || error.status === 403) return EXIT.auth;
    if (error.status >= 500) return EXIT.internal;
    return EXIT.badInput;
  }
  return EXIT.internal;
}
