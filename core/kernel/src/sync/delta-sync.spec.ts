import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { xxh3 } from '@node-rs/xxhash';
import fc from 'fast-check';
import { ValidationError } from '../errors.js';
import { seededRandom } from '../random.js';
import {
  LEAF_BYTES, MESSAGE_BYTES, createHashServer, deltaSync, hashRanges, leafBytesFor, type DeltaSyncOptions, type RemoteHasher,
} from './delta-sync.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface Rig {
  source: Buffer;
  target: Buffer;
  sends: [number, number][];
  options: DeltaSyncOptions;
}

/** A source and a target that differs from it in `changes` places; the remote is the target. */
function rig(size: number, seed: number, changes: number[], stateless: boolean, extra: Partial<DeltaSyncOptions> = {}): Rig {
  const rnd = seededRandom(seed);
  const source = rnd.bytes(size);
  const target = Buffer.from(source);
  for (const at of changes) target[at] ^= 1 + rnd.int(0, 254);
  const sends: [number, number][] = [];
  let inFlight = 0;
  const read = async (offset: number, length: number): Promise<Buffer> => target.subarray(offset, offset + length);
  const write = async (offset: number, data: Buffer): Promise<void> => {
    data.copy(target, offset);
  };
  const server = createHashServer({ read, write });
  const remote: RemoteHasher = stateless
    // What the recovery appliance does: only offset, length and blockBytes cross.
    ? { hashBlocks: (r) => hashRanges(read, { offset: r.offset, length: r.length, blockBytes: r.blockBytes, hashBytes: r.hashBytes }) }
    : server;
  const options: DeltaSyncOptions = {
    sizeBytes: size,
    readLocal: async (offset, length) => Buffer.from(source.subarray(offset, offset + length)),
    remote,
    sendBlock: async (offset, data) => {
      assert.equal(inFlight, 0, 'sendBlock must not be called concurrently');
      inFlight++;
      sends.push([offset, data.length]);
      await new Promise((r) => setImmediate(r));
      if (stateless) await write(offset, data);
      else await server.writeBlock(offset, data);
      inFlight--;
    },
    ...extra,
  };
  return { source, target, sends, options };
}

/** Finest blocks that differ between a and b. */
function differingBlocks(a: Buffer, b: Buffer, block: number): number {
  let n = 0;
  for (let off = 0; off < a.length; off += block) if (!a.subarray(off, off + block).equals(b.subarray(off, off + block))) n++;
  return n;
}

describe('deltaSync', () => {
  it('makes the target equal to the source, sending exactly the differing blocks (property)', async () => {
    const levelsArb = fc.constantFrom<number[] | undefined>(undefined, [64 * KiB, 4 * KiB], [256 * KiB, 16 * KiB, KiB], [MiB, 64 * KiB, 4 * KiB, 512]);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 3 * MiB + 5000 }), fc.integer(), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 }),
        fc.boolean(), fc.boolean(), fc.boolean(), levelsArb, fc.constantFrom<8 | 16>(8, 16), fc.integer({ min: 1, max: 5 }),
        async (size, seed, where, first, last, stateless, levels, hashBytes, concurrency) => {
          const changes = size === 0 ? [] : [...where.map((w) => Math.min(size - 1, Math.floor(w * size))), ...(first ? [0] : []), ...(last ? [size - 1] : [])];
          const r = rig(size, seed, changes, stateless, { levels, hashBytes, concurrency, windowBytes: MiB });
          const finest = (levels ?? [4 * KiB]).at(-1)!;
          const expected = differingBlocks(r.source, r.target, finest);
          const result = await deltaSync(r.options);
          assert.equal(sha(r.target), sha(r.source));
          assert.equal(result.blocksSent, expected);
          assert.equal(result.bytesSent, result.dataBytes + result.hashBytesReceived + MESSAGE_BYTES * result.messages);
          // Ascending, non-overlapping sends.
          for (let i = 1; i < r.sends.length; i++) assert.ok(r.sends[i - 1][0] + r.sends[i - 1][1] <= r.sends[i][0]);
        },
      ),
      { numRuns: 60, seed: 11 },
    );
  });

  it('sends nothing for identical volumes, and only the coarse hashes cross', async () => {
    const r = rig(8 * MiB + 123, 1, [], false);
    const result = await deltaSync(r.options);
    assert.equal(result.blocksSent, 0);
    assert.equal(result.dataBytes, 0);
    assert.deepEqual(r.sends, []);
    // One 16-byte hash per 1 MiB block.
    assert.equal(result.hashBytesReceived, 9 * 16);
  });

  it('sends everything when the volumes share nothing, in few messages', async () => {
    const size = 4 * MiB + 100;
    const r = rig(size, 2, [], false);
    const other = seededRandom(99).bytes(size);
    other.copy(r.target);
    const result = await deltaSync(r.options);
    assert.equal(sha(r.target), sha(r.source));
    assert.equal(result.dataBytes, size);
    assert.equal(result.blocksSent, Math.ceil(size / (4 * KiB)));
    // Adjacent blocks go as one message per window, and the 64 KiB level is skipped (it would differ everywhere).
    assert.ok(r.sends.length <= 1 + size / (16 * MiB));
    assert.ok(result.hashBytesReceived <= (5 + Math.ceil(size / (4 * KiB))) * 16);
  });

  it('handles the first block, the last partial block and a volume smaller than a block', async () => {
    for (const size of [1, 4095, 4096, 4097, 10_000, MiB + 1]) {
      const r = rig(size, size, [0, size - 1], true);
      const result = await deltaSync(r.options);
      assert.equal(sha(r.target), sha(r.source), `size ${size}`);
      assert.equal(result.blocksSent, size <= 4096 ? 1 : 2);
      assert.equal(result.dataBytes, size <= 4096 ? size : 4096 + (size % 4096 || 4096));
    }
  });

  it('a hash server and plain hashRanges answer alike, and the server reads each byte once', async () => {
    const rnd = seededRandom(4);
    const image = rnd.bytes(5 * MiB + 777);
    let readBytes = 0;
    const read = async (offset: number, length: number): Promise<Buffer> => {
      readBytes += length;
      return image.subarray(offset, offset + length);
    };
    const server = createHashServer({ read });
    for (const blockBytes of [MiB, 64 * KiB, 4 * KiB]) {
      const request = { offset: MiB, length: 4 * MiB + 777, blockBytes };
      assert.deepEqual(await server.hashBlocks(request), await hashRanges(read, request));
    }
    readBytes = 0;
    await server.hashBlocks({ offset: 0, length: 2 * MiB, blockBytes: MiB });
    await server.hashBlocks({ offset: 0, length: 2 * MiB, blockBytes: 64 * KiB });
    await server.hashBlocks({ offset: 64 * KiB, length: 64 * KiB, blockBytes: 4 * KiB });
    assert.equal(readBytes, MiB, 'only the first megabyte was not cached yet');
  });

  it('hashes a block above 4 KiB as the hash of its leaves\' hashes', async () => {
    const data = seededRandom(8).bytes(64 * KiB + 100);
    const read = async (offset: number, length: number): Promise<Buffer> => data.subarray(offset, offset + length);
    assert.equal(leafBytesFor(MiB), LEAF_BYTES);
    assert.equal(leafBytesFor(4 * KiB), 4 * KiB);
    assert.equal(leafBytesFor(6 * KiB), 6 * KiB);
    const leaves = Buffer.alloc(17 * 8);
    for (let i = 0; i < 17; i++) leaves.writeBigUInt64BE(xxh3.xxh64(data.subarray(i * 4096, Math.min(data.length, (i + 1) * 4096))), i * 8);
    const got = await hashRanges(read, { offset: 0, length: data.length, blockBytes: 128 * KiB, hashBytes: 8 });
    assert.equal(got.readBigUInt64BE(0), xxh3.xxh64(leaves));
  });

  it('rejects bad options and broken peers', async () => {
    const r = rig(MiB, 3, [5], false);
    await assert.rejects(deltaSync({ ...r.options, levels: [4096, 65536] }), ValidationError);
    await assert.rejects(deltaSync({ ...r.options, levels: [65536, 5000] }), ValidationError);
    await assert.rejects(deltaSync({ ...r.options, hashBytes: 4 as 8 }), ValidationError);
    await assert.rejects(deltaSync({ ...r.options, sizeBytes: -1 }), ValidationError);
    await assert.rejects(deltaSync({ ...r.options, concurrency: 0 }), ValidationError);
    await assert.rejects(deltaSync({ ...r.options, readLocal: async () => Buffer.alloc(10) }), /returned 10 bytes/);
    await assert.rejects(deltaSync({ ...r.options, remote: { hashBlocks: async () => Buffer.alloc(3) } }), /remote returned 3 hash bytes/);
    await assert.rejects(hashRanges(async () => Buffer.alloc(0), { offset: 100, length: 10, blockBytes: 64 }), ValidationError);
  });
});
