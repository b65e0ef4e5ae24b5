import assert from 'node:assert/strict';
import net from 'node:net';
import { VirtualClock } from '../clock.js';
import { ClosedError } from '../errors.js';
import { encodeFrame } from './frame-codec.js';
import { FramedConnection, sendFrame } from './framed-connection.js';
import { clientHandshake, serverHandshake } from './handshake.js';
import { ProtocolError, ProtocolVersionError } from './link-errors.js';
import { handshakeCodec } from './message-registry.js';
import type { LinkConnection } from '../ports/network-adapter.js';
import { eventually, recordingLog } from './testing/link-fixtures.js';

/** A connected TCP socket pair on 127.0.0.1. */
async function tcpPair(): Promise<{ client: net.Socket; server: net.Socket; close: () => Promise<void> }> {
  const listener = net.createServer();
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<net.Socket>((resolve) => listener.once('connection', resolve));
  const client = net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise<void>((resolve) => client.once('connect', resolve));
  const server = await accepted;
  return {
    client,
    server,
    close: async () => {
      client.destroy();
      server.destroy();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    },
  };
}

const frame = (n: number, payload?: Buffer): Buffer => Buffer.concat(encodeFrame(20, { n }, payload));

describe('FramedConnection', () => {
  it('carries frames both ways in order, keeping those that arrive before anyone listens', async () => {
    const pair = await tcpPair();
    const a = new FramedConnection(pair.client);
    const b = new FramedConnection(pair.server);
    for (let n = 0; n < 50; n++) await a.send(frame(n, Buffer.alloc(n * 100, n)));
    await new Promise((resolve) => setTimeout(resolve, 20)); // all of it arrives with no listener attached
    const got: number[] = [];
    b.onFrame((_raw, f) => got.push((f.meta as { n: number }).n));
    await eventually(() => got.length === 50, 2000, '50 frames');
    assert.deepEqual(got, [...Array(50).keys()]);
    const back: Buffer[] = [];
    a.onFrame((raw) => back.push(raw));
    await b.sendParts(encodeFrame(21, { back: true }, Buffer.from('pong')));
    await eventually(() => back.length === 1);
    assert.deepEqual(back[0], Buffer.concat(encodeFrame(21, { back: true }, Buffer.from('pong'))));
    await a.close();
    await b.whenClosed();
    assert.equal(a.closeReason, undefined);
    assert.equal(b.closeReason, undefined);
    await pair.close();
  });

  it('closes with a logged ProtocolError on garbage, without throwing', async () => {
    const pair = await tcpPair();
    const { log, entries } = recordingLog();
    const server = new FramedConnection(pair.server, { log, remote: 'peer-1' });
    const reasons: (Error | undefined)[] = [];
    server.onClose((r) => reasons.push(r));
    server.onFrame(() => assert.fail('no frame can come out of garbage'));
    pair.client.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await server.whenClosed();
    assert.ok(reasons[0] instanceof ProtocolError);
    assert.match(reasons[0].message, /over the limit/); // "GET " read as a length
    const logged = entries.find((e) => e.event === 'link.protocol-error');
    assert.equal(logged?.fields.remote, 'peer-1');
    assert.match(String(logged?.fields.reason), /over the limit/);
    assert.ok(entries.some((e) => e.event === 'link.closed' && e.fields.code === 'PROTOCOL'));
    await assert.rejects(server.send(frame(1)), ClosedError);
    await pair.close();
  });

  it('treats a stream that ends inside a frame as a protocol error', async () => {
    const pair = await tcpPair();
    const server = new FramedConnection(pair.server);
    server.onFrame(() => {});
    pair.client.end(frame(1, Buffer.alloc(100)).subarray(0, 50));
    await server.whenClosed();
    assert.ok(server.closeReason instanceof ProtocolError);
    assert.match(server.closeReason.message, /inside a frame: 50 of 116 bytes arrived/);
    await pair.close();
  });

  it('closes, and logs, when a frame listener throws', async () => {
    const pair = await tcpPair();
    const { log, entries } = recordingLog();
    const server = new FramedConnection(pair.server, { log });
    server.onFrame(() => {
      throw new Error('consumer bug');
    });
    await new FramedConnection(pair.client).send(frame(1));
    await server.whenClosed();
    assert.match(server.closeReason?.message ?? '', /consumer bug/);
    assert.ok(entries.some((e) => e.event === 'link.listener-error' && e.fields.reason === 'consumer bug'));
    await pair.close();
  });

  it('refuses to send bytes that are not one whole frame', async () => {
    const pair = await tcpPair();
    const a = new FramedConnection(pair.client);
    await assert.rejects(a.send(Buffer.from('raw bytes')), ProtocolError);
    await assert.rejects(a.send(Buffer.concat([frame(1), Buffer.from([0])])), /malformed frame/);
    await a.send(frame(2)); // still usable
    await pair.close();
  });

  it('waits for the socket to drain: a reader that does not read stops the sender', async () => {
    const pair = await tcpPair();
    pair.server.pause(); // the peer reads nothing
    const sender = new FramedConnection(pair.client);
    const payload = Buffer.alloc(64 * 1024, 1);
    const count = 400; // 25 MiB: more than loopback socket buffers hold
    let resolved = 0;
    let maxBuffered = 0;
    const sends = Array.from({ length: count }, () => sender.sendParts(encodeFrame(20, {}, payload)).then(() => {
      resolved++;
      maxBuffered = Math.max(maxBuffered, sender.socketBufferedBytes);
    }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(resolved < count / 2, `${resolved} of ${count} sends resolved while the peer read nothing`);
    assert.ok(sender.socketBufferedBytes <= 1024 * 1024, `socket buffered ${sender.socketBufferedBytes} bytes`);
    assert.ok(sender.pendingBytes > 10 * 1024 * 1024, 'the rest waits in the send queue, as the callers\' own buffers');
    pair.server.resume();
    pair.server.on('data', () => {});
    await Promise.all(sends);
    assert.equal(resolved, count);
    assert.ok(maxBuffered <= 1024 * 1024, `socket buffered up to ${maxBuffered} bytes`);
    await pair.close();
  });

  it('close() drops frames not yet handed to the socket and rejects their sends', async () => {
    const pair = await tcpPair();
    pair.server.pause();
    const sender = new FramedConnection(pair.client, { closeTimeoutMs: 100 });
    const payload = Buffer.alloc(1024 * 1024);
    const sends = Array.from({ length: 40 }, () => sender.sendParts(encodeFrame(20, {}, payload)));
    const settled = Promise.allSettled(sends);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await sender.close();
    const outcomes = await settled;
    assert.ok(outcomes.some((o) => o.status === 'rejected' && o.reason instanceof ClosedError));
    await pair.close();
  });

  it('sendFrame joins parts only for adapters that cannot take them apart', async () => {
    const sent: Buffer[] = [];
    const plain: LinkConnection = { remote: 'x', send: async (f) => { sent.push(f); }, onFrame: () => {}, onClose: () => {}, close: async () => {} };
    const parts = encodeFrame(20, { n: 1 }, Buffer.from('payload'));
    await sendFrame(plain, parts);
    assert.deepEqual(sent, [Buffer.concat(parts)]);
    const pair = await tcpPair();
    const framed = new FramedConnection(pair.client);
    const got: Buffer[] = [];
    new FramedConnection(pair.server).onFrame((raw) => got.push(raw));
    await sendFrame(framed, parts);
    await eventually(() => got.length === 1);
    assert.deepEqual(got[0], Buffer.concat(parts));
    await pair.close();
  });

  describe('version handshake', () => {
    async function handshakePair(serverVersion: string, clientVersion: string) {
      const pair = await tcpPair();
      const serverLog = recordingLog();
      const server = new FramedConnection(pair.server, { log: serverLog.log });
      const client = new FramedConnection(pair.client);
      const [s, c] = await Promise.allSettled([
        serverHandshake(server, { siteId: 'site-a', protocolVersion: serverVersion }),
        clientHandshake(client, { siteId: 'site-b', role: 'appliance', protocolVersion: clientVersion }),
      ]);
      return { pair, server, client, s, c, serverLog };
    }

    it('accepts the same major version', async () => {
      const { pair, server, client, s, c } = await handshakePair('1.0.0', '1.4.2');
      assert.equal(s.status, 'fulfilled');
      assert.equal(c.status, 'fulfilled');
      assert.deepEqual(s.status === 'fulfilled' && s.value, { protocolVersion: '1.4.2', siteId: 'site-b', role: 'appliance' });
      assert.equal(server.peerRole, 'appliance');
      assert.equal(c.status === 'fulfilled' && c.value.siteId, 'site-a');
      await client.close();
      await pair.close();
    });

    it('refuses a major mismatch naming both versions, and both sides close', async () => {
      const { pair, server, client, s, c, serverLog } = await handshakePair('1.0.0', '2.1.0');
      assert.equal(c.status, 'rejected');
      const clientError = c.status === 'rejected' ? c.reason : undefined;
      assert.ok(clientError instanceof ProtocolVersionError);
      assert.equal(clientError.code, 'PROTOCOL_VERSION');
      assert.match(clientError.message, /this side speaks 2\.1\.0, the peer speaks 1\.0\.0/);
      assert.ok(s.status === 'rejected' && s.reason instanceof ProtocolVersionError);
      assert.match(s.reason.message, /this side speaks 1\.0\.0, the peer speaks 2\.1\.0/);
      await Promise.all([server.whenClosed(), client.whenClosed()]);
      assert.ok(serverLog.entries.some((e) => e.event === 'link.closed' && e.fields.code === 'PROTOCOL_VERSION' && /2\.1\.0/.test(String(e.fields.reason))));
      await pair.close();
    });

    it('refuses a first message that is not hello', async () => {
      const pair = await tcpPair();
      const server = new FramedConnection(pair.server);
      const client = new FramedConnection(pair.client);
      const refused = serverHandshake(server, { siteId: 'site-a' });
      const answer = client.nextFrame(2000);
      await client.sendParts(handshakeCodec.encode('ping', { n: 1 }));
      await assert.rejects(refused, /expected 'hello' as the first message, got 'ping'/);
      const message = handshakeCodec.decode(await answer);
      assert.equal(message.name, 'refuse');
      await client.whenClosed();
      await pair.close();
    });

    it('gives up on a silent peer after the timeout, on the injected clock', async () => {
      const pair = await tcpPair();
      const clock = new VirtualClock(0);
      const server = new FramedConnection(pair.server, { clock, closeTimeoutMs: 50 });
      const handshake = serverHandshake(server, { siteId: 'site-a', timeoutMs: 5000 });
      let done = false;
      handshake.catch(() => { done = true; });
      await clock.advance(4999);
      assert.equal(done, false);
      await clock.advance(1);
      await assert.rejects(handshake, /sent nothing within 5000 ms/);
      await clock.advance(50); // the close timer destroys the socket the peer never finished closing
      await server.whenClosed();
      assert.match(server.closeReason?.message ?? '', /sent nothing/);
      await pair.close();
    });
  });
});
