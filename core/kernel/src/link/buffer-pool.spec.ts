import assert from 'node:assert/strict';
import { BufferPool, BufferPoolError, POISON } from './buffer-pool.js';
import { encodeFrame, FrameDecoder } from './frame-codec.js';

describe('BufferPool (receive buffers and their ownership rule)', () => {
  it('hands released memory to the next acquire of the same size class, and only then', () => {
    const pool = new BufferPool({ minBytes: 1024, maxBytes: 1 << 20 });
    const a = pool.acquire(3000);
    assert.equal(a.length, 3000);
    assert.ok(pool.owns(a));
    const b = pool.acquire(3000);
    assert.notEqual(a.buffer, b.buffer, 'memory still owned is never handed out again');
    pool.release(a.subarray(100, 200)); // any view of the buffer gives it back
    assert.equal(pool.owns(a), false);
    const c = pool.acquire(4096);
    assert.equal(c.buffer, a.buffer, 'reused');
    assert.deepEqual(pool.stats(), { acquired: 3, reused: 1, released: 1, freeBytes: 0 });
  });

  it('ignores memory it did not hand out, and sizes outside its range are plain allocations', () => {
    const pool = new BufferPool({ minBytes: 1024, maxBytes: 4096, debug: true });
    pool.release(Buffer.alloc(2048));
    const big = pool.acquire(10_000);
    assert.equal(pool.owns(big), false);
    pool.release(big);
    assert.equal(pool.stats().released, 0);
  });

  it('debug builds: a second release throws, and released memory reads as poison', () => {
    const pool = new BufferPool({ minBytes: 64, debug: true });
    const a = pool.acquire(100);
    a.fill(7);
    const view = a.subarray(10, 50);
    pool.release(a);
    assert.ok(view.equals(Buffer.concat([POISON, POISON]).subarray(10, 50)), 'a view kept after release sees the poison, not stale data');
    assert.throws(() => pool.release(view), (e: unknown) => e instanceof BufferPoolError && e.code === 'BUFFER_OWNERSHIP');
  });

  it('keeps at most keepBytes on its free lists; the rest is left to the garbage collector', () => {
    const pool = new BufferPool({ minBytes: 1024, keepBytes: 8192 });
    const bufs = Array.from({ length: 4 }, () => pool.acquire(4096));
    for (const b of bufs) pool.release(b);
    assert.equal(pool.stats().freeBytes, 8192);
  });

  it('the frame decoder assembles a frame split over chunks in pooled memory, and hands a frame inside one chunk out as a view', () => {
    const pool = new BufferPool({ minBytes: 1024 });
    const decoder = new FrameDecoder(undefined, pool);
    const payload = Buffer.alloc(50_000, 9);
    const wire = Buffer.concat(encodeFrame(3, { n: 1 }, payload));
    const frames = [...decoder.push(wire.subarray(0, 20_000)), ...decoder.push(wire.subarray(20_000))];
    assert.equal(frames.length, 1);
    assert.ok(frames[0].payload.equals(payload));
    assert.ok(pool.owns(frames[0].payload), 'assembled in the pool');
    pool.release(frames[0].payload);
    const whole = decoder.push(wire);
    assert.equal(whole.length, 1);
    assert.equal(whole[0].bytes.buffer, wire.buffer, 'no copy for a frame that arrived whole');
    assert.equal(pool.owns(whole[0].payload), false);
  });
});
