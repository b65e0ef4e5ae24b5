// Pairing two sites with a one-time token. Site A issues a token naming its pairing endpoint, the
// SHA-256 of its CA and a secret; site B connects, accepts the endpoint only if its certificate chains to
// exactly that CA (so nothing is trusted on first use), proves the secret, and both sides store each other's CA.
import { createHash, randomBytes, timingSafeEqual, X509Certificate } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import tls from 'node:tls';
import { Ajv } from 'ajv';
import { SystemClock, type Clock } from '../clock.js';
import { OpenCdpError } from '../errors.js';
import { FramedConnection, silentLog, type LinkLog } from './framed-connection.js';
import { clientHandshake, LINK_PROTOCOL_VERSION, serverHandshake } from './handshake.js';
import { formatHostPort, listenOn, parseLinkAddress } from './link-address.js';
import { PairingError, ProtocolError, type PairingFailure } from './link-errors.js';
import { defineMessage, handshakeCodec } from './message-registry.js';
import { SITE_ID_PATTERN } from './site-id.js';
import { certificateFingerprint, parseCaCertificate, type SiteIdentity, type TrustedPeer } from './site-identity.js';

/** What a pairing token carries (base64url of this JSON). */
export interface PairingToken {
  siteId: string;
  /** The issuing site's pairing endpoint, `host:port`. */
  address: string;
  caFingerprintSha256: string;
  /** 32 random bytes, base64url. */
  secret: string;
}

export interface PairRequestMeta {
  secret: string;
  siteId: string;
  caPem: string;
}

export interface PairAcceptMeta {
  siteId: string;
  caPem: string;
}

export interface PairRefusedMeta {
  failure: PairingFailure;
  reason: string;
}

const PAIRING_FAILURES: PairingFailure[] = ['malformed-token', 'expired', 'used', 'unknown-token', 'certificate-mismatch', 'self', 'invalid-request', 'unreachable'];
const secretSchema = { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$' } as const;
const siteIdSchema = { type: 'string', pattern: SITE_ID_PATTERN } as const;
const pemSchema = { type: 'string', minLength: 1, maxLength: 16384 } as const;

export const pairRequestMessage = defineMessage<'pair-request', PairRequestMeta>({
  type: 8,
  name: 'pair-request',
  payload: 'none',
  metaSchema: { type: 'object', additionalProperties: false, required: ['secret', 'siteId', 'caPem'], properties: { secret: secretSchema, siteId: siteIdSchema, caPem: pemSchema } },
});

export const pairAcceptMessage = defineMessage<'pair-accept', PairAcceptMeta>({
  type: 9,
  name: 'pair-accept',
  payload: 'none',
  metaSchema: { type: 'object', additionalProperties: false, required: ['siteId', 'caPem'], properties: { siteId: siteIdSchema, caPem: pemSchema } },
});

export const pairRefusedMessage = defineMessage<'pair-refused', PairRefusedMeta>({
  type: 10,
  name: 'pair-refused',
  payload: 'none',
  metaSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['failure', 'reason'],
    properties: { failure: { enum: PAIRING_FAILURES }, reason: { type: 'string', maxLength: 2000 } },
  },
});

const pairingCodec = handshakeCodec.with([pairRequestMessage, pairAcceptMessage, pairRefusedMessage]);

/** The pairing endpoint is unauthenticated, so it accepts only small frames. */
const PAIRING_LIMITS = { maxFrameBytes: 64 * 1024, maxMetaBytes: 32 * 1024 };

const validateToken = new Ajv({ allErrors: false, strict: true }).compile({
  type: 'object',
  required: ['siteId', 'address', 'caFingerprintSha256', 'secret'],
  properties: {
    siteId: siteIdSchema,
    address: { type: 'string', maxLength: 300 },
    caFingerprintSha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    secret: secretSchema,
  },
});

/** Reads a pairing token; throws PairingError('malformed-token') if it is not one. */
export function parsePairingToken(token: string): PairingToken {
  let parsed: unknown;
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(token.trim())) throw new Error('not base64url');
    parsed = JSON.parse(Buffer.from(token.trim(), 'base64url').toString('utf8'));
  } catch {
    throw new PairingError('malformed-token', 'the pairing token is not valid (not base64url JSON)');
  }
  if (!validateToken(parsed)) throw new PairingError('malformed-token', 'the pairing token is not valid (fields missing or malformed)');
  const t = parsed as PairingToken;
  try {
    parseLinkAddress(t.address);
  } catch {
    throw new PairingError('malformed-token', `the pairing token names an invalid address '${t.address}'`);
  }
  return { siteId: t.siteId, address: t.address, caFingerprintSha256: t.caFingerprintSha256, secret: t.secret };
}

export interface PairingEndpointOptions {
  /** Where to listen (default `127.0.0.1:0`). */
  address?: string;
  /** The address written into tokens, if peers reach this endpoint differently (NAT, DNS name). */
  advertisedAddress?: string;
  /** Timeouts (default: the system clock). Token expiry uses the clock given to `issuePairingToken`. */
  clock?: Clock;
  /** Limit for the TLS handshake plus the whole pairing exchange (default 10 000 ms). */
  timeoutMs?: number;
  protocolVersion?: string;
  log?: LinkLog;
}

interface IssuedToken {
  digest: Buffer;
  expiresAt: number;
  clock: Clock;
  used: boolean;
}

/** Site A's side of pairing: a TLS endpoint (server certificate only) that redeems the tokens it issued. */
export class PairingEndpoint {
  private readonly issued: IssuedToken[] = [];
  private readonly pairedListeners: ((peer: TrustedPeer) => void)[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly connections = new Set<FramedConnection>();
  private readonly log: LinkLog;
  private readonly clock: Clock;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly identity: SiteIdentity,
    private readonly server: tls.Server,
    readonly address: string,
    private readonly options: PairingEndpointOptions,
  ) {
    this.log = options.log ?? silentLog;
    this.clock = options.clock ?? new SystemClock();
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    server.on('secureConnection', (socket: tls.TLSSocket) => void this.serve(socket));
    server.on('tlsClientError', (error: Error) => this.log('pairing.tls-error', { reason: error.message }));
    server.on('error', (error: Error) => this.log('pairing.listener-error', { reason: error.message }));
  }

  /** Starts a pairing endpoint for `identity`. */
  static async start(identity: SiteIdentity, options: PairingEndpointOptions = {}): Promise<PairingEndpoint> {
    const { host, port } = parseLinkAddress(options.address ?? '127.0.0.1:0');
    const server = tls.createServer({
      key: identity.leafKeyPem,
      // The chain includes the CA, so the redeemer can match it against the fingerprint in the token.
      cert: identity.leafCertPem + identity.caCertPem,
      requestCert: false,
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      handshakeTimeout: options.timeoutMs ?? 10_000,
    });
    await listenOn(server, host, port).catch((e: unknown) => {
      throw new PairingError('unreachable', `cannot start the pairing endpoint on ${options.address}: ${(e as Error).message}`);
    });
    const bound = server.address() as AddressInfo;
    return new PairingEndpoint(identity, server, formatHostPort(bound.address, bound.port), options);
  }

  /** Issues a one-time token, valid for `ttlMs` on `clock`. Give it to the other site over a trusted channel. */
  issuePairingToken(options: { ttlMs: number; clock?: Clock }): string {
    if (!(options.ttlMs > 0)) throw new RangeError(`ttlMs must be positive, got ${options.ttlMs}`);
    const clock = options.clock ?? this.clock;
    const secret = randomBytes(32).toString('base64url');
    this.prune();
    this.issued.push({ digest: digest(secret), expiresAt: clock.now() + options.ttlMs, clock, used: false });
    const token: PairingToken = {
      siteId: this.identity.siteId,
      address: this.options.advertisedAddress ?? this.address,
      caFingerprintSha256: this.identity.caFingerprintSha256,
      secret,
    };
    return Buffer.from(JSON.stringify(token)).toString('base64url');
  }

  /** Called after each successful pairing, with the newly trusted site. */
  onPaired(listener: (peer: TrustedPeer) => void): void {
    this.pairedListeners.push(listener);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
      for (const c of this.connections) c.destroy();
      for (const s of this.sockets) s.destroy();
      await stopped;
    })();
    return this.closing;
  }

  private async serve(socket: tls.TLSSocket): Promise<void> {
    socket.on('error', () => {}); // the FramedConnection below records errors; this covers the gap
    const connection = new FramedConnection(socket, { limits: PAIRING_LIMITS, log: this.log, clock: this.clock });
    this.connections.add(connection);
    connection.onClose(() => this.connections.delete(connection));
    const timeoutMs = this.options.timeoutMs ?? 10_000;
    try {
      await serverHandshake(connection, { siteId: this.identity.siteId, protocolVersion: this.options.protocolVersion, acceptRoles: ['pairing'], timeoutMs });
      const message = pairingCodec.decode(await connection.nextFrame(timeoutMs));
      if (message.name !== 'pair-request') throw new ProtocolError(`expected 'pair-request', got '${message.name}'`);
      const outcome = this.redeem(message.meta);
      if (outcome instanceof PairingError) {
        this.log('pairing.refused', { remote: connection.remote, siteId: message.meta.siteId, failure: outcome.reason });
        await connection.sendParts(pairingCodec.encode('pair-refused', { failure: outcome.reason, reason: outcome.message.slice(0, 2000) }));
        await connection.close(outcome);
        return;
      }
      this.log('pairing.paired', { remote: connection.remote, siteId: outcome.siteId });
      for (const listener of this.pairedListeners) {
        try {
          listener(outcome);
        } catch (e) {
          this.log('pairing.listener-error', { reason: (e as Error).message });
        }
      }
      await connection.sendParts(pairingCodec.encode('pair-accept', { siteId: this.identity.siteId, caPem: this.identity.caCertPem }));
      await connection.close();
    } catch (e) {
      this.log('pairing.failed', { remote: connection.remote, reason: (e as Error).message });
      connection.destroy(e as Error);
    }
  }

  /** Checks the request; on success burns the token and trusts the requester. Never throws. */
  private redeem(request: PairRequestMeta): TrustedPeer | PairingError {
    const presented = digest(request.secret);
    let match: IssuedToken | undefined;
    // Compare against every issued token, in constant time each, so timing says nothing about secrets.
    for (const t of this.issued) if (timingSafeEqual(t.digest, presented) && !match) match = t;
    if (!match) return new PairingError('unknown-token', `site '${this.identity.siteId}' did not issue this pairing token`);
    if (match.used) return new PairingError('used', 'this pairing token was already used');
    match.used = true; // burnt by any attempt that knew the secret, whatever happens next
    if (match.clock.now() > match.expiresAt) return new PairingError('expired', `this pairing token expired ${Math.round((match.clock.now() - match.expiresAt) / 1000)} s ago`);
    if (request.siteId === this.identity.siteId) return new PairingError('self', `site '${request.siteId}' tried to pair with itself`);
    try {
      parseCaCertificate(request.caPem, `CA certificate of site '${request.siteId}'`);
      return this.identity.trustedPeers.add({ siteId: request.siteId, caCertPem: request.caPem });
    } catch (e) {
      return new PairingError('invalid-request', `site '${request.siteId}' sent an unusable CA certificate: ${(e as Error).message}`);
    }
  }

  /** Forgets tokens that were used or expired more than a day ago. */
  private prune(): void {
    for (let i = this.issued.length - 1; i >= 0; i--) {
      const t = this.issued[i]!;
      if (t.clock.now() > t.expiresAt + 86_400_000) this.issued.splice(i, 1);
    }
  }
}

export interface RedeemPairingTokenOptions {
  /** Limit for connecting plus the pairing exchange (default 10 000 ms). */
  timeoutMs?: number;
  protocolVersion?: string;
  clock?: Clock;
  log?: LinkLog;
}

/**
 * Site B's side: redeems `token` for `identity`. Resolves with the newly trusted site (also added to
 * `identity.trustedPeers`); throws PairingError (or ProtocolError) and trusts nothing otherwise.
 */
export async function redeemPairingToken(token: string, identity: SiteIdentity, options: RedeemPairingTokenOptions = {}): Promise<TrustedPeer> {
  const t = parsePairingToken(token);
  if (t.siteId === identity.siteId) throw new PairingError('self', `this token was issued by site '${t.siteId}' itself`);
  const clock = options.clock ?? new SystemClock();
  const timeoutMs = options.timeoutMs ?? 10_000;
  const socket = await connectPinned(t, clock, timeoutMs);
  const connection = new FramedConnection(socket, { remote: t.address, peerSiteId: t.siteId, limits: PAIRING_LIMITS, log: options.log, clock });
  try {
    await clientHandshake(connection, { siteId: identity.siteId, role: 'pairing', protocolVersion: options.protocolVersion ?? LINK_PROTOCOL_VERSION, timeoutMs });
    const answer = connection.nextFrame(timeoutMs);
    await connection.sendParts(pairingCodec.encode('pair-request', { secret: t.secret, siteId: identity.siteId, caPem: identity.caCertPem }));
    const message = pairingCodec.decode(await answer);
    if (message.name === 'pair-refused') {
      throw new PairingError(message.meta.failure, `site '${t.siteId}' refused pairing: ${message.meta.reason}`);
    }
    if (message.name !== 'pair-accept') throw new ProtocolError(`expected 'pair-accept' or 'pair-refused', got '${message.name}'`);
    if (message.meta.siteId !== t.siteId || certificateFingerprint(parseCaCertificate(message.meta.caPem)) !== t.caFingerprintSha256) {
      throw new PairingError('certificate-mismatch', `site '${t.siteId}' answered with a CA other than the one the token names`);
    }
    const peer = identity.trustedPeers.add({ siteId: t.siteId, caCertPem: message.meta.caPem });
    await connection.close();
    return peer;
  } catch (e) {
    connection.destroy(e as Error);
    if (e instanceof OpenCdpError) throw e;
    throw new PairingError('unreachable', `pairing with site '${t.siteId}' at ${t.address} failed: ${(e as Error).message}`);
  }
}

/**
 * Opens TLS to the token's endpoint and accepts it only if the presented chain holds a self-signed CA
 * with the token's fingerprint that issued the leaf, and the leaf names the token's site. TLS itself
 * proved the endpoint holds the leaf's private key.
 */
function connectPinned(t: PairingToken, clock: Clock, timeoutMs: number): Promise<tls.TLSSocket> {
  const { host, port } = parseLinkAddress(t.address);
  return new Promise<tls.TLSSocket>((resolve, reject) => {
    const socket = tls.connect({
      host,
      port,
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      // Nothing is trusted yet: the chain is checked against the pinned fingerprint below instead.
      rejectUnauthorized: false,
    });
    const timer = clock.setTimer(timeoutMs, () => socket.destroy(new Error(`no TLS handshake within ${timeoutMs} ms`)));
    socket.once('error', (e: Error) => {
      timer.cancel();
      socket.destroy();
      reject(new PairingError('unreachable', `cannot reach the pairing endpoint of site '${t.siteId}' at ${t.address}: ${e.message}`));
    });
    socket.once('secureConnect', () => {
      timer.cancel();
      socket.on('error', () => {}); // the FramedConnection records later errors
      const problem = pinnedChainProblem(socket, t);
      if (problem) {
        socket.destroy();
        reject(new PairingError('certificate-mismatch', `the endpoint at ${t.address} is not the site that issued the token: ${problem}`));
        return;
      }
      resolve(socket);
    });
  });
}

function pinnedChainProblem(socket: tls.TLSSocket, t: PairingToken): string | undefined {
  // Read the whole chain first: after getPeerX509Certificate(), Node 20 returns the chain without `raw`.
  const chain = socket.getPeerCertificate(true);
  if (!chain?.raw) return 'it presented no certificate';
  const leaf = new X509Certificate(chain.raw);
  let ca: X509Certificate | undefined;
  const seen = new Set<string>();
  for (let c: tls.DetailedPeerCertificate | undefined = chain; c?.raw; c = c.issuerCertificate) {
    const fingerprint = createHash('sha256').update(c.raw).digest('hex');
    if (seen.has(fingerprint)) break; // a self-signed root points at itself
    seen.add(fingerprint);
    if (fingerprint === t.caFingerprintSha256) ca = new X509Certificate(c.raw);
  }
  if (!ca) return 'no certificate in its chain has the fingerprint the token names';
  if (!ca.ca || !ca.verify(ca.publicKey)) return 'the pinned certificate is not a self-signed CA';
  if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) return 'its certificate was not issued by the pinned CA';
  if (leaf.checkHost(t.siteId, { wildcards: false }) === undefined) return `its certificate does not name site '${t.siteId}'`;
  const now = Date.now();
  if (now < Date.parse(leaf.validFrom) || now > Date.parse(leaf.validTo)) return 'its certificate is outside its validity period';
  return undefined;
}

function digest(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}
