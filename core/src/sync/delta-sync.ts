// TEMPORARY placeholder written by the lead so the appliances can be integration-tested; the sync helper
// replaces this whole file with the real hash-tree delta sync (same API as in its brief).
import { xxh64 } from '@node-rs/xxhash';

export interface HashRequest {
  offset: number;
  length: number;
  blockBytes: number;
}

export async function hashRanges(read: (offset: number, length: number) => Promise<Buffer>, request: HashRequest): Promise<Buffer> {
  const data = await read(request.offset, request.length);
  const blocks = Math.ceil(request.length / request.blockBytes);
  const out = Buffer.alloc(blocks * 8);
  for (let i = 0; i < blocks; i++) out.writeBigUInt64LE(xxh64(data.subarray(i * request.blockBytes, (i + 1) * request.blockBytes)), i * 8);
  return out;
}

export interface DeltaSyncOptions {
  sizeBytes: number;
  readLocal: (offset: number, length: number) => Promise<Buffer>;
  remote: { hashBlocks: (request: HashRequest) => Promise<Buffer> };
  sendBlock: (offset: number, data: Buffer) => Promise<void>;
}

export async function deltaSync(o: DeltaSyncOptions): Promise<{ blocksSent: number; bytesSent: number }> {
  const chunk = 1024 * 1024;
  const block = 4096;
  let blocksSent = 0;
  let bytesSent = 0;
  for (let off = 0; off < o.sizeBytes; off += chunk) {
    const len = Math.min(chunk, o.sizeBytes - off);
    const remote = await o.remote.hashBlocks({ offset: off, length: len, blockBytes: block });
    const local = await hashRanges(o.readLocal, { offset: off, length: len, blockBytes: block });
    for (let i = 0; i * block < len; i++) {
      if (local.readBigUInt64LE(i * 8) === remote.readBigUInt64LE(i * 8)) continue;
      const at = off + i * block;
      const n = Math.min(block, o.sizeBytes - at);
      await o.sendBlock(at, await o.readLocal(at, n));
      blocksSent++;
      bytesSent += n;
    }
  }
  return { blocksSent, bytesSent };
}
