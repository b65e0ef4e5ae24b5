// Constants and framing of the NBD protocol (newstyle fixed negotiation, simple and structured
// replies, block status), shared by the kernel's server and client. Numbers are the protocol's own
// (github.com/NetworkBlockDevice/nbd doc/proto.md); written by hand because no maintained Node NBD
// library exists, and the subset we need is small.

export const NBD_MAGIC = Buffer.from('NBDMAGIC', 'ascii');
export const IHAVEOPT = 0x49484156454f5054n;
export const OPTION_REPLY_MAGIC = 0x3e889045565a9n;
export const REQUEST_MAGIC = 0x25609513;
export const SIMPLE_REPLY_MAGIC = 0x67446698;
export const STRUCTURED_REPLY_MAGIC = 0x668e33ef;

// Handshake flags (server) and client flags.
export const FLAG_FIXED_NEWSTYLE = 1 << 0;
export const FLAG_NO_ZEROES = 1 << 1;
export const FLAG_C_FIXED_NEWSTYLE = 1 << 0;
export const FLAG_C_NO_ZEROES = 1 << 1;

export const Opt = {
  EXPORT_NAME: 1,
  ABORT: 2,
  LIST: 3,
  STARTTLS: 5,
  INFO: 6,
  GO: 7,
  STRUCTURED_REPLY: 8,
  LIST_META_CONTEXT: 9,
  SET_META_CONTEXT: 10,
} as const;

const REP_ERR = 0x80000000;
export const Rep = {
  ACK: 1,
  SERVER: 2,
  INFO: 3,
  META_CONTEXT: 4,
  ERR_UNSUP: REP_ERR + 1,
  ERR_POLICY: REP_ERR + 2,
  ERR_INVALID: REP_ERR + 3,
  ERR_PLATFORM: REP_ERR + 4,
  ERR_TLS_REQD: REP_ERR + 5,
  ERR_UNKNOWN: REP_ERR + 6,
  ERR_SHUTDOWN: REP_ERR + 7,
  ERR_BLOCK_SIZE_REQD: REP_ERR + 8,
  ERR_TOO_BIG: REP_ERR + 9,
} as const;

export const Info = { EXPORT: 0, NAME: 1, DESCRIPTION: 2, BLOCK_SIZE: 3 } as const;

// Transmission flags.
export const TFlag = {
  HAS_FLAGS: 1 << 0,
  READ_ONLY: 1 << 1,
  SEND_FLUSH: 1 << 2,
  SEND_FUA: 1 << 3,
  ROTATIONAL: 1 << 4,
  SEND_TRIM: 1 << 5,
  SEND_WRITE_ZEROES: 1 << 6,
  SEND_DF: 1 << 7,
  CAN_MULTI_CONN: 1 << 8,
} as const;

export const Cmd = { READ: 0, WRITE: 1, DISC: 2, FLUSH: 3, TRIM: 4, CACHE: 5, WRITE_ZEROES: 6, BLOCK_STATUS: 7 } as const;
export const CMD_NAMES: Record<number, string> = { 0: 'READ', 1: 'WRITE', 2: 'DISC', 3: 'FLUSH', 4: 'TRIM', 5: 'CACHE', 6: 'WRITE_ZEROES', 7: 'BLOCK_STATUS' };

export const CmdFlag = { FUA: 1 << 0, NO_HOLE: 1 << 1, DF: 1 << 2, REQ_ONE: 1 << 3, FAST_ZERO: 1 << 4 } as const;

export const ReplyFlag = { DONE: 1 << 0 } as const;
export const ReplyType = {
  NONE: 0,
  OFFSET_DATA: 1,
  OFFSET_HOLE: 2,
  BLOCK_STATUS: 5,
  ERROR: (1 << 15) + 1,
  ERROR_OFFSET: (1 << 15) + 2,
} as const;

/** `base:allocation` flags: the range is a hole (reads as zero unless ZERO says otherwise), the range reads as zeros. */
export const StateFlag = { HOLE: 1 << 0, ZERO: 1 << 1 } as const;

/** The metadata context every export of our server offers, and its context id there. */
export const BASE_ALLOCATION = 'base:allocation';
export const BASE_ALLOCATION_ID = 1;

/** One block-status extent: `flags` are the context's bits (base:allocation: StateFlag; dirty bitmap: bit 0 = dirty). */
export interface NbdExtent {
  offset: number;
  length: number;
  flags: number;
}

export const Errno = { EPERM: 1, EIO: 5, ENOMEM: 12, EINVAL: 22, ENOSPC: 28, EOVERFLOW: 75, ENOTSUP: 95, ESHUTDOWN: 108 } as const;

/** Largest payload either side accepts in one request (the protocol's recommended 32 MiB). */
export const MAX_PAYLOAD = 32 * 1024 * 1024;
/** Longest option payload accepted during negotiation. */
export const MAX_OPTION_BYTES = 64 * 1024;

export const REQUEST_BYTES = 28;
export const SIMPLE_REPLY_BYTES = 16;
export const STRUCTURED_HEADER_BYTES = 20;

export interface NbdRequest {
  flags: number;
  type: number;
  /** The request's cookie ("handle"), echoed in the reply; kept as bigint so every value round-trips. */
  handle: bigint;
  offset: bigint;
  length: number;
}

export function encodeRequest(r: NbdRequest): Buffer {
  const b = Buffer.alloc(REQUEST_BYTES);
  b.writeUInt32BE(REQUEST_MAGIC, 0);
  b.writeUInt16BE(r.flags, 4);
  b.writeUInt16BE(r.type, 6);
  b.writeBigUInt64BE(r.handle, 8);
  b.writeBigUInt64BE(r.offset, 16);
  b.writeUInt32BE(r.length, 24);
  return b;
}

/** Decodes a 28-byte request header; undefined when the magic is wrong. */
export function decodeRequest(b: Buffer): NbdRequest | undefined {
  if (b.length < REQUEST_BYTES || b.readUInt32BE(0) !== REQUEST_MAGIC) return undefined;
  return { flags: b.readUInt16BE(4), type: b.readUInt16BE(6), handle: b.readBigUInt64BE(8), offset: b.readBigUInt64BE(16), length: b.readUInt32BE(24) };
}

export function simpleReply(handle: bigint, error: number): Buffer {
  const b = Buffer.alloc(SIMPLE_REPLY_BYTES);
  b.writeUInt32BE(SIMPLE_REPLY_MAGIC, 0);
  b.writeUInt32BE(error, 4);
  b.writeBigUInt64BE(handle, 8);
  return b;
}

export function structuredHeader(handle: bigint, flags: number, type: number, length: number): Buffer {
  const b = Buffer.alloc(STRUCTURED_HEADER_BYTES);
  b.writeUInt32BE(STRUCTURED_REPLY_MAGIC, 0);
  b.writeUInt16BE(flags, 4);
  b.writeUInt16BE(type, 6);
  b.writeBigUInt64BE(handle, 8);
  b.writeUInt32BE(length, 16);
  return b;
}

export function optionReply(option: number, type: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(20);
  b.writeBigUInt64BE(OPTION_REPLY_MAGIC, 0);
  b.writeUInt32BE(option, 8);
  b.writeUInt32BE(type >>> 0, 12);
  b.writeUInt32BE(data.length, 16);
  return Buffer.concat([b, data]);
}

export function optionRequest(option: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(16);
  b.writeBigUInt64BE(IHAVEOPT, 0);
  b.writeUInt32BE(option, 8);
  b.writeUInt32BE(data.length, 12);
  return Buffer.concat([b, data]);
}

/**
 * Reads exact byte counts from a stream socket: the protocol is a sequence of fixed headers and
 * announced payloads, so "give me n bytes" is the only primitive either side needs.
 */
export class ByteReader {
  private chunks: Buffer[] = [];
  private available = 0;
  private waiter: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  private ended: Error | undefined;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.available += chunk.length;
    this.wake();
  }

  end(reason: Error): void {
    this.ended ??= reason;
    this.wake();
  }

  /** Takes every byte buffered so far (the chunks, in order); the reader is empty afterwards. */
  drain(): Buffer[] {
    const chunks = this.chunks;
    this.chunks = [];
    this.available = 0;
    return chunks;
  }

  /** Exactly `n` bytes if they are buffered now, else undefined (a fast path that skips a promise per read). */
  tryRead(n: number): Buffer | undefined {
    if (this.waiter || this.available < n) return undefined;
    return n === 0 ? Buffer.alloc(0) : this.take(n);
  }

  /** Resolves with exactly `n` bytes, or rejects once the stream ends first. One reader at a time. */
  read(n: number): Promise<Buffer> {
    if (this.waiter) return Promise.reject(new Error('ByteReader: concurrent reads'));
    if (n === 0) return Promise.resolve(Buffer.alloc(0));
    return new Promise((resolve, reject) => {
      this.waiter = { n, resolve, reject };
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiter;
    if (!w) return;
    if (this.available >= w.n) {
      this.waiter = undefined;
      w.resolve(this.take(w.n));
    } else if (this.ended) {
      this.waiter = undefined;
      w.reject(this.ended);
    }
  }

  private take(n: number): Buffer {
    this.available -= n;
    const first = this.chunks[0];
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0];
      const k = Math.min(c.length, n - at);
      c.copy(out, at, 0, k);
      at += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    return out;
  }
}

/**
 * Extents from an export, made what the protocol wants: consecutive from `offset`, non-empty, inside the
 * request, neighbours with the same flags merged; one only with REQ_ONE.
 */
export function clipExtents(extents: readonly NbdExtent[], offset: number, length: number, one: boolean): NbdExtent[] {
  const out: NbdExtent[] = [];
  const end = offset + length;
  let at = offset;
  for (const e of extents) {
    if (at >= end) break;
    if (e.offset + e.length <= at) continue;
    // A gap means the export skipped a range: stop there (the client asks again from `at`).
    if (e.offset > at) break;
    const stop = Math.min(end, e.offset + e.length);
    const last = out[out.length - 1];
    if (last && last.flags === e.flags) last.length += stop - at;
    else out.push({ offset: at, length: stop - at, flags: e.flags });
    at = stop;
  }
  return one ? out.slice(0, 1) : out;
}

/** LIST / SET_META_CONTEXT payload: u32 name length, name, u32 count, count × (u32 length, query). */
export function parseMetaContextRequest(data: Buffer): { name: string; queries: string[] } | undefined {
  if (data.length < 8) return undefined;
  const nameLength = data.readUInt32BE(0);
  if (4 + nameLength + 4 > data.length) return undefined;
  const name = data.subarray(4, 4 + nameLength).toString('utf8');
  const count = data.readUInt32BE(4 + nameLength);
  const queries: string[] = [];
  let at = 8 + nameLength;
  for (let i = 0; i < count; i++) {
    if (at + 4 > data.length) return undefined;
    const n = data.readUInt32BE(at);
    if (at + 4 + n > data.length) return undefined;
    queries.push(data.subarray(at + 4, at + 4 + n).toString('utf8'));
    at += 4 + n;
  }
  return at === data.length ? { name, queries } : undefined;
}

/** INFO / GO payload: u32 name length, name, u16 count, count × u16 info types. */
export function parseInfoRequest(data: Buffer): { name: string; infos: number[] } | undefined {
  if (data.length < 6) return undefined;
  const nameLength = data.readUInt32BE(0);
  if (4 + nameLength + 2 > data.length) return undefined;
  const name = data.subarray(4, 4 + nameLength).toString('utf8');
  const count = data.readUInt16BE(4 + nameLength);
  if (data.length !== 4 + nameLength + 2 + count * 2) return undefined;
  const infos: number[] = [];
  for (let i = 0; i < count; i++) infos.push(data.readUInt16BE(4 + nameLength + 2 + i * 2));
  return { name, infos };
}
