// SIMULATION of EBS block storage: the 512 KiB blocks of simulated volumes and snapshots, kept once per
// distinct content (keyed by the block's base64 SHA-256, which is also the checksum the EBS direct APIs
// exchange) and reference-counted, so a 16 GiB volume whose blocks repeat costs little memory and
// deleting a snapshot frees what nothing else uses. Volumes and snapshots are maps block index → key.
import { createHash } from 'node:crypto';

/** EBS's block size for the direct APIs (512 KiB). */
export const EBS_BLOCK_BYTES = 512 * 1024;

/** Block index → content key (base64 SHA-256 of the 512 KiB block). */
export type BlockMap = Map<number, string>;

export function blockChecksum(data: Buffer): string {
  return createHash('sha256').update(data).digest('base64');
}

export class SimulatedBlockStore {
  private readonly blocks = new Map<string, { data: Buffer; refs: number }>();

  /** Stores a block (a copy) and takes one reference; returns its key. */
  put(data: Buffer, checksum: string = blockChecksum(data)): string {
    const known = this.blocks.get(checksum);
    if (known) known.refs++;
    else this.blocks.set(checksum, { data: Buffer.from(data), refs: 1 });
    return checksum;
  }

  ref(key: string): void {
    const b = this.blocks.get(key);
    if (!b) throw new Error(`simulated block store: no block ${key}`);
    b.refs++;
  }

  release(key: string): void {
    const b = this.blocks.get(key);
    if (!b) return;
    if (--b.refs <= 0) this.blocks.delete(key);
  }

  /** The block's bytes (shared: never modify them). */
  get(key: string): Buffer {
    const b = this.blocks.get(key);
    if (!b) throw new Error(`simulated block store: no block ${key}`);
    return b.data;
  }

  /** A copy of `map` that holds its own references. */
  copy(map: BlockMap): BlockMap {
    for (const key of map.values()) this.ref(key);
    return new Map(map);
  }

  /** Drops every reference `map` holds. */
  releaseAll(map: BlockMap): void {
    for (const key of map.values()) this.release(key);
    map.clear();
  }

  /** Distinct blocks held, and their bytes. */
  get stats(): { blocks: number; bytes: number } {
    let bytes = 0;
    for (const b of this.blocks.values()) bytes += b.data.length;
    return { blocks: this.blocks.size, bytes };
  }
}

/** Reads `length` bytes at `offset` of a block map (absent blocks are zeros). */
export function readBlocks(store: SimulatedBlockStore, map: BlockMap, offset: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let at = offset; at < offset + length;) {
    const index = Math.floor(at / EBS_BLOCK_BYTES);
    const within = at - index * EBS_BLOCK_BYTES;
    const count = Math.min(EBS_BLOCK_BYTES - within, offset + length - at);
    const key = map.get(index);
    if (key) store.get(key).copy(out, at - offset, within, within + count);
    at += count;
  }
  return out;
}

/** Writes `data` at `offset` into a block map, read-modify-write per block. */
export function writeBlocks(store: SimulatedBlockStore, map: BlockMap, offset: number, data: Buffer): void {
  for (let done = 0; done < data.length;) {
    const at = offset + done;
    const index = Math.floor(at / EBS_BLOCK_BYTES);
    const within = at - index * EBS_BLOCK_BYTES;
    const count = Math.min(EBS_BLOCK_BYTES - within, data.length - done);
    const old = map.get(index);
    const block = old ? Buffer.from(store.get(old)) : Buffer.alloc(EBS_BLOCK_BYTES);
    data.copy(block, within, done, done + count);
    map.set(index, store.put(block));
    if (old) store.release(old);
    done += count;
  }
}
