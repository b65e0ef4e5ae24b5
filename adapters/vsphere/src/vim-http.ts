// HTTPS to vCenter, shared by the SOAP client and the datastore file transfers: one keep-alive agent whose
// connections are verified before any byte is sent — against a pinned certificate thumbprint (vCenter's
// certificates are usually self-signed), a CA file, or the system's CAs — the session cookie, and timeouts.
import { createHash } from 'node:crypto';
import https from 'node:https';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { ThumbprintMismatchError, VsphereConnectionError } from './vsphere-errors.js';

/** How the adapter trusts vCenter's certificate. There is deliberately no "do not verify". */
export type VimTrust =
  | { kind: 'thumbprint'; thumbprint: string }
  | { kind: 'ca'; pem: string }
  | { kind: 'system' };

export interface VimHttpOptions {
  /** The SDK endpoint, e.g. `https://vcenter.example.com/sdk`. */
  url: URL;
  trust: VimTrust;
  /** Per request, from sending to the last byte of the answer (default 120 s). */
  requestTimeoutMs?: number;
  /** Parallel connections to vCenter (default 8). */
  maxSockets?: number;
}

export interface VimHttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** Upper-case, colon-separated hex (the form vSphere shows); accepts SHA-1 (20 bytes) or SHA-256 (32 bytes). */
export function normalizeThumbprint(value: string): string | undefined {
  const hex = value.replace(/[:\s-]/g, '').toUpperCase();
  if (!/^[0-9A-F]+$/.test(hex) || (hex.length !== 40 && hex.length !== 64)) return undefined;
  return hex.match(/../g)!.join(':');
}

/** The thumbprint of a DER certificate in the same algorithm (by length) as `like`. */
function thumbprintOf(der: Buffer, like: string): string {
  const algorithm = like.length === 59 ? 'sha1' : 'sha256';
  return createHash(algorithm).update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
}

export class VimHttp {
  readonly agent: https.Agent;
  /** `vmware_soap_session=…`, set by Login and sent with every request (SOAP and datastore files). */
  cookie?: string;
  private readonly timeoutMs: number;

  constructor(readonly options: VimHttpOptions) {
    if (options.url.protocol !== 'https:') throw new VsphereConnectionError(options.url.href, 'only https:// is supported (the password would cross in clear)');
    this.timeoutMs = options.requestTimeoutMs ?? 120_000;
    const trust = options.trust;
    const base = { keepAlive: true, maxSockets: options.maxSockets ?? 8 };
    if (trust.kind === 'thumbprint') {
      const expected = normalizeThumbprint(trust.thumbprint);
      if (!expected) throw new VsphereConnectionError(options.url.href, `'${trust.thumbprint}' is not a SHA-1 or SHA-256 thumbprint`);
      const url = options.url.href;
      const agent = new https.Agent(base);
      // The socket reaches the HTTP layer only after its certificate matched the pin: nothing (not the
      // password, not a cookie) is ever written to a server that did not present the pinned certificate.
      (agent as unknown as { createConnection: (o: tls.ConnectionOptions, cb: (e: Error | null, s?: Duplex) => void) => undefined }).createConnection = (o, cb) => {
        const socket = tls.connect({ ...o, rejectUnauthorized: false });
        const fail = (e: Error): void => { socket.destroy(); cb(e); };
        socket.once('error', fail);
        socket.once('secureConnect', () => {
          socket.removeListener('error', fail);
          const cert = socket.getPeerCertificate();
          const actual = cert?.raw ? thumbprintOf(cert.raw, expected) : '(no certificate)';
          if (actual !== expected) return fail(new ThumbprintMismatchError(url, expected, actual));
          cb(null, socket);
        });
        return undefined;
      };
      this.agent = agent;
    } else {
      this.agent = new https.Agent({ ...base, ...(trust.kind === 'ca' ? { ca: trust.pem } : {}) });
    }
  }

  /** One HTTPS request to vCenter with the session cookie; `body` may be a stream for large uploads. */
  request(method: string, url: URL, init: { headers?: Record<string, string | number>; body?: Buffer | string | NodeJS.ReadableStream; timeoutMs?: number } = {}): Promise<VimHttpResponse> {
    return new Promise<VimHttpResponse>((resolve, reject) => {
      const headers: Record<string, string | number> = { ...(init.headers ?? {}) };
      if (this.cookie) headers.Cookie = this.cookie;
      const req = https.request(url, { method, agent: this.agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => reject(new VsphereConnectionError(url.origin, e.message)));
        res.on('end', () => {
          if (!res.complete) return reject(new VsphereConnectionError(url.origin, 'the connection closed in the middle of the answer'));
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks) });
        });
      });
      req.setTimeout(init.timeoutMs ?? this.timeoutMs, () => req.destroy(new VsphereConnectionError(url.origin, `no answer within ${init.timeoutMs ?? this.timeoutMs} ms`)));
      req.on('error', (e) => reject(e instanceof ThumbprintMismatchError || e instanceof VsphereConnectionError ? e : new VsphereConnectionError(url.origin, e.message)));
      const body = init.body;
      if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
      else {
        body.on('error', (e: Error) => req.destroy(e));
        body.pipe(req);
      }
    });
  }

  /** Opens a streamed GET (for large reads); the caller consumes and closes the response. */
  stream(url: URL, headers: Record<string, string>, timeoutMs?: number): Promise<import('node:http').IncomingMessage> {
    return new Promise((resolve, reject) => {
      const h: Record<string, string> = { ...headers };
      if (this.cookie) h.Cookie = this.cookie;
      const req = https.request(url, { method: 'GET', agent: this.agent, headers: h }, resolve);
      req.setTimeout(timeoutMs ?? this.timeoutMs, () => req.destroy(new VsphereConnectionError(url.origin, `no answer within ${timeoutMs ?? this.timeoutMs} ms`)));
      req.on('error', (e) => reject(e instanceof ThumbprintMismatchError || e instanceof VsphereConnectionError ? e : new VsphereConnectionError(url.origin, e.message)));
      req.end();
    });
  }

  /** Remembers the session cookie a response set (vCenter names it `vmware_soap_session`). */
  takeCookie(headers: VimHttpResponse['headers']): void {
    const set = headers['set-cookie'];
    const list = Array.isArray(set) ? set : set ? [set] : [];
    for (const c of list) {
      const pair = c.split(';')[0].trim();
      if (pair.startsWith('vmware_soap_session=')) this.cookie = pair;
    }
  }

  close(): void {
    this.agent.destroy();
  }
}
