// Power-cut simulation for any StorageAdapter: a write-back cache in front of the real store holds each
// file's writes, trims and resizes until the file is flushed, and `crash(seed)` keeps only a seeded
// prefix of what was not flushed (its last write possibly torn at a sector boundary), as kill -9 or a
// power cut would. A harness gets J6-style durability tests on its own store (files, S3, a SAN) with it;
// MemoryStorage does the same for memory alone.
import { StorageError } from '../errors.js';
import type { StorageAdapter, StorageCapacity, StoredFile } from '../ports/storage-adapter.js';
import { seededRandom } from '../random.js';
import { chooseCrashSurvivors, type PendingStorageOp } from './crash-survivors.js';
import { checkByteRange, checkFileSize } from './storage-names.js';

/** The unflushed operations of one file, shared by every handle open on it. */
class PendingFile {
  ops: PendingStorageOp[] = [];
  /** Flushes of this file run one at a time, in order. */
  flushing: Promise<void> = Promise.resolve();
}

/**
 * Wraps `inner`. File existence (create, delete, replace) is durable at once, as on a store that syncs
 * its folders; only file contents are cached. Reads see the cache over the inner file. Memory grows
 * with unflushed data, which journals bound by flushing every few writes.
 */
export class PowerCutStorage implements StorageAdapter {
  private readonly files = new Map<string, PendingFile>();
  private readonly handles = new Set<PowerCutFile>();
  private generation = 0;

  constructor(readonly inner: StorageAdapter) {}

  get kind(): string {
    return this.inner.kind;
  }

  /** Bytes written but not flushed, over every file (what a crash may lose). */
  unflushedBytes(): number {
    let n = 0;
    for (const f of this.files.values()) for (const op of f.ops) if (op.kind === 'write') n += op.data.length;
    return n;
  }

  capacity(): Promise<StorageCapacity> {
    return this.inner.capacity();
  }

  async open(name: string, options?: { create?: boolean; size?: number }): Promise<StoredFile> {
    const file = await this.inner.open(name, options);
    let pending = this.files.get(name);
    if (!pending) {
      pending = new PendingFile();
      this.files.set(name, pending);
    }
    const handle = new PowerCutFile(file, pending, this.generation, () => this.generation, (h) => this.handles.delete(h));
    this.handles.add(handle);
    return handle;
  }

  exists(name: string): Promise<boolean> {
    return this.inner.exists(name);
  }

  list(prefix: string): Promise<string[]> {
    return this.inner.list(prefix);
  }

  async delete(name: string): Promise<void> {
    await this.inner.delete(name);
    // Handles still open keep their (now nameless) pending record, like writes to an unlinked inode.
    this.files.delete(name);
  }

  async replace(name: string, data: Buffer): Promise<void> {
    await this.inner.replace(name, data);
    this.files.delete(name);
  }

  /** The inner store's content with this file's unflushed operations on top (what readers see). */
  async readAll(name: string): Promise<Buffer | undefined> {
    const pending = this.files.get(name);
    if (!pending || pending.ops.length === 0) return this.inner.readAll(name);
    if (!(await this.inner.exists(name))) return undefined;
    const file = await this.inner.open(name);
    try {
      const size = sizeAfter(await file.size(), pending.ops);
      return overlay(await file.read(0, size), 0, pending.ops, await file.size());
    } finally {
      await file.close();
    }
  }

  /**
   * The power cut: every open handle dies (closed on the inner store), and per file, in name order, a
   * seeded prefix of its unflushed operations reaches the inner store and is flushed; the rest is lost.
   * The same history and seed keep the same bytes as `MemoryStorage.crash` would.
   */
  async crash(seed: number): Promise<void> {
    const random = seededRandom(seed);
    this.generation++;
    const handles = [...this.handles];
    this.handles.clear();
    for (const name of [...this.files.keys()].sort()) {
      const pending = this.files.get(name)!;
      // Wait for a flush already under way: what it wrote is on the inner store either way.
      await pending.flushing.catch(() => undefined);
      if (pending.ops.length === 0) continue;
      const [keep, lastBytes] = chooseCrashSurvivors(random, pending.ops);
      const survivors = pending.ops.slice(0, keep);
      pending.ops = [];
      if (survivors.length === 0) continue;
      if (lastBytes !== undefined) {
        const last = survivors[survivors.length - 1] as Extract<PendingStorageOp, { kind: 'write' }>;
        survivors[survivors.length - 1] = { kind: 'write', offset: last.offset, data: last.data.subarray(0, lastBytes) };
      }
      if (!(await this.inner.exists(name))) continue;
      const file = await this.inner.open(name);
      try {
        for (const op of survivors) await applyOp(file, op);
        await file.flush();
      } finally {
        await file.close();
      }
    }
    this.files.clear();
    await Promise.allSettled(handles.map((h) => h.closeInner()));
  }
}

class PowerCutFile implements StoredFile {
  private closed = false;

  constructor(
    private readonly file: StoredFile,
    private readonly pending: PendingFile,
    private readonly generation: number,
    private readonly currentGeneration: () => number,
    private readonly forget: (h: PowerCutFile) => void,
  ) {}

  get name(): string {
    return this.file.name;
  }

  async size(): Promise<number> {
    this.checkOpen();
    return sizeAfter(await this.file.size(), this.pending.ops);
  }

  async read(offset: number, length: number): Promise<Buffer> {
    this.checkOpen();
    checkByteRange(this.name, offset, length);
    const ops = [...this.pending.ops];
    const innerSize = await this.file.size();
    return overlay(await this.file.read(offset, length), offset, ops, innerSize);
  }

  async write(offset: number, data: Buffer | readonly Buffer[]): Promise<void> {
    this.checkOpen();
    // A private copy: the caller may reuse its buffers, and the cached op must keep what was written.
    const copy = Buffer.concat(Buffer.isBuffer(data) ? [data] : data);
    checkByteRange(this.name, offset, copy.length);
    if (copy.length > 0) this.pending.ops.push({ kind: 'write', offset, data: copy });
  }

  async trim(offset: number, length: number): Promise<void> {
    this.checkOpen();
    checkByteRange(this.name, offset, length);
    this.pending.ops.push({ kind: 'trim', offset, length });
  }

  async resize(size: number): Promise<void> {
    this.checkOpen();
    checkFileSize(this.name, size);
    this.pending.ops.push({ kind: 'resize', size });
  }

  /** Writes the cached operations through, oldest first, then flushes the inner file. */
  async flush(): Promise<void> {
    this.checkOpen();
    const run = this.pending.flushing.catch(() => undefined).then(async () => {
      // Each op leaves the cache only once the inner file holds it, so readers never miss it.
      while (this.pending.ops.length > 0) {
        if (this.generation !== this.currentGeneration()) throw crashed(this.name);
        await applyOp(this.file, this.pending.ops[0]);
        this.pending.ops.shift();
      }
      await this.file.flush();
    });
    this.pending.flushing = run;
    return run;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.forget(this);
    // Unflushed data stays cached for other handles and for the next flush or crash, as in a page cache.
    await this.file.close();
  }

  /** @internal the crash closes what the dead handle held. */
  async closeInner(): Promise<void> {
    this.closed = true;
    await this.file.close();
  }

  private checkOpen(): void {
    if (this.generation !== this.currentGeneration()) throw crashed(this.name);
    if (this.closed) throw new StorageError(`file '${this.name}' is closed`, 'closed');
  }
}

function crashed(name: string): StorageError {
  return new StorageError(`file '${name}' was closed by a simulated power cut`, 'closed');
}

async function applyOp(file: StoredFile, op: PendingStorageOp): Promise<void> {
  if (op.kind === 'write') await file.write(op.offset, op.data);
  else if (op.kind === 'trim') await file.trim(op.offset, op.length);
  else await file.resize(op.size);
}

/** A file's size once `ops` are applied to a file of `size` bytes (trim reaching the end truncates, as the stores do). */
function sizeAfter(size: number, ops: readonly PendingStorageOp[]): number {
  for (const op of ops) {
    if (op.kind === 'write') size = Math.max(size, op.offset + op.data.length);
    else if (op.kind === 'resize') size = op.size;
    else if (op.length > 0 && op.offset < size && op.offset + op.length >= size) size = op.offset;
  }
  return size;
}

/** `base` (bytes [offset, offset + base.length) of the inner file) with `ops` applied in order. */
function overlay(base: Buffer, offset: number, ops: readonly PendingStorageOp[], innerSize: number): Buffer {
  const out = Buffer.from(base);
  const end = offset + out.length;
  let size = innerSize;
  const zeroFrom = (from: number): void => {
    if (from < end) out.fill(0, Math.max(0, from - offset));
  };
  for (const op of ops) {
    if (op.kind === 'write') {
      const from = Math.max(offset, op.offset);
      const to = Math.min(end, op.offset + op.data.length);
      if (from < to) op.data.copy(out, from - offset, from - op.offset, to - op.offset);
      size = Math.max(size, op.offset + op.data.length);
    } else if (op.kind === 'resize') {
      if (op.size < size) zeroFrom(op.size);
      size = op.size;
    } else if (op.length > 0 && op.offset < size) {
      if (op.offset + op.length >= size) {
        zeroFrom(op.offset);
        size = op.offset;
      } else {
        const from = Math.max(offset, op.offset);
        const to = Math.min(end, op.offset + op.length);
        if (from < to) out.fill(0, from - offset, to - offset);
      }
    }
  }
  zeroFrom(size);
  return out;
}
