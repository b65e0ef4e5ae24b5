// The suite's independent record of what every protected volume must hold: each guest write the suite
// makes, kept sparsely per block, with SHA-256 snapshots of the expected content at each checkpoint.
// It never asks the adapter what the guest sees, so an adapter cannot vouch for its own data.
import { AssertionError } from 'node:assert';
import { createHash } from 'node:crypto';
import type { ConformanceHarness, VmId, VmInfo, VolumeId } from '@opencdp/core';

/** Block size of the oracle's bookkeeping and of image comparison (64 KiB, like the fake's chunks). */
export const ORACLE_BLOCK_BYTES = 64 * 1024;

/** What the oracle compares against: anything that reads a VM's volumes, e.g. a point-in-time image. */
export interface ImageReader {
  read(volumeId: VolumeId, offset: number, length: number): Promise<Buffer>;
}

export interface VolumeSnapshot {
  readonly volumeId: VolumeId;
  readonly sizeBytes: number;
  readonly blockBytes: number;
  /** SHA-256 per block; undefined for a block never written (all zeros). */
  readonly blockHashes: readonly (Buffer | undefined)[];
}

export interface VmSnapshot {
  readonly vmId: VmId;
  readonly volumes: readonly VolumeSnapshot[];
}

/** Expected content of every tracked volume at one moment with no writes in flight. */
export interface OracleSnapshot {
  /** The oracle's write counter when the snapshot was taken (orders snapshots). */
  readonly at: number;
  readonly vms: ReadonlyMap<VmId, VmSnapshot>;
  /** The snapshot of one VM; throws when the VM is not tracked. */
  vm(vmId: VmId): VmSnapshot;
}

/** A range the oracle holds, e.g. a block written since a snapshot. */
export interface OracleRange {
  vmId: VmId;
  volumeId: VolumeId;
  offset: number;
  length: number;
}

interface TrackedVolume {
  vmId: VmId;
  volumeId: VolumeId;
  sizeBytes: number;
  blocks: Map<number, Buffer>;
  /** Cached hash per written block, dropped when the block changes. */
  hashes: Map<number, Buffer>;
  /** The write counter of the last write that touched each block. */
  touched: Map<number, number>;
}

export class Oracle {
  private readonly volumes = new Map<string, TrackedVolume>();
  private readonly vmOrder: VmId[] = [];
  private writes = 0;
  private inFlightCount = 0;

  constructor(readonly blockBytes: number = ORACLE_BLOCK_BYTES) {
    if (!Number.isSafeInteger(blockBytes) || blockBytes < 512 || (blockBytes & (blockBytes - 1)) !== 0) {
      throw new RangeError(`oracle block size ${blockBytes} must be a power of two ≥ 512`);
    }
  }

  /** Starts tracking every volume of a VM (all zeros, as a new protected volume is). */
  addVm(vm: VmInfo): void {
    for (const v of vm.volumes) this.addVolume(vm.id, v.id, v.sizeBytes);
  }

  addVolume(vmId: VmId, volumeId: VolumeId, sizeBytes: number): void {
    const key = keyOf(vmId, volumeId);
    if (this.volumes.has(key)) throw new RangeError(`volume '${volumeId}' of VM '${vmId}' is already tracked`);
    this.volumes.set(key, { vmId, volumeId, sizeBytes, blocks: new Map(), hashes: new Map(), touched: new Map() });
    if (!this.vmOrder.includes(vmId)) this.vmOrder.push(vmId);
  }

  /** Writes issued through `guestWrite` that have not completed yet. */
  get inFlight(): number {
    return this.inFlightCount;
  }

  /** Completed writes recorded so far. */
  get writeCount(): number {
    return this.writes;
  }

  /**
   * Writes as the guest through the harness and records the write once it completes. A write that
   * fails is not recorded (the journal must not hold it either) and its error is passed on.
   */
  async guestWrite(harness: ConformanceHarness, vmId: VmId, volumeId: VolumeId, offset: number, data: Buffer): Promise<void> {
    const volume = this.volume(vmId, volumeId);
    // Our own copy now: the caller may reuse its buffer while the write is in flight.
    const copy = Buffer.from(data);
    this.inFlightCount++;
    try {
      await harness.guestWrite(vmId, volumeId, offset, data);
    } finally {
      this.inFlightCount--;
    }
    this.apply(volume, offset, copy);
  }

  /** Records a write that completed without going through `guestWrite`. */
  record(vmId: VmId, volumeId: VolumeId, offset: number, data: Buffer): void {
    this.apply(this.volume(vmId, volumeId), offset, Buffer.from(data));
  }

  /** Current expected content of a range. */
  read(vmId: VmId, volumeId: VolumeId, offset: number, length: number): Buffer {
    const volume = this.volume(vmId, volumeId);
    if (offset < 0 || length < 0 || offset + length > volume.sizeBytes) throw new RangeError(`read [${offset}, ${offset + length}) is outside volume '${volumeId}'`);
    const out = Buffer.alloc(length);
    for (let at = offset; at < offset + length;) {
      const index = Math.floor(at / this.blockBytes);
      const within = at - index * this.blockBytes;
      const count = Math.min(this.blockBytes - within, offset + length - at);
      volume.blocks.get(index)?.copy(out, at - offset, within, within + count);
      at += count;
    }
    return out;
  }

  /**
   * Expected content of every volume now. Only meaningful with no write in flight: a checkpoint cut
   * while writes are pending may or may not hold them, so such a snapshot would prove nothing.
   */
  snapshot(): OracleSnapshot {
    if (this.inFlightCount > 0) throw new RangeError(`cannot snapshot the oracle with ${this.inFlightCount} write(s) in flight`);
    const vms = new Map<VmId, VmSnapshot>();
    for (const vmId of this.vmOrder) {
      const volumes: VolumeSnapshot[] = [];
      for (const v of this.volumes.values()) {
        if (v.vmId !== vmId) continue;
        const count = Math.ceil(v.sizeBytes / this.blockBytes);
        const blockHashes: (Buffer | undefined)[] = new Array<Buffer | undefined>(count).fill(undefined);
        for (const index of v.blocks.keys()) blockHashes[index] = this.hashOf(v, index);
        volumes.push({ volumeId: v.volumeId, sizeBytes: v.sizeBytes, blockBytes: this.blockBytes, blockHashes });
      }
      vms.set(vmId, { vmId, volumes });
    }
    return {
      at: this.writes,
      vms,
      vm(vmId: VmId): VmSnapshot {
        const s = vms.get(vmId);
        if (!s) throw new RangeError(`VM '${vmId}' is not tracked by the oracle`);
        return s;
      },
    };
  }

  /** Whole blocks written since a snapshot (clamped to the volume's end), for resyncing after a crash. */
  dirtySince(snapshot: OracleSnapshot): OracleRange[] {
    const ranges: OracleRange[] = [];
    for (const v of this.volumes.values()) {
      const indices = [...v.touched].filter(([, at]) => at > snapshot.at).map(([i]) => i).sort((a, b) => a - b);
      for (const index of indices) {
        const offset = index * this.blockBytes;
        ranges.push({ vmId: v.vmId, volumeId: v.volumeId, offset, length: Math.min(this.blockBytes, v.sizeBytes - offset) });
      }
    }
    return ranges;
  }

  private apply(volume: TrackedVolume, offset: number, data: Buffer): void {
    if (offset < 0 || offset + data.length > volume.sizeBytes) throw new RangeError(`write [${offset}, ${offset + data.length}) is outside volume '${volume.volumeId}'`);
    const stamp = ++this.writes;
    for (let done = 0; done < data.length;) {
      const at = offset + done;
      const index = Math.floor(at / this.blockBytes);
      const within = at - index * this.blockBytes;
      const count = Math.min(this.blockBytes - within, data.length - done);
      let block = volume.blocks.get(index);
      if (!block) {
        block = Buffer.alloc(Math.min(this.blockBytes, volume.sizeBytes - index * this.blockBytes));
        volume.blocks.set(index, block);
      }
      data.copy(block, within, done, done + count);
      volume.hashes.delete(index);
      volume.touched.set(index, stamp);
      done += count;
    }
  }

  private hashOf(volume: TrackedVolume, index: number): Buffer {
    let hash = volume.hashes.get(index);
    if (!hash) {
      hash = sha256(volume.blocks.get(index)!);
      volume.hashes.set(index, hash);
    }
    return hash;
  }

  private volume(vmId: VmId, volumeId: VolumeId): TrackedVolume {
    const v = this.volumes.get(keyOf(vmId, volumeId));
    if (!v) throw new RangeError(`volume '${volumeId}' of VM '${vmId}' is not tracked by the oracle`);
    return v;
  }
}

/**
 * Compares an image with a VM's snapshot block by block (SHA-256 of each block over the whole of every
 * volume) and fails on the first difference, naming the volume and byte offset.
 */
export async function assertImageEquals(image: ImageReader, expected: VmSnapshot, label = 'image'): Promise<void> {
  for (const v of expected.volumes) {
    for (let index = 0; index < v.blockHashes.length; index++) {
      const offset = index * v.blockBytes;
      const length = Math.min(v.blockBytes, v.sizeBytes - offset);
      const got = await image.read(v.volumeId, offset, length);
      if (got.length !== length) {
        throw new AssertionError({ message: `${label}: volume '${v.volumeId}' of VM '${expected.vmId}' returned ${got.length} bytes for a ${length}-byte read at offset ${offset}` });
      }
      const want = v.blockHashes[index] ?? zeroHash(length);
      const have = sha256(got);
      if (!have.equals(want)) {
        throw new AssertionError({
          message: `${label}: volume '${v.volumeId}' of VM '${expected.vmId}' differs from the oracle in the block at offset ${offset} `
            + `(${v.blockHashes[index] === undefined ? `expected zeros, first non-zero byte at ${offset + firstNonZero(got)}; ` : ''}${length}-byte block, `
            + `sha256 expected ${want.toString('hex').slice(0, 16)}…, got ${have.toString('hex').slice(0, 16)}…)`,
          expected: want.toString('hex'),
          actual: have.toString('hex'),
          operator: 'sha256',
        });
      }
    }
  }
}

const zeroHashes = new Map<number, Buffer>();
function zeroHash(length: number): Buffer {
  let h = zeroHashes.get(length);
  if (!h) {
    h = sha256(Buffer.alloc(length));
    zeroHashes.set(length, h);
  }
  return h;
}

function firstNonZero(got: Buffer): number {
  const i = got.findIndex((b) => b !== 0);
  return i < 0 ? 0 : i;
}

function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

function keyOf(vmId: VmId, volumeId: VolumeId): string {
  return `${vmId}\u0000${volumeId}`;
}
