import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import fc from 'fast-check';
import { encodeFrame } from './frame-codec.js';
import type { FramedConnection } from './framed-connection.js';
import { LinkError, PeerNotTrustedError, ProtocolError, ProtocolVersionError } from './link-errors.js';
import { handshakeCodec } from './message-registry.js';
import type { SiteIdentity } from './site-identity.js';
import { eventually, leafFromOtherCa, pairedIdentities, recordingLog, selfSignedCertificate, testIdentity, type LogEntry } from './testing/link-fixtures.js';
import { TlsLinkListener, TlsNetwork } from './tls-network.js';
import type { LinkConnection } from '../ports/network-adapter.js';

const portOf = (address: string): number => Number(address.slice(address.lastIndexOf(':') + 1));

/** A bare TLS client (no OpenCDP framing), for presenting odd certificates and hostile bytes. */
function rawClient(port: number, creds: { key?: string; cert?: string; ca?: string[] }): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ...creds, minVersion: 'TLSv1.3', checkServerIdentity: () => undefined });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

function closedSocket(socket: tls.TLSSocket): Promise<void> {
  return new Promise((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));
}

async function refusedAsUntrusted(promise: Promise<unknown>, detail: RegExp): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof PeerNotTrustedError, `expected PeerNotTrustedError, got ${String(e)}`);
    assert.equal(e.code, 'PEER_NOT_TRUSTED');
    assert.match(e.message, detail);
    return true;
  });
}

describe('TlsNetwork', () => {
  let a: SiteIdentity;
  let b: SiteIdentity;
  let serverLog: { log: (event: string, fields: Record<string, unknown>) => void; entries: LogEntry[] };
  let listener: TlsLinkListener;
  let accepted: FramedConnection[];
  const cleanup: (() => Promise<void>)[] = [];

  beforeEach(async () => {
    [a, b] = pairedIdentities();
    serverLog = recordingLog();
    listener = await new TlsNetwork({ identity: a, log: serverLog.log }).listen('127.0.0.1:0');
    accepted = [];
    listener.onConnection((c: LinkConnection) => accepted.push(c as FramedConnection));
  });

  afterEach(async () => {
    for (const fn of cleanup.splice(0)) await fn();
    await listener.close();
  });

  async function connectB(network = new TlsNetwork({ identity: b })): Promise<FramedConnection> {
    const connection = await network.connect(listener.address);
    cleanup.push(() => connection.close());
    return connection;
  }

  it('listens on the real port and carries frames both ways between paired sites', async () => {
    assert.match(listener.address, /^127\.0\.0\.1:\d+$/);
    assert.notEqual(portOf(listener.address), 0);
    const client = await connectB();
    assert.equal(client.peerSiteId, 'site-a');
    await eventually(() => accepted.length === 1);
    const server = accepted[0]!;
    assert.equal(server.peerSiteId, 'site-b');
    assert.equal(server.peerRole, 'appliance');
    const got: unknown[] = [];
    server.onFrame((_raw, f) => got.push(f.meta));
    const back: Buffer[] = [];
    client.onFrame((_raw, f) => back.push(f.payload));
    await client.sendParts(encodeFrame(20, { n: 1 }, Buffer.from('write')));
    await server.sendParts(encodeFrame(21, { ack: 1 }, Buffer.from('ack')));
    await eventually(() => got.length === 1 && back.length === 1);
    assert.deepEqual(got, [{ n: 1 }]);
    assert.equal(back[0]!.toString(), 'ack');
    assert.ok(serverLog.entries.some((e) => e.event === 'link.accepted' && e.fields.peerSiteId === 'site-b'));
  });

  it('refuses a third, unpaired site, whichever side lacks the trust', async () => {
    const c = testIdentity('site-c');
    // C trusts A, but A never paired with C: A's TLS server refuses C's certificate.
    c.trustedPeers.add(a.asTrustedPeer());
    await refusedAsUntrusted(new TlsNetwork({ identity: c }).connect(listener.address), /refuses a client certificate|refused this site's certificate/);
    await eventually(() => serverLog.entries.some((e) => e.event === 'link.tls-refused' && e.fields.code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'));
    assert.equal(accepted.length, 0);
    assert.equal(listener.openConnections, 0);

    // B trusts C, but C does not trust B; and B does not trust D, which trusts B.
    const cListener = await new TlsNetwork({ identity: testIdentity('site-c') }).listen('127.0.0.1:0');
    b.trustedPeers.add(testIdentity('site-c').asTrustedPeer());
    await refusedAsUntrusted(new TlsNetwork({ identity: b }).connect(cListener.address), /client certificate/);
    await cListener.close();
    const d = testIdentity('site-d');
    d.trustedPeers.add(b.asTrustedPeer());
    const dListener = await new TlsNetwork({ identity: d }).listen('127.0.0.1:0');
    await refusedAsUntrusted(new TlsNetwork({ identity: b }).connect(dListener.address), /UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
    await dListener.close();
  });

  it('refuses self-signed certificates on either side', async () => {
    const impostor = selfSignedCertificate(); // names site-b, but no CA signed it
    const socket = await rawClient(portOf(listener.address), { key: impostor.keyPem, cert: impostor.certPem, ca: [a.caCertPem] });
    socket.on('error', () => {});
    const data: Buffer[] = [];
    socket.on('data', (d: Buffer) => data.push(d));
    socket.write(Buffer.concat(handshakeCodec.encode('hello', { protocolVersion: '1.0.0', siteId: 'site-b', role: 'appliance' })));
    await closedSocket(socket);
    assert.equal(data.length, 0, 'not even a refuse frame: the TLS layer dropped it');
    await eventually(() => serverLog.entries.some((e) => e.event === 'link.tls-refused' && e.fields.code === 'DEPTH_ZERO_SELF_SIGNED_CERT'));
    assert.equal(accepted.length, 0);

    const server = tls.createServer({ key: impostor.keyPem, cert: impostor.certPem, minVersion: 'TLSv1.3' });
    server.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    await refusedAsUntrusted(new TlsNetwork({ identity: b }).connect(`127.0.0.1:${(server.address() as AddressInfo).port}`), /DEPTH_ZERO_SELF_SIGNED_CERT/);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('refuses a certificate from a paired CA that names another site', async () => {
    const wrongSite = leafFromOtherCa(b, 'site-x'); // signed by B's CA, which A trusts, but not for site-b
    const socket = await rawClient(portOf(listener.address), { key: wrongSite.keyPem, cert: wrongSite.certPem, ca: [a.caCertPem] });
    socket.on('error', () => {});
    socket.write(Buffer.concat(handshakeCodec.encode('hello', { protocolVersion: '1.0.0', siteId: 'site-b', role: 'appliance' })));
    await closedSocket(socket);
    assert.ok(serverLog.entries.some((e) => e.event === 'link.peer-refused' && /paired site/.test(String(e.fields.reason))));
    assert.equal(accepted.length, 0);
  });

  it("refuses a hello whose site id is not the certificate's", async () => {
    const socket = await rawClient(portOf(listener.address), { key: b.leafKeyPem, cert: b.leafCertPem, ca: [a.caCertPem] });
    const data: Buffer[] = [];
    socket.on('data', (d: Buffer) => data.push(d));
    socket.write(Buffer.concat(handshakeCodec.encode('hello', { protocolVersion: '1.0.0', siteId: 'site-c', role: 'appliance' })));
    await closedSocket(socket);
    const answer = handshakeCodec.decode(Buffer.concat(data));
    assert.equal(answer.name, 'refuse');
    assert.match(answer.name === 'refuse' ? answer.meta.reason : '', /hello says site 'site-c' but the certificate belongs to site 'site-b'/);
    assert.equal(accepted.length, 0);
  });

  it('lets a site paired while listening connect without a restart, and can pin the expected site', async () => {
    const c = testIdentity('site-c');
    c.trustedPeers.add(a.asTrustedPeer());
    a.trustedPeers.add(c.asTrustedPeer());
    const connection = await new TlsNetwork({ identity: c }).connect(listener.address, { expectSiteId: 'site-a' });
    assert.equal(connection.peerSiteId, 'site-a');
    await connection.close();
    await refusedAsUntrusted(new TlsNetwork({ identity: b }).connect(listener.address, { expectSiteId: 'site-z' }), /it is site 'site-a', not 'site-z'/);
  });

  it('refuses a major protocol version mismatch over TLS, naming both versions', async () => {
    await assert.rejects(new TlsNetwork({ identity: b, protocolVersion: '2.0.0' }).connect(listener.address), (e: unknown) => {
      assert.ok(e instanceof ProtocolVersionError);
      assert.match(e.message, /this side speaks 2\.0\.0, the peer speaks 1\.0\.0/);
      return true;
    });
    await eventually(() => serverLog.entries.some((e) => e.event === 'link.refused' && e.fields.code === 'PROTOCOL_VERSION' && /2\.0\.0/.test(String(e.fields.reason))));
    assert.equal(accepted.length, 0);
  });

  it('throttles sends to the bandwidth limit', async () => {
    async function transfer(limit: number | undefined): Promise<number> {
      const network = new TlsNetwork({ identity: b });
      network.setBandwidthLimit(limit);
      const client = await connectB(network);
      await eventually(() => accepted.length > 0);
      const server = accepted.shift()!;
      let received = 0;
      server.onFrame((_raw, f) => { received += f.payload.length; });
      const payload = Buffer.alloc(64 * 1024, 3);
      const started = Date.now();
      for (let i = 0; i < 16; i++) await client.sendParts(encodeFrame(20, { i }, payload));
      await eventually(() => received === 16 * payload.length, 5000, '1 MiB to arrive');
      return (Date.now() - started) / 1000;
    }
    const unthrottled = await transfer(undefined);
    const throttled = await transfer(2_000_000);
    assert.ok(unthrottled < 0.3, `unthrottled 1 MiB took ${unthrottled} s`);
    assert.ok(throttled >= 0.45, `1 MiB at 2 MB/s took only ${throttled} s`);
    assert.ok(throttled < 1.5, `1 MiB at 2 MB/s took ${throttled} s`);
  });

  it('pushes back on the sender when the receiver pauses', async () => {
    const client = await connectB();
    await eventually(() => accepted.length === 1);
    const server = accepted[0]!;
    server.pause();
    const order: number[] = [];
    server.onFrame((_raw, f) => order.push((f.meta as { i: number }).i));
    const payload = Buffer.alloc(64 * 1024, 5);
    const count = 400;
    let resolved = 0;
    const sends = Array.from({ length: count }, (_, i) => client.sendParts(encodeFrame(20, { i }, payload)).then(() => { resolved++; }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(order.length, 0, 'a paused receiver gets no frames');
    assert.ok(resolved < count / 2, `${resolved} of ${count} sends resolved while the receiver was paused`);
    assert.ok(client.socketBufferedBytes <= 1024 * 1024, `sender socket buffered ${client.socketBufferedBytes} bytes`);
    server.resume();
    await Promise.all(sends);
    await eventually(() => order.length === count, 5000, 'all frames');
    assert.deepEqual(order, [...Array(count).keys()]);
  });

  it('reports an unreachable peer as a LinkError', async () => {
    const closed = await new TlsNetwork({ identity: b }).listen('127.0.0.1:0');
    await closed.close();
    await assert.rejects(new TlsNetwork({ identity: b }).connect(closed.address), (e: unknown) => e instanceof LinkError && /ECONNREFUSED/.test(e.message));
    await assert.rejects(new TlsNetwork({ identity: b }).connect('no port'), /not a link address/);
  });

  it('closing the listener closes the connections it accepted', async () => {
    const client = await connectB();
    await eventually(() => accepted.length === 1);
    await listener.close();
    await client.whenClosed();
    assert.equal(client.closeReason, undefined);
  });

  it('survives hostile bytes from an authenticated peer: only ProtocolErrors, logged, and it keeps serving', async function () {
    this.timeout(15_000);
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown): void => { uncaught.push(e); };
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    const reasons: (Error | undefined)[] = [];
    listener.onConnection((c) => c.onClose((r) => reasons.push(r)));
    const keeper = await connectB(); // an honest connection that must outlive the abuse
    try {
      const hello = Buffer.concat(handshakeCodec.encode('hello', { protocolVersion: '1.0.0', siteId: 'site-b', role: 'appliance' }));
      const header = (length: number, metaLength: number): Buffer => {
        const h = Buffer.alloc(9);
        h.writeUInt32BE(length >>> 0, 0);
        h.writeUInt8(1, 4);
        h.writeUInt32BE(metaLength >>> 0, 5);
        return h;
      };
      // [bytes, whether they are certainly invalid]
      const hostile: fc.Arbitrary<[Buffer, boolean]> = fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 3000 }).map((x): [Buffer, boolean] => [Buffer.from(x), true]),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }).map((edits): [Buffer, boolean] => {
          const x = Buffer.from(hello);
          for (const [at, v] of edits) x[at % x.length] = v;
          return [x, false]; // a mutation may leave a valid hello
        }),
        fc.integer({ min: 65 * 1024 * 1024 + 1, max: 0xffff_ffff }).map((n): [Buffer, boolean] => [header(n, 10), true]),
        fc.integer({ min: 1, max: hello.length - 1 }).map((n): [Buffer, boolean] => [hello.subarray(0, n), true]),
        fc.uint8Array({ minLength: 1, maxLength: 200 }).map((g): [Buffer, boolean] => [Buffer.concat([hello, Buffer.from(g)]), true]),
        fc.string({ maxLength: 50 }).map((s): [Buffer, boolean] => {
          const meta = Buffer.from(`{${s}`);
          return [Buffer.concat([header(5 + meta.length, meta.length), meta]), true];
        }),
        fc.integer({ min: 2 * 1024 * 1024, max: 0xffff_ffff }).map((m): [Buffer, boolean] => [header(100, m), true]),
        fc.constant<[Buffer, boolean]>([Buffer.concat(handshakeCodec.encode('pong', { n: 1 })), true]),
      );
      await fc.assert(fc.asyncProperty(hostile, async ([bytes, certainlyInvalid]) => {
        const socket = await rawClient(portOf(listener.address), { key: b.leafKeyPem, cert: b.leafCertPem, ca: [a.caCertPem] });
        const remote = `127.0.0.1:${socket.localPort}`;
        socket.on('error', () => {}); // the server may reset us mid-write
        socket.resume();
        socket.end(bytes);
        await closedSocket(socket);
        await eventually(() => serverLog.entries.some((e) => e.event === 'link.closed' && e.fields.remote === remote), 3000, `the server to close ${remote}`);
        const mine = serverLog.entries.filter((e) => e.fields.remote === remote);
        for (const e of mine) {
          if (e.fields.code !== undefined) assert.match(String(e.fields.code), /^PROTOCOL/, `${e.event}: ${String(e.fields.reason)}`);
        }
        if (certainlyInvalid) {
          const closed = mine.find((e) => e.event === 'link.closed')!;
          assert.match(String(closed.fields.code), /^PROTOCOL/, 'closed with a protocol error');
          assert.ok(String(closed.fields.reason).length > 0, 'with a reason');
        }
      }), { numRuns: 80 });
      for (const r of reasons) assert.ok(r === undefined || r instanceof ProtocolError, `an accepted connection closed with ${String(r)}`);
      // Both defences were exercised: the frame decoder and the handshake's message checks.
      assert.ok(serverLog.entries.some((e) => e.event === 'link.protocol-error'));
      assert.ok(serverLog.entries.some((e) => e.event === 'link.refused'));
      assert.deepEqual(uncaught, []);

      // The listener still serves: the honest connection works, and new ones are accepted.
      const keeperServer = accepted[0]!;
      const got: Buffer[] = [];
      keeperServer.onFrame((raw) => got.push(raw));
      await keeper.send(Buffer.concat(encodeFrame(20, { still: 'here' })));
      await eventually(() => got.length === 1);
      const fresh = await connectB();
      assert.equal(fresh.peerSiteId, 'site-a');
    } finally {
      process.off('uncaughtException', onUncaught);
      process.off('unhandledRejection', onUncaught);
    }
  });
});
