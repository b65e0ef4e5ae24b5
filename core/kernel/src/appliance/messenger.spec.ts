import assert from 'node:assert/strict';
import { VirtualClock } from '../clock.js';
import { LinkError } from '../link/link-errors.js';
import type { LinkConnection } from '../ports/network-adapter.js';
import { Messenger } from './messenger.js';
import { replicationCodec } from './protocol.js';

/** Two connected in-memory ends; `silent` makes frames vanish without closing anything (a dead peer). */
function pair(): { a: LinkConnection; b: LinkConnection; setSilent: (s: boolean) => void } {
  let silent = false;
  const make = (remote: string): LinkConnection & { peer?: LinkConnection; frames: ((f: Buffer) => void)[]; closes: ((r: Error | undefined) => void)[] } => {
    const end = {
      remote, frames: [] as ((f: Buffer) => void)[], closes: [] as ((r: Error | undefined) => void)[], peer: undefined as LinkConnection | undefined,
      async send(frame: Buffer): Promise<void> {
        const peer = end.peer as typeof end;
        if (!silent) queueMicrotask(() => peer.frames.forEach((l) => l(frame)));
      },
      onFrame(l: (f: Buffer) => void): void { end.frames.push(l); },
      onClose(l: (r: Error | undefined) => void): void { end.closes.push(l); },
      async close(): Promise<void> { end.closes.forEach((l) => l(undefined)); },
    };
    return end;
  };
  const a = make('b');
  const b = make('a');
  a.peer = b;
  b.peer = a;
  return { a, b, setSilent: (s) => (silent = s) };
}

describe('Messenger keep-alive', () => {
  it('keeps an idle healthy connection open (pings are answered outside the handler)', async () => {
    const clock = new VirtualClock();
    const { a, b } = pair();
    const handled: string[] = [];
    const ma = new Messenger(a, replicationCodec, undefined, { clock, intervalMs: 1000 });
    const mb = new Messenger(b, replicationCodec, undefined, { clock, intervalMs: 1000 });
    ma.onMessage((m) => void handled.push(m.name));
    mb.onMessage((m) => void handled.push(m.name));
    for (let t = 0; t < 60; t++) await clock.advance(500);
    assert.equal(ma.closed, false);
    assert.equal(mb.closed, false);
    assert.deepEqual(handled, [], 'ping and pong never reach the handlers');
    await ma.close();
    await mb.close();
  });

  it('closes with a LinkError within deadAfterMs + intervalMs when the peer goes silent', async () => {
    const clock = new VirtualClock();
    const { a, b, setSilent } = pair();
    const ma = new Messenger(a, replicationCodec, undefined, { clock, intervalMs: 1000, deadAfterMs: 3000 });
    const mb = new Messenger(b, replicationCodec, undefined, { clock, intervalMs: 1000, deadAfterMs: 3000 });
    let reason: Error | undefined;
    ma.onClose((r) => (reason = r));
    await clock.advance(5000);
    assert.equal(ma.closed, false);
    setSilent(true);
    const silentAt = clock.now();
    while (!ma.closed && clock.now() - silentAt < 10_000) await clock.advance(100);
    assert.ok(ma.closed && mb.closed, 'both ends gave up');
    assert.ok(clock.now() - silentAt <= 4000, `detected after ${clock.now() - silentAt} ms`);
    assert.ok(reason instanceof LinkError, `closed with a LinkError (${String(reason)})`);
  });

  it('without keep-alive a silent peer is never noticed (what the option is for)', async () => {
    const clock = new VirtualClock();
    const { a, setSilent } = pair();
    const ma = new Messenger(a, replicationCodec);
    setSilent(true);
    await clock.advance(60_000);
    assert.equal(ma.closed, false);
    await ma.close();
  });
});

describe('Messenger.sendParts', () => {
  it('sends a payload given as parts as one frame the peer decodes whole', async () => {
    const { a, b } = pair();
    const ma = new Messenger(a, replicationCodec);
    const mb = new Messenger(b, replicationCodec);
    const got: { meta: unknown; payload?: Buffer }[] = [];
    mb.onMessage((m) => void got.push({ meta: m.meta, payload: m.payload }));
    const parts = [Buffer.alloc(4096, 1), Buffer.alloc(512, 2), Buffer.alloc(8192, 3)];
    const records: [number, string, string, number, number][] = [[1, 'vm', 'v', 0, 4096], [2, 'vm', 'v', 8192, 512], [3, 'vm', 'v', 65536, 8192]];
    await ma.sendParts('writes', { groupId: 'g', compressed: false, rawBytes: 12800, records }, parts);
    await new Promise((r) => setImmediate(r));
    assert.equal(got.length, 1);
    assert.deepEqual(got[0].payload, Buffer.concat(parts));
    assert.throws(() => ma.sendParts('writes', { groupId: 'g', compressed: false, rawBytes: 1, records }, []), /payload/, 'a required payload may not be empty');
  });
});
