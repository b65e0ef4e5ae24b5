// StorageAdapter on S3, so a recovery appliance keeps its journals and replica volumes in a bucket.
// Layout under the configured prefix: `f/<name>` is a file's head object and `c/<id>/…` its chunk
// objects (see s3-stored-file.ts). A file made by `replace` is one head object holding the bytes
// themselves. `replace` is atomic without a rename because one PUT is: S3 stores a new object whole or
// not at all and readers see the old or the new one (strong read-after-write consistency), so the head
// object is the commit point of every change of a file's identity; chunk objects a crash orphans are
// never read (their incarnation id is not in any head). Only one appliance may use a prefix at a time:
// on AWS, creating a file is fenced with If-None-Match; s3rver does not enforce it, so nothing relies on it.
import { randomBytes } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { LRUCache } from 'lru-cache';
import {
  StorageError, ValidationError, checkFileSize, checkStorageName, checkStoragePrefix,
} from '@opencdp/core';
import type { StorageAdapter, StorageCapacity, StoredFile } from '@opencdp/core';
import { AwsChecksumError, S3StorageError } from '../aws-errors.js';
import { S3StoredFile, type ChunkedHead, type FileContext } from './s3-stored-file.js';
import { S3Transport, sha256Hex } from './s3-transport.js';

const KiB = 1024;
const MiB = 1024 * KiB;
/** S3's longest key, in UTF-8 bytes. */
const MAX_KEY_BYTES = 1024;

export interface S3StorageOptions {
  client: S3Client;
  bucket: string;
  /** Key prefix of everything this storage writes: '' or ending in '/'. */
  prefix?: string;
  /** Chunk size of files (default 8 MiB): a multiple of 4 KiB between 64 KiB and 512 MiB. */
  chunkBytes?: number;
  /** Objects this large are sent as multipart uploads (default 16 MiB). */
  multipartThresholdBytes?: number;
  /** Part size of multipart uploads (default 8 MiB; S3's minimum is 5 MiB). */
  partBytes?: number;
  /** Unflushed bytes held in memory across files before writes wait for uploads (default 256 MiB). */
  maxDirtyBytes?: number;
  /** Clean chunks kept for reads and read-modify-writes (default 64 MiB). */
  cacheBytes?: number;
  /** Chunk uploads and downloads in flight at once (default 8). */
  concurrency?: number;
  /** What `capacity` reports: S3 has no capacity of its own (default 1 PiB). */
  quotaBytes?: number;
  /** Incarnation ids of new files (default: 64 random bits in hex). */
  newId?: () => string;
}

type Known = { layout: 'inline' } | { layout: 'chunked'; id: string };

export class S3Storage implements StorageAdapter {
  readonly kind = 's3';
  readonly bucket: string;
  readonly prefix: string;
  readonly chunkBytes: number;
  private readonly transport: S3Transport;
  private readonly quotaBytes: number;
  private readonly newId: () => string;
  private readonly context: FileContext;
  private generationValue = 0;
  /** Names known to exist (created, opened or read here): their creation checks are skipped. */
  private readonly known = new Map<string, Known>();
  private readonly serials = new WeakMap<S3StoredFile, number>();
  private nextSerial = 0;
  private readonly clean: LRUCache<string, { file: S3StoredFile; index: number; bytes: number }>;

  constructor(options: S3StorageOptions) {
    const prefix = options.prefix ?? '';
    if (prefix !== '' && (!prefix.endsWith('/') || prefix.startsWith('/'))) {
      throw new ValidationError(`S3 prefix '${prefix}' must be empty or end with '/' (and not start with one)`, 'prefix');
    }
    const chunkBytes = options.chunkBytes ?? 8 * MiB;
    if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 64 * KiB || chunkBytes > 512 * MiB || chunkBytes % (4 * KiB) !== 0) {
      throw new ValidationError(`chunk size ${chunkBytes} must be a multiple of 4 KiB between 64 KiB and 512 MiB`, 'chunkBytes');
    }
    if (typeof options.bucket !== 'string' || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(options.bucket)) {
      throw new ValidationError(`'${options.bucket}' is not a valid S3 bucket name`, 'bucket', 'use 3 to 63 lower-case letters, digits, dots and hyphens');
    }
    this.bucket = options.bucket;
    this.prefix = prefix;
    this.chunkBytes = chunkBytes;
    this.quotaBytes = options.quotaBytes ?? 2 ** 50;
    this.newId = options.newId ?? (() => randomBytes(8).toString('hex'));
    this.transport = new S3Transport({
      client: options.client,
      bucket: options.bucket,
      concurrency: options.concurrency ?? 8,
      multipartThresholdBytes: options.multipartThresholdBytes ?? 16 * MiB,
      partBytes: options.partBytes ?? 8 * MiB,
    });
    this.clean = new LRUCache({
      maxSize: options.cacheBytes ?? 64 * MiB,
      sizeCalculation: (v) => Math.max(1, v.bytes),
      dispose: (v, _key, reason) => { if (reason === 'evict') v.file.evict(v.index); },
    });
    const storage = this;
    this.context = {
      transport: this.transport,
      headKey: (name) => this.headKey(name),
      chunkPrefix: (id) => `${this.prefix}c/${id}/`,
      generation: () => this.generationValue,
      keepClean: (file, index, bytes) => {
        const key = `${this.serialOf(file)}:${index}`;
        if (bytes === 0) this.clean.get(key);
        else this.clean.set(key, { file, index, bytes });
      },
      forgetClean: (file, index) => { this.clean.delete(`${this.serialOf(file)}:${index}`); },
      dirtyBytes: 0,
      maxDirtyBytes: options.maxDirtyBytes ?? 256 * MiB,
      get where(): string { return `s3://${storage.bucket}/${storage.prefix}`; },
    };
  }

  /** `s3://bucket/prefix/`, for messages. */
  get where(): string {
    return `s3://${this.bucket}/${this.prefix}`;
  }

  /** Requests in flight. */
  get pendingRequests(): number {
    return this.transport.pending;
  }

  /** Unflushed bytes held in memory. */
  get dirtyBytes(): number {
    return this.context.dirtyBytes;
  }

  /** Throws a typed error (NoSuchBucket, bad credentials…) unless the bucket can be reached. */
  async check(): Promise<void> {
    await this.transport.checkBucket();
  }

  /**
   * Resolves once no S3 request is in flight and none started over two event-loop turns (work a request
   * completion starts, such as the next upload, counts): what a harness on a virtual clock waits for.
   */
  async idle(): Promise<void> {
    for (let quiet = 0; quiet < 2;) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.transport.pending > 0) {
        quiet = 0;
        await this.transport.settled();
      } else quiet++;
    }
  }

  /**
   * What kill -9 of the appliance does to this storage: requests in flight are cut off (an object whose
   * PUT did not finish never appears), unflushed writes are lost, and files opened so far are closed.
   */
  crash(): void {
    this.generationValue++;
    this.transport.abortAll();
    this.known.clear();
    this.clean.clear();
    this.context.dirtyBytes = 0;
  }

  async capacity(): Promise<StorageCapacity> {
    return { totalBytes: this.quotaBytes, freeBytes: this.quotaBytes };
  }

  async open(name: string, options: { create?: boolean; size?: number } = {}): Promise<StoredFile> {
    this.checkName(name);
    if (options.size !== undefined) checkFileSize(name, options.size);
    const existing = await this.readHead(name);
    if (existing?.layout === 'chunked') return this.openChunked(name, existing.head);
    if (existing?.layout === 'inline') return this.convertInline(name, existing.data);
    if (!options.create) throw new StorageError(`file '${name}' does not exist in ${this.where}`, 'missing');
    await this.checkCreatable(name);
    const head: ChunkedHead = { v: 1, id: this.newId(), size: options.size ?? 0, chunkBytes: this.chunkBytes };
    try {
      await this.transport.put(this.headKey(name), Buffer.from(JSON.stringify(head)), { 'ocdp-layout': 'chunked' }, `create '${name}' in ${this.where}`, { ifNoneMatch: true });
    } catch (error) {
      // Created meanwhile by someone else (AWS answers 412 or 409 to If-None-Match): open theirs, as open(create) of an existing file does.
      if (!(error instanceof S3StorageError) || (error.awsCode !== 'PreconditionFailed' && error.awsCode !== 'ConditionalRequestConflict')) throw error;
      return this.open(name);
    }
    return this.openChunked(name, head);
  }

  async exists(name: string): Promise<boolean> {
    this.checkName(name);
    if (this.known.has(name)) return true;
    return (await this.transport.head(this.headKey(name), `look up '${name}' in ${this.where}`)) !== undefined;
  }

  async list(prefix: string): Promise<string[]> {
    checkStoragePrefix(prefix);
    const base = `${this.prefix}f/`;
    const objects = await this.transport.list(base + prefix, `list '${prefix}' in ${this.where}`);
    return objects.map((o) => o.key.slice(base.length)).sort();
  }

  async delete(name: string): Promise<void> {
    this.checkName(name);
    const head = await this.readHead(name);
    if (!head) return;
    // The head first: once it is gone the file is gone; chunks left by a crash here are never read.
    await this.transport.deleteMany([this.headKey(name)], `delete '${name}' in ${this.where}`);
    this.known.delete(name);
    if (head.layout === 'chunked') await this.deleteChunks(head.head.id, name);
  }

  async replace(name: string, data: Buffer): Promise<void> {
    this.checkName(name);
    const known = this.known.get(name);
    let previous: Known | undefined = known;
    if (!known) {
      const head = await this.transport.head(this.headKey(name), `look up '${name}' in ${this.where}`);
      if (head) previous = head.metadata['ocdp-layout'] === 'chunked' ? await this.chunkedIdOf(name) : { layout: 'inline' };
      else await this.checkCreatable(name);
    }
    await this.transport.put(this.headKey(name), data, { 'ocdp-layout': 'inline', 'ocdp-sha256': sha256Hex(data) }, `replace '${name}' in ${this.where}`);
    this.known.set(name, { layout: 'inline' });
    if (previous?.layout === 'chunked') await this.deleteChunks(previous.id, name).catch(() => undefined);
  }

  async readAll(name: string): Promise<Buffer | undefined> {
    this.checkName(name);
    const head = await this.readHead(name);
    if (!head) return undefined;
    if (head.layout === 'inline') return head.data;
    const file = await S3StoredFile.open(name, this.context, head.head);
    return file.read(0, await file.size());
  }

  // ---- internals ---------------------------------------------------------------------------

  private headKey(name: string): string {
    return `${this.prefix}f/${name}`;
  }

  private checkName(name: string): void {
    checkStorageName(name);
    if (Buffer.byteLength(this.headKey(name)) > MAX_KEY_BYTES) {
      throw new ValidationError(`storage name '${name.slice(0, 40)}…' makes an S3 key longer than ${MAX_KEY_BYTES} bytes`, 'name', 'use a shorter name or prefix');
    }
  }

  private serialOf(file: S3StoredFile): number {
    let s = this.serials.get(file);
    if (s === undefined) {
      s = this.nextSerial++;
      this.serials.set(file, s);
    }
    return s;
  }

  private async openChunked(name: string, head: ChunkedHead): Promise<S3StoredFile> {
    const file = await S3StoredFile.open(name, this.context, head);
    this.known.set(name, { layout: 'chunked', id: head.id });
    return file;
  }

  /** A file made by `replace` opened for writing becomes chunked: chunks first, then the head (the commit). */
  private async convertInline(name: string, data: Buffer): Promise<S3StoredFile> {
    const head: ChunkedHead = { v: 1, id: this.newId(), size: data.length, chunkBytes: this.chunkBytes };
    const staging = await S3StoredFile.open(name, this.context, head);
    await staging.write(0, data);
    await staging.close();
    await this.transport.put(this.headKey(name), Buffer.from(JSON.stringify(head)), { 'ocdp-layout': 'chunked' }, `convert '${name}' in ${this.where}`);
    return this.openChunked(name, head);
  }

  private async readHead(name: string, attempt = 1): Promise<{ layout: 'inline'; data: Buffer } | { layout: 'chunked'; head: ChunkedHead } | undefined> {
    const got = await this.transport.get(this.headKey(name), `read '${name}' from ${this.where}`);
    if (!got) {
      this.known.delete(name);
      return undefined;
    }
    const layout = got.metadata['ocdp-layout'];
    if (layout === 'inline') {
      const expected = got.metadata['ocdp-sha256'];
      const actual = sha256Hex(got.data);
      if (expected !== undefined && expected !== actual) {
        // Read again before refusing: damage in transit, or a store whose PUT is not atomic (s3rver writes
        // data and metadata apart) read while a concurrent replace lands. Damage at rest stays a mismatch.
        if (attempt < 3) return this.readHead(name, attempt + 1);
        throw new AwsChecksumError(`object '${this.headKey(name)}' of '${name}'`, expected, actual);
      }
      this.known.set(name, { layout: 'inline' });
      return { layout, data: got.data };
    }
    if (layout === 'chunked') {
      const head = parseHead(got.data);
      if (head) {
        this.known.set(name, { layout: 'chunked', id: head.id });
        return { layout, head };
      }
    }
    throw new S3StorageError('MalformedObject', `object '${this.headKey(name)}' in bucket '${this.bucket}' is not a file head this adapter wrote (layout '${layout ?? 'none'}')`, 'io',
      'the prefix holds objects OpenCDP did not write, or they were damaged or truncated; use an empty prefix, or restore the object');
  }

  private async chunkedIdOf(name: string): Promise<Known | undefined> {
    const head = await this.readHead(name);
    return head?.layout === 'chunked' ? { layout: 'chunked', id: head.head.id } : head ? { layout: 'inline' } : undefined;
  }

  private async deleteChunks(id: string, name: string): Promise<void> {
    const objects = await this.transport.list(`${this.prefix}c/${id}/`, `list the chunks of '${name}' in ${this.where}`);
    await this.transport.deleteMany(objects.map((o) => o.key), `delete the chunks of '${name}' in ${this.where}`);
  }

  /** A new file may not sit below a file (`a` is a file, `a/b` is asked for) nor where a folder is. */
  private async checkCreatable(name: string): Promise<void> {
    const segments = name.split('/');
    const ancestors = segments.slice(0, -1).map((_, i) => segments.slice(0, i + 1).join('/'));
    const [asFolder, ...files] = await Promise.all([
      this.transport.list(`${this.headKey(name)}/`, `look up '${name}/' in ${this.where}`, 1),
      ...ancestors.map((a) => this.known.has(a) ? Promise.resolve(true) : this.transport.head(this.headKey(a), `look up '${a}' in ${this.where}`).then((h) => h !== undefined)),
    ]);
    if (asFolder.length > 0) throw new StorageError(`cannot create '${name}' in ${this.where}: it is a folder of other files`, 'io');
    const file = ancestors.find((_, i) => files[i]);
    if (file !== undefined) throw new StorageError(`cannot create '${name}' in ${this.where}: '${file}' is a file, not a folder`, 'io');
  }
}

function parseHead(data: Buffer): ChunkedHead | undefined {
  try {
    const h = JSON.parse(data.toString('utf8')) as Partial<ChunkedHead>;
    if (h.v === 1 && typeof h.id === 'string' && /^[0-9a-zA-Z_-]{1,64}$/.test(h.id) && Number.isSafeInteger(h.size) && h.size! >= 0
      && Number.isSafeInteger(h.chunkBytes) && h.chunkBytes! > 0) return h as ChunkedHead;
  } catch {
    // fall through: malformed
  }
  return undefined;
}
