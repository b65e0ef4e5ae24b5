// The on-disk structures of MS-VHDX (version 1): the file identifier, the two headers, the two region
// tables, the metadata table and its items, and BAT entries — encoded and decoded here only, so the
// reader, the in-place writer and the streaming writer agree byte for byte. Typed errors for bad files.
import { randomBytes } from 'node:crypto';
import { OpenCdpError } from '@opencdp/core';
import { structureChecksum } from './crc32c.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;

export const FILE_ID_SIGNATURE = 'vhdxfile';
export const HEADER_SIGNATURE = 0x64616568; // 'head'
export const REGION_SIGNATURE = 0x69676572; // 'regi'
export const METADATA_SIGNATURE = 'metadata';

export const HEADER1_OFFSET = 64 * KiB;
export const HEADER2_OFFSET = 128 * KiB;
export const REGION1_OFFSET = 192 * KiB;
export const REGION2_OFFSET = 256 * KiB;
export const HEADER_SIZE = 4 * KiB;
export const REGION_TABLE_SIZE = 64 * KiB;
export const METADATA_TABLE_SIZE = 64 * KiB;

/** Region GUIDs (MS-VHDX 2.2.3.1). */
export const BAT_REGION = '2DC27766-F623-4200-9D64-115E9BFD4A08';
export const METADATA_REGION = '8B7CA206-4790-4B9A-B8FE-575F050F886E';

/** Metadata item GUIDs (MS-VHDX 2.6.2). */
export const META_FILE_PARAMETERS = 'CAA16737-FA36-4D43-B3B6-33F0AA44E76B';
export const META_VIRTUAL_DISK_SIZE = '2FA54224-CD1B-4876-B211-5DBED83BF4B8';
export const META_VIRTUAL_DISK_ID = 'BECA12AB-B2E6-4523-93EF-C309E000C746';
export const META_LOGICAL_SECTOR_SIZE = '8141BF1D-A96F-4709-BA47-F233A8FAAB5F';
export const META_PHYSICAL_SECTOR_SIZE = 'CDA348C7-445D-4471-9CC9-E9885251C556';
export const META_PARENT_LOCATOR = 'A8D35F2D-B30B-454D-ABF7-D3D84834AB0C';
/** The parent locator type of a VHDX parent (MS-VHDX 2.6.2.6). */
export const PARENT_LOCATOR_VHDX = 'B04AEFB7-D19E-4A81-B789-25B8E9445913';

/** BAT payload block states (MS-VHDX 2.5.1.1). */
export const enum BlockState {
  NotPresent = 0,
  Undefined = 1,
  Zero = 2,
  Unmapped = 3,
  FullyPresent = 6,
  PartiallyPresent = 7,
}

/** A VHDX file that breaks the format: which structure, where, and why. Nothing was changed. */
export class VhdxFormatError extends OpenCdpError {
  constructor(readonly file: string, readonly structure: string, reason: string, readonly offset?: number) {
    super('VHDX_FORMAT', `${file}: bad VHDX ${structure}${offset !== undefined ? ` at offset ${offset}` : ''}: ${reason}`,
      'the file is not a VHDX or is damaged; check it with `qemu-img check` (or Test-VHD on Hyper-V)');
  }
}

/** The VHDX log cannot be replayed (torn or inconsistent entries): the metadata may be half-updated. */
export class VhdxLogError extends OpenCdpError {
  constructor(readonly file: string, reason: string, readonly offset?: number) {
    super('VHDX_LOG', `${file}: the VHDX log cannot be replayed: ${reason}`,
      'open the disk once on Hyper-V (or `qemu-img check -r all`) to replay or discard the log');
  }
}

/** A VHDX feature this implementation does not handle (e.g. a differencing disk without its parent). */
export class VhdxUnsupportedError extends OpenCdpError {
  constructor(readonly file: string, what: string, hint?: string) {
    super('VHDX_UNSUPPORTED', `${file}: ${what}`, hint);
  }
}

// ---- GUIDs ---------------------------------------------------------------------------------------

/** Writes a GUID in the Windows mixed-endian layout (Data1–3 little-endian, Data4 as bytes). */
export function writeGuid(buf: Buffer, at: number, guid: string): void {
  const hex = guid.replace(/[{}-]/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new TypeError(`not a GUID: ${guid}`);
  buf.writeUInt32LE(parseInt(hex.slice(0, 8), 16), at);
  buf.writeUInt16LE(parseInt(hex.slice(8, 12), 16), at + 4);
  buf.writeUInt16LE(parseInt(hex.slice(12, 16), 16), at + 6);
  Buffer.from(hex.slice(16), 'hex').copy(buf, at + 8);
}

export function readGuid(buf: Buffer, at: number): string {
  const d1 = buf.readUInt32LE(at).toString(16).padStart(8, '0');
  const d2 = buf.readUInt16LE(at + 4).toString(16).padStart(4, '0');
  const d3 = buf.readUInt16LE(at + 6).toString(16).padStart(4, '0');
  const d4 = buf.subarray(at + 8, at + 16).toString('hex');
  return `${d1}-${d2}-${d3}-${d4.slice(0, 4)}-${d4.slice(4)}`.toUpperCase();
}

export const ZERO_GUID = '00000000-0000-0000-0000-000000000000';

/** A random (version 4) GUID. */
export function newGuid(): string {
  const b = randomBytes(16);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`.toUpperCase();
}

// ---- file identifier and headers -----------------------------------------------------------------

export function encodeFileIdentifier(creator: string): Buffer {
  const buf = Buffer.alloc(64 * KiB);
  buf.write(FILE_ID_SIGNATURE, 0, 'latin1');
  buf.write(creator.slice(0, 255), 8, 'utf16le');
  return buf;
}

export interface VhdxHeader {
  sequenceNumber: bigint;
  fileWriteGuid: string;
  dataWriteGuid: string;
  /** Non-zero: the log holds entries that must be replayed before the file is used. */
  logGuid: string;
  logVersion: number;
  version: number;
  logLength: number;
  logOffset: number;
}

export function encodeHeader(h: VhdxHeader): Buffer {
  const buf = Buffer.alloc(HEADER_SIZE);
  buf.writeUInt32LE(HEADER_SIGNATURE, 0);
  buf.writeBigUInt64LE(h.sequenceNumber, 8);
  writeGuid(buf, 16, h.fileWriteGuid);
  writeGuid(buf, 32, h.dataWriteGuid);
  writeGuid(buf, 48, h.logGuid);
  buf.writeUInt16LE(h.logVersion, 64);
  buf.writeUInt16LE(h.version, 66);
  buf.writeUInt32LE(h.logLength, 68);
  buf.writeBigUInt64LE(BigInt(h.logOffset), 72);
  buf.writeUInt32LE(structureChecksum(buf, 4), 4);
  return buf;
}

/** Decodes a header slot; undefined when the slot holds no valid header (wrong signature or checksum). */
export function decodeHeader(buf: Buffer): VhdxHeader | undefined {
  if (buf.length < HEADER_SIZE || buf.readUInt32LE(0) !== HEADER_SIGNATURE) return undefined;
  if (structureChecksum(buf.subarray(0, HEADER_SIZE), 4) !== buf.readUInt32LE(4)) return undefined;
  return {
    sequenceNumber: buf.readBigUInt64LE(8),
    fileWriteGuid: readGuid(buf, 16),
    dataWriteGuid: readGuid(buf, 32),
    logGuid: readGuid(buf, 48),
    logVersion: buf.readUInt16LE(64),
    version: buf.readUInt16LE(66),
    logLength: buf.readUInt32LE(68),
    logOffset: Number(buf.readBigUInt64LE(72)),
  };
}

// ---- region table --------------------------------------------------------------------------------

export interface RegionEntry {
  guid: string;
  fileOffset: number;
  length: number;
  required: boolean;
}

export function encodeRegionTable(entries: readonly RegionEntry[]): Buffer {
  const buf = Buffer.alloc(REGION_TABLE_SIZE);
  buf.writeUInt32LE(REGION_SIGNATURE, 0);
  buf.writeUInt32LE(entries.length, 8);
  entries.forEach((e, i) => {
    const at = 16 + i * 32;
    writeGuid(buf, at, e.guid);
    buf.writeBigUInt64LE(BigInt(e.fileOffset), at + 16);
    buf.writeUInt32LE(e.length, at + 24);
    buf.writeUInt32LE(e.required ? 1 : 0, at + 28);
  });
  buf.writeUInt32LE(structureChecksum(buf, 4), 4);
  return buf;
}

export function decodeRegionTable(buf: Buffer): RegionEntry[] | undefined {
  if (buf.length < REGION_TABLE_SIZE || buf.readUInt32LE(0) !== REGION_SIGNATURE) return undefined;
  if (structureChecksum(buf.subarray(0, REGION_TABLE_SIZE), 4) !== buf.readUInt32LE(4)) return undefined;
  const count = buf.readUInt32LE(8);
  if (count > 2047) return undefined;
  const out: RegionEntry[] = [];
  for (let i = 0; i < count; i++) {
    const at = 16 + i * 32;
    out.push({ guid: readGuid(buf, at), fileOffset: Number(buf.readBigUInt64LE(at + 16)), length: buf.readUInt32LE(at + 24), required: (buf.readUInt32LE(at + 28) & 1) === 1 });
  }
  return out;
}

// ---- metadata ------------------------------------------------------------------------------------

export interface MetadataEntry {
  itemId: string;
  /** Offset of the item from the start of the metadata region (≥ 64 KiB). */
  offset: number;
  length: number;
  isUser: boolean;
  isVirtualDisk: boolean;
  isRequired: boolean;
}

export function encodeMetadataTable(entries: readonly MetadataEntry[]): Buffer {
  const buf = Buffer.alloc(METADATA_TABLE_SIZE);
  buf.write(METADATA_SIGNATURE, 0, 'latin1');
  buf.writeUInt16LE(entries.length, 10);
  entries.forEach((e, i) => {
    const at = 32 + i * 32;
    writeGuid(buf, at, e.itemId);
    buf.writeUInt32LE(e.offset, at + 16);
    buf.writeUInt32LE(e.length, at + 20);
    buf.writeUInt32LE((e.isUser ? 1 : 0) | (e.isVirtualDisk ? 2 : 0) | (e.isRequired ? 4 : 0), at + 24);
  });
  return buf;
}

export function decodeMetadataTable(buf: Buffer): MetadataEntry[] | undefined {
  if (buf.subarray(0, 8).toString('latin1') !== METADATA_SIGNATURE) return undefined;
  const count = buf.readUInt16LE(10);
  if (count > 2047) return undefined;
  const out: MetadataEntry[] = [];
  for (let i = 0; i < count; i++) {
    const at = 32 + i * 32;
    const flags = buf.readUInt32LE(at + 24);
    out.push({ itemId: readGuid(buf, at), offset: buf.readUInt32LE(at + 16), length: buf.readUInt32LE(at + 20), isUser: (flags & 1) !== 0, isVirtualDisk: (flags & 2) !== 0, isRequired: (flags & 4) !== 0 });
  }
  return out;
}

/** Key/value pairs of a parent locator (MS-VHDX 2.6.2.6): `parent_linkage`, `relative_path`, `absolute_win32_path`, … */
export interface ParentLocator {
  locatorType: string;
  entries: Record<string, string>;
}

export function encodeParentLocator(locator: ParentLocator): Buffer {
  const pairs = Object.entries(locator.entries).map(([k, v]) => [Buffer.from(k, 'utf16le'), Buffer.from(v, 'utf16le')] as const);
  const headerLength = 20 + pairs.length * 12;
  const total = headerLength + pairs.reduce((n, [k, v]) => n + k.length + v.length, 0);
  const buf = Buffer.alloc(total);
  writeGuid(buf, 0, locator.locatorType);
  buf.writeUInt16LE(pairs.length, 18);
  let at = headerLength;
  pairs.forEach(([k, v], i) => {
    const e = 20 + i * 12;
    buf.writeUInt32LE(at, e);
    k.copy(buf, at);
    at += k.length;
    buf.writeUInt32LE(at, e + 4);
    v.copy(buf, at);
    at += v.length;
    buf.writeUInt16LE(k.length, e + 8);
    buf.writeUInt16LE(v.length, e + 10);
  });
  return buf;
}

export function decodeParentLocator(buf: Buffer, file: string): ParentLocator {
  if (buf.length < 20) throw new VhdxFormatError(file, 'parent locator', `${buf.length} bytes is shorter than its 20-byte header`);
  const count = buf.readUInt16LE(18);
  if (20 + count * 12 > buf.length) throw new VhdxFormatError(file, 'parent locator', `${count} entries do not fit in ${buf.length} bytes`);
  const entries: Record<string, string> = {};
  for (let i = 0; i < count; i++) {
    const e = 20 + i * 12;
    const ko = buf.readUInt32LE(e);
    const vo = buf.readUInt32LE(e + 4);
    const kl = buf.readUInt16LE(e + 8);
    const vl = buf.readUInt16LE(e + 10);
    if (ko + kl > buf.length || vo + vl > buf.length || kl === 0 || kl % 2 || vl % 2) {
      throw new VhdxFormatError(file, 'parent locator', `entry ${i} points outside the locator or has an odd length`);
    }
    const key = buf.subarray(ko, ko + kl).toString('utf16le');
    if (key in entries) throw new VhdxFormatError(file, 'parent locator', `key '${key}' appears twice`);
    entries[key] = buf.subarray(vo, vo + vl).toString('utf16le');
  }
  return { locatorType: readGuid(buf, 0), entries };
}

// ---- BAT -----------------------------------------------------------------------------------------

/** The chunk ratio: payload blocks per sector bitmap block (MS-VHDX 2.5). */
export function chunkRatio(blockSize: number, logicalSectorSize: number): number {
  return (2 ** 23 * logicalSectorSize) / blockSize;
}

/** BAT entries of a disk: payload entries interleaved with one sector bitmap entry per chunk. */
export function batEntryCount(virtualSize: number, blockSize: number, logicalSectorSize: number, hasParent: boolean): number {
  const ratio = chunkRatio(blockSize, logicalSectorSize);
  const dataBlocks = Math.ceil(virtualSize / blockSize);
  if (hasParent) return Math.ceil(dataBlocks / ratio) * (ratio + 1);
  return dataBlocks + Math.floor((dataBlocks - 1) / ratio);
}

/** The BAT index of payload block `block`. */
export function payloadBatIndex(block: number, ratio: number): number {
  return block + Math.floor(block / ratio);
}

export function readBatEntry(bat: Buffer, index: number): { state: number; fileOffset: number } {
  const lo = bat.readUInt32LE(index * 8);
  const hi = bat.readUInt32LE(index * 8 + 4);
  // FileOffsetMB is bits 20–63: 12 bits from the low word, 32 from the high word.
  const offsetMb = hi * 4096 + (lo >>> 20);
  return { state: lo & 7, fileOffset: offsetMb * MiB };
}

export function writeBatEntry(bat: Buffer, index: number, state: number, fileOffset: number): void {
  const mb = fileOffset / MiB;
  bat.writeUInt32LE(((state & 7) | ((mb % 4096) << 20)) >>> 0, index * 8);
  bat.writeUInt32LE(Math.floor(mb / 4096), index * 8 + 4);
}

export function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/** Checks the geometry every VHDX must have (MS-VHDX 2.6.2). Throws a TypeError naming the field. */
export function checkGeometry(g: { virtualSize: number; blockSize: number; logicalSectorSize: number; physicalSectorSize: number }): void {
  const { virtualSize, blockSize, logicalSectorSize, physicalSectorSize } = g;
  if (!Number.isSafeInteger(blockSize) || blockSize < MiB || blockSize > 256 * MiB || (blockSize & (blockSize - 1)) !== 0) {
    throw new TypeError(`blockSize ${blockSize} must be a power of two from 1 MiB to 256 MiB`);
  }
  if (logicalSectorSize !== 512 && logicalSectorSize !== 4096) throw new TypeError(`logicalSectorSize ${logicalSectorSize} must be 512 or 4096`);
  if (physicalSectorSize !== 512 && physicalSectorSize !== 4096) throw new TypeError(`physicalSectorSize ${physicalSectorSize} must be 512 or 4096`);
  if (!Number.isSafeInteger(virtualSize) || virtualSize <= 0 || virtualSize % logicalSectorSize !== 0 || virtualSize > 64 * 1024 ** 4) {
    throw new TypeError(`virtualSize ${virtualSize} must be a positive multiple of the ${logicalSectorSize}-byte logical sector, at most 64 TiB`);
  }
}
