import assert from 'node:assert/strict';
import { VirtualClock } from './clock.js';
import { seededRandom } from './random.js';

describe('VirtualClock', () => {
  it('fires timers in time order, at their due time, including ones set by other timers', async () => {
    const clock = new VirtualClock(0);
    const fired: [string, number][] = [];
    clock.setTimer(300, () => fired.push(['c', clock.now()]));
    clock.setTimer(100, () => {
      fired.push(['a', clock.now()]);
      clock.setTimer(50, () => fired.push(['b', clock.now()]));
    });
    const cancelled = clock.setTimer(200, () => fired.push(['x', clock.now()]));
    cancelled.cancel();
    await clock.advance(250);
    assert.deepEqual(fired, [['a', 100], ['b', 150]]);
    assert.equal(clock.now(), 250);
    await clock.advance(100);
    assert.deepEqual(fired.at(-1), ['c', 300]);
  });

  it('waits for the idle hook after each timer, so real I/O a timer starts finishes at its instant', async () => {
    let inFlight: Promise<void> | undefined;
    const clock = new VirtualClock(0, { idle: async () => { await inFlight; } });
    const finishedAt: number[] = [];
    for (const at of [100, 200]) {
      clock.setTimer(at, () => {
        // Real time passes (a file or network operation), the virtual clock must not.
        inFlight = new Promise((resolve) => setTimeout(resolve, 20)).then(() => { finishedAt.push(clock.now()); });
      });
    }
    await clock.advance(300);
    assert.deepEqual(finishedAt, [100, 200]);
  });

  it('lets work started by a timer finish at that instant', async () => {
    const clock = new VirtualClock(0);
    let seen = -1;
    void (async () => {
      await clock.sleep(1000);
      await Promise.resolve();
      seen = clock.now();
    })();
    await clock.advance(5000);
    assert.equal(seen, 1000);
  });
});

describe('seededRandom', () => {
  it('repeats for a seed and differs across seeds', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const c = seededRandom(43);
    const draw = (r: typeof a): string => JSON.stringify([r.int(0, 1e6), r.bytes(16).toString('hex'), r.next()]);
    const first = draw(a);
    assert.equal(first, draw(b));
    assert.notEqual(first, draw(c));
  });
});
