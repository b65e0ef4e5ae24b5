// HTTPS to a manager whose certificate is self-signed: the caller pins it, either by its SHA-256
// fingerprint (checked on every connection, before a byte of the request is written) or by trusting its
// PEM as the CA. Used by paired managers calling each other and by the CLI's client. Built on undici (the
// library behind Node's fetch) because node's fetch cannot take a per-call TLS policy.
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { normalizeFingerprint, OpenCdpError } from '@opencdp/core';
import { Agent, buildConnector, fetch as undiciFetch } from 'undici';

export interface TlsTrust {
  /** SHA-256 fingerprint of the server's certificate (hex, colons allowed). */
  fingerprint?: string;
  /** PEM of a CA (or of the self-signed certificate itself) to verify the server with, host name included. */
  ca?: string;
}

/** The server's certificate is not the one pinned. */
export class CertificatePinError extends OpenCdpError {
  constructor(host: string, actual: string, expected: string) {
    super('PEER_NOT_TRUSTED', `the certificate of ${host} has fingerprint ${actual}, not the pinned ${expected}`, 'check the fingerprint the manager printed at start (a changed certificate may mean someone is in between)');
  }
}

export type FetchFn = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/**
 * A fetch that applies `trust` to https URLs: a pinned fingerprint (the chain is not checked, the exact
 * certificate is), or a CA (the usual checks against it). Without either, the system's CAs apply.
 */
export function trustingFetch(trust: TlsTrust = {}): FetchFn {
  const pinned = trust.fingerprint ? normalizeFingerprint(trust.fingerprint) : undefined;
  let dispatcher: Agent | undefined;
  if (pinned) {
    // No session resumption: a resumed session does not show the certificate, and every connection must show it.
    const connector = buildConnector({ rejectUnauthorized: false, maxCachedSessions: 0 });
    dispatcher = new Agent({
      connect: (options, callback) => connector(options, (error, socket) => {
        if (error || !socket) return callback(error ?? new Error('no socket'), null);
        if (!('getPeerX509Certificate' in socket)) return callback(null, socket); // plain http: nothing to pin
        const cert = (socket as TLSSocket).getPeerX509Certificate();
        const actual = cert ? fingerprintOf(cert) : 'none';
        if (actual !== pinned) {
          socket.destroy();
          return callback(new CertificatePinError(options.hostname, actual, pinned), null);
        }
        return callback(null, socket);
      }),
    });
  } else if (trust.ca) {
    dispatcher = new Agent({ connect: { ca: trust.ca } });
  }
  return async (input, init) => {
    const request = input instanceof Request ? input : undefined;
    const url = request ? request.url : String(input);
    // undici's own fetch takes a plain description; a Request of Node's built-in fetch is not its class.
    const body = request && request.method !== 'GET' && request.method !== 'HEAD' ? Buffer.from(await request.arrayBuffer()) : init?.body;
    let response: Awaited<ReturnType<typeof undiciFetch>>;
    try {
      response = await undiciFetch(url, {
      method: request?.method ?? init?.method ?? 'GET',
      headers: request ? Object.fromEntries(request.headers) : (init?.headers as Record<string, string> | undefined),
      ...(body !== undefined && body !== null ? { body: body as Buffer } : {}),
      ...(request?.signal ?? init?.signal ? { signal: (request?.signal ?? init?.signal)! } : {}),
      ...(dispatcher ? { dispatcher } : {}),
      });
    } catch (e) {
      // A pin that does not match says so itself, instead of a bare 'fetch failed'.
      const cause = fetchFailure(e);
      throw cause instanceof OpenCdpError ? cause : e;
    }
    // Handed back as Node's own Response, which callers (and openapi-fetch) know.
    return new Response(response.body as ReadableStream<Uint8Array> | null, { status: response.status, statusText: response.statusText, headers: new Headers([...response.headers]) });
  };
}

function fingerprintOf(cert: X509Certificate): string {
  return cert.fingerprint256.replace(/:/g, '').toLowerCase();
}

/** The cause of a failed fetch, in words (undici wraps the socket's error in `cause`). */
export function fetchFailure(error: unknown): Error {
  let e = error as Error & { cause?: unknown };
  while (e.cause instanceof Error && (e.message === 'fetch failed' || e.name === 'TypeError')) e = e.cause as Error & { cause?: unknown };
  return e;
}
