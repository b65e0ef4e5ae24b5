// Delta sync by checksum comparison: after a restart, or for a preseeded replica, the protected side
// (`deltaSync`) compares its volume with the recovery side's image by hash and sends only differing blocks.
// Transport-agnostic: the recovery side answers `hashBlocks` requests (`hashRanges`, `createHashServer`).
//
// The walk. The hash of a block larger than 4 KiB (and a multiple of it) is the hash of the concatenated
// hashes of its 4 KiB leaves — a two-level Merkle tree whose leaf size the protocol fixes, so a request
// needs no more than { offset, length, blockBytes } — and each side reads and hashes every byte once: a
// coarse hash costs one hash over leaf hashes. The protected side works through the volume in windows of
// 8 MiB, four in flight: it asks for a window's coarse hashes before reading it (so both sides read and
// hash at the same time), reads it in one sequential read, descends only into differing blocks, and
// sends the differing finest blocks (adjacent ones as one message; one call at a time, in ascending
// offset order). A level predicted to differ almost everywhere (scattered changes make the parent level
// mostly differ; past 1 − 1/fan-out the coarse hashes save nothing) is skipped and the next finer level
// asked for directly. Requests for nearby ranges are merged when the hashes in between cost less than
// another request and reply.
//
// Counting. Every byte that would cross the link is counted: each request (MESSAGE_BYTES of header:
// type, id, offset, length, block and hash sizes), each reply (MESSAGE_BYTES + the hashes), each block
// message (MESSAGE_BYTES + data). Nothing is compressed.
//
// Hashes: xxh3-128 by default (xxh3-64 with hashBytes 8). They are not cryptographic: two different
// blocks with equal hashes would not be sent. By chance that is ~2^-128 per block compared (2^-64 with 8
// bytes: ~10^-11 over a whole TiB); a guest that crafts colliding blocks can only leave its own older data
// in its own replica. Use a verification pass (e.g. SHA-256 of both images) where that matters.
import { xxh3 } from '@node-rs/xxhash';
import { ValidationError } from '../errors.js';

/** Header bytes counted for every message on the link (request, reply, or block). */
export const MESSAGE_BYTES = 32;

export interface HashRequest {
  /** Start of the range; a multiple of blockBytes. */
  offset: number;
  /** Bytes to cover; the last block may be partial (the end of the volume). */
  length: number;
  /** Size of the blocks whose hashes are returned (see `leafBytesFor`). */
  blockBytes: number;
  /** 16 (xxh3-128, the default) or 8 (xxh3-64); a transport must pass it on when not 16. */
  hashBytes?: 8 | 16;
}

/**
 * Reads `length` bytes at `offset`. `reuse`, when given, is a buffer of at least `length` bytes the caller
 * no longer needs: the reader may fill it and return a view of it instead of allocating (less garbage).
 */
export type ReadRange = (offset: number, length: number, reuse?: Buffer) => Promise<Buffer>;

export interface RemoteHasher {
  /** Concatenated hashes of the blocks of the range, in order. */
  hashBlocks(request: HashRequest): Promise<Buffer>;
}

export interface DeltaSyncOptions {
  sizeBytes: number;
  /** Reads the local (protected) volume; must return exactly `length` bytes. */
  readLocal: ReadRange;
  remote: RemoteHasher;
  /**
   * Sends bytes to the recovery side; several adjacent finest blocks may come as one call. Calls come one
   * at a time, in ascending offset order; `data` is valid until the returned promise resolves (its
   * memory is reused afterwards).
   */
  sendBlock(offset: number, data: Buffer): Promise<void>;
  /** Block sizes, coarse → fine, each dividing the one before (default [1 MiB, 64 KiB, 4 KiB]). */
  levels?: number[];
  hashBytes?: 8 | 16;
  /** Windows in flight (default 4). */
  concurrency?: number;
  /** Bytes read per window (default 8 MiB, rounded to the coarsest level). */
  windowBytes?: number;
}

export interface DeltaSyncResult {
  /** Finest blocks sent. */
  blocksSent: number;
  /** Every byte that would cross the link, both directions, headers included. */
  bytesSent: number;
  /** Block data alone. */
  dataBytes: number;
  /** Hash bytes in replies (without headers). */
  hashBytesReceived: number;
  hashRequests: number;
  /** Messages of every kind (requests, replies, block messages). */
  messages: number;
  elapsedMs: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;
export const DEFAULT_LEVELS: readonly number[] = [MiB, 64 * KiB, 4 * KiB];
const MASK64 = (1n << 64n) - 1n;
/** The protocol's leaf size (see leafBytesFor). */
export const LEAF_BYTES = 4 * KiB;

/**
 * A block of more than 4 KiB that is a multiple of 4 KiB is hashed as the hash of its 4 KiB leaves'
 * hashes; any other block is hashed as it is. Both sides derive this from blockBytes alone.
 */
export function leafBytesFor(blockBytes: number): number {
  return blockBytes > LEAF_BYTES && blockBytes % LEAF_BYTES === 0 ? LEAF_BYTES : blockBytes;
}

function hashInto(data: Uint8Array, out: Buffer, at: number, hashBytes: 8 | 16): void {
  if (hashBytes === 16) {
    const h = xxh3.xxh128(data);
    out.writeBigUInt64BE(h >> 64n, at);
    out.writeBigUInt64BE(h & MASK64, at + 8);
  } else {
    out.writeBigUInt64BE(xxh3.xxh64(data), at);
  }
}

/** Leaf hashes of `data` (leaves of leafBytes; the last may be partial). */
export function leafHashes(data: Uint8Array, leafBytes: number, hashBytes: 8 | 16): Buffer {
  const n = Math.ceil(data.length / leafBytes);
  const out = Buffer.allocUnsafe(n * hashBytes);
  for (let i = 0; i < n; i++) hashInto(data.subarray(i * leafBytes, Math.min(data.length, (i + 1) * leafBytes)), out, i * hashBytes, hashBytes);
  return out;
}

/**
 * Block hashes from leaf hashes: block i covers leaves [i·fan, (i+1)·fan). With fan 1 the leaf hashes
 * themselves are the block hashes.
 */
export function blockHashesFromLeaves(leaves: Buffer, fan: number, hashBytes: 8 | 16): Buffer {
  if (fan === 1) return leaves;
  const nLeaves = leaves.length / hashBytes;
  const n = Math.ceil(nLeaves / fan);
  const out = Buffer.allocUnsafe(n * hashBytes);
  const span = fan * hashBytes;
  for (let i = 0; i < n; i++) hashInto(leaves.subarray(i * span, Math.min(leaves.length, (i + 1) * span)), out, i * hashBytes, hashBytes);
  return out;
}

function checkRequest(r: HashRequest): { leaf: number; hashBytes: 8 | 16; fan: number } {
  const hashBytes = r.hashBytes ?? 16;
  const ok = Number.isSafeInteger(r.offset) && r.offset >= 0 && Number.isSafeInteger(r.length) && r.length >= 0
    && Number.isSafeInteger(r.blockBytes) && r.blockBytes > 0 && r.offset % r.blockBytes === 0 && (hashBytes === 8 || hashBytes === 16);
  if (!ok) {
    throw new ValidationError(`bad hash request ${JSON.stringify(r)}`, 'request',
      'offset and length must be non-negative integers, blockBytes positive, offset a multiple of blockBytes, hashBytes 8 or 16');
  }
  const leaf = leafBytesFor(r.blockBytes);
  return { leaf, hashBytes, fan: r.blockBytes / leaf };
}

/**
 * Read buffers offered back to a reader (ReadRange's `reuse`). Only buffers allocated here are offered,
 * so a view of someone else's memory (an in-memory image) is never written into; once the reader shows it
 * ignores offers (returns other memory), none are allocated any more.
 */
class Recycler {
  private readonly free: Buffer[] = [];
  private used = true;
  constructor(private readonly size: number) {}

  offer(length: number): Buffer | undefined {
    if (!this.used || length > this.size) return undefined;
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  /** After the read: whether the reader filled the offer. */
  taken(offer: Buffer | undefined, data: Buffer): void {
    if (offer && data.buffer !== offer.buffer) this.used = false;
  }

  /** The offered buffer is free again (its data no longer needed). */
  release(offer: Buffer | undefined): void {
    if (offer && this.used) this.free.push(offer);
  }
}

/** Reads per call of hashRanges: large, sequential, a multiple of the block size. */
const READ_CHUNK = 8 * MiB;

/**
 * The recovery side's answer to a hash request, over any reader: the hash of every block of the range
 * (see leafBytesFor). Reads in large sequential chunks.
 */
export async function hashRanges(read: ReadRange, request: HashRequest): Promise<Buffer> {
  const { leaf, hashBytes, fan } = checkRequest(request);
  const blocks = Math.ceil(request.length / request.blockBytes);
  const out = Buffer.allocUnsafe(blocks * hashBytes);
  const chunk = Math.max(1, Math.floor(READ_CHUNK / request.blockBytes)) * request.blockBytes;
  let done = 0;
  for (let pos = 0; pos < request.length; pos += chunk) {
    const len = Math.min(chunk, request.length - pos);
    const data = await read(request.offset + pos, len);
    if (data.length !== len) throw new Error(`hashRanges: read of ${len} bytes at ${request.offset + pos} returned ${data.length}`);
    const hashes = blockHashesFromLeaves(leafHashes(data, leaf, hashBytes), fan, hashBytes);
    hashes.copy(out, done);
    done += hashes.length;
  }
  return out;
}

export interface HashServerOptions {
  read: ReadRange;
  /** Applies block data to the image (used by `writeBlock`). */
  write?: (offset: number, data: Buffer) => Promise<void>;
  /**
   * Bytes of 4 KiB-leaf hashes kept from recent requests (default 1 MiB: 256 MiB of data with 16-byte
   * hashes). A delta sync asks for a window's finer levels right after its coarse one, so the
   * image is read and hashed once, not once per level.
   */
  cacheBytes?: number;
}

export interface HashServer extends RemoteHasher {
  /** Writes data through `write` and forgets the cached hashes it changes. */
  writeBlock(offset: number, data: Buffer): Promise<void>;
}

/** A recovery-side hash server over a reader, with a small cache of leaf hashes (see HashServerOptions). */
export function createHashServer(options: HashServerOptions): HashServer {
  const capacity = options.cacheBytes ?? MiB;
  /** Leaf hashes are cached per aligned chunk of CHUNK bytes. */
  const CHUNK = MiB;
  // Key: chunk index · 2 + (16-byte hashes ? 1 : 0) → the chunk's 4 KiB-leaf hashes. Map order is
  // insertion order, so the first entries are the oldest.
  const cache = new Map<number, Buffer>();
  let cached = 0;
  const recycler = new Recycler(CHUNK);
  const keyOf = (index: number, hashBytes: 8 | 16): number => index * 2 + (hashBytes === 16 ? 1 : 0);

  function forget(key: number): void {
    const old = cache.get(key);
    if (old) {
      cached -= old.length;
      cache.delete(key);
    }
  }

  function remember(key: number, leaves: Buffer): void {
    forget(key);
    cache.set(key, leaves);
    cached += leaves.length;
    for (const [k, v] of cache) {
      if (cached <= capacity) break;
      cache.delete(k);
      cached -= v.length;
    }
  }

  /** The 4 KiB-leaf hashes of [offset, offset + length), offset a multiple of 4 KiB. */
  async function leavesOf(offset: number, length: number, hashBytes: 8 | 16): Promise<Buffer> {
    const parts: Buffer[] = [];
    const end = offset + length;
    let pos = offset;
    while (pos < end) {
      const index = Math.floor(pos / CHUNK);
      const chunkStart = index * CHUNK;
      const key = keyOf(index, hashBytes);
      let leaves = cache.get(key);
      let chunkLen = leaves ? (leaves.length / hashBytes) * LEAF_BYTES : 0;
      // A cached chunk may be short (it ended a range); use it only if it reaches far enough.
      if (!leaves || chunkStart + chunkLen < Math.min(end, chunkStart + CHUNK)) {
        chunkLen = Math.min(CHUNK, end - chunkStart);
        const offer = recycler.offer(chunkLen);
        const data = await options.read(chunkStart, chunkLen, offer);
        recycler.taken(offer, data);
        if (data.length !== chunkLen) throw new Error(`hash server: read of ${chunkLen} bytes at ${chunkStart} returned ${data.length}`);
        leaves = leafHashes(data, LEAF_BYTES, hashBytes);
        recycler.release(offer);
        remember(key, leaves);
      }
      const from = (pos - chunkStart) / LEAF_BYTES;
      const to = Math.ceil((Math.min(end, chunkStart + chunkLen) - chunkStart) / LEAF_BYTES);
      parts.push(leaves.subarray(from * hashBytes, to * hashBytes));
      pos = Math.min(end, chunkStart + chunkLen);
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  return {
    async hashBlocks(request: HashRequest): Promise<Buffer> {
      const { leaf, hashBytes, fan } = checkRequest(request);
      if (request.length === 0) return Buffer.alloc(0);
      if (leaf !== LEAF_BYTES) return hashRanges(options.read, request);
      return blockHashesFromLeaves(await leavesOf(request.offset, request.length, hashBytes), fan, hashBytes);
    },
    async writeBlock(offset: number, data: Buffer): Promise<void> {
      if (!options.write) throw new Error('hash server: no write function');
      await options.write(offset, data);
      if (data.length === 0) return;
      for (let index = Math.floor(offset / CHUNK); index <= Math.floor((offset + data.length - 1) / CHUNK); index++) {
        forget(keyOf(index, 8));
        forget(keyOf(index, 16));
      }
    },
  };
}

// ---- the protected side -------------------------------------------------------------------------------

function checkLevels(levels: readonly number[]): void {
  const ok = levels.length > 0 && levels.every((b, i) => Number.isSafeInteger(b) && b > 0 && (i === 0 || (levels[i - 1] > b && levels[i - 1] % b === 0)));
  if (!ok) throw new ValidationError(`levels must be block sizes from coarse to fine, each dividing the one before; got ${JSON.stringify(levels)}`, 'levels');
}

/** What `DeltaSyncResult` reports, counted as the sync goes. */
type Counters = Omit<DeltaSyncResult, 'elapsedMs'>;

/** Compares the local volume with the remote image by hash and sends the blocks that differ. */
export async function deltaSync(options: DeltaSyncOptions): Promise<DeltaSyncResult> {
  const start = performance.now();
  const { sizeBytes } = options;
  const levels = options.levels ?? [...DEFAULT_LEVELS];
  const hashBytes = options.hashBytes ?? 16;
  const concurrency = options.concurrency ?? 4;
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 0) throw new ValidationError(`sizeBytes must be a non-negative integer, got ${String(sizeBytes)}`, 'sizeBytes');
  checkLevels(levels);
  if (hashBytes !== 8 && hashBytes !== 16) throw new ValidationError(`hashBytes must be 8 or 16, got ${String(hashBytes)}`, 'hashBytes');
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new ValidationError(`concurrency must be a positive integer, got ${String(concurrency)}`, 'concurrency');
  const windowBytes = Math.max(1, Math.round((options.windowBytes ?? 8 * MiB) / levels[0])) * levels[0];

  const counters: Counters = { blocksSent: 0, bytesSent: 0, dataBytes: 0, hashBytesReceived: 0, hashRequests: 0, messages: 0 };
  const windows = Math.ceil(sizeBytes / windowBytes);
  // Window w sends only after window w − 1 has sent everything: blocks leave in ascending offset order.
  const sent: Promise<void>[] = [];
  const pool = new Recycler(windowBytes);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < windows) {
      const w = next++;
      const offset = w * windowBytes;
      const previous = w > 0 ? sent[w - 1] : Promise.resolve();
      const done = syncWindow(offset, Math.min(windowBytes, sizeBytes - offset), levels, hashBytes, options, counters, previous, pool);
      sent[w] = done;
      done.catch(() => undefined); // observed through the worker's own await
      await done;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, windows)) }, worker));
  return { ...counters, elapsedMs: performance.now() - start };
}

/** Runs of block indexes [start, end). */
type Runs = [number, number][];

/**
 * Merges runs whose gap costs fewer hash bytes than the headers of a separate request and reply; the
 * blocks in a gap are asked for too (their hashes are compared like any other).
 */
function coalesce(runs: Runs, hashBytes: number): Runs {
  const maxGap = Math.floor((2 * MESSAGE_BYTES) / hashBytes);
  const out: Runs = [];
  for (const r of runs) {
    const last = out[out.length - 1];
    if (last && r[0] - last[1] <= maxGap) last[1] = r[1];
    else out.push([r[0], r[1]]);
  }
  return out;
}

async function syncWindow(
  winOffset: number, winLength: number, levels: readonly number[], hashBytes: 8 | 16, options: DeltaSyncOptions, counters: Counters,
  previousSent: Promise<void>, pool: Recycler,
): Promise<void> {
  const ask = async (level: number, s: number, e: number): Promise<Buffer> => {
    const block = levels[level];
    const offset = s * block;
    const length = Math.min(e * block, winLength) - offset;
    const reply = await options.remote.hashBlocks({ offset: winOffset + offset, length, blockBytes: block, hashBytes });
    if (reply.length !== (e - s) * hashBytes) throw new Error(`deltaSync: remote returned ${reply.length} hash bytes for ${e - s} blocks`);
    counters.hashRequests++;
    counters.messages += 2;
    counters.hashBytesReceived += reply.length;
    counters.bytesSent += 2 * MESSAGE_BYTES + reply.length;
    return reply;
  };
  // The coarse request does not depend on local data: it goes first, so both sides read and hash at once.
  const coarseBlocks = Math.ceil(winLength / levels[0]);
  const coarse = ask(0, 0, coarseBlocks);
  coarse.catch(() => undefined); // awaited below; a local read failure must not leave it unhandled
  const offer = pool.offer(winLength);
  const data = await options.readLocal(winOffset, winLength, offer);
  pool.taken(offer, data);
  if (data.length !== winLength) throw new Error(`deltaSync: readLocal(${winOffset}, ${winLength}) returned ${data.length} bytes`);
  try {
    await compareAndSend(data, winOffset, winLength, levels, hashBytes, options, counters, previousSent, coarse, ask);
  } finally {
    // Nothing refers to the window's data any more (sendBlock's data is only valid during the call).
    pool.release(offer);
  }
}

async function compareAndSend(
  data: Buffer, winOffset: number, winLength: number, levels: readonly number[], hashBytes: 8 | 16, options: DeltaSyncOptions,
  counters: Counters, previousSent: Promise<void>, coarse: Promise<Buffer>, ask: (level: number, s: number, e: number) => Promise<Buffer>,
): Promise<void> {
  let leaves: Buffer | undefined;
  const localHashes = new Map<number, Buffer>();
  const local = (level: number): Buffer => {
    let h = localHashes.get(level);
    if (!h) {
      const block = levels[level];
      const leaf = leafBytesFor(block);
      if (leaf === LEAF_BYTES) {
        leaves ??= leafHashes(data, LEAF_BYTES, hashBytes);
        h = blockHashesFromLeaves(leaves, block / LEAF_BYTES, hashBytes);
      } else {
        h = leafHashes(data, block, hashBytes);
      }
      localHashes.set(level, h);
    }
    return h;
  };

  // Candidates at the current level: runs of block indexes (relative to the window).
  let level = 0;
  let candidates: Runs = [[0, Math.ceil(winLength / levels[0])]];
  let differFraction = 0;
  for (;;) {
    // Skip a level predicted to differ almost everywhere among the candidates: asking for it would cost
    // more than asking for its children directly.
    while (level > 0 && level < levels.length - 1) {
      const fanUp = levels[level - 1] / levels[level];
      const fanDown = levels[level] / levels[level + 1];
      // Changes spread at random: a child differs with p where 1 − (1 − p)^fanUp = differFraction.
      const p = 1 - (1 - differFraction) ** (1 / fanUp);
      const conditional = differFraction > 0 ? p / differFraction : 0;
      if (conditional <= 1 - 1 / fanDown) break;
      const children = Math.ceil(winLength / levels[level + 1]);
      candidates = candidates.map(([s, e]) => [s * fanDown, Math.min(e * fanDown, children)]);
      differFraction = conditional;
      level++;
    }
    const block = levels[level];
    const requests = coalesce(candidates, hashBytes);
    const replies = level === 0 ? [await coarse] : await Promise.all(requests.map(([s, e]) => ask(level, s, e)));
    const mine = local(level);
    const differing: Runs = [];
    let compared = 0;
    requests.forEach(([s, e], r) => {
      const reply = replies[r];
      for (let b = s; b < e; b++) {
        compared++;
        const at = (b - s) * hashBytes;
        if (reply.compare(mine, b * hashBytes, (b + 1) * hashBytes, at, at + hashBytes) !== 0) {
          const last = differing[differing.length - 1];
          if (last && last[1] === b) last[1] = b + 1;
          else differing.push([b, b + 1]);
        }
      }
    });
    if (level === levels.length - 1 || differing.length === 0) {
      await previousSent;
      // The differing finest blocks, adjacent ones as one message.
      for (const [s, e] of differing) {
        const from = s * block;
        const to = Math.min(e * block, winLength);
        await options.sendBlock(winOffset + from, data.subarray(from, to));
        counters.blocksSent += e - s;
        counters.dataBytes += to - from;
        counters.messages++;
        counters.bytesSent += MESSAGE_BYTES + (to - from);
      }
      return;
    }
    const fan = levels[level] / levels[level + 1];
    const children = Math.ceil(winLength / levels[level + 1]);
    candidates = differing.map(([s, e]) => [s * fan, Math.min(e * fan, children)]);
    differFraction = differing.reduce((n, [s, e]) => n + e - s, 0) / compared;
    level++;
  }
}
