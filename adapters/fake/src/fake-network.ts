// An in-process site link on the virtual clock: frames cross with latency and at a bandwidth, in order,
// and the network can be partitioned or made lossy (a lost frame resets the connection, as a TCP
// reset would). Every site gets a NetworkAdapter endpoint; addresses are `site:port`.
import { OpenCdpError, seededRandom, type Clock, type LinkConnection, type LinkListener, type NetworkAdapter, type Random } from '@opencdp/core';

export class LinkDownError extends OpenCdpError {
  constructor(message: string) {
    super('LINK_DOWN', message, 'the site link is down or partitioned; the appliances fall back to a bitmap and resync when it returns');
  }
}

export interface FakeLinkProfile {
  /** One-way delay of every frame (default 0). */
  latencyMs?: number;
  /** Bytes per second in each direction (default unlimited). */
  bytesPerSecond?: number;
  /** Probability that a frame is lost, which resets its connection (default 0). */
  lossRate?: number;
}

interface Direction {
  /** When the wire is free again (bandwidth serialisation). */
  freeAt: number;
}

class FakeConnection implements LinkConnection {
  private readonly frameListeners: ((frame: Buffer) => void)[] = [];
  private readonly closeListeners: ((reason: Error | undefined) => void)[] = [];
  private readonly out: Direction = { freeAt: 0 };
  peer!: FakeConnection;
  closed = false;
  /** Frames that arrived before anyone listened (a server accepting a connection attaches listeners next). */
  private early: Buffer[] = [];

  constructor(
    private readonly network: FakeNetwork,
    readonly localSite: string,
    readonly remoteSite: string,
    readonly remote: string,
    private readonly endpoint: FakeNetworkEndpoint,
  ) {}

  send(frame: Buffer): Promise<void> {
    if (this.closed) return Promise.reject(new LinkDownError(`connection to ${this.remote} is closed`));
    return this.network.transmit(this, this.out, Buffer.from(frame), this.endpoint.bandwidthLimit);
  }

  onFrame(listener: (frame: Buffer) => void): void {
    this.frameListeners.push(listener);
    const early = this.early;
    this.early = [];
    for (const f of early) listener(f);
  }

  onClose(listener: (reason: Error | undefined) => void): void {
    if (this.closed) queueMicrotask(() => listener(undefined));
    else this.closeListeners.push(listener);
  }

  async close(): Promise<void> {
    this.network.reset(this, undefined);
  }

  deliver(frame: Buffer): void {
    if (this.closed) return;
    if (this.frameListeners.length === 0) this.early.push(frame);
    for (const l of this.frameListeners) l(frame);
  }

  shut(reason: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    for (const l of this.closeListeners.splice(0)) l(reason);
  }
}

class FakeListener implements LinkListener {
  readonly listeners: ((c: LinkConnection) => void)[] = [];
  closed = false;
  constructor(readonly address: string, private readonly network: FakeNetwork) {}
  onConnection(listener: (connection: LinkConnection) => void): void {
    this.listeners.push(listener);
  }
  async close(): Promise<void> {
    this.closed = true;
    this.network.unlisten(this.address);
  }
}

/** One site's view of the fake network. */
export class FakeNetworkEndpoint implements NetworkAdapter {
  readonly kind = 'fake';
  bandwidthLimit: number | undefined;

  constructor(private readonly network: FakeNetwork, readonly site: string) {}

  listen(address: string): Promise<LinkListener> {
    return this.network.listen(this.site, address);
  }

  connect(address: string): Promise<LinkConnection> {
    return this.network.connect(this, address);
  }

  setBandwidthLimit(bytesPerSecond: number | undefined): void {
    this.bandwidthLimit = bytesPerSecond;
  }
}

export class FakeNetwork {
  private readonly listeners = new Map<string, FakeListener>();
  private readonly connections = new Set<FakeConnection>();
  private readonly partitions = new Set<string>();
  /** Site pairs whose frames vanish silently (see `blackhole`). */
  private readonly blackholes = new Set<string>();
  private readonly random: Random;
  private nextPort = 40000;
  profile: FakeLinkProfile = {};
  /** Bytes handed to the wire (payload bytes, both directions). */
  bytesSent = 0;
  framesLost = 0;

  constructor(private readonly clock: Clock, seed = 1) {
    this.random = seededRandom(seed);
  }

  endpoint(site: string): FakeNetworkEndpoint {
    return new FakeNetworkEndpoint(this, site);
  }

  setProfile(profile: FakeLinkProfile): void {
    this.profile = { ...profile };
  }

  /** Cuts the two sites apart: open connections between them reset, new ones are refused. */
  partition(a: string, b: string): void {
    this.partitions.add(pairKey(a, b));
    for (const c of [...this.connections]) {
      if (pairKey(c.localSite, c.remoteSite) === pairKey(a, b)) this.reset(c, new LinkDownError(`sites ${a} and ${b} are partitioned`));
    }
  }

  heal(a: string, b: string): void {
    this.partitions.delete(pairKey(a, b));
    this.blackholes.delete(pairKey(a, b));
  }

  /**
   * Frames between the two sites vanish from now on, and nothing is reset (a peer that died without a
   * word, a cable pulled): open connections look healthy until a keep-alive gives up on them. New
   * connections are refused. `heal` ends it.
   */
  blackhole(a: string, b: string): void {
    this.blackholes.add(pairKey(a, b));
  }

  isPartitioned(a: string, b: string): boolean {
    return this.partitions.has(pairKey(a, b));
  }

  /** Resets every open connection (a link flap). */
  resetAll(): void {
    for (const c of [...this.connections]) this.reset(c, new LinkDownError('link reset'));
  }

  get openConnections(): number {
    return this.connections.size / 2;
  }

  // ---- used by endpoints and connections ---------------------------------------------------

  async listen(site: string, address: string): Promise<LinkListener> {
    const [host, port] = splitAddress(address);
    if (host !== site) throw new LinkDownError(`site ${site} cannot listen on ${address} (addresses are '${site}:port')`);
    const resolved = `${host}:${port === 0 ? this.nextPort++ : port}`;
    if (this.listeners.has(resolved)) throw new LinkDownError(`${resolved} is already listening`);
    const listener = new FakeListener(resolved, this);
    this.listeners.set(resolved, listener);
    return listener;
  }

  unlisten(address: string): void {
    this.listeners.delete(address);
  }

  async connect(from: FakeNetworkEndpoint, address: string): Promise<LinkConnection> {
    const [site] = splitAddress(address);
    const listener = this.listeners.get(address);
    if (!listener || listener.closed) throw new LinkDownError(`nothing listens on ${address}`);
    if (this.isPartitioned(from.site, site) || this.blackholes.has(pairKey(from.site, site))) throw new LinkDownError(`sites ${from.site} and ${site} are partitioned`);
    const serverEndpoint = new FakeNetworkEndpoint(this, site);
    const client = new FakeConnection(this, from.site, site, address, from);
    const server = new FakeConnection(this, site, from.site, `${from.site}:client`, serverEndpoint);
    client.peer = server;
    server.peer = client;
    this.connections.add(client);
    this.connections.add(server);
    for (const l of listener.listeners) l(server);
    return client;
  }

  transmit(from: FakeConnection, dir: Direction, frame: Buffer, limit: number | undefined): Promise<void> {
    const bps = Math.min(limit ?? Infinity, this.profile.bytesPerSecond ?? Infinity);
    const now = this.clock.now();
    const start = Math.max(now, dir.freeAt);
    dir.freeAt = start + (Number.isFinite(bps) ? (frame.length / bps) * 1000 : 0);
    const deliverAt = dir.freeAt + (this.profile.latencyMs ?? 0);
    this.bytesSent += frame.length;
    const lost = (this.profile.lossRate ?? 0) > 0 && this.random.next() < this.profile.lossRate!;
    this.clock.setTimer(deliverAt - now, () => {
      if (from.closed || this.blackholes.has(pairKey(from.localSite, from.remoteSite))) return;
      if (lost) {
        this.framesLost++;
        this.reset(from, new LinkDownError('a frame was lost; the connection was reset'));
        return;
      }
      from.peer.deliver(frame);
    });
    // The sender may go on once its frame is on the wire.
    if (dir.freeAt <= now) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.clock.setTimer(dir.freeAt - now, () => (from.closed ? reject(new LinkDownError(`connection to ${from.remote} closed while sending`)) : resolve()));
    });
  }

  reset(c: FakeConnection, reason: Error | undefined): void {
    this.connections.delete(c);
    this.connections.delete(c.peer);
    c.shut(reason);
    c.peer?.shut(reason);
  }
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

function splitAddress(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  const port = Number(address.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 0) throw new LinkDownError(`'${address}' is not a site:port address`);
  return [address.slice(0, i), port];
}
