// One StoredFile on S3: a small head object naming the file's incarnation id and size, plus fixed-size
// chunk objects `c/<id>/<index>.<start>` holding bytes [start, end) of chunk `index` (a chunk written only
// near its end stores no leading zeros). Writes land in a write-back cache; a chunk that fills up while
// appending is uploaded at once in the background, and `flush` uploads every dirty chunk, so a journal
// segment is durable as far as its chunk objects are complete. S3 PUTs are atomic: a chunk object is
// the old version or the new one, never a partial one, and a crash loses only what was not flushed.
// A chunk's start only ever moves down, so when a crash leaves two objects of one chunk, the one with the
// lower start is the newer; the other is deleted with the next upload of that chunk.
// Longer than most modules on purpose: the chunk cache, uploads, reads and resizes share one state and its
// invariants (versions, copy on write, the dirty total), which splitting would spread over several files.
import pLimit, { type LimitFunction } from 'p-limit';
import { StorageError, ValidationError } from '@opencdp/core';
import type { StoredFile } from '@opencdp/core';
import { AwsChecksumError, S3StorageError } from '../aws-errors.js';
import { sha256Hex, type S3Transport } from './s3-transport.js';

/** What a file needs from the storage that opened it. */
export interface FileContext {
  readonly transport: S3Transport;
  headKey(name: string): string;
  chunkPrefix(id: string): string;
  /** The storage's crash generation: a file opened in an earlier one is closed. */
  generation(): number;
  /** Clean chunks kept for reads and read-modify-writes (an LRU across files). */
  keepClean(file: S3StoredFile, index: number, bytes: number): void;
  forgetClean(file: S3StoredFile, index: number): void;
  /** Dirty bytes across the storage, and the bound past which writes wait for uploads. */
  dirtyBytes: number;
  readonly maxDirtyBytes: number;
  /** Label for messages, e.g. `s3://bucket/prefix/`. */
  readonly where: string;
}

/** The head of a chunked file, as stored (JSON). */
export interface ChunkedHead {
  v: 1;
  id: string;
  size: number;
  chunkBytes: number;
}

interface RemoteChunk {
  /** The key of the current object, and its byte range within the chunk. */
  key: string;
  start: number;
  end: number;
  /** Older objects of this chunk a crash left behind; deleted after the next upload of the chunk. */
  stale: string[];
}

interface CachedChunk {
  /** Bytes [0, buf.length) of the chunk; grown on demand up to chunkBytes. */
  buf: Buffer;
  /** Bytes below `start` and from `end` on are zero. */
  start: number;
  end: number;
  version: number;
  uploadedVersion: number;
  /** The buffer an upload in flight is sending: never modified (copy on write). */
  sending?: Buffer;
  uploading?: Promise<void>;
  /** Bytes counted in the storage's dirty total. */
  counted: number;
}

export function chunkKeyOf(prefix: string, index: number, start: number): string {
  return `${prefix}${index.toString(16).padStart(12, '0')}.${start.toString(16).padStart(8, '0')}`;
}

/** Parses the tail of a chunk key (`<index>.<start>`), or undefined for a foreign object. */
export function parseChunkKey(tail: string): { index: number; start: number } | undefined {
  const m = /^([0-9a-f]{12})\.([0-9a-f]{8})$/.exec(tail);
  return m ? { index: parseInt(m[1], 16), start: parseInt(m[2], 16) } : undefined;
}

export class S3StoredFile implements StoredFile {
  private closed = false;
  private readonly queue: LimitFunction = pLimit(1);
  private readonly remote = new Map<number, RemoteChunk>();
  private readonly cache = new Map<number, CachedChunk>();
  private logicalSize: number;

  private constructor(
    readonly name: string,
    private readonly ctx: FileContext,
    private head: ChunkedHead,
    private readonly opened: number,
  ) {
    this.logicalSize = head.size;
  }

  /** Opens a chunked file: reads its chunk list once, so later reads of absent chunks cost no request. */
  static async open(name: string, ctx: FileContext, head: ChunkedHead): Promise<S3StoredFile> {
    const file = new S3StoredFile(name, ctx, head, ctx.generation());
    const prefix = ctx.chunkPrefix(head.id);
    for (const o of await ctx.transport.list(prefix, `list the chunks of '${name}' in ${ctx.where}`)) {
      const parsed = parseChunkKey(o.key.slice(prefix.length));
      if (!parsed) continue;
      const chunk: RemoteChunk = { key: o.key, start: parsed.start, end: parsed.start + o.size, stale: [] };
      const known = file.remote.get(parsed.index);
      if (known) {
        // Listed in key order, so a later object of the same chunk has a higher start: the older version.
        known.stale.push(o.key);
        continue;
      }
      if (chunk.end > head.chunkBytes) {
        throw new S3StorageError('MalformedObject', `chunk object '${o.key}' of '${name}' reaches past its ${head.chunkBytes}-byte chunk`, 'io',
          'the object was not written by this adapter or was damaged; restore the prefix from a backup or delete the file');
      }
      file.remote.set(parsed.index, chunk);
      file.logicalSize = Math.max(file.logicalSize, parsed.index * head.chunkBytes + chunk.end);
    }
    return file;
  }

  get id(): string {
    return this.head.id;
  }

  get chunkBytes(): number {
    return this.head.chunkBytes;
  }

  async size(): Promise<number> {
    this.checkOpen();
    return this.logicalSize;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    this.checkOpen();
    checkRange(this.name, offset, length);
    const out = Buffer.alloc(length);
    const end = Math.min(offset + length, this.logicalSize);
    const pieces: Promise<void>[] = [];
    for (let at = offset; at < end;) {
      const index = Math.floor(at / this.head.chunkBytes);
      const base = index * this.head.chunkBytes;
      const to = Math.min(end, base + this.head.chunkBytes);
      const from = at;
      pieces.push(this.readPiece(index, from - base, to - base, out, from - offset));
      at = to;
    }
    await Promise.all(pieces);
    this.checkOpen();
    return out;
  }

  async write(offset: number, data: Buffer | readonly Buffer[]): Promise<void> {
    this.checkOpen();
    const buffers = Buffer.isBuffer(data) ? [data] : [...data];
    const total = buffers.reduce((n, b) => n + b.length, 0);
    checkRange(this.name, offset, total);
    // Copied now: the caller may reuse its buffers as soon as the promise settles, and writes wait in the queue.
    return this.queue(async () => {
      this.checkOpen();
      let at = offset;
      const full: number[] = [];
      for (const b of buffers) {
        let done = 0;
        while (done < b.length) {
          const index = Math.floor(at / this.head.chunkBytes);
          const within = at - index * this.head.chunkBytes;
          const count = Math.min(b.length - done, this.head.chunkBytes - within);
          const chunk = await this.writable(index, within === 0 && count === this.head.chunkBytes);
          this.ensureCapacity(chunk, within + count);
          b.copy(chunk.buf, within, done, done + count);
          chunk.start = Math.min(chunk.start, within);
          chunk.end = Math.max(chunk.end, within + count);
          this.touch(index, chunk);
          if (within + count === this.head.chunkBytes) full.push(index);
          done += count;
          at += count;
        }
      }
      this.logicalSize = Math.max(this.logicalSize, offset + total);
      // A chunk an append just filled will not change again: send it now, so flushes stay short.
      for (const index of full) void this.sync(index).catch(() => undefined);
      await this.relieve();
    });
  }

  async flush(): Promise<void> {
    this.checkOpen();
    const indices = await this.queue(async () => {
      this.checkOpen();
      return [...this.cache.keys()];
    });
    // Outside the queue: later writes go on meanwhile (copy on write keeps what is being sent intact).
    const results = await Promise.allSettled(indices.map((i) => this.sync(i)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    this.checkOpen();
  }

  async trim(offset: number, length: number): Promise<void> {
    this.checkOpen();
    checkRange(this.name, offset, length);
    return this.queue(async () => {
      this.checkOpen();
      if (length === 0 || offset >= this.logicalSize) return;
      if (offset + length >= this.logicalSize) {
        await this.resizeNow(offset);
        return;
      }
      const C = this.head.chunkBytes;
      const whole: number[] = [];
      for (let at = offset; at < offset + length;) {
        const index = Math.floor(at / C);
        const base = index * C;
        const to = Math.min(offset + length, base + C);
        if (at === base && to === base + C) whole.push(index);
        else if (this.cache.has(index) || this.remote.has(index)) {
          const chunk = await this.writable(index, false);
          const a = Math.max(at - base, chunk.start);
          const b = Math.min(to - base, chunk.end);
          // Zeroed in place; `start` never moves up (see the module comment).
          if (a < b) chunk.buf.fill(0, a, b);
          this.touch(index, chunk);
        }
        at = to;
      }
      await this.dropChunks(whole);
    });
  }

  async resize(size: number): Promise<void> {
    this.checkOpen();
    if (!Number.isSafeInteger(size) || size < 0) throw new ValidationError(`size ${size} of '${this.name}' is not a non-negative integer`, 'size');
    return this.queue(() => this.resizeNow(size));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    let error: unknown;
    if (this.opened === this.ctx.generation()) {
      try {
        await this.flush();
      } catch (e) {
        error = e;
      }
    }
    this.closed = true;
    for (const index of this.cache.keys()) this.ctx.forgetClean(this, index);
    for (const c of this.cache.values()) this.ctx.dirtyBytes -= c.counted;
    this.cache.clear();
    if (error) throw error;
  }

  /** Drops a clean chunk from the cache (the LRU evicted it); dirty or uploading chunks stay. */
  evict(index: number): void {
    const c = this.cache.get(index);
    if (c && c.version === c.uploadedVersion && !c.uploading) this.cache.delete(index);
  }

  /** Dirty bytes this file holds (for tests and the storage's accounting). */
  get dirtyBytes(): number {
    let n = 0;
    for (const c of this.cache.values()) if (c.version !== c.uploadedVersion) n += c.end;
    return n;
  }

  // ---- internals ---------------------------------------------------------------------------

  /** Resize under the queue: truncates the boundary chunk, deletes chunks past the end, then records the size. */
  private async resizeNow(size: number): Promise<void> {
    this.checkOpen();
    if (size === this.logicalSize && size === this.head.size) return;
    const C = this.head.chunkBytes;
    if (size < this.logicalSize) {
      // A late upload must not bring a cut chunk back.
      await Promise.allSettled([...this.cache.values()].map((c) => c.uploading));
      const keepChunks = Math.ceil(size / C);
      const beyond = [...new Set([...this.cache.keys(), ...this.remote.keys()])].filter((i) => i >= keepChunks);
      const boundary = keepChunks - 1;
      const within = size - boundary * C;
      if (boundary >= 0 && within < C) {
        const r = this.remote.get(boundary);
        const c = this.cache.get(boundary);
        if ((c && c.end > within) || (!c && r && r.end > within)) {
          const chunk = await this.writable(boundary, false);
          if (chunk.end > within) {
            chunk.buf.fill(0, within, chunk.end);
            chunk.end = within;
            this.touch(boundary, chunk);
          }
          if (chunk.end <= chunk.start) beyond.push(boundary);
          else await this.sync(boundary);
        }
      }
      await this.dropChunks(beyond);
    }
    this.head = { ...this.head, size };
    await this.ctx.transport.put(this.ctx.headKey(this.name), Buffer.from(JSON.stringify(this.head)), { 'ocdp-layout': 'chunked' }, `resize '${this.name}' in ${this.ctx.where}`);
    this.logicalSize = size;
  }

  /** Forgets chunks and deletes their objects (every version). */
  private async dropChunks(indices: readonly number[]): Promise<void> {
    const keys: string[] = [];
    for (const index of indices) {
      const c = this.cache.get(index);
      if (c?.uploading) await c.uploading.catch(() => undefined);
      if (c) {
        this.ctx.dirtyBytes -= c.counted;
        this.cache.delete(index);
        this.ctx.forgetClean(this, index);
      }
      const r = this.remote.get(index);
      if (r) keys.push(r.key, ...r.stale);
      this.remote.delete(index);
    }
    if (keys.length > 0) await this.ctx.transport.deleteMany(keys, `delete chunks of '${this.name}' in ${this.ctx.where}`);
  }

  /** The cached chunk to modify: loaded first unless `whole` (it will be overwritten entirely) or absent. */
  private async writable(index: number, whole: boolean): Promise<CachedChunk> {
    let chunk = this.cache.get(index);
    if (!chunk) {
      const r = this.remote.get(index);
      // Empty: start past end; the first write sets both. Version 0 is what S3 holds (the object or nothing).
      chunk = { buf: Buffer.alloc(0), start: this.head.chunkBytes, end: 0, version: 0, uploadedVersion: 0, counted: 0 };
      if (r && !whole) {
        const data = await this.fetchWhole(r);
        chunk.buf = Buffer.alloc(Math.min(this.head.chunkBytes, roundUp(r.end)));
        data.copy(chunk.buf, r.start);
        chunk.start = r.start;
        chunk.end = r.end;
      }
      this.checkOpen();
      const raced = this.cache.get(index);
      if (raced) chunk = raced;
      else this.cache.set(index, chunk);
    }
    if (chunk.sending !== undefined && chunk.sending === chunk.buf) chunk.buf = Buffer.from(chunk.buf);
    return chunk;
  }

  /** Marks a chunk changed and keeps the storage's dirty total right. */
  private touch(index: number, chunk: CachedChunk): void {
    chunk.version++;
    this.ctx.forgetClean(this, index);
    this.ctx.dirtyBytes += chunk.buf.length - chunk.counted;
    chunk.counted = chunk.buf.length;
  }

  private ensureCapacity(chunk: CachedChunk, bytes: number): void {
    if (chunk.buf.length >= bytes) return;
    const grown = Buffer.alloc(Math.min(this.head.chunkBytes, Math.max(roundUp(bytes), chunk.buf.length * 2)));
    chunk.buf.copy(grown);
    chunk.buf = grown;
  }

  /** Resolves once the chunk's content as of now is in S3 (uploads of one chunk never overlap). */
  private async sync(index: number): Promise<void> {
    const chunk = this.cache.get(index);
    if (!chunk) return;
    const target = chunk.version;
    while (chunk.uploadedVersion < target) {
      if (chunk.uploading) {
        await chunk.uploading.catch(() => undefined);
        if (chunk.uploadedVersion >= target) break;
      }
      if (this.cache.get(index) !== chunk) return;
      chunk.uploading = this.upload(index, chunk);
      try {
        await chunk.uploading;
      } finally {
        chunk.uploading = undefined;
      }
    }
  }

  private async upload(index: number, chunk: CachedChunk): Promise<void> {
    const version = chunk.version;
    const { start, end } = chunk;
    const sending = chunk.buf;
    chunk.sending = sending;
    const prefix = this.ctx.chunkPrefix(this.head.id);
    const what = `upload chunk ${index} of '${this.name}' to ${this.ctx.where}`;
    try {
      const previous = this.remote.get(index);
      if (end <= start) {
        if (previous) await this.ctx.transport.deleteMany([previous.key, ...previous.stale], what);
        this.remote.delete(index);
      } else {
        const body = sending.subarray(start, end);
        const key = chunkKeyOf(prefix, index, start);
        await this.ctx.transport.transfer(() => this.ctx.transport.put(key, body, { 'ocdp-sha256': sha256Hex(body) }, what));
        const stale = previous ? [previous.key, ...previous.stale].filter((k) => k !== key) : [];
        this.remote.set(index, { key, start, end, stale: [] });
        if (stale.length > 0) await this.ctx.transport.deleteMany(stale, what).catch(() => { this.remote.get(index)?.stale.push(...stale); });
      }
      if (this.opened !== this.ctx.generation()) return;
      chunk.uploadedVersion = Math.max(chunk.uploadedVersion, version);
      if (chunk.version === chunk.uploadedVersion) {
        this.ctx.dirtyBytes -= chunk.counted;
        chunk.counted = 0;
        this.ctx.keepClean(this, index, chunk.buf.length);
      }
    } finally {
      if (chunk.sending === sending) chunk.sending = undefined;
    }
  }

  /** Past the storage's dirty bound, a write waits until this file's dirty chunks are sent (full ones first). */
  private async relieve(): Promise<void> {
    if (this.ctx.dirtyBytes <= this.ctx.maxDirtyBytes) return;
    const dirty = [...this.cache.entries()].filter(([, c]) => c.version !== c.uploadedVersion)
      .sort(([, a], [, b]) => b.end - b.start - (a.end - a.start));
    await Promise.all(dirty.map(([i]) => this.sync(i)));
  }

  /**
   * Copies bytes [a, b) of chunk `index` into `out` at `at`, from the cache or with a range GET. An upload
   * of the same chunk may replace its object meanwhile: then the read looks again instead of failing.
   */
  private async readPiece(index: number, a: number, b: number, out: Buffer, at: number): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const cached = this.cache.get(index);
      if (cached) {
        const lo = Math.max(a, cached.start);
        const hi = Math.min(b, cached.end, cached.buf.length);
        if (lo < hi) cached.buf.copy(out, at + lo - a, lo, hi);
        this.ctx.keepClean(this, index, 0);
        return;
      }
      const r = this.remote.get(index);
      if (!r) return;
      const lo = Math.max(a, r.start);
      const hi = Math.min(b, r.end);
      if (lo >= hi) return;
      const objectBytes = r.end - r.start;
      if ((lo === r.start && hi === r.end) || objectBytes <= WHOLE_READ_BYTES || (hi - lo) * 4 >= objectBytes) {
        // A small object or a large part of one: one GET of the whole (its SHA-256 checked), kept in the
        // clean cache, so the neighbouring reads that usually follow cost no request.
        const data = await this.fetchWhole(r).catch((e: unknown) => (e instanceof S3StorageError && e.awsCode === 'NoSuchKey' ? undefined : Promise.reject(e)));
        if (data) {
          this.checkOpen();
          const raced = this.cache.get(index);
          if (raced || this.remote.get(index) !== r) continue;
          const chunk: CachedChunk = { buf: Buffer.alloc(Math.min(this.head.chunkBytes, roundUp(r.end))), start: r.start, end: r.end, version: 0, uploadedVersion: 0, counted: 0 };
          data.copy(chunk.buf, r.start);
          this.cache.set(index, chunk);
          this.ctx.keepClean(this, index, chunk.buf.length);
          chunk.buf.copy(out, at + lo - a, lo, hi);
          return;
        }
        if ((this.cache.has(index) || this.remote.get(index) !== r) && attempt < 3) continue;
        throw this.vanished(r.key);
      }
      const got = await this.ctx.transport.transfer(() => this.ctx.transport.get(r.key, `read '${this.name}' from ${this.ctx.where}`, { offset: lo - r.start, length: hi - lo }));
      if (got && got.data.length === hi - lo && got.size === r.end - r.start) {
        got.data.copy(out, at + lo - a);
        return;
      }
      const replaced = this.cache.has(index) || this.remote.get(index) !== r;
      if (!replaced || attempt >= 3) throw got ? this.truncated(r.key, r.end - r.start, got.size) : this.vanished(r.key);
    }
  }

  /**
   * The whole object of a chunk, its length and SHA-256 checked. A mismatch is read again a few times
   * before it is refused: S3 never serves a partial object, but a test server answering a GET that races
   * its own PUT can, and a transient fault deserves a second look before it becomes an error.
   */
  private async fetchWhole(r: RemoteChunk): Promise<Buffer> {
    for (let attempt = 1; ; attempt++) {
      const got = await this.ctx.transport.transfer(() => this.ctx.transport.get(r.key, `read '${this.name}' from ${this.ctx.where}`));
      if (!got) throw this.vanished(r.key);
      const expected = got.metadata['ocdp-sha256'];
      const actual = sha256Hex(got.data);
      const problem = got.data.length !== r.end - r.start ? this.truncated(r.key, r.end - r.start, got.data.length)
        : expected === undefined ? new S3StorageError('MalformedObject', `chunk object '${r.key}' of '${this.name}' carries no checksum: it was not written by this adapter`, 'io',
          'the object was replaced outside OpenCDP; restore it from a backup, or delete the file so a sync rebuilds it')
          : expected !== actual ? new AwsChecksumError(`chunk object '${r.key}' of '${this.name}'`, expected, actual) : undefined;
      if (!problem) return got.data;
      if (attempt >= FETCH_ATTEMPTS) throw problem;
      await new Promise((resolve) => setTimeout(resolve, 20 * attempt));
    }
  }

  private vanished(key: string): StorageError {
    return new S3StorageError('NoSuchKey', `chunk object '${key}' of '${this.name}' in ${this.ctx.where} vanished`, 'io',
      'another process deleted or rewrote the file; only one appliance may use a bucket prefix');
  }

  private truncated(key: string, expected: number, got: number): StorageError {
    return new S3StorageError('MalformedObject', `chunk object '${key}' of '${this.name}' is ${got} bytes, ${expected} expected`, 'io',
      'the object was truncated or replaced outside OpenCDP; restore it from a backup, or delete the file so a sync rebuilds it');
  }

  private checkOpen(): void {
    if (this.closed) throw new StorageError(`file '${this.name}' is closed`, 'closed');
    if (this.opened !== this.ctx.generation()) throw new StorageError(`file '${this.name}' was closed by a simulated crash`, 'closed');
  }
}

/** Reads of a whole chunk object whose length or checksum is wrong before the error stands. */
const FETCH_ATTEMPTS = 3;

/** Objects up to this size are always read whole (and cached) rather than by range. */
const WHOLE_READ_BYTES = 1024 * 1024;

function checkRange(name: string, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0 || !Number.isSafeInteger(offset + length)) {
    throw new ValidationError(`byte range (offset ${offset}, length ${length}) of '${name}' is not a pair of non-negative integers`, 'offset');
  }
}

/** Buffer sizes grow in 64 KiB steps, so appends do not reallocate on every write. */
function roundUp(n: number): number {
  const step = 64 * 1024;
  return Math.ceil(n / step) * step;
}
