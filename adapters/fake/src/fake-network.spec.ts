import assert from 'node:assert/strict';
import { VirtualClock, type LinkConnection } from '@opencdp/core';
import { FakeNetwork, LinkDownError } from './fake-network.js';

async function pair(net: FakeNetwork): Promise<{ client: LinkConnection; server: LinkConnection; got: Buffer[]; serverGot: Buffer[] }> {
  const listener = await net.endpoint('recovery').listen('recovery:0');
  let server!: LinkConnection;
  const serverGot: Buffer[] = [];
  listener.onConnection((c) => {
    server = c;
    c.onFrame((f) => serverGot.push(f));
  });
  const client = await net.endpoint('protected').connect(listener.address);
  const got: Buffer[] = [];
  client.onFrame((f) => got.push(f));
  return { client, server, got, serverGot };
}

describe('FakeNetwork', () => {
  it('delivers frames in order after latency plus size ÷ bandwidth, on the virtual clock', async () => {
    const clock = new VirtualClock(0);
    const net = new FakeNetwork(clock);
    net.setProfile({ latencyMs: 20, bytesPerSecond: 1000 });
    const { client, serverGot } = await pair(net);
    const sent = [client.send(Buffer.alloc(100, 1)), client.send(Buffer.alloc(100, 2))];
    await clock.advance(119);
    assert.equal(serverGot.length, 0, 'first frame needs 100 ms on the wire + 20 ms latency');
    await clock.advance(1);
    assert.deepEqual(serverGot.map((f) => f[0]), [1]);
    await clock.advance(100);
    assert.deepEqual(serverGot.map((f) => f[0]), [1, 2]);
    await Promise.all(sent);
    assert.equal(net.bytesSent, 200);
  });

  it('partitions reset open connections and refuse new ones until healed', async () => {
    const clock = new VirtualClock(0);
    const net = new FakeNetwork(clock);
    const { client, server } = await pair(net);
    const reasons: (Error | undefined)[] = [];
    client.onClose((r) => reasons.push(r));
    server.onClose((r) => reasons.push(r));
    net.partition('protected', 'recovery');
    assert.equal(reasons.length, 2);
    assert.ok(reasons.every((r) => r instanceof LinkDownError));
    await assert.rejects(client.send(Buffer.alloc(1)), LinkDownError);
    await assert.rejects(net.endpoint('protected').connect(client.remote), LinkDownError);
    net.heal('protected', 'recovery');
    const again = await net.endpoint('protected').connect(client.remote);
    assert.equal(again.remote, client.remote);
  });

  it('a lost frame resets the connection and is never delivered (seeded)', async () => {
    const clock = new VirtualClock(0);
    const net = new FakeNetwork(clock, 3);
    net.setProfile({ lossRate: 0.5 });
    const { client, serverGot } = await pair(net);
    let closed = false;
    client.onClose(() => (closed = true));
    for (let i = 0; i < 20 && !closed; i++) {
      await client.send(Buffer.from([i])).catch(() => undefined);
      await clock.advance(1);
    }
    assert.ok(closed, 'connection reset by a lost frame');
    assert.equal(net.framesLost, 1);
    // What arrived is an unbroken prefix: the stream never skips a frame.
    assert.deepEqual(serverGot.map((f) => f[0]), serverGot.map((_, i) => i));
  });

  it('refuses connections to nothing and malformed addresses', async () => {
    const net = new FakeNetwork(new VirtualClock(0));
    await assert.rejects(net.endpoint('a').connect('b:1'), LinkDownError);
    await assert.rejects(net.endpoint('a').connect('nonsense'), LinkDownError);
    await assert.rejects(net.endpoint('a').listen('b:1'), LinkDownError);
  });
});
