// The transport under the control link: mutual TLS from the site identity, the same CA the site link
// uses. An appliance's control server and a manager's client both present their site's leaf certificate
// and accept only one issued by their own site's CA or by a paired site's CA that names that site; the
// bearer token stays as a second factor. Plain HTTP remains for in-process rigs on loopback, and beyond
// loopback only when an operator insists (`insecureHttp`).
import { X509Certificate } from 'node:crypto';
import http, { type IncomingMessage } from 'node:http';
import tls from 'node:tls';
import { OpenCdpError, ValidationError } from '../errors.js';
import { isLoopbackHost } from '../link/link-address.js';
import { PeerNotTrustedError } from '../link/link-errors.js';
import type { SiteIdentity, TrustedPeers } from '../link/site-identity.js';

export interface ControlTls {
  /** This site's identity: its leaf is presented, its CA trusted. */
  identity: SiteIdentity;
  /** Paired sites whose certificates are accepted too (default: the identity's own list). */
  trustedPeers?: TrustedPeers;
}

/** Thrown when the appliance cannot be reached at all (the call may not have run). */
export class ControlUnreachableError extends OpenCdpError {
  constructor(url: string, cause: string) {
    super('CONTROL_UNREACHABLE', `appliance control at ${url} cannot be reached: ${cause}`, 'check that the appliance runs and the address is right');
  }
}

/** The site a control-link certificate belongs to: this site (issued by its CA) or a paired one; undefined otherwise. */
export function controlPeerSite(t: ControlTls, cert: X509Certificate): string | undefined {
  const ownCa = new X509Certificate(t.identity.caCertPem);
  if (cert.checkIssued(ownCa) && cert.verify(ownCa.publicKey) && cert.checkHost(t.identity.siteId, { wildcards: false }) !== undefined) return t.identity.siteId;
  return (t.trustedPeers ?? t.identity.trustedPeers).siteOf(cert)?.siteId;
}

/** What both ends hand to TLS: the site's leaf, its CA and the paired CAs, TLS 1.3 only. */
export function controlSecureContext(t: ControlTls): tls.SecureContextOptions {
  return {
    key: t.identity.leafKeyPem,
    cert: t.identity.leafCertPem,
    ca: [t.identity.caCertPem, ...(t.trustedPeers ?? t.identity.trustedPeers).caCertPems()],
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
  };
}

/** Refuses plain HTTP beyond loopback unless the operator insists. */
export function checkPlainControl(host: string, insecureHttp: boolean | undefined, field: string): void {
  if (!insecureHttp && !isLoopbackHost(host)) {
    throw new ValidationError(`the control link to ${host} would be plain HTTP: bearer tokens and recovery orders would cross the network in clear`, field,
      'use https:// with the site identity (mutual TLS), or set insecureHttp only on an isolated management network');
  }
}

export interface ControlRequest {
  /** The control method, for messages. */
  name: string;
  method: string;
  headers: Record<string, string>;
  body: string;
  tls?: ControlTls;
  insecureHttp?: boolean;
  /** The site the appliance must prove to be (its certificate). */
  expectSiteId: string;
  /** Bounds the whole call (omitted: unbounded, e.g. calls that stream progress). */
  timeoutMs?: number;
}

/**
 * Sends one control request and resolves with the response (its body still to read). Over https the TLS
 * connection is made and the appliance's certificate checked *before* anything, the token included, is
 * written. Failures to connect are ControlUnreachableError; a wrong certificate is PeerNotTrustedError.
 */
export async function sendControlRequest(url: URL, r: ControlRequest): Promise<IncomingMessage> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const timer = r.timeoutMs !== undefined ? AbortSignal.timeout(r.timeoutMs) : undefined;
  let socket: tls.TLSSocket | undefined;
  if (url.protocol === 'https:') {
    if (!r.tls) throw new ValidationError(`the control URL ${url.origin} is https but no site identity was given for mutual TLS`, 'tls');
    socket = await connectTls(url, host, port, r, timer);
  } else if (url.protocol === 'http:') {
    checkPlainControl(host, r.insecureHttp, 'url');
  } else {
    throw new ValidationError(`'${url.href}' is not an http(s) control URL`, 'url');
  }
  return new Promise<IncomingMessage>((resolve, reject) => {
    const req = http.request({
      host, port, method: r.method, path: url.pathname + url.search,
      headers: { ...r.headers, 'content-length': String(Buffer.byteLength(r.body)) },
      ...(socket ? { createConnection: () => socket } : {}),
      ...(timer ? { signal: timer } : {}),
    }, resolve);
    req.once('error', (e: Error & { cause?: Error; code?: string }) => {
      socket?.destroy();
      if (timer?.aborted) reject(new ControlUnreachableError(url.origin, `no answer to '${r.name}' within ${r.timeoutMs} ms`));
      // With TLS 1.3 the server checks the client's certificate after the client's side of the handshake: a refusal
      // arrives as a connection closed before any answer.
      else if (socket && (e.code === 'ECONNRESET' || /hang up|alert/i.test(e.message))) reject(new PeerNotTrustedError(url.host, `it closed the connection before answering (${e.message}), which is how a TLS 1.3 server refuses a client certificate it does not trust`));
      else reject(new ControlUnreachableError(url.origin, (e.cause ?? e).message));
    });
    req.end(r.body);
  });
}

function connectTls(url: URL, host: string, port: number, r: ControlRequest, timer: AbortSignal | undefined): Promise<tls.TLSSocket> {
  const t = r.tls!;
  return new Promise<tls.TLSSocket>((resolve, reject) => {
    const socket = tls.connect({
      host, port, ...controlSecureContext(t), rejectUnauthorized: true,
      // Addresses are not in site certificates (site ids are): which site answered is checked below instead.
      checkServerIdentity: () => undefined,
      ...(host && !/^[0-9.:]+$/.test(host) ? { servername: host } : {}),
    });
    const abort = (): void => {
      socket.destroy();
      reject(new ControlUnreachableError(url.origin, `no answer to '${r.name}' within ${r.timeoutMs} ms`));
    };
    timer?.addEventListener('abort', abort, { once: true });
    socket.once('error', (e: Error & { code?: string }) => {
      timer?.removeEventListener('abort', abort);
      reject(/CERT|ALERT|SELF_SIGNED|UNABLE_TO/.test(e.code ?? '') ? new PeerNotTrustedError(url.host, `its certificate is not from this site or a paired one (${e.code})`) : new ControlUnreachableError(url.origin, e.message));
    });
    socket.once('secureConnect', () => {
      timer?.removeEventListener('abort', abort);
      const cert = socket.getPeerX509Certificate();
      const site = cert && controlPeerSite(t, cert);
      if (site !== r.expectSiteId) {
        socket.destroy();
        reject(new PeerNotTrustedError(url.host, site ? `it is site '${site}', not '${r.expectSiteId}'` : 'its certificate does not belong to this site or a paired one'));
        return;
      }
      socket.on('error', () => undefined); // the HTTP request reports errors from here on
      resolve(socket);
    });
  });
}
