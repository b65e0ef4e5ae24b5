// An in-memory StorageAdapter for the fake data centre and for crash tests: every file keeps a durable
// image plus the operations not yet flushed, and crash(seed) replays a seeded choice of them (possibly
// tearing the last write at a sector boundary), the way kill -9 or a power cut would leave a disk.
import { StorageError, ValidationError } from '../errors.js';
import type { StorageAdapter, StorageCapacity, StoredFile } from '../ports/storage-adapter.js';
import { seededRandom } from '../random.js';
import { chooseCrashSurvivors, type PendingStorageOp } from './crash-survivors.js';
import { checkByteRange, checkFileSize, checkStorageName, checkStoragePrefix } from './storage-names.js';

/** Content lives in chunks of this many bytes; an absent chunk reads as zeros, so sparse files cost nothing. */
const CHUNK_BYTES = 64 * 1024;
/** Smallest buffer a chunk starts with, so that small files (manifests, markers) do not each pin 64 KiB. */
const MIN_CHUNK_BUFFER = 4096;
const DEFAULT_CAPACITY_BYTES = 2 ** 40;

export interface MemoryStorageOptions {
  /** Total bytes the store may hold (default 1 TiB); writes past it fail with reason 'full'. */
  capacityBytes?: number;
}

type PendingOp = PendingStorageOp;

/** A file's durable content. The map is its own; the buffers may be shared, so nobody modifies them in place. */
interface Snapshot {
  size: number;
  readonly chunks: Map<number, Buffer>;
}

/**
 * A file's content as sparse chunks. A chunk buffer covers the first `buffer.length` bytes of its
 * 64 KiB slot (the rest is zero) and bytes at or past `size` are always zero, so growing reads zeros.
 */
class SparseImage {
  size = 0;
  /** Sum of the chunk buffer lengths: what this image costs, and what capacity() counts. */
  held = 0;
  readonly chunks = new Map<number, Buffer>();
  /** Chunks whose buffers no snapshot shares, so they may be patched in place (copy-on-write otherwise). */
  readonly owned = new Set<number>();
  /** Chunks changed since the last flush: all a flush has to copy into the durable snapshot. */
  readonly dirty = new Set<number>();

  static from(snapshot: Snapshot): SparseImage {
    const image = new SparseImage();
    image.size = snapshot.size;
    for (const [index, buffer] of snapshot.chunks) {
      image.chunks.set(index, buffer);
      image.held += buffer.length;
    }
    return image;
  }

  read(offset: number, length: number): Buffer {
    const out = Buffer.alloc(length);
    const end = Math.min(offset + length, this.size);
    for (const index of this.indicesIn(offset, end)) {
      const buffer = this.chunks.get(index);
      if (buffer === undefined) continue;
      const base = index * CHUNK_BYTES;
      const from = Math.max(offset, base);
      const to = Math.min(end, base + buffer.length);
      if (from < to) buffer.copy(out, from - offset, from - base, to - base);
    }
    return out;
  }

  /** Bytes `held` would grow by if `length` bytes were written at `offset`. */
  growthFor(offset: number, length: number): number {
    let growth = 0;
    this.forEachSlot(offset, length, (index, within, count) => {
      const old = this.chunks.get(index)?.length ?? 0;
      growth += grownLength(old, within + count) - old;
    });
    return growth;
  }

  write(offset: number, data: Buffer): void {
    if (data.length === 0) return;
    this.forEachSlot(offset, data.length, (index, within, count, done) => {
      data.copy(this.writable(index, within + count), within, done, done + count);
    });
    this.size = Math.max(this.size, offset + data.length);
  }

  /** Trim as the local store does it: a range reaching the end truncates, a range inside reads zero. */
  trim(offset: number, length: number): void {
    if (length === 0 || offset >= this.size) return;
    if (offset + length >= this.size) {
      this.resize(offset);
      return;
    }
    const end = offset + length;
    for (const index of this.indicesIn(offset, end)) {
      const buffer = this.chunks.get(index);
      if (buffer === undefined) continue;
      const base = index * CHUNK_BYTES;
      if (offset <= base && end >= base + CHUNK_BYTES) {
        this.drop(index);
        continue;
      }
      const from = Math.max(offset, base) - base;
      const to = Math.min(end - base, buffer.length);
      if (from < to) this.writable(index, buffer.length).fill(0, from, to);
    }
  }

  resize(size: number): void {
    if (size < this.size) {
      const keep = Math.floor(size / CHUNK_BYTES);
      const within = size - keep * CHUNK_BYTES;
      for (const index of this.indicesIn(size, this.size)) {
        if (index > keep || within === 0) this.drop(index);
      }
      const buffer = this.chunks.get(keep);
      if (within > 0 && buffer !== undefined && buffer.length > within) {
        // A shorter copy both zeroes the cut-off tail and gives its memory back.
        this.replaceChunk(keep, Buffer.from(buffer.subarray(0, within)));
      }
    }
    this.size = size;
  }

  apply(op: PendingOp): void {
    if (op.kind === 'write') this.write(op.offset, op.data);
    else if (op.kind === 'trim') this.trim(op.offset, op.length);
    else this.resize(op.size);
  }

  /** Hands out the chunks as a snapshot; from now on they are shared, so later writes copy them first. */
  freeze(): Snapshot {
    this.owned.clear();
    this.dirty.clear();
    return { size: this.size, chunks: new Map(this.chunks) };
  }

  /** Existing chunk indices overlapping [from, to), found by whichever is cheaper: the range or the map. */
  private indicesIn(from: number, to: number): number[] {
    if (from >= to) return [];
    const first = Math.floor(from / CHUNK_BYTES);
    const last = Math.floor((to - 1) / CHUNK_BYTES);
    if (last - first + 1 <= this.chunks.size) {
      const indices: number[] = [];
      for (let index = first; index <= last; index++) if (this.chunks.has(index)) indices.push(index);
      return indices;
    }
    return [...this.chunks.keys()].filter((index) => index >= first && index <= last).sort((a, b) => a - b);
  }

  private forEachSlot(offset: number, length: number, visit: (index: number, within: number, count: number, done: number) => void): void {
    for (let done = 0; done < length;) {
      const at = offset + done;
      const index = Math.floor(at / CHUNK_BYTES);
      const within = at - index * CHUNK_BYTES;
      const count = Math.min(CHUNK_BYTES - within, length - done);
      visit(index, within, count, done);
      done += count;
    }
  }

  /** A buffer for chunk `index` of at least `minLength` bytes that this image alone may modify. */
  private writable(index: number, minLength: number): Buffer {
    const old = this.chunks.get(index);
    if (old !== undefined && old.length >= minLength && this.owned.has(index)) {
      this.dirty.add(index);
      return old;
    }
    const buffer = Buffer.alloc(grownLength(old?.length ?? 0, minLength));
    old?.copy(buffer);
    this.replaceChunk(index, buffer);
    return buffer;
  }

  private replaceChunk(index: number, buffer: Buffer): void {
    this.held += buffer.length - (this.chunks.get(index)?.length ?? 0);
    this.chunks.set(index, buffer);
    this.owned.add(index);
    this.dirty.add(index);
  }

  private drop(index: number): void {
    this.held -= this.chunks.get(index)?.length ?? 0;
    this.chunks.delete(index);
    this.owned.delete(index);
    this.dirty.add(index);
  }
}

/** Chunk buffers grow by doubling, so appending small records to a chunk does not copy it over and over. */
function grownLength(oldLength: number, minLength: number): number {
  if (oldLength >= minLength) return oldLength;
  return Math.min(CHUNK_BYTES, Math.max(minLength, oldLength * 2, MIN_CHUNK_BUFFER));
}

/** One file: what a crash is sure to keep, what has happened since, and what readers see now. */
class MemoryFile {
  volatile: SparseImage;
  durable: Snapshot;
  pending: PendingOp[] = [];

  constructor(content: Buffer, size: number) {
    this.volatile = new SparseImage();
    this.volatile.write(0, content);
    this.volatile.resize(Math.max(size, content.length));
    this.durable = this.volatile.freeze();
  }

  flush(): void {
    if (this.pending.length === 0) return;
    // Only the chunks touched since the last flush move over, so flushing a big volume stays cheap.
    const { chunks } = this.durable;
    for (const index of this.volatile.dirty) {
      const buffer = this.volatile.chunks.get(index);
      if (buffer === undefined) chunks.delete(index);
      else chunks.set(index, buffer);
    }
    // Those buffers are shared with the durable image now: the next write to them must copy first.
    this.volatile.owned.clear();
    this.volatile.dirty.clear();
    this.durable.size = this.volatile.size;
    this.pending = [];
  }

  /** Keeps the first `keep` pending ops, the last of them cut to `lastBytes` when it is a torn write. */
  settle(keep: number, lastBytes?: number): void {
    const image = SparseImage.from(this.durable);
    this.pending.slice(0, keep).forEach((op, i) => {
      if (i === keep - 1 && op.kind === 'write' && lastBytes !== undefined) image.write(op.offset, op.data.subarray(0, lastBytes));
      else image.apply(op);
    });
    this.durable = image.freeze();
    this.volatile = image;
    this.pending = [];
  }
}

/** What a handle needs from its store: whether it survived the last crash, and room for more data. */
interface HandleContext {
  generation(): number;
  ensureRoom(name: string, extraBytes: number): void;
}

export class MemoryStorage implements StorageAdapter {
  readonly kind = 'memory';
  private readonly capacityBytes: number;
  // File existence is durable at once (as if every create, delete and rename synced its folder); only
  // contents are volatile. A file deleted or replaced while open lives on for its handles, like an unlinked inode.
  private readonly files = new Map<string, MemoryFile>();
  private readonly context: HandleContext;
  private generation = 0;

  constructor(options: MemoryStorageOptions = {}) {
    const capacity = options.capacityBytes ?? DEFAULT_CAPACITY_BYTES;
    if (!Number.isSafeInteger(capacity) || capacity < 0) {
      throw new ValidationError(`memory storage capacity ${capacity} is not a non-negative integer`, 'capacityBytes');
    }
    this.capacityBytes = capacity;
    this.context = {
      generation: () => this.generation,
      ensureRoom: (name, extraBytes) => this.ensureRoom(name, extraBytes),
    };
  }

  /** Bytes held by the files' current content (chunk buffers), the figure capacity() counts against. */
  usedBytes(): number {
    let used = 0;
    for (const file of this.files.values()) used += file.volatile.held;
    return used;
  }

  async capacity(): Promise<StorageCapacity> {
    return { totalBytes: this.capacityBytes, freeBytes: Math.max(0, this.capacityBytes - this.usedBytes()) };
  }

  async open(name: string, options: { create?: boolean; size?: number } = {}): Promise<StoredFile> {
    checkStorageName(name);
    if (options.size !== undefined) checkFileSize(name, options.size);
    let file = this.files.get(name);
    if (file === undefined) {
      if (!options.create) throw new StorageError(`file '${name}' does not exist`, 'missing');
      this.checkNoFolderClash(name);
      // The initial size is durable along with the file's existence: it is part of creating it.
      file = new MemoryFile(Buffer.alloc(0), options.size ?? 0);
      this.files.set(name, file);
    }
    return new MemoryStoredFile(name, file, this.context, this.generation);
  }

  async exists(name: string): Promise<boolean> {
    checkStorageName(name);
    return this.files.has(name);
  }

  async list(prefix: string): Promise<string[]> {
    checkStoragePrefix(prefix);
    return [...this.files.keys()].filter((name) => name.startsWith(prefix)).sort();
  }

  async delete(name: string): Promise<void> {
    checkStorageName(name);
    this.files.delete(name);
  }

  async replace(name: string, data: Buffer): Promise<void> {
    checkStorageName(name);
    const old = this.files.get(name);
    if (old === undefined) this.checkNoFolderClash(name);
    const incoming = new MemoryFile(data, data.length);
    this.ensureRoom(name, incoming.volatile.held - (old?.volatile.held ?? 0));
    // Durable at once, content and name together: that is what write + flush + rename + folder sync give.
    this.files.set(name, incoming);
  }

  async readAll(name: string): Promise<Buffer | undefined> {
    checkStorageName(name);
    const file = this.files.get(name);
    return file?.volatile.read(0, file.volatile.size);
  }

  /**
   * Simulates kill -9 or a power cut of everything using this store. Per file, seeded: all unflushed
   * operations are lost, or only a prefix of them reached the disk, whose last write may be torn at a
   * sector boundary. Open handles die. The same history and seed always give the same result.
   */
  crash(seed: number): void {
    const random = seededRandom(seed);
    this.generation++;
    for (const name of [...this.files.keys()].sort()) {
      const file = this.files.get(name);
      if (file === undefined) continue;
      // Files with nothing pending are rebuilt from their durable image too, so a crash shows only what flush really kept.
      const [keep, lastBytes] = file.pending.length === 0 ? [0, undefined] : chooseCrashSurvivors(random, file.pending);
      file.settle(keep, lastBytes);
    }
  }

  private ensureRoom(name: string, extraBytes: number): void {
    if (extraBytes <= 0) return;
    const used = this.usedBytes();
    if (used + extraBytes > this.capacityBytes) {
      throw new StorageError(`no room for ${extraBytes} more bytes in '${name}': memory storage holds ${used} of ${this.capacityBytes} bytes`, 'full');
    }
  }

  /** On disk a file cannot also be a folder; refusing it here keeps the fake as strict as the real thing. */
  private checkNoFolderClash(name: string): void {
    const segments = name.split('/');
    for (let i = 1; i < segments.length; i++) {
      const folder = segments.slice(0, i).join('/');
      if (this.files.has(folder)) throw new StorageError(`cannot create '${name}': '${folder}' is a file, not a folder`, 'io');
    }
    const below = `${name}/`;
    for (const other of this.files.keys()) {
      if (other.startsWith(below)) throw new StorageError(`cannot create '${name}': it is a folder`, 'io');
    }
  }
}

class MemoryStoredFile implements StoredFile {
  private closed = false;

  constructor(
    readonly name: string,
    private readonly file: MemoryFile,
    private readonly context: HandleContext,
    private readonly generation: number,
  ) {}

  async size(): Promise<number> {
    this.checkOpen();
    return this.file.volatile.size;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    this.checkOpen();
    checkByteRange(this.name, offset, length);
    return this.file.volatile.read(offset, length);
  }

  async write(offset: number, data: Buffer | readonly Buffer[]): Promise<void> {
    this.checkOpen();
    // Always a private copy: the caller may reuse its buffers, and the pending op must keep what was written.
    const copy = Buffer.concat(Buffer.isBuffer(data) ? [data] : data);
    checkByteRange(this.name, offset, copy.length);
    if (copy.length === 0) return;
    this.context.ensureRoom(this.name, this.file.volatile.growthFor(offset, copy.length));
    this.file.volatile.write(offset, copy);
    this.file.pending.push({ kind: 'write', offset, data: copy });
  }

  async flush(): Promise<void> {
    this.checkOpen();
    this.file.flush();
  }

  async trim(offset: number, length: number): Promise<void> {
    this.checkOpen();
    checkByteRange(this.name, offset, length);
    this.file.volatile.trim(offset, length);
    this.file.pending.push({ kind: 'trim', offset, length });
  }

  async resize(size: number): Promise<void> {
    this.checkOpen();
    checkFileSize(this.name, size);
    this.file.volatile.resize(size);
    this.file.pending.push({ kind: 'resize', size });
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private checkOpen(): void {
    if (this.closed) throw new StorageError(`file '${this.name}' is closed`, 'closed');
    if (this.generation !== this.context.generation()) {
      throw new StorageError(`file '${this.name}' was closed by a simulated crash`, 'closed');
    }
  }
}
