// A VHDX file opened for reading (the capture seam reads a checkpoint's disk with it) or writing (the
// recovery path streams a disk into a new dynamic VHDX; the simulated host writes guest data into one).
// Headers, region tables and metadata are validated on open; a pending log is replayed (into memory when
// read-only). Writes allocate payload blocks at the end of the file and update the BAT in place instead of
// through the log — a deliberate simplification: a crash can leak an allocated block, never corrupt one,
// because the data is flushed before the 8-byte BAT entry that makes it visible.
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import {
  BAT_REGION, BlockState, HEADER1_OFFSET, HEADER2_OFFSET, HEADER_SIZE, KiB, META_FILE_PARAMETERS, META_LOGICAL_SECTOR_SIZE,
  META_PARENT_LOCATOR, META_PHYSICAL_SECTOR_SIZE, META_VIRTUAL_DISK_ID, META_VIRTUAL_DISK_SIZE, METADATA_REGION, METADATA_TABLE_SIZE, MiB,
  REGION1_OFFSET, REGION2_OFFSET, REGION_TABLE_SIZE, VhdxFormatError, VhdxUnsupportedError, ZERO_GUID, batEntryCount, checkGeometry, chunkRatio,
  decodeHeader, decodeMetadataTable, decodeParentLocator, decodeRegionTable, encodeFileIdentifier, encodeHeader, encodeMetadataTable,
  encodeRegionTable, newGuid, payloadBatIndex, readBatEntry, readGuid, roundUp, writeBatEntry, writeGuid,
  type MetadataEntry, type ParentLocator, type VhdxHeader,
} from './vhdx-format.js';
import { replayLog } from './vhdx-log.js';

export interface VhdxGeometry {
  virtualSize: number;
  /** Payload block size: a power of two from 1 MiB to 256 MiB (Hyper-V's default is 32 MiB). */
  blockSize: number;
  logicalSectorSize: number;
  physicalSectorSize: number;
}

export interface VhdxCreateOptions extends Partial<Omit<VhdxGeometry, 'virtualSize'>> {
  virtualSize: number;
  /** The disk's identity (Get-VHD's DiskIdentifier); a new GUID when absent. */
  diskId?: string;
  creator?: string;
  /** File mode of the new file (default 0o600: recovered disks hold a VM's data). */
  mode?: number;
}

export interface VhdxOpenOptions {
  writable?: boolean;
  /** False: skip fsync (a simulated guest's writes; never for disks that must survive a crash). Default true. */
  durable?: boolean;
  /** Opens the parent of a differencing disk (given its locator); without it, differencing disks are refused. */
  openParent?: (locator: ParentLocator, child: string) => Promise<VhdxFile>;
}

export interface VhdxRange {
  offset: number;
  length: number;
}

const SECTOR = 4 * KiB;
const ZERO_SECTOR = Buffer.alloc(SECTOR);
const ZERO_MIB = Buffer.alloc(MiB);
const LOG_OFFSET = 1 * MiB;
const LOG_LENGTH = 1 * MiB;
const METADATA_OFFSET = 2 * MiB;
const METADATA_LENGTH = 1 * MiB;
const BAT_OFFSET = 3 * MiB;

/** True when every byte of `b` is zero (memcmp against a shared zero page, 4 KiB at a time). */
export function isZero(b: Buffer): boolean {
  for (let at = 0; at < b.length; at += SECTOR) {
    const end = Math.min(b.length, at + SECTOR);
    if (b.compare(ZERO_SECTOR, 0, end - at, at, end) !== 0) return false;
  }
  return true;
}

export class VhdxFile implements VhdxGeometry {
  private closed = false;
  private batDirty = new Set<number>();
  private nextFree: number;
  private headerSlot: 1 | 2;
  /** Sectors replayed from the log of a read-only file: file offset → 4 KiB. */
  private readonly overlay = new Map<number, Buffer>();

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    readonly writable: boolean,
    private header: VhdxHeader,
    headerSlot: 1 | 2,
    readonly virtualSize: number,
    readonly blockSize: number,
    readonly logicalSectorSize: number,
    readonly physicalSectorSize: number,
    readonly diskId: string,
    readonly leaveBlocksAllocated: boolean,
    readonly parentLocator: ParentLocator | undefined,
    private readonly parent: VhdxFile | undefined,
    private readonly batOffset: number,
    private readonly bat: Buffer,
    fileSize: number,
    private readonly durable: boolean,
  ) {
    this.headerSlot = headerSlot;
    this.nextFree = roundUp(fileSize, MiB);
  }

  get hasParent(): boolean {
    return this.parentLocator !== undefined;
  }

  /** Creates an empty dynamic VHDX (every block not present) and opens it for writing. Refuses to overwrite a file. */
  static async create(path: string, options: VhdxCreateOptions): Promise<VhdxFile> {
    const geometry: VhdxGeometry = {
      virtualSize: options.virtualSize,
      blockSize: options.blockSize ?? 32 * MiB,
      logicalSectorSize: options.logicalSectorSize ?? 512,
      physicalSectorSize: options.physicalSectorSize ?? 4096,
    };
    checkGeometry(geometry);
    const entries = batEntryCount(geometry.virtualSize, geometry.blockSize, geometry.logicalSectorSize, false);
    const batLength = roundUp(entries * 8, MiB);
    const fh = await fs.open(path, 'wx', options.mode ?? 0o600);
    try {
      const header: VhdxHeader = {
        sequenceNumber: 1n, fileWriteGuid: newGuid(), dataWriteGuid: newGuid(), logGuid: ZERO_GUID,
        logVersion: 0, version: 1, logLength: LOG_LENGTH, logOffset: LOG_OFFSET,
      };
      const regions = encodeRegionTable([
        { guid: BAT_REGION, fileOffset: BAT_OFFSET, length: batLength, required: true },
        { guid: METADATA_REGION, fileOffset: METADATA_OFFSET, length: METADATA_LENGTH, required: true },
      ]);
      await fh.write(encodeFileIdentifier(options.creator ?? 'OpenCDP'), 0, 64 * KiB, 0);
      await fh.write(encodeHeader(header), 0, HEADER_SIZE, HEADER1_OFFSET);
      await fh.write(encodeHeader({ ...header, sequenceNumber: 2n }), 0, HEADER_SIZE, HEADER2_OFFSET);
      await fh.write(regions, 0, regions.length, REGION1_OFFSET);
      await fh.write(regions, 0, regions.length, REGION2_OFFSET);
      await fh.write(encodeMetadata(geometry, options.diskId ?? newGuid()), 0, undefined, METADATA_OFFSET);
      await fh.truncate(BAT_OFFSET + batLength);
      await fh.sync();
    } catch (error) {
      await fh.close().catch(() => undefined);
      await fs.rm(path, { force: true });
      throw error;
    }
    await fh.close();
    return VhdxFile.open(path, { writable: true });
  }

  static async open(path: string, options: VhdxOpenOptions = {}): Promise<VhdxFile> {
    const writable = options.writable ?? false;
    const fh = await fs.open(path, writable ? 'r+' : 'r');
    let parent: VhdxFile | undefined;
    try {
      const size = (await fh.stat()).size;
      const raw = async (at: number, length: number): Promise<Buffer> => {
        const b = Buffer.alloc(length);
        const { bytesRead } = await fh.read(b, 0, length, at);
        if (bytesRead < length) throw new VhdxFormatError(path, 'file', `ends at ${size} bytes, before the structure at ${at}..${at + length}`, at);
        return b;
      };
      const id = await raw(0, 8);
      if (id.toString('latin1') !== 'vhdxfile') throw new VhdxFormatError(path, 'file identifier', `signature is ${JSON.stringify(id.toString('latin1'))}, not "vhdxfile"`, 0);
      const h1 = decodeHeader(await raw(HEADER1_OFFSET, HEADER_SIZE));
      const h2 = decodeHeader(await raw(HEADER2_OFFSET, HEADER_SIZE));
      if (!h1 && !h2) throw new VhdxFormatError(path, 'header', 'neither header has a valid signature and checksum', HEADER1_OFFSET);
      const [header, slot] = !h2 || (h1 && h1.sequenceNumber > h2.sequenceNumber) ? [h1!, 1 as const] : [h2, 2 as const];
      if (header.version !== 1) throw new VhdxFormatError(path, 'header', `version ${header.version} (only version 1 exists)`);
      if (header.logVersion !== 0) throw new VhdxFormatError(path, 'header', `log version ${header.logVersion} (only version 0 exists)`);
      if (header.logOffset % MiB !== 0 || header.logLength % MiB !== 0 || header.logOffset + header.logLength > size) {
        throw new VhdxFormatError(path, 'header', `log at ${header.logOffset} of ${header.logLength} bytes is not 1 MiB aligned or lies outside the file`);
      }
      const overlay = new Map<number, Buffer>();
      let effectiveSize = size;
      let activeHeader = header;
      let activeSlot: 1 | 2 = slot;
      if (header.logGuid !== ZERO_GUID) {
        const replay = replayLog(path, await raw(header.logOffset, header.logLength), header.logGuid);
        effectiveSize = Math.max(size, replay.lastFileOffset);
        if (writable) {
          for (const w of replay.writes) await fh.write(w.data, 0, w.data.length, w.fileOffset);
          if (replay.lastFileOffset > size) await fh.truncate(replay.lastFileOffset);
          await fh.sync();
          activeHeader = { ...header, logGuid: ZERO_GUID, sequenceNumber: header.sequenceNumber + 1n };
          activeSlot = slot === 1 ? 2 : 1;
          await fh.write(encodeHeader(activeHeader), 0, HEADER_SIZE, activeSlot === 1 ? HEADER1_OFFSET : HEADER2_OFFSET);
          await fh.sync();
        } else {
          for (const w of replay.writes) for (let s = 0; s < w.data.length; s += SECTOR) overlay.set(w.fileOffset + s, w.data.subarray(s, s + SECTOR));
        }
      }
      // From here on, structures are read through the replayed log.
      const read = async (at: number, length: number): Promise<Buffer> => {
        if (at + length > effectiveSize) throw new VhdxFormatError(path, 'file', `ends at ${effectiveSize} bytes, before the structure at ${at}..${at + length}`, at);
        const b = Buffer.alloc(length);
        if (at < size) await fh.read(b, 0, Math.min(length, size - at), at);
        applyOverlay(overlay, b, at);
        return b;
      };
      const r1 = decodeRegionTable(await read(REGION1_OFFSET, REGION_TABLE_SIZE));
      const regions = r1 ?? decodeRegionTable(await read(REGION2_OFFSET, REGION_TABLE_SIZE));
      if (!regions) throw new VhdxFormatError(path, 'region table', 'neither region table has a valid signature and checksum', REGION1_OFFSET);
      for (const r of regions) {
        if (r.guid !== BAT_REGION && r.guid !== METADATA_REGION && r.required) throw new VhdxUnsupportedError(path, `a required region ${r.guid} this implementation does not know`, 'the file was written by a newer VHDX implementation');
        if (r.fileOffset % MiB !== 0 || r.length % MiB !== 0 || r.length === 0) throw new VhdxFormatError(path, 'region table', `region ${r.guid} at ${r.fileOffset} of ${r.length} bytes is not 1 MiB aligned`);
      }
      const batRegion = regions.find((r) => r.guid === BAT_REGION);
      const metaRegion = regions.find((r) => r.guid === METADATA_REGION);
      if (!batRegion || !metaRegion) throw new VhdxFormatError(path, 'region table', `the ${batRegion ? 'metadata' : 'BAT'} region is missing`, REGION1_OFFSET);
      const metaTableBuf = await read(metaRegion.fileOffset, METADATA_TABLE_SIZE);
      const metaTable = decodeMetadataTable(metaTableBuf);
      if (!metaTable) throw new VhdxFormatError(path, 'metadata table', 'signature is not "metadata"', metaRegion.fileOffset);
      const item = async (guid: string, length?: number): Promise<Buffer | undefined> => {
        const e = metaTable.find((m: MetadataEntry) => m.itemId === guid);
        if (!e) return undefined;
        if (e.offset < METADATA_TABLE_SIZE || e.offset + e.length > metaRegion.length || (length !== undefined && e.length !== length)) {
          throw new VhdxFormatError(path, 'metadata item', `item ${guid} at ${e.offset} of ${e.length} bytes lies outside the metadata region or has the wrong size`, metaRegion.fileOffset + e.offset);
        }
        return read(metaRegion.fileOffset + e.offset, e.length);
      };
      const known = [META_FILE_PARAMETERS, META_VIRTUAL_DISK_SIZE, META_VIRTUAL_DISK_ID, META_LOGICAL_SECTOR_SIZE, META_PHYSICAL_SECTOR_SIZE, META_PARENT_LOCATOR];
      for (const m of metaTable) if (m.isRequired && !known.includes(m.itemId)) throw new VhdxUnsupportedError(path, `a required metadata item ${m.itemId} this implementation does not know`);
      const require = async (guid: string, name: string, length: number): Promise<Buffer> => {
        const b = await item(guid, length);
        if (!b) throw new VhdxFormatError(path, 'metadata', `the required item ${name} is missing`, metaRegion.fileOffset);
        return b;
      };
      const params = await require(META_FILE_PARAMETERS, 'File Parameters', 8);
      const geometry: VhdxGeometry = {
        blockSize: params.readUInt32LE(0),
        virtualSize: Number((await require(META_VIRTUAL_DISK_SIZE, 'Virtual Disk Size', 8)).readBigUInt64LE(0)),
        logicalSectorSize: (await require(META_LOGICAL_SECTOR_SIZE, 'Logical Sector Size', 4)).readUInt32LE(0),
        physicalSectorSize: (await require(META_PHYSICAL_SECTOR_SIZE, 'Physical Sector Size', 4)).readUInt32LE(0),
      };
      try {
        checkGeometry(geometry);
      } catch (error) {
        throw new VhdxFormatError(path, 'metadata', (error as Error).message, metaRegion.fileOffset);
      }
      const diskId = readGuid(await require(META_VIRTUAL_DISK_ID, 'Virtual Disk ID', 16), 0);
      const hasParent = (params.readUInt32LE(4) & 2) !== 0;
      let locator: ParentLocator | undefined;
      if (hasParent) {
        const loc = await item(META_PARENT_LOCATOR);
        if (!loc) throw new VhdxFormatError(path, 'metadata', 'a differencing disk without a parent locator', metaRegion.fileOffset);
        locator = decodeParentLocator(loc, path);
        if (!options.openParent) throw new VhdxUnsupportedError(path, `a differencing disk (parent ${locator.entries.relative_path ?? locator.entries.absolute_win32_path ?? '?'})`, 'open it with openParent, or read its parent chain on the host');
        parent = await options.openParent(locator, path);
        if (parent.virtualSize !== geometry.virtualSize || parent.logicalSectorSize !== geometry.logicalSectorSize) {
          throw new VhdxFormatError(path, 'parent', `parent ${parent.path} has another size or sector size`);
        }
        const linkage = locator.entries.parent_linkage?.replace(/[{}]/g, '').toUpperCase();
        if (linkage && linkage !== parent.header.dataWriteGuid) {
          throw new VhdxFormatError(path, 'parent', `parent ${parent.path} changed since the child was made (parent_linkage ${linkage}, its DataWriteGuid ${parent.header.dataWriteGuid})`);
        }
      }
      const entries = batEntryCount(geometry.virtualSize, geometry.blockSize, geometry.logicalSectorSize, hasParent);
      if (entries * 8 > batRegion.length) throw new VhdxFormatError(path, 'BAT', `${entries} entries do not fit in the ${batRegion.length}-byte BAT region`, batRegion.fileOffset);
      const bat = await read(batRegion.fileOffset, roundUp(entries * 8, SECTOR));
      let end = Math.max(effectiveSize, batRegion.fileOffset + batRegion.length, metaRegion.fileOffset + metaRegion.length);
      for (let i = 0; i < entries; i++) {
        const e = readBatEntry(bat, i);
        if (e.state === BlockState.FullyPresent || e.state === BlockState.PartiallyPresent) {
          if (e.fileOffset < MiB || e.fileOffset % MiB !== 0) throw new VhdxFormatError(path, 'BAT', `entry ${i} points at offset ${e.fileOffset}`, batRegion.fileOffset + i * 8);
          end = Math.max(end, e.fileOffset + geometry.blockSize);
        } else if (e.state !== BlockState.NotPresent && e.state !== BlockState.Undefined && e.state !== BlockState.Zero && e.state !== BlockState.Unmapped) {
          throw new VhdxFormatError(path, 'BAT', `entry ${i} has the undefined state ${e.state}`, batRegion.fileOffset + i * 8);
        }
      }
      const file = new VhdxFile(path, fh, writable, activeHeader, activeSlot, geometry.virtualSize, geometry.blockSize, geometry.logicalSectorSize,
        geometry.physicalSectorSize, diskId, (params.readUInt32LE(4) & 1) !== 0, locator, parent, batRegion.fileOffset, bat, end, options.durable ?? true);
      for (const [k, v] of overlay) file.overlay.set(k, v);
      if (writable) await file.beginWriteSession();
      return file;
    } catch (error) {
      await fh.close().catch(() => undefined);
      await parent?.close().catch(() => undefined);
      throw error;
    }
  }

  /** Bytes of `[offset, offset + length)` of the virtual disk; unallocated space reads as zeros (or the parent's data). */
  async read(offset: number, length: number): Promise<Buffer> {
    this.checkOpen();
    this.checkRange(offset, length);
    const out = Buffer.alloc(length);
    let at = offset;
    while (at < offset + length) {
      const block = Math.floor(at / this.blockSize);
      const inBlock = at - block * this.blockSize;
      const n = Math.min(this.blockSize - inBlock, offset + length - at);
      const e = readBatEntry(this.bat, payloadBatIndex(block, this.ratio));
      const dst = out.subarray(at - offset, at - offset + n);
      if (e.state === BlockState.FullyPresent) {
        await this.readFile(dst, e.fileOffset + inBlock);
      } else if (e.state === BlockState.PartiallyPresent) {
        await this.readPartial(dst, block, e.fileOffset, inBlock);
      } else if (this.parent && (e.state === BlockState.NotPresent || e.state === BlockState.Undefined)) {
        (await this.parent.read(at, n)).copy(dst);
      }
      at += n;
    }
    return out;
  }

  /** Payload blocks holding data in this file (or its parents), merged, clipped to the disk: the only places that may be non-zero. */
  allocatedRanges(): VhdxRange[] {
    const out: VhdxRange[] = [];
    const blocks = Math.ceil(this.virtualSize / this.blockSize);
    for (let b = 0; b < blocks; b++) {
      if (!this.blockMayHoldData(b)) continue;
      const offset = b * this.blockSize;
      const length = Math.min(this.blockSize, this.virtualSize - offset);
      const last = out.at(-1);
      if (last && last.offset + last.length === offset) last.length += length;
      else out.push({ offset, length });
    }
    return out;
  }

  /** Writes `data` at `offset` (logical-sector aligned), allocating blocks as needed. */
  async write(offset: number, data: Buffer): Promise<void> {
    this.checkWritable();
    this.checkRange(offset, data.length);
    if (offset % this.logicalSectorSize !== 0 || data.length % this.logicalSectorSize !== 0) {
      throw new RangeError(`${this.path}: write at ${offset} of ${data.length} bytes is not aligned to the ${this.logicalSectorSize}-byte logical sector`);
    }
    let at = offset;
    while (at < offset + data.length) {
      const block = Math.floor(at / this.blockSize);
      const inBlock = at - block * this.blockSize;
      const n = Math.min(this.blockSize - inBlock, offset + data.length - at);
      const chunk = data.subarray(at - offset, at - offset + n);
      const index = payloadBatIndex(block, this.ratio);
      const e = readBatEntry(this.bat, index);
      if (e.state === BlockState.FullyPresent) {
        await this.fh.write(chunk, 0, n, e.fileOffset + inBlock);
      } else if (e.state === BlockState.PartiallyPresent || this.parent) {
        throw new VhdxUnsupportedError(this.path, 'writing into a differencing disk', 'write into a dynamic or fixed VHDX');
      } else if (!isZero(chunk) || e.state === BlockState.Undefined) {
        // A new block reads as zeros outside what is written now: the file grows by a hole first.
        await this.allocate(block, [{ inBlock, data: chunk }]);
      }
      at += n;
    }
  }

  /**
   * Writes a whole payload block that is not allocated yet, skipping its zero 4 KiB runs (they stay holes in
   * the file): the streaming writer's fast path. An all-zero block is not allocated at all.
   */
  async writeNewBlock(block: number, data: Buffer): Promise<boolean> {
    this.checkWritable();
    const index = payloadBatIndex(block, this.ratio);
    if (readBatEntry(this.bat, index).state === BlockState.FullyPresent) throw new RangeError(`${this.path}: block ${block} is already allocated`);
    const runs: { inBlock: number; data: Buffer }[] = [];
    const add = (at: number, end: number): void => {
      const last = runs.at(-1);
      if (last && last.inBlock + last.data.length === at) last.data = data.subarray(last.inBlock, end);
      else runs.push({ inBlock: at, data: data.subarray(at, end) });
    };
    // Whole zero MiBs are skipped with one comparison; only the others are looked at sector by sector.
    for (let mib = 0; mib < data.length; mib += MiB) {
      const end = Math.min(data.length, mib + MiB);
      if (data.compare(ZERO_MIB, 0, end - mib, mib, end) === 0) continue;
      for (let at = mib; at < end; at += SECTOR) {
        const stop = Math.min(end, at + SECTOR);
        if (data.compare(ZERO_SECTOR, 0, stop - at, at, stop) !== 0) add(at, stop);
      }
    }
    if (runs.length === 0) return false;
    await this.allocate(block, runs);
    return true;
  }

  /** Writes the BAT entries changed since the last flush and makes everything durable. */
  async flush(): Promise<void> {
    if (!this.writable || this.closed) return;
    if (this.durable) await this.fh.sync();
    if (this.batDirty.size === 0) return;
    const sectors = new Set([...this.batDirty].map((i) => Math.floor((i * 8) / SECTOR)));
    for (const s of [...sectors].sort((a, b) => a - b)) await this.fh.write(this.bat, s * SECTOR, Math.min(SECTOR, this.bat.length - s * SECTOR), this.batOffset + s * SECTOR);
    this.batDirty.clear();
    if (this.durable) await this.fh.sync();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } finally {
      this.closed = true;
      await this.fh.close();
      await this.parent?.close();
    }
  }

  // ---- internals ---------------------------------------------------------------------------------

  private get ratio(): number {
    return chunkRatio(this.blockSize, this.logicalSectorSize);
  }

  private blockMayHoldData(block: number): boolean {
    const s = readBatEntry(this.bat, payloadBatIndex(block, this.ratio)).state;
    if (s === BlockState.FullyPresent || s === BlockState.PartiallyPresent) return true;
    return this.parent !== undefined && (s === BlockState.NotPresent || s === BlockState.Undefined) && this.parent.blockMayHoldData(block);
  }

  private async allocate(block: number, runs: { inBlock: number; data: Buffer }[]): Promise<void> {
    const fileOffset = this.nextFree;
    this.nextFree += this.blockSize;
    await this.fh.truncate(fileOffset + this.blockSize);
    for (const r of runs) await this.fh.write(r.data, 0, r.data.length, fileOffset + r.inBlock);
    const index = payloadBatIndex(block, this.ratio);
    writeBatEntry(this.bat, index, BlockState.FullyPresent, fileOffset);
    this.batDirty.add(index);
  }

  private async readPartial(dst: Buffer, block: number, fileOffset: number, inBlock: number): Promise<void> {
    // A sector bitmap block covers one chunk: bit n = logical sector n of the chunk is in this file.
    const ratio = this.ratio;
    const chunk = Math.floor(block / ratio);
    const bitmapEntry = readBatEntry(this.bat, chunk * (ratio + 1) + ratio);
    if (bitmapEntry.state !== BlockState.FullyPresent) throw new VhdxFormatError(this.path, 'BAT', `block ${block} is partially present but its sector bitmap is not`);
    const sectorsPerBlock = this.blockSize / this.logicalSectorSize;
    const firstSector = (block % ratio) * sectorsPerBlock + inBlock / this.logicalSectorSize;
    const count = dst.length / this.logicalSectorSize;
    const bits = Buffer.alloc(Math.ceil((count + (firstSector % 8)) / 8));
    await this.readFile(bits, bitmapEntry.fileOffset + Math.floor(firstSector / 8));
    const virtualBase = block * this.blockSize + inBlock;
    for (let s = 0; s < count; s++) {
      const bit = (firstSector % 8) + s;
      const here = (bits[bit >> 3] >> (bit & 7)) & 1;
      const part = dst.subarray(s * this.logicalSectorSize, (s + 1) * this.logicalSectorSize);
      if (here) await this.readFile(part, fileOffset + inBlock + s * this.logicalSectorSize);
      else if (this.parent) (await this.parent.read(virtualBase + s * this.logicalSectorSize, this.logicalSectorSize)).copy(part);
    }
  }

  private async readFile(dst: Buffer, at: number): Promise<void> {
    const { bytesRead } = await this.fh.read(dst, 0, dst.length, at);
    if (bytesRead < dst.length) dst.fill(0, bytesRead); // past the end of a file that was extended by a replayed log
    applyOverlay(this.overlay, dst, at);
  }

  /** MS-VHDX 2.2.2.1: a writer changes FileWriteGuid (and DataWriteGuid) before its first write, in the other header slot. */
  private async beginWriteSession(): Promise<void> {
    this.header = { ...this.header, sequenceNumber: this.header.sequenceNumber + 1n, fileWriteGuid: newGuid(), dataWriteGuid: newGuid() };
    this.headerSlot = this.headerSlot === 1 ? 2 : 1;
    await this.fh.write(encodeHeader(this.header), 0, HEADER_SIZE, this.headerSlot === 1 ? HEADER1_OFFSET : HEADER2_OFFSET);
    if (this.durable) await this.fh.sync();
  }

  private checkOpen(): void {
    if (this.closed) throw new RangeError(`${this.path} is closed`);
  }

  private checkWritable(): void {
    this.checkOpen();
    if (!this.writable) throw new RangeError(`${this.path} is open read-only`);
  }

  private checkRange(offset: number, length: number): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.virtualSize) {
      throw new RangeError(`${this.path}: range [${offset}, ${offset + length}) is outside the ${this.virtualSize}-byte disk`);
    }
  }
}

function applyOverlay(overlay: Map<number, Buffer>, b: Buffer, at: number): void {
  if (overlay.size === 0) return;
  for (let s = Math.floor(at / SECTOR) * SECTOR; s < at + b.length; s += SECTOR) {
    const sector = overlay.get(s);
    if (!sector) continue;
    const from = Math.max(s, at);
    const to = Math.min(s + SECTOR, at + b.length);
    sector.copy(b, from - at, from - s, to - s);
  }
}

/** The metadata region of a new disk: the table, then the five required items at 64 KiB. */
function encodeMetadata(g: VhdxGeometry, diskId: string): Buffer {
  const items = Buffer.alloc(SECTOR);
  items.writeUInt32LE(g.blockSize, 0); // File Parameters: block size, flags 0 (no parent, blocks not left allocated)
  items.writeBigUInt64LE(BigInt(g.virtualSize), 8);
  writeGuid(items, 16, diskId);
  items.writeUInt32LE(g.logicalSectorSize, 32);
  items.writeUInt32LE(g.physicalSectorSize, 36);
  const at = METADATA_TABLE_SIZE;
  const table = encodeMetadataTable([
    { itemId: META_FILE_PARAMETERS, offset: at, length: 8, isUser: false, isVirtualDisk: false, isRequired: true },
    { itemId: META_VIRTUAL_DISK_SIZE, offset: at + 8, length: 8, isUser: false, isVirtualDisk: true, isRequired: true },
    { itemId: META_VIRTUAL_DISK_ID, offset: at + 16, length: 16, isUser: false, isVirtualDisk: true, isRequired: true },
    { itemId: META_LOGICAL_SECTOR_SIZE, offset: at + 32, length: 4, isUser: false, isVirtualDisk: true, isRequired: true },
    { itemId: META_PHYSICAL_SECTOR_SIZE, offset: at + 36, length: 4, isUser: false, isVirtualDisk: true, isRequired: true },
  ]);
  return Buffer.concat([table, items]);
}
