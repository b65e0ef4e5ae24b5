// The real site link: a NetworkAdapter over mutual TLS 1.3 between paired sites. Each side presents its
// site leaf certificate and accepts only a certificate issued by a paired site's CA that names that
// site; then the version handshake runs, and frames flow with backpressure under a shared bandwidth limit.
import type { AddressInfo, Socket } from 'node:net';
import tls from 'node:tls';
import { SystemClock, type Clock } from '../clock.js';
import { OpenCdpError } from '../errors.js';
import type { LinkConnection, LinkListener, NetworkAdapter } from '../ports/network-adapter.js';
import type { FrameLimits } from './frame-codec.js';
import { FramedConnection, silentLog, type LinkLog } from './framed-connection.js';
import { clientHandshake, LINK_PROTOCOL_VERSION, serverHandshake } from './handshake.js';
import { formatHostPort, listenOn, parseLinkAddress } from './link-address.js';
import { LinkError, PeerNotTrustedError, ProtocolError } from './link-errors.js';
import type { SiteIdentity, TrustedPeers } from './site-identity.js';
import { TokenBucket } from './token-bucket.js';

export interface TlsNetworkOptions {
  identity: SiteIdentity;
  /** Sites to accept (default: `identity.trustedPeers`). Changes apply to new connections at once. */
  trustedPeers?: TrustedPeers;
  /** Drives the bandwidth limit and the timeouts (default: the system clock). */
  clock?: Clock;
  /** Role announced in `hello` when connecting (default `appliance`). */
  role?: string;
  protocolVersion?: string;
  limits?: Partial<FrameLimits>;
  /** Limit for the TLS and the version handshake together (default 10 000 ms). */
  handshakeTimeoutMs?: number;
  /** Milliseconds of bandwidth that may be saved up as a burst (default 20). */
  bandwidthBurstMs?: number;
  log?: LinkLog;
}

export interface TlsConnectOptions {
  /** Refuse the connection unless the peer's certificate belongs to this paired site. */
  expectSiteId?: string;
}

/** Certificate verification failures OpenSSL reports on the side that checked the peer's certificate. */
const TRUST_FAILURES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_SIGNATURE_FAILURE', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_UNTRUSTED',
  'CERT_REJECTED', 'INVALID_CA', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

export class TlsNetwork implements NetworkAdapter {
  readonly kind = 'tls';
  readonly identity: SiteIdentity;
  readonly trustedPeers: TrustedPeers;
  private readonly clock: Clock;
  private readonly bucket: TokenBucket;
  private readonly log: LinkLog;

  constructor(private readonly options: TlsNetworkOptions) {
    this.identity = options.identity;
    this.trustedPeers = options.trustedPeers ?? options.identity.trustedPeers;
    this.clock = options.clock ?? new SystemClock();
    this.bucket = new TokenBucket(this.clock, undefined, options.bandwidthBurstMs);
    this.log = options.log ?? silentLog;
  }

  /** Bytes per second for everything this network sends (all connections share it); undefined = unthrottled. */
  setBandwidthLimit(bytesPerSecond: number | undefined): void {
    this.bucket.setRate(bytesPerSecond);
  }

  get bandwidthLimit(): number | undefined {
    return this.bucket.bytesPerSecond;
  }

  /** Listens on `host:port` (port 0 picks a free one; the listener's `address` has the real port). */
  async listen(address: string): Promise<TlsLinkListener> {
    const { host, port } = parseLinkAddress(address);
    const server = tls.createServer({
      ...this.secureContextOptions(),
      requestCert: true,
      rejectUnauthorized: true,
      handshakeTimeout: this.handshakeTimeoutMs,
    });
    await listenOn(server, host, port).catch((e: unknown) => {
      throw new LinkError(`cannot listen on ${address}: ${(e as Error).message}`, e);
    });
    const bound = server.address() as AddressInfo;
    return new TlsLinkListener(server, formatHostPort(bound.address, bound.port), this, () => this.secureContextOptions());
  }

  /** Connects to a paired site: mutual TLS, certificate-to-site check, then the version handshake. */
  async connect(address: string, options: TlsConnectOptions = {}): Promise<FramedConnection> {
    const { host, port } = parseLinkAddress(address);
    const socket = await this.tlsConnect(address, host, port);
    let connection: FramedConnection | undefined;
    try {
      const cert = socket.getPeerX509Certificate();
      const peer = cert && this.trustedPeers.siteOf(cert);
      if (!peer) throw new PeerNotTrustedError(address, 'its certificate does not belong to a paired site');
      if (options.expectSiteId !== undefined && peer.siteId !== options.expectSiteId) {
        throw new PeerNotTrustedError(address, `it is site '${peer.siteId}', not '${options.expectSiteId}'`);
      }
      connection = this.wrap(socket, address, peer.siteId);
      await clientHandshake(connection, {
        siteId: this.identity.siteId,
        role: this.options.role ?? 'appliance',
        protocolVersion: this.protocolVersion,
        timeoutMs: this.handshakeTimeoutMs,
      });
      this.log('link.connected', { remote: address, peerSiteId: peer.siteId });
      return connection;
    } catch (e) {
      let error = linkFailure(address, e);
      const silentClose = connection !== undefined && connection.framesReceived === 0 && !(error instanceof ProtocolError) && !(error instanceof PeerNotTrustedError);
      if (silentClose) {
        // With TLS 1.3 the server checks our certificate after our side of the handshake finished; Node
        // then drops the connection without an alert, so a silent close before any answer means just that.
        error = new PeerNotTrustedError(address, 'it closed the connection before answering hello, which is how a TLS 1.3 server refuses a client certificate it does not trust');
      }
      if (connection) connection.destroy(error);
      else socket.destroy();
      this.log('link.connect-failed', { remote: address, reason: error.message, code: (error as { code?: unknown }).code });
      throw error;
    }
  }

  /** @internal Wraps an authenticated socket (used by both ends). */
  wrap(socket: tls.TLSSocket, remote: string, peerSiteId: string): FramedConnection {
    return new FramedConnection(socket, { remote, peerSiteId, limits: this.options.limits, log: this.log, throttle: this.bucket, clock: this.clock });
  }

  get handshakeTimeoutMs(): number {
    return this.options.handshakeTimeoutMs ?? 10_000;
  }

  get protocolVersion(): string {
    return this.options.protocolVersion ?? LINK_PROTOCOL_VERSION;
  }

  /** @internal Logs through this network's log callback (used by its listeners). */
  emit(event: string, fields: Record<string, unknown>): void {
    this.log(event, fields);
  }

  private secureContextOptions(): tls.SecureContextOptions {
    return {
      key: this.identity.leafKeyPem,
      cert: this.identity.leafCertPem,
      // An empty list (no paired site yet) trusts nobody: Node falls back to public roots only when `ca` is absent.
      ca: this.trustedPeers.caCertPems(),
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
    };
  }

  private tlsConnect(address: string, host: string, port: number): Promise<tls.TLSSocket> {
    return new Promise<tls.TLSSocket>((resolve, reject) => {
      const socket = tls.connect({
        host,
        port,
        ...this.secureContextOptions(),
        rejectUnauthorized: true,
        // Addresses are not in the certificates (only the site id is); which site answered is checked
        // against the paired CAs right after the handshake instead.
        checkServerIdentity: () => undefined,
      });
      const timer = this.clock.setTimer(this.handshakeTimeoutMs, () => socket.destroy(new LinkError(`TLS handshake with ${address} timed out after ${this.handshakeTimeoutMs} ms`)));
      const fail = (e: Error): void => {
        timer.cancel();
        socket.destroy();
        reject(linkFailure(address, e));
      };
      socket.once('error', fail);
      socket.once('secureConnect', () => {
        timer.cancel();
        socket.off('error', fail);
        // Errors before the FramedConnection takes over (same tick) must not become uncaught exceptions.
        socket.on('error', () => {});
        resolve(socket);
      });
    });
  }
}

export class TlsLinkListener implements LinkListener {
  private readonly listeners: ((connection: LinkConnection) => void)[] = [];
  /** Connections accepted before anyone listened; handed to the first listener. */
  private backlog: FramedConnection[] = [];
  private readonly connections = new Set<FramedConnection>();
  private readonly sockets = new Set<Socket>();
  private readonly remotes = new WeakMap<Socket, string>();
  private readonly stopWatchingTrust: () => void;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly server: tls.Server,
    readonly address: string,
    private readonly network: TlsNetwork,
    secureContextOptions: () => tls.SecureContextOptions,
  ) {
    // Pairing while listening must take effect for the next connection, without a restart.
    this.stopWatchingTrust = network.trustedPeers.onChange(() => server.setSecureContext(secureContextOptions()));
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      this.remotes.set(socket, remoteOf(socket));
      socket.on('close', () => this.sockets.delete(socket));
    });
    server.on('secureConnection', (socket: tls.TLSSocket) => this.accept(socket));
    server.on('tlsClientError', (error: Error & { code?: string }, socket: tls.TLSSocket) => {
      // Node keeps a server-side TLSSocket's TCP socket in the undocumented `_parent`; it only names the
      // peer in the log here (the TLSSocket itself forgets its address once destroyed).
      const raw = (socket as tls.TLSSocket & { _parent?: Socket })._parent;
      const remote = (raw && this.remotes.get(raw)) ?? remoteOf(socket);
      const refused = socket.authorizationError;
      network.emit('link.tls-refused', refused
        ? { remote, reason: `client certificate refused: ${String(refused)}`, code: String(refused) }
        : { remote, reason: error.message, code: error.code });
    });
    server.on('error', (error: Error) => network.emit('link.listener-error', { address, reason: error.message }));
  }

  onConnection(listener: (connection: LinkConnection) => void): void {
    this.listeners.push(listener);
    const backlog = this.backlog;
    this.backlog = [];
    for (const c of backlog) if (!c.closed) listener(c);
  }

  /** Number of connections accepted and still open. */
  get openConnections(): number {
    return this.connections.size;
  }

  /** Stops accepting and closes every connection this listener accepted. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.stopWatchingTrust();
      const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
      await Promise.all([...this.connections].map((c) => c.close()));
      for (const s of this.sockets) s.destroy(); // sockets still in the TLS or version handshake
      await stopped;
    })();
    return this.closing;
  }

  private accept(socket: tls.TLSSocket): void {
    const remote = remoteOf(socket);
    socket.on('error', () => {}); // until the FramedConnection takes over below, or if it is refused
    const cert = socket.authorized ? socket.getPeerX509Certificate() : undefined;
    const peer = cert && this.network.trustedPeers.siteOf(cert);
    if (!peer || this.closing) {
      this.network.emit('link.peer-refused', { remote, reason: this.closing ? 'listener closing' : `certificate does not belong to a paired site (${socket.authorizationError ?? 'no match'})` });
      socket.destroy();
      return;
    }
    const connection = this.network.wrap(socket, remote, peer.siteId);
    this.connections.add(connection);
    connection.onClose(() => this.connections.delete(connection));
    serverHandshake(connection, { siteId: this.network.identity.siteId, protocolVersion: this.network.protocolVersion, timeoutMs: this.network.handshakeTimeoutMs }).then(
      (hello) => {
        this.network.emit('link.accepted', { remote, peerSiteId: peer.siteId, role: hello.role, protocolVersion: hello.protocolVersion });
        if (this.listeners.length === 0) this.backlog.push(connection);
        for (const listener of this.listeners) {
          try {
            listener(connection);
          } catch (e) {
            this.network.emit('link.listener-error', { remote, reason: (e as Error).message });
          }
        }
      },
      (e: unknown) => {
        this.network.emit('link.refused', { remote, peerSiteId: peer.siteId, reason: (e as Error).message, code: (e as { code?: unknown }).code });
      },
    );
  }
}

function remoteOf(socket: { remoteAddress?: string; remotePort?: number }): string {
  return socket.remoteAddress ? formatHostPort(socket.remoteAddress, socket.remotePort ?? 0) : 'unknown';
}

/** Turns what a failed connect threw into a typed error. */
function linkFailure(address: string, e: unknown): Error {
  if (e instanceof OpenCdpError) return e;
  const error = e as Error & { code?: string };
  const code = error.code ?? '';
  if (TRUST_FAILURES.has(code)) return new PeerNotTrustedError(address, `its certificate is not from a paired site (${code})`);
  // In TLS 1.3 the server checks our certificate after the client finished: a refusal arrives as an alert.
  if (/^ERR_SSL_.*(ALERT|CERTIFICATE)/.test(code)) return new PeerNotTrustedError(address, `it refused this site's certificate (${code})`);
  return new LinkError(`cannot link to ${address}: ${error.message ?? String(e)}${code ? ` (${code})` : ''}`, e);
}
