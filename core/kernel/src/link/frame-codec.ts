// The site link's wire framing: `u32 length | u8 type | u32 metaLength | meta (UTF-8 JSON) | payload`,
// big-endian, where `length` counts every byte after itself. Encoding never copies the payload; the
// streaming decoder copies each frame at most once, however the bytes were split into chunks.
import { receivePool, type BufferPool } from './buffer-pool.js';
import { ProtocolError } from './link-errors.js';

/** Bytes before the meta: u32 length + u8 type + u32 metaLength. */
export const FRAME_HEADER_BYTES = 9;

export interface FrameLimits {
  /** Largest whole frame, header included (default 64 MiB of payload + 1 MiB of meta and header). */
  maxFrameBytes: number;
  /** Largest meta JSON (default 1 MiB). */
  maxMetaBytes: number;
}

export const DEFAULT_FRAME_LIMITS: Readonly<FrameLimits> = Object.freeze({
  maxFrameBytes: 64 * 1024 * 1024 + 1024 * 1024,
  maxMetaBytes: 1024 * 1024,
});

/** One decoded frame. `payload` and `bytes` may share memory with the received chunk: copy to keep. */
export interface Frame {
  readonly type: number;
  readonly meta: unknown;
  /** Payload bytes (empty when the frame has none). */
  readonly payload: Buffer;
  /** The whole frame as it crossed the wire, header included. */
  readonly bytes: Buffer;
}

// `fatal` makes invalid UTF-8 an error instead of silently becoming U+FFFD.
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Fills in defaults and checks the limits make sense. */
export function frameLimits(limits?: Partial<FrameLimits>): FrameLimits {
  const l = { ...DEFAULT_FRAME_LIMITS, ...limits };
  if (!Number.isInteger(l.maxMetaBytes) || l.maxMetaBytes < 1) throw new RangeError(`maxMetaBytes must be an integer ≥ 1, got ${l.maxMetaBytes}`);
  if (!Number.isInteger(l.maxFrameBytes) || l.maxFrameBytes < FRAME_HEADER_BYTES + 1 || l.maxFrameBytes > 0xffff_ffff) {
    throw new RangeError(`maxFrameBytes must be an integer in [${FRAME_HEADER_BYTES + 1}, 2^32 - 1], got ${l.maxFrameBytes}`);
  }
  return l;
}

/**
 * Encodes a frame as `[header+meta]` or `[header+meta, payload]`; the payload buffer is passed through
 * untouched so a 64 MiB write is never copied on its way to the socket.
 * Throws ProtocolError if the type is not a byte, meta is not JSON-serialisable, or a limit is passed.
 */
export function encodeFrame(type: number, meta: unknown, payload?: Buffer, limits: FrameLimits = DEFAULT_FRAME_LIMITS): Buffer[] {
  if (!Number.isInteger(type) || type < 0 || type > 255) throw new ProtocolError(`frame type must be an integer in [0, 255], got ${type}`, undefined, 'this is a bug in the sender');
  let json: string | undefined;
  try {
    json = JSON.stringify(meta);
  } catch (e) {
    throw new ProtocolError(`frame meta is not JSON-serialisable: ${(e as Error).message}`, undefined, 'this is a bug in the sender');
  }
  if (json === undefined) throw new ProtocolError('frame meta is not JSON-serialisable (undefined or a function)', undefined, 'this is a bug in the sender');
  const metaLength = Buffer.byteLength(json, 'utf8');
  if (metaLength > limits.maxMetaBytes) {
    throw new ProtocolError(`frame meta of ${metaLength} bytes is over the limit of ${limits.maxMetaBytes}`, undefined, 'keep meta small; bulk data belongs in the payload');
  }
  const payloadLength = payload?.length ?? 0;
  const total = FRAME_HEADER_BYTES + metaLength + payloadLength;
  if (total > limits.maxFrameBytes) {
    throw new ProtocolError(`frame of ${total} bytes is over the limit of ${limits.maxFrameBytes}`, undefined, 'split the data into smaller frames');
  }
  const head = Buffer.allocUnsafe(FRAME_HEADER_BYTES + metaLength);
  head.writeUInt32BE(total - 4, 0);
  head.writeUInt8(type, 4);
  head.writeUInt32BE(metaLength, 5);
  head.write(json, FRAME_HEADER_BYTES, 'utf8');
  return payloadLength > 0 ? [head, payload!] : [head];
}

/**
 * As `encodeFrame`, with the payload given as parts that go out back to back: a sender batching many
 * writes into one frame never concatenates them.
 */
export function encodeFrameParts(type: number, meta: unknown, payload: readonly Buffer[], limits: FrameLimits = DEFAULT_FRAME_LIMITS): Buffer[] {
  const [head] = encodeFrame(type, meta, undefined, limits);
  const payloadLength = payload.reduce((n, p) => n + p.length, 0);
  const total = head.length + payloadLength;
  if (total > limits.maxFrameBytes) {
    throw new ProtocolError(`frame of ${total} bytes is over the limit of ${limits.maxFrameBytes}`, undefined, 'split the data into smaller frames');
  }
  head.writeUInt32BE(total - 4, 0);
  return [head, ...payload.filter((p) => p.length > 0)];
}

/** The total size of a frame whose first bytes are `parts`, after checking the header is consistent. */
export function checkEncodedFrame(parts: readonly Buffer[], limits: FrameLimits = DEFAULT_FRAME_LIMITS): number {
  const head = parts[0];
  const total = parts.reduce((n, p) => n + p.length, 0);
  if (!head || head.length < FRAME_HEADER_BYTES) {
    throw new ProtocolError(`a frame to send must start with its ${FRAME_HEADER_BYTES}-byte header`, undefined, 'build frames with encodeFrame or MessageCodec.encode');
  }
  const declared = head.readUInt32BE(0) + 4;
  const metaLength = head.readUInt32BE(5);
  if (declared !== total || metaLength > total - FRAME_HEADER_BYTES || total > limits.maxFrameBytes || metaLength > limits.maxMetaBytes) {
    throw new ProtocolError(`refusing to send a malformed frame: header says ${declared} bytes with ${metaLength} of meta, got ${total} bytes`,
      undefined, 'build frames with encodeFrame or MessageCodec.encode');
  }
  return total;
}

/** Decodes a buffer holding exactly one frame (e.g. a frame handed over by a NetworkAdapter). */
export function decodeFrame(bytes: Buffer, limits: FrameLimits = DEFAULT_FRAME_LIMITS): Frame {
  if (bytes.length < FRAME_HEADER_BYTES) throw new ProtocolError(`frame of ${bytes.length} bytes is shorter than its ${FRAME_HEADER_BYTES}-byte header`);
  const total = checkLength(bytes.readUInt32BE(0), limits);
  if (total !== bytes.length) throw new ProtocolError(`frame header says ${total} bytes but the buffer holds ${bytes.length}`);
  checkMetaLength(bytes.readUInt32BE(5), total, limits);
  return parseFrame(bytes);
}

function checkLength(length: number, limits: FrameLimits): number {
  const total = length + 4;
  if (total < FRAME_HEADER_BYTES + 1) throw new ProtocolError(`bad frame length ${length}: a frame needs at least a type, a meta length and 1 byte of meta`);
  if (total > limits.maxFrameBytes) throw new ProtocolError(`frame of ${total} bytes is over the limit of ${limits.maxFrameBytes}`);
  return total;
}

function checkMetaLength(metaLength: number, total: number, limits: FrameLimits): void {
  if (metaLength > limits.maxMetaBytes) throw new ProtocolError(`frame meta of ${metaLength} bytes is over the limit of ${limits.maxMetaBytes}`);
  if (metaLength > total - FRAME_HEADER_BYTES) throw new ProtocolError(`frame meta length ${metaLength} runs past the end of the ${total}-byte frame`);
  if (metaLength === 0) throw new ProtocolError('frame has no meta; meta must be JSON');
}

/** Parses a frame whose lengths were already checked. */
function parseFrame(bytes: Buffer): Frame {
  const type = bytes.readUInt8(4);
  const metaLength = bytes.readUInt32BE(5);
  const metaEnd = FRAME_HEADER_BYTES + metaLength;
  let meta: unknown;
  try {
    meta = JSON.parse(utf8.decode(bytes.subarray(FRAME_HEADER_BYTES, metaEnd)));
  } catch (e) {
    throw new ProtocolError(`frame meta (type ${type}) is not UTF-8 JSON: ${(e as Error).message}`);
  }
  return { type, meta, payload: bytes.subarray(metaEnd), bytes };
}

/**
 * Turns a byte stream into frames. Chunks are kept in a list and each frame is assembled once when all
 * of it has arrived (a sub-array, no copy, when it lies inside one chunk), so a 64 MiB frame arriving in
 * 16 KiB pieces costs one copy, not thousands. A frame assembled from several chunks lands in a buffer
 * from the receive pool, which its final user gives back (see BufferPool's ownership rule). After a
 * ProtocolError the decoder is dead: the stream has lost its frame boundaries and nothing after the error
 * can be trusted.
 */
export class FrameDecoder {
  readonly limits: FrameLimits;
  private chunks: Buffer[] = [];
  /** Index of the first live chunk in `chunks`, and the read offset inside it. */
  private first = 0;
  private offset = 0;
  private buffered = 0;
  /** Size of the frame being assembled, once its length prefix has arrived. */
  private expected: number | undefined;
  private metaChecked = false;
  private failure: ProtocolError | undefined;

  constructor(limits?: Partial<FrameLimits>, private readonly pool: BufferPool = receivePool) {
    this.limits = frameLimits(limits);
  }

  /** Bytes held that do not yet form a whole frame. */
  get pendingBytes(): number {
    return this.buffered;
  }

  /** Size of the partially received frame, if its length is known. */
  get expectedBytes(): number | undefined {
    return this.expected;
  }

  /** The error that killed the decoder, if any. */
  get error(): ProtocolError | undefined {
    return this.failure;
  }

  /** Adds received bytes; returns every frame they complete, in order. Throws ProtocolError. */
  push(chunk: Buffer): Frame[] {
    if (this.failure) throw new ProtocolError(`the frame stream is unusable after an earlier error: ${this.failure.message}`);
    try {
      if (chunk.length > 0) {
        this.chunks.push(chunk);
        this.buffered += chunk.length;
      }
      const frames: Frame[] = [];
      for (;;) {
        if (this.expected === undefined) {
          if (this.buffered < 4) break;
          this.expected = checkLength(this.peek(4).readUInt32BE(0), this.limits);
          this.metaChecked = false;
        }
        if (!this.metaChecked) {
          // Check the meta length as soon as it arrives, so an absurd one fails before its bytes do.
          if (this.buffered < FRAME_HEADER_BYTES) break;
          checkMetaLength(this.peek(FRAME_HEADER_BYTES).readUInt32BE(5), this.expected, this.limits);
          this.metaChecked = true;
        }
        if (this.buffered < this.expected) break;
        const bytes = this.take(this.expected);
        this.expected = undefined;
        frames.push(parseFrame(bytes));
      }
      return frames;
    } catch (e) {
      this.failure = e instanceof ProtocolError ? e : new ProtocolError(`frame decoding failed: ${(e as Error).message}`);
      this.chunks = [];
      this.buffered = 0;
      throw this.failure;
    }
  }

  /** The first `n` buffered bytes without consuming them (copies only the few header bytes). */
  private peek(n: number): Buffer {
    const head = this.chunks[this.first]!;
    if (head.length - this.offset >= n) return head.subarray(this.offset, this.offset + n);
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    for (let i = this.first, off = this.offset; filled < n; i++, off = 0) {
      const c = this.chunks[i]!;
      filled += c.copy(out, filled, off, Math.min(c.length, off + n - filled));
    }
    return out;
  }

  /** Consumes `n` buffered bytes as one contiguous buffer. */
  private take(n: number): Buffer {
    const head = this.chunks[this.first]!;
    let out: Buffer;
    if (head.length - this.offset >= n) {
      out = head.subarray(this.offset, this.offset + n);
      this.offset += n;
    } else {
      out = this.pool.acquire(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[this.first]!;
        const count = c.copy(out, filled, this.offset, Math.min(c.length, this.offset + n - filled));
        filled += count;
        this.offset += count;
        if (this.offset === c.length) this.advanceChunk();
      }
    }
    if (this.first < this.chunks.length && this.offset === this.chunks[this.first]!.length) this.advanceChunk();
    this.buffered -= n;
    return out;
  }

  private advanceChunk(): void {
    this.first++;
    this.offset = 0;
    // Drop consumed chunks in batches, so the list never grows and trimming stays amortised O(1).
    if (this.first >= 64 || this.first === this.chunks.length) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
  }
}
