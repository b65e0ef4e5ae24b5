import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeFrame, DEFAULT_FRAME_LIMITS, encodeFrame, FrameDecoder, type Frame } from './frame-codec.js';
import { ProtocolError } from './link-errors.js';

/** Splits `bytes` at the given cut points (any order, duplicates allowed). */
function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.subarray(from, p));
    from = p;
  }
  return out;
}

function header(length: number, type: number, metaLength: number): Buffer {
  const b = Buffer.alloc(9);
  b.writeUInt32BE(length, 0);
  b.writeUInt8(type, 4);
  b.writeUInt32BE(metaLength, 5);
  return b;
}

function expectProtocolError(fn: () => unknown, reason: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ProtocolError, `expected a ProtocolError, got ${String(e)}`);
    assert.equal(e.code, 'PROTOCOL');
    assert.match(e.message, reason);
    return true;
  });
}

describe('frame codec', () => {
  it('lays a frame out as u32 length | u8 type | u32 metaLength | meta | payload, without copying the payload', () => {
    const payload = Buffer.from([1, 2, 3]);
    const parts = encodeFrame(7, { a: 1 }, payload);
    assert.equal(parts.length, 2);
    assert.equal(parts[1], payload, 'the payload buffer itself is passed through');
    const bytes = Buffer.concat(parts);
    const meta = Buffer.from('{"a":1}');
    assert.deepEqual(bytes, Buffer.concat([header(1 + 4 + meta.length + payload.length, 7, meta.length), meta, payload]));
    assert.equal(bytes.readUInt32BE(0), bytes.length - 4, 'length counts the bytes after itself');
    assert.equal(encodeFrame(7, null).length, 1, 'no payload, one part');
  });

  it('round-trips random frames through random chunk splits', () => {
    const frameArb = fc.record({
      type: fc.integer({ min: 0, max: 255 }),
      meta: fc.jsonValue({ maxDepth: 3 }),
      payload: fc.uint8Array({ maxLength: 600 }),
    });
    fc.assert(fc.property(fc.array(frameArb, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 40 }), (frames, cuts) => {
      const stream = Buffer.concat(frames.flatMap((f) => encodeFrame(f.type, f.meta, Buffer.from(f.payload))));
      const decoder = new FrameDecoder();
      const out: Frame[] = [];
      for (const chunk of split(stream, cuts)) out.push(...decoder.push(chunk));
      assert.equal(out.length, frames.length);
      assert.equal(decoder.pendingBytes, 0);
      out.forEach((got, i) => {
        const want = frames[i]!;
        assert.equal(got.type, want.type);
        assert.deepEqual(got.meta, JSON.parse(JSON.stringify(want.meta)));
        assert.deepEqual(got.payload, Buffer.from(want.payload));
        assert.deepEqual(decodeFrame(Buffer.from(got.bytes)).meta, got.meta, 'each frame also decodes on its own');
      });
    }), { numRuns: 300 });
  });

  it('decodes several frames from one chunk, sharing its memory', () => {
    const chunk = Buffer.concat([...encodeFrame(1, 'a', Buffer.from('xy')), ...encodeFrame(2, 'b'), ...encodeFrame(3, 'c', Buffer.from('z'))]);
    const frames = new FrameDecoder().push(chunk);
    assert.deepEqual(frames.map((f) => [f.type, f.meta, f.payload.toString()]), [[1, 'a', 'xy'], [2, 'b', ''], [3, 'c', 'z']]);
    assert.equal(frames[0]!.payload.buffer, chunk.buffer, 'a frame inside one chunk is a view, not a copy');
  });

  it('assembles a 16 MiB frame from 4 KiB chunks in linear time', () => {
    const payload = Buffer.alloc(16 * 1024 * 1024, 7);
    const stream = Buffer.concat(encodeFrame(9, { big: true }, payload));
    const decoder = new FrameDecoder();
    const started = Date.now();
    let frames: Frame[] = [];
    for (let at = 0; at < stream.length; at += 4096) frames = frames.concat(decoder.push(stream.subarray(at, at + 4096)));
    const elapsed = Date.now() - started;
    assert.equal(frames.length, 1);
    assert.ok(frames[0]!.payload.equals(payload));
    // Re-concatenating the buffered chunks on every push would copy ~32 GiB here.
    assert.ok(elapsed < 1500, `took ${elapsed} ms`);
  });

  const malformed: [string, Buffer, RegExp][] = [
    ['a length too small for the header', header(4, 1, 0), /bad frame length 4/],
    ['a length over the frame limit', header(DEFAULT_FRAME_LIMITS.maxFrameBytes, 1, 2), /over the limit/],
    ['meta over the meta limit', header(100, 1, DEFAULT_FRAME_LIMITS.maxMetaBytes + 1), /meta of \d+ bytes is over the limit/],
    ['meta longer than the frame', Buffer.concat([header(20, 1, 30), Buffer.alloc(15)]), /runs past the end/],
    ['a frame too short to hold meta', header(5, 1, 0), /bad frame length 5/],
    ['empty meta', Buffer.concat([header(10, 1, 0), Buffer.alloc(6)]), /has no meta/],
    ['meta that is not JSON', Buffer.concat([header(5 + 3, 1, 3), Buffer.from('{x:')]), /not UTF-8 JSON/],
    ['meta that is not UTF-8', Buffer.concat([header(5 + 3, 1, 3), Buffer.from([0x22, 0xff, 0x22])]), /not UTF-8 JSON/],
  ];
  for (const [what, bytes, reason] of malformed) {
    it(`raises ProtocolError for ${what}, and stays dead`, () => {
      const decoder = new FrameDecoder();
      expectProtocolError(() => decoder.push(bytes), reason);
      expectProtocolError(() => decoder.push(Buffer.concat(encodeFrame(1, {}))), /unusable after an earlier error/);
    });
  }

  it('refuses an oversized frame from its header alone, before the bytes arrive', () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 1000 });
    expectProtocolError(() => decoder.push(header(2000, 1, 2)), /frame of 2004 bytes is over the limit of 1000/);
  });

  it('honours configured limits on both sides', () => {
    const limits = { maxFrameBytes: 100, maxMetaBytes: 20 };
    assert.throws(() => encodeFrame(1, { s: 'x'.repeat(30) }, undefined, limits), /meta of \d+ bytes is over the limit of 20/);
    assert.throws(() => encodeFrame(1, {}, Buffer.alloc(100), limits), /over the limit of 100/);
    assert.equal(new FrameDecoder(limits).push(Buffer.concat(encodeFrame(1, {}, Buffer.alloc(80), limits))).length, 1);
    assert.throws(() => new FrameDecoder({ maxFrameBytes: 3 }), RangeError);
  });

  it('refuses to encode what cannot be a frame', () => {
    expectProtocolError(() => encodeFrame(256, {}), /frame type/);
    expectProtocolError(() => encodeFrame(1, undefined), /not JSON-serialisable/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expectProtocolError(() => encodeFrame(1, cyclic), /not JSON-serialisable/);
  });

  it('decodeFrame wants exactly one frame', () => {
    const bytes = Buffer.concat(encodeFrame(4, { n: 1 }, Buffer.from('p')));
    assert.deepEqual(decodeFrame(bytes).meta, { n: 1 });
    expectProtocolError(() => decodeFrame(Buffer.concat([bytes, Buffer.from([0])])), /header says \d+ bytes but the buffer holds/);
    expectProtocolError(() => decodeFrame(bytes.subarray(0, 5)), /shorter than its 9-byte header/);
  });

  it('turns any hostile byte stream into frames or a ProtocolError, nothing else', () => {
    const valid = Buffer.concat(encodeFrame(1, { protocolVersion: '1.0.0', siteId: 'a', role: 'appliance' }, Buffer.from('payload')));
    const hostile = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
      fc.tuple(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 })).map(([edits]) => {
        const b = Buffer.from(valid);
        for (const [at, value] of edits) b[at % b.length] = value;
        return b;
      }),
      fc.nat().map((n) => valid.subarray(0, n % valid.length)),
    );
    fc.assert(fc.property(fc.array(hostile, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 20 }), (pieces, cuts) => {
      const decoder = new FrameDecoder({ maxFrameBytes: 4096, maxMetaBytes: 1024 });
      for (const chunk of split(Buffer.concat(pieces), cuts)) {
        try {
          for (const f of decoder.push(chunk)) assert.ok(f.bytes.length <= 4096);
        } catch (e) {
          assert.ok(e instanceof ProtocolError, `only ProtocolError may escape, got ${String(e)}`);
          assert.throws(() => decoder.push(Buffer.alloc(1)), ProtocolError);
          return;
        }
      }
    }), { numRuns: 1000 });
  });
});
