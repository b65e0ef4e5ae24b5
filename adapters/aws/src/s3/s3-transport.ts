// The S3 calls the storage adapter makes, in one place: every request goes through `send`, which counts
// requests in flight (so a harness on a virtual clock can wait for the store to be idle), aborts them all
// when the storage is "crashed" (as kill -9 would cut its connections), bounds data transfers, and turns
// SDK failures into S3StorageErrors that name the AWS code and what to do.
import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import {
  DeleteObjectsCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import pLimit, { type LimitFunction } from 'p-limit';
import { StorageError } from '@opencdp/core';
import { awsCodeOf, S3StorageError } from '../aws-errors.js';

/** S3's limit on the keys one DeleteObjects call may name. */
const DELETE_BATCH = 1000;
/** S3's smallest multipart part (except the last). */
export const MIN_PART_BYTES = 5 * 1024 * 1024;

export interface S3TransportOptions {
  client: S3Client;
  bucket: string;
  /** Data transfers (chunk uploads and downloads) in flight at once. */
  concurrency: number;
  /** Objects this large or larger are uploaded in parts (lib-storage's Upload), smaller ones with one PUT. */
  multipartThresholdBytes: number;
  partBytes: number;
}

export interface ObjectHead {
  size: number;
  metadata: Record<string, string>;
}

export interface ListedObject {
  key: string;
  size: number;
}

export function sha256Hex(data: Buffer | readonly Buffer[]): string {
  const hash = createHash('sha256');
  for (const b of Buffer.isBuffer(data) ? [data] : data) hash.update(b);
  return hash.digest('hex');
}

export class S3Transport {
  readonly bucket: string;
  private readonly client: S3Client;
  private readonly limit: LimitFunction;
  private abort = unboundedAbortController();
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly options: S3TransportOptions) {
    this.client = options.client;
    this.bucket = options.bucket;
    this.limit = pLimit(options.concurrency);
  }

  /** Requests in flight right now. */
  get pending(): number {
    return this.inFlight.size;
  }

  /** Resolves once no request is in flight (new ones may start right after). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** Aborts every request in flight (they reject with reason 'closed'); later requests run normally. */
  abortAll(): void {
    this.abort.abort();
    this.abort = unboundedAbortController();
  }

  /** Runs a data transfer under the concurrency bound (counted as in flight while it waits its turn). */
  transfer<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.limit(fn);
    this.inFlight.add(p);
    void p.then(() => this.inFlight.delete(p), () => this.inFlight.delete(p));
    return p;
  }

  /** Throws (NoSuchBucket as reason 'missing', bad credentials as 'io') unless the bucket can be reached. */
  async checkBucket(): Promise<void> {
    try {
      await this.send(`reach bucket '${this.bucket}'`, (abortSignal) => this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal }));
    } catch (error) {
      // HEAD answers carry no body, so a missing bucket arrives as a bare 404.
      if (error instanceof S3StorageError && (error.awsCode === 'NotFound' || error.awsCode === 'NoSuchBucket')) {
        throw new S3StorageError('NoSuchBucket', `bucket '${this.bucket}' does not exist`, 'missing');
      }
      throw error;
    }
  }

  async head(key: string, what: string): Promise<ObjectHead | undefined> {
    try {
      const out = await this.send(what, (abortSignal) => this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal }));
      return { size: out.ContentLength ?? 0, metadata: out.Metadata ?? {} };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** The object's bytes (or a range of them) and metadata; undefined when it does not exist. */
  async get(key: string, what: string, range?: { offset: number; length: number }): Promise<{ data: Buffer; metadata: Record<string, string>; size: number } | undefined> {
    try {
      return await this.send(what, async (abortSignal) => {
        const out = await this.client.send(new GetObjectCommand({
          Bucket: this.bucket, Key: key, ...(range ? { Range: `bytes=${range.offset}-${range.offset + range.length - 1}` } : {}),
        }), { abortSignal });
        const data = Buffer.from(await out.Body!.transformToByteArray());
        const expected = out.ContentLength;
        if (expected !== undefined && data.length !== expected) {
          throw new S3StorageError('IncompleteBody', `${what}: S3 sent ${data.length} of ${expected} bytes`, 'io', 'the connection was cut mid-transfer; retry');
        }
        const size = range ? Number(/\/(\d+)$/.exec(out.ContentRange ?? '')?.[1] ?? Number.NaN) : data.length;
        return { data, metadata: out.Metadata ?? {}, size };
      });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async put(key: string, body: Buffer, metadata: Record<string, string>, what: string, options: { ifNoneMatch?: boolean } = {}): Promise<void> {
    if (body.length >= this.options.multipartThresholdBytes) {
      await this.send(what, async (abortSignal) => {
        const upload = new Upload({
          client: this.client,
          params: { Bucket: this.bucket, Key: key, Body: body, Metadata: metadata },
          partSize: Math.max(MIN_PART_BYTES, this.options.partBytes),
          queueSize: 4,
          // A failed upload aborts its multipart upload: no parts are left billed, no object appears.
          leavePartsOnError: false,
        });
        const onAbort = (): void => { void upload.abort(); };
        abortSignal.addEventListener('abort', onAbort, { once: true });
        try {
          await upload.done();
        } finally {
          abortSignal.removeEventListener('abort', onAbort);
        }
      });
      return;
    }
    await this.send(what, (abortSignal) => this.client.send(new PutObjectCommand({
      Bucket: this.bucket, Key: key, Body: body, Metadata: metadata, ContentLength: body.length,
      // On AWS S3 this fences creation (412 if the key exists); s3rver accepts it without enforcing it.
      ...(options.ifNoneMatch ? { IfNoneMatch: '*' } : {}),
    }), { abortSignal }));
  }

  /** Every object under a prefix, in key order. */
  async list(prefix: string, what: string, maxKeys?: number): Promise<ListedObject[]> {
    const out: ListedObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.send(what, (abortSignal) => this.client.send(new ListObjectsV2Command({
        Bucket: this.bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}), ...(maxKeys ? { MaxKeys: maxKeys } : {}),
      }), { abortSignal }));
      for (const c of page.Contents ?? []) if (c.Key !== undefined) out.push({ key: c.Key, size: c.Size ?? 0 });
      token = page.IsTruncated && !maxKeys ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  /** Deletes the keys (missing ones are no error), in batches of 1000. */
  async deleteMany(keys: readonly string[], what: string): Promise<void> {
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      const out = await this.send(what, (abortSignal) => this.client.send(new DeleteObjectsCommand({
        Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
      }), { abortSignal }));
      const failed = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (failed.length > 0) {
        const first = failed[0];
        throw new S3StorageError(first.Code ?? 'UnknownError', `${what}: ${failed.length} object(s) could not be deleted, first '${first.Key}': ${first.Message ?? ''}`);
      }
    }
  }

  /** One S3 call: counted, abortable, its failure mapped to a StorageError. */
  private async send<T>(what: string, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const signal = this.abort.signal;
    const p = call(signal);
    this.inFlight.add(p);
    try {
      return await p;
    } catch (error) {
      if (signal.aborted) throw new StorageError(`${what}: the request was cut off (the storage was closed by a simulated crash)`, 'closed');
      throw toStorageError(what, error);
    } finally {
      this.inFlight.delete(p);
    }
  }
}

/** Every request in flight listens on the one signal: lift Node's default warning threshold of 10 listeners. */
function unboundedAbortController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

function isNotFound(error: unknown): boolean {
  if (error instanceof S3StorageError) return error.awsCode === 'NoSuchKey' || error.awsCode === 'NotFound';
  const { code, status } = awsCodeOf(error);
  return code === 'NoSuchKey' || code === 'NotFound' || (status === 404 && code !== 'NoSuchBucket');
}

/** S3 failures as StorageErrors: a missing bucket is 'missing', everything else 'io'; own errors pass through. */
export function toStorageError(what: string, error: unknown): StorageError {
  if (error instanceof StorageError) return error;
  const { code, status, message } = awsCodeOf(error);
  return new S3StorageError(code, `${what}: S3 answered ${code}${status ? ` (HTTP ${status})` : ''}: ${message}`, code === 'NoSuchBucket' ? 'missing' : 'io');
}
