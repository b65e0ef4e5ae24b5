// The EBS direct APIs as the adapter uses them: writing a snapshot block by block (512 KiB blocks with
// their base64 SHA-256, bounded parallelism, CompleteSnapshot with the block count and the LINEAR
// aggregated checksum) and reading one (block tokens from ListSnapshotBlocks / ListChangedBlocks,
// GetSnapshotBlock with its checksum verified). Throttling and 5xx answers are retried by the SDK's
// standard retry strategy (the client is built with several attempts); a block whose data does not
// match its checksum is read again, then refused with AwsChecksumError.
import { createHash } from 'node:crypto';
import {
  CompleteSnapshotCommand, GetSnapshotBlockCommand, ListChangedBlocksCommand, ListSnapshotBlocksCommand, PutSnapshotBlockCommand,
  StartSnapshotCommand, type EBSClient,
} from '@aws-sdk/client-ebs';
import pLimit, { type LimitFunction } from 'p-limit';
import { ValidationError } from '@opencdp/core';
import { AwsChecksumError, toAwsApiError } from '../aws-errors.js';

/** EBS's block size (512 KiB): snapshots are written and read in whole blocks. */
export const EBS_BLOCK_SIZE = 512 * 1024;
export const GIB = 1024 ** 3;
/** Reads of one block that fail their checksum before giving up. */
const CHECKSUM_ATTEMPTS = 3;

/** The EBS volume size (GiB) that holds `bytes`. */
export function gibFor(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / GIB));
}

export interface StartSnapshotOptions {
  volumeSizeGiB: number;
  parentSnapshotId?: string;
  description?: string;
  tags?: Record<string, string>;
  /** Idempotency token: a retried StartSnapshot with the same token returns the same snapshot. */
  clientToken?: string;
  /** Minutes before AWS abandons a snapshot not completed (10–4320; default 60). */
  timeoutMinutes?: number;
}

/** A snapshot being written: `put` blocks (in any order, in parallel), then `complete`. */
export class SnapshotUpload {
  private readonly digests = new Map<number, Buffer>();
  private readonly puts: Promise<void>[] = [];
  private failure: unknown;

  constructor(readonly snapshotId: string, readonly volumeSizeGiB: number, private readonly ebs: EbsDirect) {}

  /** Blocks written so far (ChangedBlocksCount). */
  get blocksWritten(): number {
    return this.digests.size;
  }

  /** Queues one block (a full 512 KiB block; a shorter last piece is padded with zeros). Resolves when it is stored. */
  put(index: number, data: Buffer): Promise<void> {
    if (!Number.isSafeInteger(index) || index < 0 || index >= (this.volumeSizeGiB * GIB) / EBS_BLOCK_SIZE) {
      return Promise.reject(new ValidationError(`block ${index} lies outside the ${this.volumeSizeGiB} GiB snapshot '${this.snapshotId}'`, 'index'));
    }
    if (data.length > EBS_BLOCK_SIZE) return Promise.reject(new ValidationError(`a block is at most ${EBS_BLOCK_SIZE} bytes, got ${data.length}`, 'data'));
    const block = data.length === EBS_BLOCK_SIZE ? data : Buffer.concat([data, Buffer.alloc(EBS_BLOCK_SIZE - data.length)]);
    const p = this.ebs.limit(async () => {
      const digest = createHash('sha256').update(block).digest();
      const checksum = digest.toString('base64');
      const out = await this.ebs.send('PutSnapshotBlock', () => this.ebs.client.send(new PutSnapshotBlockCommand({
        SnapshotId: this.snapshotId, BlockIndex: index, BlockData: block, DataLength: EBS_BLOCK_SIZE, Checksum: checksum, ChecksumAlgorithm: 'SHA256',
      })));
      if (out.Checksum !== undefined && out.Checksum !== checksum) throw new AwsChecksumError(`block ${index} of snapshot '${this.snapshotId}' as stored`, checksum, out.Checksum);
      this.digests.set(index, digest);
    });
    const tracked = p.catch((e: unknown) => {
      this.failure ??= e;
      throw e;
    });
    this.puts.push(tracked.catch(() => undefined));
    return tracked;
  }

  /** Waits for every put, then seals the snapshot with the count and LINEAR checksum; AWS completes it asynchronously. */
  async complete(): Promise<void> {
    await Promise.all(this.puts);
    if (this.failure !== undefined) throw this.failure;
    const hash = createHash('sha256');
    for (const i of [...this.digests.keys()].sort((a, b) => a - b)) hash.update(this.digests.get(i)!);
    await this.ebs.send('CompleteSnapshot', () => this.ebs.client.send(new CompleteSnapshotCommand({
      SnapshotId: this.snapshotId, ChangedBlocksCount: this.digests.size, Checksum: hash.digest('base64'), ChecksumAlgorithm: 'SHA256', ChecksumAggregationMethod: 'LINEAR',
    })));
  }

  /** Waits for puts in flight to settle (used before deleting a failed snapshot). */
  async settle(): Promise<void> {
    await Promise.all(this.puts);
  }
}

export interface ListedBlock {
  index: number;
  token: string;
}

export interface ChangedBlock {
  index: number;
  firstToken?: string;
  secondToken?: string;
}

export class EbsDirect {
  readonly limit: LimitFunction;

  constructor(readonly client: EBSClient, options: { concurrency?: number } = {}) {
    this.limit = pLimit(options.concurrency ?? 16);
  }

  async startSnapshot(options: StartSnapshotOptions): Promise<SnapshotUpload> {
    const out = await this.send('StartSnapshot', () => this.client.send(new StartSnapshotCommand({
      VolumeSize: options.volumeSizeGiB,
      ...(options.parentSnapshotId ? { ParentSnapshotId: options.parentSnapshotId } : {}),
      ...(options.description ? { Description: options.description } : {}),
      ...(options.tags ? { Tags: Object.entries(options.tags).map(([Key, Value]) => ({ Key, Value })) } : {}),
      ...(options.clientToken ? { ClientToken: options.clientToken } : {}),
      Timeout: options.timeoutMinutes ?? 60,
    })));
    if (out.BlockSize !== undefined && out.BlockSize !== EBS_BLOCK_SIZE) throw new ValidationError(`EBS answered a block size of ${out.BlockSize}, this adapter writes ${EBS_BLOCK_SIZE}`, 'BlockSize');
    return new SnapshotUpload(out.SnapshotId!, options.volumeSizeGiB, this);
  }

  /** Every block of a completed snapshot that holds data, with its token (blocks not listed read as zeros). */
  async listBlocks(snapshotId: string, fromIndex = 0, maxBlocks = Number.POSITIVE_INFINITY): Promise<ListedBlock[]> {
    const out: ListedBlock[] = [];
    let token: string | undefined;
    do {
      const page = await this.send('ListSnapshotBlocks', () => this.client.send(new ListSnapshotBlocksCommand({
        SnapshotId: snapshotId, MaxResults: maxBlocks < 10_000 ? Math.max(100, maxBlocks) : 10_000, ...(token ? { NextToken: token } : { StartingBlockIndex: fromIndex }),
      })));
      for (const b of page.Blocks ?? []) out.push({ index: b.BlockIndex!, token: b.BlockToken! });
      token = page.NextToken;
    } while (token && out.length < maxBlocks);
    return out;
  }

  /** Blocks that differ between two snapshots of one lineage (no misses; `first` absent = every block of `second`). */
  async changedBlocks(firstSnapshotId: string, secondSnapshotId: string): Promise<ChangedBlock[]> {
    const out: ChangedBlock[] = [];
    let token: string | undefined;
    do {
      const page = await this.send('ListChangedBlocks', () => this.client.send(new ListChangedBlocksCommand({
        FirstSnapshotId: firstSnapshotId, SecondSnapshotId: secondSnapshotId, MaxResults: 10_000, ...(token ? { NextToken: token } : {}),
      })));
      for (const b of page.ChangedBlocks ?? []) {
        out.push({ index: b.BlockIndex!, ...(b.FirstBlockToken ? { firstToken: b.FirstBlockToken } : {}), ...(b.SecondBlockToken ? { secondToken: b.SecondBlockToken } : {}) });
      }
      token = page.NextToken;
    } while (token);
    return out;
  }

  /** One block's 512 KiB, its checksum verified (read again on a mismatch, then refused). */
  async getBlock(snapshotId: string, index: number, blockToken: string): Promise<Buffer> {
    return this.limit(async () => {
      let last: { expected: string; actual: string } | undefined;
      for (let attempt = 0; attempt < CHECKSUM_ATTEMPTS; attempt++) {
        const out = await this.send('GetSnapshotBlock', () => this.client.send(new GetSnapshotBlockCommand({ SnapshotId: snapshotId, BlockIndex: index, BlockToken: blockToken })));
        const data = Buffer.from(await out.BlockData!.transformToByteArray());
        const actual = createHash('sha256').update(data).digest('base64');
        if (out.Checksum === actual && data.length === EBS_BLOCK_SIZE) return data;
        last = { expected: out.Checksum ?? '(none)', actual };
      }
      throw new AwsChecksumError(`block ${index} of snapshot '${snapshotId}'`, last!.expected, last!.actual);
    });
  }

  /** Runs one EBS call; an SDK failure becomes an AwsApiError naming the operation and AWS's code. */
  async send<T>(operation: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw toAwsApiError('EBS', operation, error);
    }
  }
}
