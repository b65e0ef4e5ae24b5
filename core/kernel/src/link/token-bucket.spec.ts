import assert from 'node:assert/strict';
import { VirtualClock } from '../clock.js';
import { TokenBucket } from './token-bucket.js';

describe('TokenBucket', () => {
  it('lets a burst through, then paces takers at the rate on the injected clock', async () => {
    const clock = new VirtualClock(0);
    const bucket = new TokenBucket(clock, 1000, 20); // 1000 B/s, 20 bytes of burst
    assert.equal(bucket.take(20), undefined, 'the saved-up burst goes at once');
    const done: string[] = [];
    void bucket.take(100)?.then(() => done.push('first'));
    void bucket.take(50)?.then(() => done.push('second'));
    await clock.advance(99);
    assert.deepEqual(done, []);
    await clock.advance(1);
    assert.deepEqual(done, ['first'], '100 bytes at 1000 B/s take 100 ms');
    await clock.advance(49);
    assert.deepEqual(done, ['first']);
    await clock.advance(1);
    assert.deepEqual(done, ['first', 'second'], 'the second taker queues behind the first');
  });

  it('saves up at most the burst while idle', async () => {
    const clock = new VirtualClock(0);
    const bucket = new TokenBucket(clock, 1000, 20);
    await clock.advance(10_000);
    assert.equal(bucket.take(20), undefined);
    assert.ok(bucket.take(1) instanceof Promise, 'ten idle seconds did not buy more than 20 ms');
  });

  it('is a no-op when unthrottled, and checks the rate', () => {
    const bucket = new TokenBucket(new VirtualClock(0));
    assert.equal(bucket.take(1e9), undefined);
    assert.throws(() => bucket.setRate(0), RangeError);
    assert.throws(() => bucket.setRate(Number.NaN), RangeError);
    bucket.setRate(10);
    assert.equal(bucket.bytesPerSecond, 10);
    bucket.setRate(undefined);
    assert.equal(bucket.take(1e9), undefined);
  });
});
