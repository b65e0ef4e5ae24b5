// SIMULATION of the EBS direct APIs (REST-JSON, signing name `ebs`) over SimulatedAwsState, enforcing the
// documented rules: 512 KiB blocks written only to pending snapshots with a matching base64 SHA-256,
// block indices inside the volume, CompleteSnapshot's ChangedBlocksCount and LINEAR aggregated checksum
// (SHA-256 over the raw block digests in block-index order), reads only from completed snapshots with
// block tokens that name the snapshot and block and expire, paging with MaxResults 100–10000 and
// opaque NextTokens, ListChangedBlocks only within one snapshot lineage.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { blockChecksum, EBS_BLOCK_BYTES } from './simulated-block-store.js';
import { SimulatedAwsError, blocksOf, type SimSnapshot, type SimulatedAwsState } from './simulated-aws-state.js';

export interface SimHttpRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | undefined>;
  body: Buffer;
}

export interface SimHttpResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer | string;
}

const TOKEN_KEY = randomBytes(32);

function validation(message: string, reason = 'INVALID_PARAMETER_VALUE'): SimulatedAwsError {
  return new SimulatedAwsError('ValidationException', 400, message, reason);
}

/** The EBS operation a request names (for fault matching and call logs), or undefined. */
export function ebsOperationOf(req: SimHttpRequest): string | undefined {
  const p = req.path.split('/').filter((s) => s !== '');
  if (req.method === 'POST' && p.length === 1 && p[0] === 'snapshots') return 'StartSnapshot';
  if (req.method === 'POST' && p.length === 3 && p[1] === 'completion') return 'CompleteSnapshot';
  if (req.method === 'PUT' && p.length === 4 && p[2] === 'blocks') return 'PutSnapshotBlock';
  if (req.method === 'GET' && p.length === 4 && p[2] === 'blocks') return 'GetSnapshotBlock';
  if (req.method === 'GET' && p.length === 3 && p[2] === 'blocks') return 'ListSnapshotBlocks';
  if (req.method === 'GET' && p.length === 3 && p[2] === 'changedblocks') return 'ListChangedBlocks';
  return undefined;
}

export function handleEbs(state: SimulatedAwsState, req: SimHttpRequest): SimHttpResponse {
  state.tick();
  const p = req.path.split('/').filter((s) => s !== '').map(decodeURIComponent);
  switch (ebsOperationOf(req)) {
    case 'StartSnapshot': return startSnapshot(state, req);
    case 'CompleteSnapshot': return completeSnapshot(state, p[2], req);
    case 'PutSnapshotBlock': return putSnapshotBlock(state, p[1], p[3], req);
    case 'GetSnapshotBlock': return getSnapshotBlock(state, p[1], p[3], req);
    case 'ListSnapshotBlocks': return listBlocks(state, p[1], req, undefined);
    case 'ListChangedBlocks': return listBlocks(state, p[1], req, req.query.get('firstSnapshotId') ?? undefined);
    default: throw new SimulatedAwsError('UnknownOperationException', 404, `no EBS operation at ${req.method} ${req.path}`);
  }
}

function json(status: number, body: unknown): SimHttpResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

function snapshotOf(state: SimulatedAwsState, id: string): SimSnapshot {
  const s = state.snapshots.get(id);
  if (!s) throw new SimulatedAwsError('ResourceNotFoundException', 404, `The snapshot '${id}' does not exist.`, 'SNAPSHOT_NOT_FOUND');
  return s;
}

function startSnapshot(state: SimulatedAwsState, req: SimHttpRequest): SimHttpResponse {
  let input: { VolumeSize?: unknown; ParentSnapshotId?: unknown; Tags?: { Key?: string; Value?: string }[]; Description?: unknown; ClientToken?: unknown; Timeout?: unknown; Encrypted?: unknown };
  try {
    input = JSON.parse(req.body.toString('utf8') || '{}') as typeof input;
  } catch {
    throw validation('The request body is not valid JSON.');
  }
  const size = input.VolumeSize;
  if (!Number.isInteger(size) || (size as number) < 1 || (size as number) > 65536) throw validation(`VolumeSize ${String(size)} must be 1–65536 GiB.`, 'INVALID_VOLUME_SIZE');
  const timeout = input.Timeout === undefined ? 60 : input.Timeout;
  if (!Number.isInteger(timeout) || (timeout as number) < 10 || (timeout as number) > 4320) throw validation(`Timeout ${String(timeout)} must be 10–4320 minutes.`);
  if (typeof input.ClientToken === 'string') {
    const same = [...state.snapshots.values()].find((s) => s.clientToken === input.ClientToken);
    if (same) {
      if (same.volumeSize !== size || same.parentId !== input.ParentSnapshotId) {
        throw new SimulatedAwsError('ConflictException', 409, 'The ClientToken was used before with different parameters.');
      }
      return json(201, describe(state, same));
    }
  }
  let parent: SimSnapshot | undefined;
  if (input.ParentSnapshotId !== undefined) {
    parent = snapshotOf(state, String(input.ParentSnapshotId));
    if (parent.state !== 'completed') throw validation(`The parent snapshot '${parent.id}' is not completed.`, 'INVALID_SNAPSHOT_ID');
    if (parent.volumeSize > (size as number)) throw validation(`VolumeSize ${String(size)} is smaller than the parent snapshot's ${parent.volumeSize} GiB.`, 'INVALID_VOLUME_SIZE');
  }
  const id = state.newId('snap');
  const s: SimSnapshot = {
    id, volumeSize: size as number, state: 'pending', startTime: state.clock.now(),
    timeoutAt: state.clock.now() + (timeout as number) * 60_000,
    blocks: parent ? state.blocks.copy(parent.blocks) : new Map(), written: new Map(),
    ...(parent ? { parentId: parent.id } : {}), lineage: parent?.lineage ?? id, origin: 'ebs-direct',
    ...(typeof input.Description === 'string' ? { description: input.Description } : {}),
    tags: new Map((input.Tags ?? []).map((t) => [String(t.Key), String(t.Value ?? '')])),
    ...(typeof input.ClientToken === 'string' ? { clientToken: input.ClientToken } : {}),
    sealed: false,
  };
  state.snapshots.set(id, s);
  return json(201, describe(state, s));
}

function describe(state: SimulatedAwsState, s: SimSnapshot): Record<string, unknown> {
  return {
    SnapshotId: s.id, OwnerId: state.accountId, Status: s.state, StartTime: s.startTime / 1000, VolumeSize: s.volumeSize,
    BlockSize: EBS_BLOCK_BYTES, ...(s.parentId ? { ParentSnapshotId: s.parentId } : {}),
    ...(s.description ? { Description: s.description } : {}), Tags: [...s.tags].map(([Key, Value]) => ({ Key, Value })),
  };
}

function blockIndexOf(raw: string, s: SimSnapshot): number {
  const index = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(index) || index >= blocksOf(s.volumeSize)) {
    throw validation(`Block index ${raw} is outside the ${s.volumeSize} GiB volume of snapshot '${s.id}'.`, 'INVALID_BLOCK');
  }
  return index;
}

function putSnapshotBlock(state: SimulatedAwsState, id: string, rawIndex: string, req: SimHttpRequest): SimHttpResponse {
  const s = snapshotOf(state, id);
  if (s.state !== 'pending' || s.sealed) throw validation(`The snapshot '${id}' is not in the pending state: blocks can only be written to pending snapshots.`, 'INVALID_SNAPSHOT_ID');
  const index = blockIndexOf(rawIndex, s);
  const declared = Number(req.headers['x-amz-data-length']);
  if (declared !== EBS_BLOCK_BYTES || req.body.length !== EBS_BLOCK_BYTES) {
    throw validation(`Blocks are ${EBS_BLOCK_BYTES} bytes; got DataLength ${req.headers['x-amz-data-length'] ?? '(none)'} and ${req.body.length} bytes of data.`, 'INVALID_BLOCK');
  }
  if (req.headers['x-amz-checksum-algorithm'] !== 'SHA256') throw validation('ChecksumAlgorithm must be SHA256.');
  const given = req.headers['x-amz-checksum'];
  const actual = blockChecksum(req.body);
  if (given !== actual) throw validation(`The checksum ${given ?? '(none)'} does not match the block data (${actual}).`, 'INVALID_BLOCK');
  const old = s.blocks.get(index);
  s.blocks.set(index, state.blocks.put(req.body, actual));
  if (old) state.blocks.release(old);
  s.written.set(index, actual);
  return { status: 201, headers: { 'x-amz-Checksum': actual, 'x-amz-Checksum-Algorithm': 'SHA256' }, body: '' };
}

function completeSnapshot(state: SimulatedAwsState, id: string, req: SimHttpRequest): SimHttpResponse {
  const s = snapshotOf(state, id);
  if (s.state !== 'pending' || s.sealed) throw validation(`The snapshot '${id}' is not pending.`, 'INVALID_SNAPSHOT_ID');
  const count = Number(req.headers['x-amz-changedblockscount']);
  if (!Number.isInteger(count) || count !== s.written.size) {
    throw validation(`ChangedBlocksCount ${req.headers['x-amz-changedblockscount'] ?? '(none)'} does not match the ${s.written.size} blocks written.`);
  }
  const checksum = req.headers['x-amz-checksum'];
  if (checksum !== undefined) {
    if (req.headers['x-amz-checksum-algorithm'] !== 'SHA256' || req.headers['x-amz-checksum-aggregation-method'] !== 'LINEAR') {
      throw validation('An aggregated checksum needs ChecksumAlgorithm SHA256 and ChecksumAggregationMethod LINEAR.');
    }
    const hash = createHash('sha256');
    for (const i of [...s.written.keys()].sort((a, b) => a - b)) hash.update(Buffer.from(s.written.get(i)!, 'base64'));
    const expected = hash.digest('base64');
    if (checksum !== expected) throw validation(`The aggregated checksum ${checksum} does not match the blocks written (${expected}).`);
  }
  s.sealed = true;
  s.completesAt = state.clock.now() + state.delays.snapshotMs;
  state.tick();
  return json(202, { Status: s.state });
}

function signToken(snapshotId: string, index: number, expires: number): string {
  const body = Buffer.from(JSON.stringify({ s: snapshotId, i: index, e: expires })).toString('base64url');
  return `${body}.${createHmac('sha256', TOKEN_KEY).update(body).digest('base64url')}`;
}

function checkToken(state: SimulatedAwsState, token: string | null, snapshotId: string, index: number): void {
  const [body, mac] = (token ?? '').split('.');
  const ok = body && mac && createHmac('sha256', TOKEN_KEY).update(body).digest('base64url') === mac;
  const t = ok ? JSON.parse(Buffer.from(body, 'base64url').toString()) as { s: string; i: number; e: number } : undefined;
  if (!t || t.s !== snapshotId || t.i !== index) throw validation(`The block token is not valid for block ${index} of snapshot '${snapshotId}'.`, 'INVALID_BLOCK_TOKEN');
  if (t.e <= state.clock.now()) throw validation('The block token has expired: list the blocks again for fresh tokens.', 'INVALID_BLOCK_TOKEN');
}

function getSnapshotBlock(state: SimulatedAwsState, id: string, rawIndex: string, req: SimHttpRequest): SimHttpResponse {
  const s = snapshotOf(state, id);
  if (s.state !== 'completed') throw validation(`The snapshot '${id}' is not completed.`, 'INVALID_SNAPSHOT_ID');
  const index = blockIndexOf(rawIndex, s);
  checkToken(state, req.query.get('blockToken'), id, index);
  const key = s.blocks.get(index);
  let data = key ? state.blocks.get(key) : Buffer.alloc(EBS_BLOCK_BYTES);
  const checksum = key ?? blockChecksum(data);
  if (state.takeFault('corrupt-block')) {
    data = Buffer.from(data);
    data[0] ^= 0xff;
  }
  return {
    status: 200,
    headers: { 'content-type': 'application/octet-stream', 'x-amz-Data-Length': String(EBS_BLOCK_BYTES), 'x-amz-Checksum': checksum, 'x-amz-Checksum-Algorithm': 'SHA256' },
    body: data,
  };
}

interface PageToken {
  s: string;
  f?: string;
  n: number;
}

function listBlocks(state: SimulatedAwsState, secondId: string, req: SimHttpRequest, firstId: string | undefined): SimHttpResponse {
  const second = snapshotOf(state, secondId);
  const first = firstId !== undefined ? snapshotOf(state, firstId) : undefined;
  for (const s of [second, first]) {
    if (s && s.state !== 'completed') throw validation(`The snapshot '${s.id}' is not completed.`, 'INVALID_SNAPSHOT_ID');
  }
  if (first && first.lineage !== second.lineage) throw validation(`Snapshots '${first.id}' and '${second.id}' are not of the same volume lineage.`, 'UNRELATED_SNAPSHOTS');
  const rawMax = req.query.get('maxResults');
  const max = rawMax === null ? 10000 : Number(rawMax);
  if (!Number.isInteger(max) || max < 100 || max > 10000) throw validation(`MaxResults ${rawMax} must be 100–10000.`);
  let from = Number(req.query.get('startingBlockIndex') ?? 0);
  if (!Number.isInteger(from) || from < 0) throw validation('StartingBlockIndex must be a non-negative integer.');
  const rawToken = req.query.get('pageToken');
  if (rawToken !== null) {
    let t: PageToken | undefined;
    try {
      t = JSON.parse(Buffer.from(rawToken, 'base64').toString('utf8')) as PageToken;
    } catch {
      t = undefined;
    }
    if (!t || t.s !== secondId || t.f !== firstId || !Number.isInteger(t.n)) throw validation('The NextToken is not valid for this request.', 'INVALID_PAGE_TOKEN');
    from = Math.max(from, t.n);
  }
  const indices = first
    ? [...new Set([...first.blocks.keys(), ...second.blocks.keys()])].filter((i) => first.blocks.get(i) !== second.blocks.get(i))
    : [...second.blocks.keys()];
  const sorted = indices.filter((i) => i >= from).sort((a, b) => a - b);
  const page = sorted.slice(0, max);
  const expires = state.clock.now() + state.blockTokenTtlMs;
  const next = sorted.length > max ? Buffer.from(JSON.stringify({ s: secondId, ...(firstId ? { f: firstId } : {}), n: sorted[max] } satisfies PageToken)).toString('base64') : undefined;
  const common = { ExpiryTime: expires / 1000, VolumeSize: second.volumeSize, BlockSize: EBS_BLOCK_BYTES, ...(next ? { NextToken: next } : {}) };
  if (!first) return json(200, { Blocks: page.map((i) => ({ BlockIndex: i, BlockToken: signToken(secondId, i, expires) })), ...common });
  return json(200, {
    ChangedBlocks: page.map((i) => ({
      BlockIndex: i,
      ...(first.blocks.has(i) ? { FirstBlockToken: signToken(first.id, i, expires) } : {}),
      ...(second.blocks.has(i) ? { SecondBlockToken: signToken(secondId, i, expires) } : {}),
    })),
    ...common,
  });
}
