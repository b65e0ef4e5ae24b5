// The VHDX log (MS-VHDX 2.3): a circular buffer of entries whose descriptors say which 4 KiB sectors of
// the file (metadata, BAT) to overwrite or zero. A file whose header names a log GUID was not closed
// cleanly; its active sequence must be replayed before the metadata can be trusted. This module finds
// the active sequence and returns the sector writes it holds; the caller applies them (to the file when
// writable, to an in-memory overlay when reading a read-only checkpoint disk).
import { structureChecksum } from './crc32c.js';
import { KiB, readGuid, VhdxLogError, writeGuid } from './vhdx-format.js';

const ENTRY_SIGNATURE = 0x65676f6c; // 'loge'
const ZERO_SIGNATURE = 0x6f72657a; // 'zero'
const DESC_SIGNATURE = 0x63736564; // 'desc'
const DATA_SIGNATURE = 0x61746164; // 'data'
const SECTOR = 4 * KiB;

/** One replayed change: `data` (a multiple of 4 KiB) goes to `fileOffset`. */
export interface LogWrite {
  fileOffset: number;
  data: Buffer;
}

export interface LogReplay {
  writes: LogWrite[];
  /** The file must be at least this long after the replay (zero-extended). */
  lastFileOffset: number;
  /** Sequence numbers of the replayed entries, oldest first. */
  sequence: bigint[];
}

interface Entry {
  offset: number;
  length: number;
  tail: number;
  seq: bigint;
  lastFileOffset: number;
  raw: Buffer;
  descriptorCount: number;
}

/** Decodes the entry at `at` of the log, or undefined when none valid starts there. */
function entryAt(log: Buffer, at: number, logGuid: string): Entry | undefined {
  if (log.readUInt32LE(at) !== ENTRY_SIGNATURE) return undefined;
  const length = log.readUInt32LE(at + 8);
  if (length === 0 || length % SECTOR !== 0 || length > log.length) return undefined;
  // Entries wrap around the end of the circular log.
  const raw = at + length <= log.length ? log.subarray(at, at + length) : Buffer.concat([log.subarray(at), log.subarray(0, at + length - log.length)]);
  if (structureChecksum(raw, 4) !== raw.readUInt32LE(4)) return undefined;
  if (readGuid(raw, 32) !== logGuid) return undefined;
  const descriptorCount = raw.readUInt32LE(24);
  const headerSectors = Math.ceil((64 + descriptorCount * 32) / SECTOR);
  let dataDescriptors = 0;
  for (let i = 0; i < descriptorCount; i++) if (raw.readUInt32LE(64 + i * 32) === DESC_SIGNATURE) dataDescriptors++;
  if ((headerSectors + dataDescriptors) * SECTOR > length) return undefined;
  return {
    offset: at, length, tail: raw.readUInt32LE(12), seq: raw.readBigUInt64LE(16), lastFileOffset: Number(raw.readBigUInt64LE(56)), raw, descriptorCount,
  };
}

/**
 * The writes of the log's active sequence, oldest first. Throws VhdxLogError when the header names a log
 * but no complete sequence is in it, or an entry of the sequence is inconsistent.
 */
export function replayLog(file: string, log: Buffer, logGuid: string): LogReplay {
  if (log.length === 0 || log.length % SECTOR !== 0) throw new VhdxLogError(file, `the log length ${log.length} is not a multiple of 4 KiB`);
  const entries = new Map<number, Entry>();
  for (let at = 0; at < log.length; at += SECTOR) {
    const e = entryAt(log, at, logGuid);
    if (e) entries.set(at, e);
  }
  // The active sequence ends at the valid entry with the highest sequence number whose chain back to its
  // own tail is complete (each entry follows the previous one with the next sequence number).
  const candidates = [...entries.values()].sort((a, b) => (a.seq < b.seq ? 1 : a.seq > b.seq ? -1 : 0));
  for (const head of candidates) {
    const chain = chainFromTail(entries, head, log.length);
    if (chain) return { writes: chain.flatMap((e) => writesOf(file, e)), lastFileOffset: head.lastFileOffset, sequence: chain.map((e) => e.seq) };
  }
  throw new VhdxLogError(file, entries.size === 0 ? 'the header names a log, but the log holds no valid entry' : 'no complete sequence of log entries (torn writes)');
}

function chainFromTail(entries: Map<number, Entry>, head: Entry, logLength: number): Entry[] | undefined {
  const tail = entries.get(head.tail);
  if (!tail) return undefined;
  const chain: Entry[] = [tail];
  let current = tail;
  while (current !== head) {
    const next = entries.get((current.offset + current.length) % logLength);
    if (!next || next.seq !== current.seq + 1n || chain.length > entries.size) return undefined;
    chain.push(next);
    current = next;
  }
  return chain;
}

function writesOf(file: string, e: Entry): LogWrite[] {
  const writes: LogWrite[] = [];
  let dataSector = Math.ceil((64 + e.descriptorCount * 32) / SECTOR);
  for (let i = 0; i < e.descriptorCount; i++) {
    const d = 64 + i * 32;
    const sig = e.raw.readUInt32LE(d);
    const fileOffset = Number(e.raw.readBigUInt64LE(d + 16));
    if (e.raw.readBigUInt64LE(d + 24) !== e.seq) throw new VhdxLogError(file, `descriptor ${i} of entry ${e.seq} carries another sequence number`, e.offset);
    if (fileOffset % SECTOR !== 0) throw new VhdxLogError(file, `descriptor ${i} of entry ${e.seq} targets unaligned offset ${fileOffset}`, e.offset);
    if (sig === ZERO_SIGNATURE) {
      const length = Number(e.raw.readBigUInt64LE(d + 8));
      if (length % SECTOR !== 0) throw new VhdxLogError(file, `zero descriptor ${i} of entry ${e.seq} has unaligned length ${length}`, e.offset);
      writes.push({ fileOffset, data: Buffer.alloc(length) });
    } else if (sig === DESC_SIGNATURE) {
      const sector = e.raw.subarray(dataSector * SECTOR, (dataSector + 1) * SECTOR);
      dataSector++;
      const high = sector.readUInt32LE(4);
      const low = sector.readUInt32LE(SECTOR - 4);
      if (sector.readUInt32LE(0) !== DATA_SIGNATURE || ((BigInt(high) << 32n) | BigInt(low)) !== e.seq) {
        throw new VhdxLogError(file, `data sector of descriptor ${i} in entry ${e.seq} is torn`, e.offset);
      }
      // The sector's first 8 and last 4 bytes travel in the descriptor (the data sector holds its own signature there).
      const data = Buffer.alloc(SECTOR);
      e.raw.copy(data, 0, d + 8, d + 16);
      sector.copy(data, 8, 8, SECTOR - 4);
      e.raw.copy(data, SECTOR - 4, d + 4, d + 8);
      writes.push({ fileOffset, data });
    } else {
      throw new VhdxLogError(file, `descriptor ${i} of entry ${e.seq} has an unknown signature`, e.offset);
    }
  }
  return writes;
}

/**
 * Encodes one log entry (used by tests to craft logs that tools cannot make on demand, and by nothing on
 * the write path: this implementation updates metadata in place, see vhdx-file.ts).
 */
export function encodeLogEntry(e: { seq: bigint; logGuid: string; tail: number; lastFileOffset: number; flushedFileOffset?: number; writes: LogWrite[]; zeros?: { fileOffset: number; length: number }[] }): Buffer {
  const descriptors = (e.zeros?.length ?? 0) + e.writes.reduce((n, w) => n + w.data.length / SECTOR, 0);
  const headerSectors = Math.ceil((64 + descriptors * 32) / SECTOR);
  const dataSectors = e.writes.reduce((n, w) => n + w.data.length / SECTOR, 0);
  const buf = Buffer.alloc((headerSectors + dataSectors) * SECTOR);
  buf.writeUInt32LE(ENTRY_SIGNATURE, 0);
  buf.writeUInt32LE(buf.length, 8);
  buf.writeUInt32LE(e.tail, 12);
  buf.writeBigUInt64LE(e.seq, 16);
  buf.writeUInt32LE(descriptors, 24);
  writeGuid(buf, 32, e.logGuid);
  buf.writeBigUInt64LE(BigInt(e.flushedFileOffset ?? e.lastFileOffset), 48);
  buf.writeBigUInt64LE(BigInt(e.lastFileOffset), 56);
  let d = 64;
  for (const z of e.zeros ?? []) {
    buf.writeUInt32LE(ZERO_SIGNATURE, d);
    buf.writeBigUInt64LE(BigInt(z.length), d + 8);
    buf.writeBigUInt64LE(BigInt(z.fileOffset), d + 16);
    buf.writeBigUInt64LE(e.seq, d + 24);
    d += 32;
  }
  let sector = headerSectors;
  for (const w of e.writes) {
    for (let s = 0; s < w.data.length; s += SECTOR) {
      const src = w.data.subarray(s, s + SECTOR);
      buf.writeUInt32LE(DESC_SIGNATURE, d);
      src.copy(buf, d + 4, SECTOR - 4, SECTOR);
      src.copy(buf, d + 8, 0, 8);
      buf.writeBigUInt64LE(BigInt(w.fileOffset + s), d + 16);
      buf.writeBigUInt64LE(e.seq, d + 24);
      d += 32;
      const at = sector * SECTOR;
      buf.writeUInt32LE(DATA_SIGNATURE, at);
      buf.writeUInt32LE(Number(e.seq >> 32n), at + 4);
      src.copy(buf, at + 8, 8, SECTOR - 4);
      buf.writeUInt32LE(Number(e.seq & 0xffffffffn), at + SECTOR - 4);
      sector++;
    }
  }
  buf.writeUInt32LE(structureChecksum(buf, 4), 4);
  return buf;
}
