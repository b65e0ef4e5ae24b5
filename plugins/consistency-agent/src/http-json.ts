// A JSON-over-HTTP request that reports *where* it failed: before the connection was made (the request
// never left, so another server may be tried) or after (it may have taken effect). fetch() hides that
// difference, which the manager fallback and the guest agent's client both need; hence node:http.
import { request as httpRequest } from 'node:http';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

const MAX_RESPONSE_BYTES = 1024 * 1024;

export interface JsonRequest {
  method: 'GET' | 'POST';
  url: string;
  body?: unknown;
  /** Sent as `Authorization: Bearer <bearer>`. */
  bearer?: string;
  /** Whole request, connection included. Wall-clock: sockets wait in real time. */
  timeoutMs: number;
  /** Connection only (default: `timeoutMs`); a server that does not accept in time counts as unreachable. */
  connectTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface JsonResponse {
  status: number;
  /** Parsed JSON, the raw text when it is not JSON, or undefined for an empty body. */
  body: unknown;
}

/** Internal: callers turn it into their own typed errors. */
export class TransportError extends Error {
  constructor(
    /** 'connect': nothing reached the server. 'response': the request was sent, its effect is unknown. */
    readonly phase: 'connect' | 'response',
    readonly kind: 'refused' | 'timeout' | 'aborted' | 'error',
    message: string,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

/** Sends one request; resolves with any HTTP answer, rejects with a TransportError otherwise. */
export function requestJson(options: JsonRequest): Promise<JsonResponse> {
  const target = new URL(options.url);
  const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body), 'utf8');
  const headers: Record<string, string> = { Accept: 'application/json', Connection: 'close' };
  if (payload) {
    headers['Content-Type'] = 'application/json';
    headers['Content-Length'] = String(payload.length);
  }
  if (options.bearer !== undefined) headers.Authorization = `Bearer ${options.bearer}`;
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;

  return new Promise<JsonResponse>((resolve, reject) => {
    let connected = false;
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    let req: ClientRequest | undefined;
    const cleanup = (): void => {
      settled = true;
      for (const t of timers) clearTimeout(t);
      options.signal?.removeEventListener('abort', onAbort);
    };
    const fail = (kind: TransportError['kind'], message: string): void => {
      if (settled) return;
      cleanup();
      req?.destroy();
      reject(new TransportError(connected ? 'response' : 'connect', kind, message));
    };
    const onAbort = (): void => fail('aborted', 'aborted');
    if (options.signal?.aborted) {
      reject(new TransportError('connect', 'aborted', 'aborted'));
      return;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    timers.push(setTimeout(() => fail('timeout', connected ? `no answer within ${options.timeoutMs} ms` : `could not connect within ${options.timeoutMs} ms`), options.timeoutMs));
    if (options.connectTimeoutMs !== undefined && options.connectTimeoutMs < options.timeoutMs) {
      const ms = options.connectTimeoutMs;
      timers.push(setTimeout(() => { if (!connected) fail('timeout', `could not connect within ${ms} ms`); }, ms));
    }

    // No keep-alive agent: one request per run, and a pooled socket would keep a CLI process alive.
    try {
      req = send(target, { method: options.method, headers, agent: false });
    } catch (error) {
      // E.g. a header value node:http refuses; not a transport failure, so the caller sees it as it is.
      cleanup();
      reject(error as Error);
      return;
    }
    req.on('socket', (socket) => {
      if (!socket.connecting) connected = true;
      else socket.once('connect', () => { connected = true; });
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      fail(error.code === 'ECONNREFUSED' ? 'refused' : 'error', error.code ?? error.message);
    });
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) fail('error', `answer over ${MAX_RESPONSE_BYTES} bytes`);
        else chunks.push(chunk);
      });
      res.on('error', (error) => fail('error', error.message));
      res.on('end', () => {
        if (settled) return;
        cleanup();
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        if (text.trim() !== '') {
          try {
            body = JSON.parse(text);
          } catch {
            body = text;
          }
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.end(payload);
  });
}
