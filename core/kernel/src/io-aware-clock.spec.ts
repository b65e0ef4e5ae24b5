// The I/O-aware virtual clock: a timer that starts real file I/O has finished it when `advance`
// returns — what a plain VirtualClock does not promise — and work it cannot see is waited for once tracked.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { VirtualClock } from './clock.js';
import { IoAwareVirtualClock, IoSettleTimeoutError } from './io-aware-clock.js';

/** A timer-driven job doing `rounds` real writes and fsyncs in a row, as a journal's timer would. */
function scheduleFileWork(clock: VirtualClock, file: string, rounds: number): { done: () => number } {
  let written = 0;
  clock.setTimer(1000, () => {
    void (async () => {
      const handle = await fs.open(file, 'w');
      try {
        for (let i = 0; i < rounds; i++) {
          await handle.write(Buffer.alloc(64 * 1024, i), 0, 64 * 1024, i * 64 * 1024);
          await handle.sync();
          written++;
        }
      } finally {
        await handle.close();
      }
    })();
  });
  return { done: () => written };
}

describe('IoAwareVirtualClock', () => {
  let dir: string;
  beforeEach(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ocdp-ioclock-')); });
  afterEach(async () => { await fs.rm(dir, { recursive: true, force: true }); });

  it('finishes the real file I/O a timer started before advance returns (a plain VirtualClock does not)', async () => {
    const plain = new VirtualClock(0);
    const a = scheduleFileWork(plain, path.join(dir, 'plain'), 20);
    await plain.advance(2000);
    assert.ok(a.done() < 20, `the plain clock returned after ${a.done()} of 20 writes (it waits one event-loop turn only)`);

    const aware = new IoAwareVirtualClock({ startMs: 0 });
    const b = scheduleFileWork(aware, path.join(dir, 'aware'), 20);
    await aware.advance(2000);
    assert.equal(b.done(), 20, 'every write the timer started had finished');
    assert.deepEqual(aware.activeIo(), []);
    assert.equal(aware.now(), 2000);
  });

  it('waits for tracked work and settlers, and fails naming the bound when work never ends', async () => {
    const clock = new IoAwareVirtualClock({ startMs: 0, settleTimeoutMs: 200 });
    let finished = false;
    clock.setTimer(10, () => { void clock.track(new Promise<void>((r) => setTimeout(r, 30)).then(() => { finished = true; })); });
    let settled = 0;
    const remove = clock.addSettler(async () => { settled++; });
    await clock.advance(20);
    assert.equal(finished, true, 'tracked work finished before advance returned');
    assert.ok(settled > 0, 'the settler was awaited');
    remove();
    clock.setTimer(10, () => { void clock.track(new Promise<void>(() => undefined)); });
    await assert.rejects(clock.advance(20), (e: unknown) => e instanceof IoSettleTimeoutError && /waited 200 ms of wall time/.test((e as Error).message));
  });

  it('refuses bad options', () => {
    assert.throws(() => new IoAwareVirtualClock({ settleTimeoutMs: 0 }), /settleTimeoutMs/);
    assert.throws(() => new IoAwareVirtualClock({ idleTurns: 0 }), /idleTurns/);
  });
});
