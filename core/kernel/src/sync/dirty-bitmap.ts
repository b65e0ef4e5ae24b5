// Dirty-region tracker with a hard memory budget: what the protected-site appliance records while the link
// is down or its buffers overflow, and what a bitmap sync later re-reads and re-sends. It never loses a
// dirty byte; when the exact set no longer fits the budget it loses resolution instead (false positives).
//
// Structure, and why
// ------------------
// A flat bitmap (DRBD: one bit per 4 KiB, 32 MiB per TiB) costs the same for one write as for a million;
// squeezed into 256 KiB for 1 TiB each bit covers 512 KiB, so one scattered 4 KiB write re-sends 512 KiB
// and a hot spot is re-sent in 512 KiB pieces. A plain extent list is exact and cheap for sequential runs
// but costs 8–16 bytes per isolated write. Neither is near the information the dirty set holds, which is
// what decides how much of it fits. So the set is kept as sorted, coalesced extents in units of
// `minGranularity` (global unit numbers: the volumes laid end to end), entropy-coded in pages:
//   * a page holds up to 256 extents in at most 256 bytes (less for budgets under 256 KiB); pages are
//     packed back to back in one arena, with an index entry each (first start, arena offset, extent
//     count: 10 bytes, 14 past 2^32 units), so a mark decodes and re-encodes one page (plus a neighbour
//     when it spills over) — O(page), not O(set);
//   * a page has a resolution of 2^c units (c = 0 until memory runs short), with cells anchored at its
//     first start, and codes each extent as (gap − 1, length − 1) in cells with two Rice codes whose
//     parameters are chosen per page, each escaping to a second parameter for the outliers a page mixes
//     in (the jump to the next hot spot, a lone write in a cold area; rice-codes.ts). Rice codes are
//     optimal prefix codes for geometric run lengths, so a page costs close to the entropy of its area at
//     any density: ~15 bits for an isolated write in a cold area, about a bit per block in a half-dirty
//     hot spot, a few dozen bits at most for a whole sequential run. Held exactly, the benchmark's
//     skewed million writes take ≈ 1.2 × their entropy.
// When the set outgrows the budget, resolution is lost where it costs the fewest re-sent bytes per byte of
// memory saved (rate–distortion with one global price). Each page's options are priced by their coded
// size: fill every clean gap up to g cells (g = 1, 2, 3, 4, 6, 8, 16, …: merging the closest extents),
// or round every extent out to cells of 2^c′ units (c′ > c: a coarser bitmap for that area only). A
// histogram of the slopes of each page's lower convex hull of (units added, bits) gives the price at which
// a sixteenth of the room is freed, and each page takes its best option at that price. Dense hot spots
// therefore go coarse first and scattered cold writes last; a uniform scatter ends up as coarse cells
// (nothing this small does well there). New marks follow the resolution of the page they land in.
// Measured (1 TiB, one million 4 KiB writes, 256 KiB): docs/benchmarks.md, section `bitmap`.
//
// Memory: every byte that depends on the data lives in typed arrays — the arena and the index arrays
// (resizable ArrayBuffers grown in place, so no copy ever holds two versions), plus fixed scratch arrays
// (two decoded pages, the slope histogram, one page's candidates: ~12 KiB at a 256 KiB budget).
// `memoryBytes` is the sum of their `byteLength`s and never passes the budget, not even while growing.
// Not counted: JS object headers and the volume id table (fixed per tracker, independent of the writes).
import { UnknownVolumeError, ValidationError, VolumeRangeError } from '../errors.js';
import { BitReader, BitWriter, CorruptCodeError, ESCAPES, MAX_K, POW2, code2Bits, floorLog2 } from './rice-codes.js';

export interface DirtyVolume {
  id: string;
  sizeBytes: number;
}

export interface DirtyBitmapOptions {
  /** Hard limit for `memoryBytes`; at least `DirtyBitmap.minimumBudget` (≈ 6 KiB). */
  budgetBytes: number;
  volumes: readonly DirtyVolume[];
  /** Finest resolution in bytes (default 4096): a mark dirties whole units of this size. */
  minGranularity?: number;
}

export interface DirtyRegion {
  volumeId: string;
  offset: number;
  length: number;
}

/** The persisted form (`toJSON`), readable by `DirtyBitmap.fromJSON`. */
export interface DirtyBitmapJson {
  format: 'opencdp-dirty-bitmap';
  version: 1;
  budgetBytes: number;
  minGranularity: number;
  volumes: DirtyVolume[];
  /** Gaps of at most this many units between pages are filled (last resort when pages are single extents). */
  crossGapUnits: number;
  /** Coarsenings dearer than this many units per bit saved are not priced (null: no limit yet). */
  priceCap: number | null;
  /** Per page: the first extent's start unit, the extent count, and the byte length. */
  pageStarts: number[];
  pageCounts: number[];
  pageBytes: number[];
  /** The pages' bytes, back to back, base64. */
  data: string;
}

// ES2024 resizable ArrayBuffer (Node ≥ 20): the project's lib is ES2023, so it is typed here.
interface ResizableArrayBuffer extends ArrayBuffer {
  resize(byteLength: number): void;
  readonly maxByteLength: number;
}
type ResizableArrayBufferConstructor = new (byteLength: number, options: { maxByteLength: number }) => ResizableArrayBuffer;
const ResizableBuffer = ArrayBuffer as unknown as ResizableArrayBufferConstructor;

/**
 * Page header: the gap and length Rice parameters and the resolution shift (6 bits each), then for each
 * of the two codes a flag and, when set, its escape (2 bits) and second parameter (6 bits).
 */
const HEADER_BITS = 20;
const ESCAPE_PARAM_BITS = 8;
const MAX_SHIFT = 40;
const LOG_BUCKETS = 54;

/** Slope histogram (clean units re-sent per bit saved), 4 buckets per octave from 2^-10 to 2^44. */
const SLOPE_BUCKETS = 4 * 54;
function slopeBucket(units: number, bits: number): number {
  if (units <= 0) return 0;
  return Math.max(0, Math.min(SLOPE_BUCKETS - 1, Math.floor(4 * Math.log2(units / bits)) + 40));
}
/** Largest slope in bucket b. */
function slopeTop(b: number): number {
  return 2 ** ((b - 40 + 1) / 4);
}

/** Gap thresholds (in cells) tried when coarsening a page: 1, 2, 3, 4, 6, then one per octave. */
const CANDIDATE_GAPS: number[] = [1, 2, 3, 4, 6];
for (let o = 3; o < 53; o++) CANDIDATE_GAPS.push(2 ** o);
const MAX_CANDIDATES = 1 + CANDIDATE_GAPS.length + MAX_SHIFT;

interface VolumeSlot {
  id: string;
  sizeBytes: number;
  /** First global unit of the volume. */
  base: number;
  units: number;
}

interface Layout {
  pageBytes: number;
  maxCount: number;
  arenaStep: number;
  indexStep: number;
}

function layoutFor(budgetBytes: number): Layout {
  const pow2 = (x: number): number => 2 ** Math.floor(Math.log2(Math.max(1, x)));
  const pageBytes = Math.min(256, Math.max(32, pow2(budgetBytes / 1024)));
  return {
    pageBytes,
    maxCount: pageBytes,
    arenaStep: Math.min(4096, Math.max(256, pow2(budgetBytes / 64))),
    indexStep: Math.min(256, Math.max(16, pow2(budgetBytes / 1024))),
  };
}

/** A two-level Rice code: parameter k, escape after e ones to parameter k2 (rice-codes.ts). */
interface Rice {
  k: number;
  e: number;
  k2: number;
}

/** The escape a page uses unless its header says otherwise. */
function defaultK2(k: number): number {
  return Math.min(MAX_K, k + 6);
}
function isDefault(r: Rice): boolean {
  return r.e === 16 && r.k2 === defaultK2(r.k);
}
function headerBits(g: Rice, l: Rice, c: number): number {
  // The last length carries a c-bit remainder (the page may end anywhere).
  return HEADER_BITS + c + (isDefault(g) ? 0 : ESCAPE_PARAM_BITS) + (isDefault(l) ? 0 : ESCAPE_PARAM_BITS);
}

interface PieceCost {
  bits: number;
  bytes: number;
  g: Rice;
  l: Rice;
  /** Resolution shift: values are in cells of 2^c units. */
  c: number;
}

const NO_COST: PieceCost = { bits: 0, bytes: 0, g: { k: 0, e: 16, k2: 6 }, l: { k: 0, e: 16, k2: 6 }, c: 0 };

export class DirtyBitmap {
  readonly budgetBytes: number;
  readonly minGranularity: number;
  private readonly volumes: VolumeSlot[];
  private readonly byId = new Map<string, VolumeSlot>();
  private readonly totalUnits: number;
  private readonly layout: Layout;
  private readonly entryBytes: number;

  // Data: packed pages and the page index (length-tracking views on resizable buffers).
  private readonly arenaBuf: ResizableArrayBuffer;
  private readonly arena: Uint8Array;
  private readonly startBuf: ResizableArrayBuffer;
  private readonly offBuf: ResizableArrayBuffer;
  private readonly countBuf: ResizableArrayBuffer;
  private readonly pStart: Float64Array | Uint32Array;
  private readonly pOff: Uint32Array;
  private readonly pCount: Uint16Array;
  private pages = 0;
  private used = 0;

  // Fixed scratch (counted in memoryBytes).
  private readonly sS: Float64Array;
  private readonly sL: Float64Array;
  private readonly hist: Float32Array;
  private readonly candGap: Float64Array;
  private readonly candShift: Uint8Array;
  private readonly candAdd: Float64Array;
  private readonly candBits: Float32Array;
  private readonly bucketCount: Float64Array;
  private readonly bucketSum: Float64Array;
  /** bestK's three best estimates: k, escape, second k, bits. */
  private readonly tryK = new Uint8Array(3);
  private readonly tryE = new Uint8Array(3);
  private readonly tryK2 = new Uint8Array(3);
  private readonly tryBits = new Float64Array(3);
  private readonly fixedBytes: number;

  /** Header of the page decoded last. */
  private last: PieceCost = NO_COST;
  /** Units added by the last fillGaps / alignTo. */
  private lastAdded = 0;
  private crossGap = 0;
  /**
   * Coarsenings dearer than this (units per bit) are not even priced: 64 × the last price paid. Prices
   * rise as the set grows, so this only skips hopeless options (a speed-up, persisted for determinism).
   */
  private priceCap = Infinity;
  private covered = 0;
  private peak = 0;

  /** The smallest budget accepted (fixed scratch, one arena step, one index step). */
  static get minimumBudget(): number {
    const l = layoutFor(0);
    return (2 * l.maxCount + 2) * 16 + SLOPE_BUCKETS * 4 + MAX_CANDIDATES * (8 + 1 + 8 + 4) + LOG_BUCKETS * 16 + 3 * (1 + 1 + 1 + 8) + l.arenaStep + l.indexStep * 14;
  }

  constructor(options: DirtyBitmapOptions) {
    const { budgetBytes, volumes } = options;
    const minGranularity = options.minGranularity ?? 4096;
    if (!Number.isSafeInteger(minGranularity) || minGranularity < 1) {
      throw new ValidationError(`minGranularity must be a positive integer, got ${String(minGranularity)}`, 'minGranularity');
    }
    if (!Array.isArray(volumes) || volumes.length === 0) throw new ValidationError('at least one volume is needed', 'volumes');
    let base = 0;
    this.volumes = [];
    for (const v of volumes) {
      if (typeof v?.id !== 'string' || v.id === '') throw new ValidationError('every volume needs a non-empty id', 'volumes');
      if (!Number.isSafeInteger(v.sizeBytes) || v.sizeBytes <= 0) {
        throw new ValidationError(`volume '${v.id}' needs a positive integer sizeBytes, got ${String(v.sizeBytes)}`, 'volumes');
      }
      if (this.byId.has(v.id)) throw new ValidationError(`volume '${v.id}' is listed twice`, 'volumes');
      const units = Math.ceil(v.sizeBytes / minGranularity);
      const slot: VolumeSlot = { id: v.id, sizeBytes: v.sizeBytes, base, units };
      base += units;
      this.volumes.push(slot);
      this.byId.set(v.id, slot);
    }
    if (base > 2 ** 52) throw new ValidationError('the volumes hold too many units at this granularity', 'volumes');
    this.totalUnits = base;
    const minimum = DirtyBitmap.minimumBudget;
    if (!Number.isSafeInteger(budgetBytes) || budgetBytes < minimum) {
      throw new ValidationError(`budgetBytes must be an integer of at least ${minimum}, got ${String(budgetBytes)}`, 'budgetBytes');
    }
    this.budgetBytes = budgetBytes;
    this.minGranularity = minGranularity;
    this.layout = layoutFor(budgetBytes);
    const wideStarts = this.totalUnits > 0xffffffff;
    this.entryBytes = (wideStarts ? 8 : 4) + 4 + 2;
    const scratch = 2 * this.layout.maxCount + 2;
    this.sS = new Float64Array(scratch);
    this.sL = new Float64Array(scratch);
    this.hist = new Float32Array(SLOPE_BUCKETS);
    this.candGap = new Float64Array(MAX_CANDIDATES);
    this.candShift = new Uint8Array(MAX_CANDIDATES);
    this.candAdd = new Float64Array(MAX_CANDIDATES);
    this.candBits = new Float32Array(MAX_CANDIDATES);
    this.bucketCount = new Float64Array(LOG_BUCKETS);
    this.bucketSum = new Float64Array(LOG_BUCKETS);
    this.fixedBytes = [this.sS, this.sL, this.hist, this.candGap, this.candShift, this.candAdd, this.candBits, this.bucketCount, this.bucketSum,
      this.tryK, this.tryE, this.tryK2, this.tryBits]
      .reduce((sum, a) => sum + a.byteLength, 0);
    const maxPages = Math.ceil(budgetBytes / this.entryBytes) + 1;
    this.arenaBuf = new ResizableBuffer(0, { maxByteLength: budgetBytes });
    this.startBuf = new ResizableBuffer(0, { maxByteLength: maxPages * (wideStarts ? 8 : 4) });
    this.offBuf = new ResizableBuffer(0, { maxByteLength: maxPages * 4 });
    this.countBuf = new ResizableBuffer(0, { maxByteLength: maxPages * 2 });
    this.arena = new Uint8Array(this.arenaBuf);
    this.pStart = wideStarts ? new Float64Array(this.startBuf) : new Uint32Array(this.startBuf);
    this.pOff = new Uint32Array(this.offBuf);
    this.pCount = new Uint16Array(this.countBuf);
    this.peak = this.memoryBytes;
  }

  // ---- public API -------------------------------------------------------------------------------------

  /** Records that [offset, offset + length) of the volume changed. Length 0 is a no-op. */
  mark(volumeId: string, offset: number, length: number): void {
    const v = this.byId.get(volumeId);
    if (!v) throw new UnknownVolumeError(volumeId, 'this dirty bitmap');
    if (!Number.isSafeInteger(offset) || offset < 0) throw new ValidationError(`offset must be a non-negative integer, got ${String(offset)}`, 'offset');
    if (!Number.isSafeInteger(length) || length < 0) throw new ValidationError(`length must be a non-negative integer, got ${String(length)}`, 'length');
    if (offset + length > v.sizeBytes) throw new VolumeRangeError(volumeId, offset, length, v.sizeBytes);
    if (length === 0) return;
    const a = v.base + Math.floor(offset / this.minGranularity);
    const b = v.base + Math.ceil((offset + length) / this.minGranularity);
    for (let attempt = 0; !this.tryInsert(a, b); attempt++) {
      if (attempt > 100) throw new Error('DirtyBitmap: cannot make room within the budget (internal error)');
      this.compact();
    }
  }

  /** Dirty regions, sorted by volume (in the order given) then offset, coalesced, clipped to each volume. */
  regions(): DirtyRegion[] {
    const out: DirtyRegion[] = [];
    let vi = 0;
    this.forEachExtent((s, e) => {
      while (vi < this.volumes.length && this.volumes[vi].base + this.volumes[vi].units <= s) vi++;
      for (let j = vi; j < this.volumes.length && this.volumes[j].base < e; j++) {
        const v = this.volumes[j];
        const offset = (Math.max(s, v.base) - v.base) * this.minGranularity;
        const end = Math.min(v.sizeBytes, (Math.min(e, v.base + v.units) - v.base) * this.minGranularity);
        const last = out[out.length - 1];
        if (last && last.volumeId === v.id && last.offset + last.length === offset) last.length = end - last.offset;
        else out.push({ volumeId: v.id, offset, length: end - offset });
      }
    });
    return out;
  }

  /** Sum of the regions' lengths: the bytes a bitmap sync re-reads and re-sends. */
  get dirtyBytes(): number {
    let bytes = this.covered * this.minGranularity;
    for (const v of this.volumes) {
      const tail = v.sizeBytes - (v.units - 1) * this.minGranularity;
      if (tail < this.minGranularity && this.containsUnit(v.base + v.units - 1)) bytes -= this.minGranularity - tail;
    }
    return bytes;
  }

  /** Bytes of every typed array held now (never more than budgetBytes). */
  get memoryBytes(): number {
    return this.fixedBytes + this.arenaBuf.byteLength + this.startBuf.byteLength + this.offBuf.byteLength + this.countBuf.byteLength;
  }

  /** The largest `memoryBytes` since construction. */
  get peakMemoryBytes(): number {
    return this.peak;
  }

  get isEmpty(): boolean {
    return this.pages === 0;
  }

  /** Stored extents (after any coarsening) and pages, for diagnostics. */
  get stats(): { extents: number; pages: number; arenaBytes: number; coarsestCellBytes: number } {
    let extents = 0;
    let coarsest = 0;
    for (let p = 0; p < this.pages; p++) {
      extents += this.pCount[p];
      this.readHeader(p);
      coarsest = Math.max(coarsest, this.last.c);
    }
    return { extents, pages: this.pages, arenaBytes: this.used, coarsestCellBytes: POW2[coarsest] * this.minGranularity };
  }

  /** The regions, leaving an empty bitmap at full resolution for the writes that arrive during the sync. */
  take(): DirtyRegion[] {
    const r = this.regions();
    this.clear();
    return r;
  }

  clear(): void {
    this.pages = 0;
    this.used = 0;
    this.crossGap = 0;
    this.priceCap = Infinity;
    this.covered = 0;
    this.arenaBuf.resize(0);
    this.startBuf.resize(0);
    this.offBuf.resize(0);
    this.countBuf.resize(0);
  }

  toJSON(): DirtyBitmapJson {
    const pageBytes: number[] = [];
    for (let p = 0; p < this.pages; p++) pageBytes.push(this.pageEnd(p) - this.pOff[p]);
    return {
      format: 'opencdp-dirty-bitmap',
      version: 1,
      budgetBytes: this.budgetBytes,
      minGranularity: this.minGranularity,
      volumes: this.volumes.map((v) => ({ id: v.id, sizeBytes: v.sizeBytes })),
      crossGapUnits: this.crossGap,
      priceCap: Number.isFinite(this.priceCap) ? this.priceCap : null,
      pageStarts: Array.from(this.pStart.subarray(0, this.pages)),
      pageCounts: Array.from(this.pCount.subarray(0, this.pages)),
      pageBytes,
      data: Buffer.from(this.arena.buffer, 0, this.used).toString('base64'),
    };
  }

  /** Rebuilds a bitmap saved with `toJSON`; damaged or inconsistent input throws ValidationError. */
  static fromJSON(json: unknown): DirtyBitmap {
    const bad = (why: string): ValidationError => new ValidationError(`not a saved dirty bitmap: ${why}`, 'json');
    if (typeof json !== 'object' || json === null) throw bad('not an object');
    const j = json as Partial<DirtyBitmapJson>;
    if (j.format !== 'opencdp-dirty-bitmap' || j.version !== 1) throw bad('unknown format or version');
    const starts = j.pageStarts;
    const tables = [starts, j.pageCounts, j.pageBytes];
    if (!tables.every((t) => Array.isArray(t) && t.length === starts!.length && t.every((x) => Number.isSafeInteger(x) && x >= 0))) {
      throw bad('page tables are missing or inconsistent');
    }
    if (typeof j.data !== 'string' || !Number.isSafeInteger(j.crossGapUnits) || j.crossGapUnits! < 0) throw bad('data or crossGapUnits missing');
    const bitmap = new DirtyBitmap({ budgetBytes: j.budgetBytes!, volumes: j.volumes!, minGranularity: j.minGranularity });
    const data = Buffer.from(j.data, 'base64');
    const sizes = j.pageBytes!;
    const pages = sizes.length;
    if (sizes.reduce((s, x) => s + x, 0) !== data.length) throw bad('page sizes do not add up to the data');
    // Exactly what the pages need (no growth step), so whatever fitted when saved fits again.
    if (bitmap.memoryBytes + data.length + pages * bitmap.entryBytes > bitmap.budgetBytes) throw bad('does not fit its own budget');
    bitmap.arenaBuf.resize(data.length);
    bitmap.startBuf.resize(pages * bitmap.pStart.BYTES_PER_ELEMENT);
    bitmap.offBuf.resize(pages * 4);
    bitmap.countBuf.resize(pages * 2);
    bitmap.arena.set(data, 0);
    let off = 0;
    let prevEnd = 0;
    let covered = 0;
    for (let p = 0; p < pages; p++) {
      const count = j.pageCounts![p];
      if (count < 1 || count > bitmap.layout.maxCount || sizes[p] < 1 || sizes[p] > bitmap.layout.pageBytes) throw bad(`page ${p} has a bad size`);
      if (starts![p] < prevEnd || starts![p] >= bitmap.totalUnits) throw bad(`page ${p} starts out of order`);
      bitmap.pStart[p] = starts![p];
      bitmap.pOff[p] = off;
      bitmap.pCount[p] = count;
      off += sizes[p];
      bitmap.pages = p + 1;
      bitmap.used = off;
      let n: number;
      try {
        n = bitmap.decode(p, 0);
      } catch (e) {
        if (e instanceof CorruptCodeError) throw bad(`page ${p}: ${e.message}`);
        throw e;
      }
      for (let i = 0; i < n; i++) covered += bitmap.sL[i];
      prevEnd = bitmap.sS[n - 1] + bitmap.sL[n - 1];
      if (bitmap.sS[n - 1] >= bitmap.totalUnits) throw bad(`page ${p} reaches past the last volume`);
    }
    bitmap.covered = covered;
    bitmap.crossGap = j.crossGapUnits!;
    if (j.priceCap !== null && j.priceCap !== undefined) {
      if (typeof j.priceCap !== 'number' || !(j.priceCap > 0)) throw bad('bad priceCap');
      bitmap.priceCap = j.priceCap;
    }
    bitmap.peak = bitmap.memoryBytes;
    return bitmap;
  }

  // ---- pages ------------------------------------------------------------------------------------------

  private pageEnd(p: number): number {
    return p + 1 < this.pages ? this.pOff[p + 1] : this.used;
  }

  /** Reads page p's header into `last`; returns the reader positioned after it. */
  private readHeader(p: number): BitReader {
    const r = new BitReader(this.arena, this.pOff[p], this.pageEnd(p));
    const kg = r.bits(6);
    const kl = r.bits(6);
    const c = r.bits(6);
    if (kg > MAX_K || kl > MAX_K || c > MAX_SHIFT) throw new CorruptCodeError('bad page header');
    const escape = (k: number): Rice => {
      if (r.bits(1) === 0) return { k, e: 16, k2: defaultK2(k) };
      const e = ESCAPES[r.bits(2)];
      const k2 = r.bits(6);
      if (k2 > MAX_K) throw new CorruptCodeError('bad page header');
      return { k, e, k2 };
    };
    const g = escape(kg);
    const l = escape(kl);
    this.last = { bits: 0, bytes: 0, g, l, c };
    return r;
  }

  /**
   * Decodes page p into the scratch arrays at `at` (its header into `last`); returns the extent count.
   * Cells are anchored at the page's first start; the last length is exact (⌈cells⌉ less a remainder),
   * so a page can end anywhere — at the next page's start or the end of the last volume.
   */
  private decode(p: number, at: number): number {
    const n = this.pCount[p];
    const r = this.readHeader(p);
    const { g, l: lc, c } = this.last;
    const cell = POW2[c];
    const S = this.sS;
    const L = this.sL;
    let s = this.pStart[p];
    let l = 0;
    for (let i = 0; i < n; i++) {
      if (i > 0) s += l + (r.code2(g.k, g.e, g.k2) + 1) * cell;
      l = (r.code2(lc.k, lc.e, lc.k2) + 1) * cell;
      if (i === n - 1 && c > 0) l -= r.wide(c);
      S[at + i] = s;
      L[at + i] = l;
    }
    if (r.overran) throw new CorruptCodeError('page ends inside a code');
    if (l < 1) throw new CorruptCodeError('empty extent');
    return n;
  }

  /**
   * The coarsest resolution ≤ c at which scratch extents [from, to) can be coded: every gap and every
   * length but the last a multiple of 2^c (cells are anchored at the first start).
   */
  private fitShift(from: number, to: number, c: number): number {
    const S = this.sS;
    const L = this.sL;
    for (let i = from; i < to && c > 0; i++) {
      if (i + 1 < to) while (c > 0 && L[i] % POW2[c] !== 0) c--;
      if (i > from) {
        const g = S[i] - S[i - 1] - L[i - 1];
        while (c > 0 && g % POW2[c] !== 0) c--;
      }
    }
    return c;
  }

  /**
   * Best two-level Rice code for a piece's gap values ((start − previous end) / cell − 1) or length
   * values (⌈length / cell⌉ − 1), and its bits (escape parameters in the header included). A page often
   * mixes small gaps with large ones (the jump to the next hot spot, lone writes in a cold area), so the
   * mean is a poor guide: costs are estimated from a histogram of magnitudes (count and mean per power of
   * two) for k around the median's, then for escapes to a second parameter sized for the large values;
   * unless `estimate`, the exact cost of the best few is taken.
   */
  private bestK(from: number, to: number, gaps: boolean, cell: number, estimate = false): Rice & { bits: number } {
    const S = this.sS;
    const L = this.sL;
    const first = gaps ? from + 1 : from;
    if (to - first <= 0) return { k: 0, e: 16, k2: defaultK2(0), bits: 0 };
    const count = this.bucketCount;
    const sum = this.bucketSum;
    count.fill(0);
    sum.fill(0);
    let top = 0;
    for (let i = first; i < to; i++) {
      const v = gaps ? (S[i] - S[i - 1] - L[i - 1]) / cell - 1 : Math.ceil(L[i] / cell) - 1;
      const j = floorLog2(v + 1);
      count[j]++;
      sum[j] += v;
      if (j > top) top = j;
    }
    const n = to - first;
    // Non-empty buckets, compacted: sum[] now holds each bucket's mean value.
    let nb = 0;
    let median = -1;
    for (let j = 0, seen = 0; j <= top; j++) {
      if (count[j] === 0) continue;
      seen += count[j];
      if (median < 0 && seen * 2 >= n) median = j;
      count[nb] = count[j];
      sum[nb] = Math.round(sum[j] / count[j]);
      nb++;
    }
    const estimateOf = (k: number, e: number, k2: number): number => {
      let bits = e === 16 && k2 === defaultK2(k) ? 0 : ESCAPE_PARAM_BITS;
      for (let i = 0; i < nb; i++) bits += count[i] * code2Bits(sum[i], k, e, k2);
      return bits;
    };
    // The three best estimates so far, in the fixed candidate arrays.
    const tk = this.tryK;
    const te = this.tryE;
    const t2 = this.tryK2;
    const tb = this.tryBits;
    tb.fill(Infinity);
    const consider = (k: number, e: number, k2: number): number => {
      const bits = estimateOf(k, e, k2);
      let at = tb.length;
      while (at > 0 && tb[at - 1] > bits) at--;
      if (at < tb.length) {
        for (let m = tb.length - 1; m > at; m--) {
          tk[m] = tk[m - 1];
          te[m] = te[m - 1];
          t2[m] = t2[m - 1];
          tb[m] = tb[m - 1];
        }
        tk[at] = k;
        te[at] = e;
        t2[at] = k2;
        tb[at] = bits;
      }
      return bits;
    };
    let kBest = 0;
    let kBits = Infinity;
    for (let k = Math.max(0, median - 3); k <= Math.min(MAX_K, median + 1); k++) {
      const bits = consider(k, 16, defaultK2(k));
      if (bits < kBits) {
        kBits = bits;
        kBest = k;
      }
    }
    // Escapes to a second parameter sized by the median of what escapes (k stays: the small values set it).
    const k = kBest;
    for (const e of ESCAPES) {
      const limit = e * POW2[k];
      let escaped = 0;
      for (let i = 0; i < nb; i++) if (sum[i] >= limit) escaped += count[i];
      if (escaped === 0) continue;
      let rest = 0;
      for (let i = 0, seen = 0; i < nb; i++) {
        if (sum[i] < limit) continue;
        seen += count[i];
        if (seen * 2 >= escaped) {
          rest = sum[i] - limit;
          break;
        }
      }
      const k2c = Math.max(0, floorLog2(rest + 1) - 1);
      const spread = estimate ? 0 : 1;
      for (let k2 = Math.max(0, k2c - spread); k2 <= Math.min(MAX_K, k2c + spread); k2++) consider(k, e, k2);
    }
    if (estimate) return { k: tk[0], e: te[0], k2: t2[0], bits: tb[0] };
    let best = { k: 0, e: 16, k2: 0, bits: Infinity };
    for (let m = 0; m < tb.length && Number.isFinite(tb[m]); m++) {
      const r = { k: tk[m], e: te[m], k2: t2[m] };
      let bits = isDefault(r) ? 0 : ESCAPE_PARAM_BITS;
      if (gaps) for (let i = first; i < to; i++) bits += code2Bits((S[i] - S[i - 1] - L[i - 1]) / cell - 1, r.k, r.e, r.k2);
      else for (let i = first; i < to; i++) bits += code2Bits(Math.ceil(L[i] / cell) - 1, r.k, r.e, r.k2);
      if (bits < best.bits) best = { ...r, bits };
    }
    return best;
  }

  /**
   * Exact encoded size of scratch extents [from, to) at resolution c. With a hint (the page's current
   * parameters, on the mark path) they are kept and re-chosen only when the count reaches a multiple of
   * 8: choosing takes several passes, and parameters drift slowly.
   */
  private pieceCost(from: number, to: number, cWanted: number, hint?: PieceCost, estimate = false): PieceCost {
    const c = this.fitShift(from, to, cWanted);
    const cell = POW2[c];
    if (hint && hint.c === c && (to - from) % 8 !== 0) return this.costWith(from, to, c, hint.g, hint.l);
    {
      const gb = this.bestK(from, to, true, cell, estimate);
      const lb = this.bestK(from, to, false, cell, estimate);
      const g = { k: gb.k, e: gb.e, k2: gb.k2 };
      const l = { k: lb.k, e: lb.e, k2: lb.k2 };
      // bestK counted the escape parameters; the header's fixed part and the remainder come on top.
      const bits = HEADER_BITS + c + gb.bits + lb.bits;
      return { bits, bytes: Math.ceil(bits / 8), g, l, c };
    }
  }

  /** Exact encoded size of scratch extents [from, to) with the given codes at resolution c (aligned to it). */
  private costWith(from: number, to: number, c: number, g: Rice, l: Rice): PieceCost {
    const S = this.sS;
    const L = this.sL;
    const cell = POW2[c];
    let bits = headerBits(g, l, c) + code2Bits(Math.ceil(L[from] / cell) - 1, l.k, l.e, l.k2);
    for (let i = from + 1; i < to; i++) {
      bits += code2Bits((S[i] - S[i - 1] - L[i - 1]) / cell - 1, g.k, g.e, g.k2) + code2Bits(Math.ceil(L[i] / cell) - 1, l.k, l.e, l.k2);
    }
    return { bits, bytes: Math.ceil(bits / 8), g, l, c };
  }

  /** Encodes scratch extents [from, to) at arena offset `pos`; returns the end offset. */
  private encodeAt(pos: number, from: number, to: number, cost: PieceCost): number {
    const w = new BitWriter(this.arena, pos);
    const S = this.sS;
    const L = this.sL;
    const { g, l, c } = cost;
    const cell = POW2[c];
    w.bits(g.k, 6);
    w.bits(l.k, 6);
    w.bits(c, 6);
    for (const r of [g, l]) {
      if (isDefault(r)) w.bits(0, 1);
      else {
        w.bits(1, 1);
        w.bits(ESCAPES.indexOf(r.e), 2);
        w.bits(r.k2, 6);
      }
    }
    for (let i = from; i < to; i++) {
      if (i > from) {
        const gap = (S[i] - S[i - 1] - L[i - 1]) / cell - 1;
        // A broken invariant must not turn into silently wrong pages.
        if (!(gap >= 0) || !Number.isInteger(gap)) throw new Error('DirtyBitmap: extents overlap or touch inside a page (internal error)');
        w.code2(gap, g.k, g.e, g.k2);
      }
      const cells = Math.ceil(L[i] / cell);
      w.code2(cells - 1, l.k, l.e, l.k2);
      if (i === to - 1 && c > 0) w.wide(cells * cell - L[i], c);
    }
    w.flush();
    return w.pos;
  }

  /**
   * Splits scratch extents [from, to) into pages within `pageBytes` and `maxCount`, cut at equal shares
   * of the bit cost and aiming at three-quarters full so the next mark does not split again.
   */
  private split(from: number, to: number, c: number, hint?: PieceCost): { ends: number[]; costs: PieceCost[] } {
    const { pageBytes, maxCount } = this.layout;
    if (hint) {
      const kept = this.pieceCost(from, to, c, hint);
      if (kept.bytes <= pageBytes && to - from <= maxCount) return { ends: [to], costs: [kept] };
    }
    const whole = this.pieceCost(from, to, c);
    if (whole.bytes <= pageBytes && to - from <= maxCount) return { ends: [to], costs: [whole] };
    const S = this.sS;
    const L = this.sL;
    const cell = POW2[whole.c];
    const n = to - from;
    const { g, l } = whole;
    const extentBits = (i: number, first: boolean): number =>
      code2Bits(Math.ceil(L[i] / cell) - 1, l.k, l.e, l.k2) + (first ? 0 : code2Bits((S[i] - S[i - 1] - L[i - 1]) / cell - 1, g.k, g.e, g.k2));
    const pieces = Math.max(Math.ceil(whole.bytes / (0.75 * pageBytes)), Math.ceil(n / (0.75 * maxCount)));
    const cum: number[] = [];
    let total = 0;
    for (let i = from; i < to; i++) cum.push((total += extentBits(i, i === from)));
    const ends: number[] = [];
    let i = 0;
    for (let piece = 1; piece < pieces; piece++) {
      const goal = (total * piece) / pieces;
      while (i < n - 1 && cum[i] < goal) i++;
      const end = from + Math.max(i, (ends.length ? ends[ends.length - 1] - from : 0) + 1);
      if (end >= to) break;
      ends.push(end);
    }
    ends.push(to);
    const costs: PieceCost[] = [];
    let start = from;
    let ok = true;
    for (const end of ends) {
      const cost = this.pieceCost(start, end, c);
      if (cost.bytes > pageBytes || end - start > maxCount) ok = false;
      costs.push(cost);
      start = end;
    }
    if (ok) return { ends, costs };
    // Fallback: greedy fill, coded with the whole's parameters (so each piece is known to fit).
    const gEnds: number[] = [];
    const gCosts: PieceCost[] = [];
    const header = headerBits(g, l, whole.c);
    let pieceStart = from;
    let bits = header;
    for (let j = from; j < to; j++) {
      const first = j === pieceStart;
      const add = extentBits(j, first);
      if (!first && (bits + add > pageBytes * 8 || j - pieceStart >= maxCount)) {
        gEnds.push(j);
        gCosts.push(this.costWith(pieceStart, j, whole.c, g, l));
        pieceStart = j;
        bits = header + extentBits(j, true);
      } else {
        bits += add;
      }
    }
    gEnds.push(to);
    gCosts.push(this.costWith(pieceStart, to, whole.c, g, l));
    return { ends: gEnds, costs: gCosts };
  }

  /** Last page whose first extent starts at or before unit u (0 when u precedes them all). */
  private findPage(u: number): number {
    let lo = 0;
    let hi = this.pages - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.pStart[mid] <= u) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private containsUnit(u: number): boolean {
    if (this.pages === 0) return false;
    const n = this.decode(this.findPage(u), 0);
    for (let i = 0; i < n; i++) if (this.sS[i] <= u && u < this.sS[i] + this.sL[i]) return true;
    return false;
  }

  /** Calls f(start, end) for every stored extent in order, adjacent ones (across pages) coalesced. */
  private forEachExtent(f: (start: number, end: number) => void): void {
    let cs = 0;
    let ce = 0;
    for (let p = 0; p < this.pages; p++) {
      const n = this.decode(p, 0);
      for (let i = 0; i < n; i++) {
        const s = this.sS[i];
        const e = s + this.sL[i];
        if (s === ce && ce > cs) ce = e;
        else {
          if (ce > cs) f(cs, ce);
          cs = s;
          ce = e;
        }
      }
    }
    if (ce > cs) f(cs, ce);
  }

  // ---- memory -----------------------------------------------------------------------------------------

  private notePeak(): void {
    const m = this.memoryBytes;
    if (m > this.peak) this.peak = m;
  }

  /**
   * Whether `bytes` of pages and `pages` index entries fit the budget. It depends only on these two
   * numbers (not on spare capacity), so a restored bitmap takes the same decisions as the original.
   */
  private fits(bytes: number, pages: number): boolean {
    return this.fixedBytes + bytes + pages * this.entryBytes <= this.budgetBytes;
  }

  /**
   * Sets capacity for `bytes` of pages and `pages` index entries (which fit, and hold everything in use):
   * a growth step when the budget allows, else exactly what is needed. Spare capacity is given back
   * before anything grows, so memory never passes the budget meanwhile.
   */
  private allocate(bytes: number, pages: number): void {
    const avail = this.budgetBytes - this.fixedBytes;
    const e = this.entryBytes;
    const arenaHave = this.arenaBuf.byteLength;
    const indexHave = this.pOff.length;
    if (bytes <= arenaHave && pages <= indexHave) return;
    const { arenaStep, indexStep } = this.layout;
    let arena = bytes > arenaHave ? Math.ceil(bytes / arenaStep) * arenaStep : arenaHave;
    let index = pages > indexHave ? Math.ceil(pages / indexStep) * indexStep : indexHave;
    if (arena + index * e > avail) {
      arena = Math.max(bytes, Math.min(arena, avail - Math.max(pages, indexHave) * e));
      index = Math.max(pages, Math.min(index, Math.floor((avail - arena) / e)));
    }
    if (arena + index * e > avail) {
      arena = bytes;
      index = pages;
    }
    // Shrink before growing.
    if (arena < arenaHave) this.arenaBuf.resize(arena);
    if (index < indexHave) this.resizeIndex(index);
    if (arena > arenaHave) this.arenaBuf.resize(arena);
    if (index > indexHave) this.resizeIndex(index);
    this.notePeak();
  }

  private resizeIndex(entries: number): void {
    this.startBuf.resize(entries * this.pStart.BYTES_PER_ELEMENT);
    this.offBuf.resize(entries * 4);
    this.countBuf.resize(entries * 2);
  }

  /** Gives back arena and index capacity beyond one growth step over what is used. */
  private shrink(): void {
    const { arenaStep, indexStep } = this.layout;
    const arena = Math.ceil((this.used + 1) / arenaStep) * arenaStep;
    if (arena < this.arenaBuf.byteLength) this.arenaBuf.resize(arena);
    const idx = Math.ceil((this.pages + 1) / indexStep) * indexStep;
    if (idx < this.pOff.length) this.resizeIndex(idx);
  }

  // ---- marking ----------------------------------------------------------------------------------------

  /** Inserts units [a, b) at the resolution of the page it lands in; false (nothing changed) when out of room. */
  private tryInsert(a: number, b: number): boolean {
    const S = this.sS;
    const L = this.sL;
    if (this.pages === 0) {
      S[0] = a;
      L[0] = b - a;
      return this.replace(0, 0, 1, 0, b - a);
    }
    const M = this.layout.maxCount;
    const G = this.crossGap;
    const p = this.findPage(a);
    // Page p sits at [1, 1 + n); the output is built from index 0 and never overtakes its source.
    const n = this.decode(p, 1);
    const hint: PieceCost = { ...this.last };
    const end = 1 + n;
    let oldUnits = 0;
    for (let i = 1; i < end; i++) {
      oldUnits += L[i];
      if (S[i] <= a && b <= S[i] + L[i]) return true; // already dirty
    }
    // The page's resolution applies to new marks in its area: cells anchored at its first start.
    const cell = POW2[hint.c];
    const anchor = this.pStart[p];
    let cWanted = hint.c;
    let cs = a >= anchor ? anchor + Math.floor((a - anchor) / cell) * cell : a;
    let ce = Math.min(anchor + Math.ceil((b - anchor) / cell) * cell, this.totalUnits);
    let i = 1;
    let j = 0;
    while (i < end && S[i] + L[i] + G < cs) {
      S[j] = S[i];
      L[j] = L[i];
      i++;
      j++;
    }
    while (i < end && S[i] <= ce + G) {
      if (S[i] < cs) cs = S[i];
      if (S[i] + L[i] > ce) ce = S[i] + L[i];
      i++;
    }
    let q = p;
    let tailFrom = i;
    let tailEnd = end;
    if (i === end) {
      // The new extent may reach into the following pages: absorb what it covers (or comes within G of).
      while (q + 1 < this.pages && this.pStart[q + 1] <= ce + G) {
        q++;
        const m = this.decode(q, M + 1);
        cWanted = Math.max(cWanted, this.last.c);
        let k = M + 1;
        const kEnd = M + 1 + m;
        for (let t = k; t < kEnd; t++) oldUnits += L[t];
        while (k < kEnd && S[k] <= ce + G) {
          if (S[k] + L[k] > ce) ce = S[k] + L[k];
          k++;
        }
        tailFrom = k;
        tailEnd = kEnd;
        if (k < kEnd) break;
      }
    }
    S[j] = cs;
    L[j] = ce - cs;
    j++;
    for (let t = tailFrom; t < tailEnd; t++) {
      S[j] = S[t];
      L[j] = L[t];
      j++;
    }
    // A small result takes in the next page too, so pages stay reasonably full (fewer index entries).
    if (q + 1 < this.pages && j + this.pCount[q + 1] <= M && this.pageEnd(p) - this.pOff[p] < this.layout.pageBytes / 4) {
      q++;
      const m = this.decode(q, j);
      cWanted = Math.max(cWanted, this.last.c);
      for (let t = j; t < j + m; t++) oldUnits += L[t];
      // Pages may touch at their boundary; inside one page extents must not.
      if (S[j] <= S[j - 1] + L[j - 1] + G) {
        L[j - 1] = Math.max(S[j - 1] + L[j - 1], S[j] + L[j]) - S[j - 1];
        for (let t = j + 1; t < j + m; t++) {
          S[t - 1] = S[t];
          L[t - 1] = L[t];
        }
        j--;
      }
      j += m;
    }
    let newUnits = 0;
    for (let t = 0; t < j; t++) newUnits += L[t];
    return this.replace(p, q - p + 1, j, cWanted, newUnits - oldUnits, hint);
  }

  /**
   * Replaces `oldPages` pages from page p with scratch extents [0, count) at resolution c, split into
   * pages. False (nothing changed) when the budget does not allow it.
   */
  private replace(p: number, oldPages: number, count: number, c: number, deltaUnits: number, hint?: PieceCost): boolean {
    const { ends, costs } = this.split(0, count, c, hint);
    const newBytes = costs.reduce((s, x) => s + x.bytes, 0);
    const from = oldPages > 0 ? this.pOff[p] : this.used;
    const to = oldPages > 0 ? this.pageEnd(p + oldPages - 1) : this.used;
    const delta = newBytes - (to - from);
    const dPages = ends.length - oldPages;
    if (!this.fits(this.used + delta, this.pages + dPages)) return false;
    // Data moves left before capacity may shrink, and right after it has grown.
    const after = p + oldPages;
    const moveArena = (): void => {
      if (delta !== 0 && to < this.used) this.arena.copyWithin(from + newBytes, to, this.used);
    };
    const moveIndex = (): void => {
      if (dPages === 0 || after >= this.pages) return;
      this.pStart.copyWithin(after + dPages, after, this.pages);
      this.pOff.copyWithin(after + dPages, after, this.pages);
      this.pCount.copyWithin(after + dPages, after, this.pages);
    };
    if (delta < 0) moveArena();
    if (dPages < 0) moveIndex();
    this.allocate(this.used + delta, this.pages + dPages);
    if (delta > 0) moveArena();
    if (dPages > 0) moveIndex();
    this.used += delta;
    this.pages += dPages;
    let pos = from;
    let start = 0;
    for (let k = 0; k < ends.length; k++) {
      this.pStart[p + k] = this.sS[start];
      this.pOff[p + k] = pos;
      this.pCount[p + k] = ends[k] - start;
      pos = this.encodeAt(pos, start, ends[k], costs[k]);
      start = ends[k];
    }
    if (delta !== 0) for (let k = p + ends.length; k < this.pages; k++) this.pOff[k] += delta;
    this.covered += deltaUnits;
    return true;
  }

  // ---- losing resolution ------------------------------------------------------------------------------

  /**
   * Frees about a sixteenth of the room by coarsening the pages where that costs the fewest re-sent units
   * per bit saved: pass 1 prices every page's options and picks the price at which the savings suffice,
   * pass 2 rewrites each page at its best option for that price (the last price bucket only as far as
   * needed, so little more than asked is freed).
   */
  private compact(): void {
    const room = this.budgetBytes - this.fixedBytes - this.layout.indexStep * this.entryBytes;
    let firstNeed = 0;
    for (let round = 0; round < 100; round++) {
      const target = Math.floor((room - (this.pages + 1) * this.entryBytes) * (15 / 16));
      const need = Math.max(this.used - target, round === 0 ? this.layout.pageBytes : 0);
      if (round === 0) firstNeed = need;
      // Within a quarter of the goal is enough: the goal already leaves a sixteenth of the room free.
      else if (need <= firstNeed / 4) break;
      const before = this.used + this.pages * this.entryBytes;
      // Estimates run a little optimistic; ask for a tenth more.
      const price = this.pickPrice(need * 8 * 1.1);
      this.rewrite(price);
      if (Number.isFinite(price.price)) this.priceCap = Math.max(64 * price.price, 1);
      this.shrink();
      if (this.used + this.pages * this.entryBytes > before - need / 4) {
        // Little left to gain inside pages (each is one extent): merge across page boundaries, ever wider.
        this.crossGap = Math.max(1, this.crossGap * 4);
      }
    }
  }

  /**
   * Prices the coarsenings of the page held at scratch [at, at + n) (p is re-decoded as needed; the
   * scratch is left merged). Candidate 0 is the page as stored; the others fill gaps ≤ candGap units at
   * the page's resolution, or round to cells of 2^candShift units. Returns the number of candidates.
   */
  private candidates(p: number, at: number, n: number, storedBytes: number): number {
    const c0 = this.last.c;
    const cell0 = POW2[c0];
    this.candGap[0] = 0;
    this.candShift[0] = c0;
    this.candAdd[0] = 0;
    this.candBits[0] = storedBytes * 8;
    let count = 1;
    let m = n;
    let add = 0;
    const maxAdd = this.priceCap * storedBytes * 8;
    for (let g = 0; g < CANDIDATE_GAPS.length && m > 1; g++) {
      const gap = CANDIDATE_GAPS[g] * cell0;
      const k = this.fillGaps(at, m, gap);
      if (k === m) continue;
      add += this.lastAdded;
      if (add > maxAdd) break;
      m = k;
      this.candGap[count] = gap;
      this.candShift[count] = c0;
      this.candAdd[count] = add;
      this.candBits[count] = this.pieceCost(at, at + m, c0, undefined, true).bits;
      count++;
    }
    m = this.decode(p, at);
    add = 0;
    const limit = p + 1 < this.pages ? this.pStart[p + 1] : this.totalUnits;
    for (let c = c0 + 1; c <= MAX_SHIFT && m > 1; c++) {
      m = this.alignTo(at, m, c, limit);
      add += this.lastAdded;
      if (add > maxAdd) break;
      this.candGap[count] = 0;
      this.candShift[count] = c;
      this.candAdd[count] = add;
      this.candBits[count] = this.pieceCost(at, at + m, c, undefined, true).bits;
      count++;
    }
    return count;
  }

  /** Fills gaps ≤ gap between scratch extents [at, at + m) in place; returns the new count. */
  private fillGaps(at: number, m: number, gap: number): number {
    const S = this.sS;
    const L = this.sL;
    let k = at;
    let added = 0;
    for (let t = at + 1; t < at + m; t++) {
      const g = S[t] - S[k] - L[k];
      if (g <= gap) {
        added += g;
        L[k] = S[t] + L[t] - S[k];
      } else {
        k++;
        S[k] = S[t];
        L[k] = L[t];
      }
    }
    this.lastAdded = added;
    return k + 1 - at;
  }

  /**
   * Rounds scratch extents [at, at + m) out to cells of 2^c units anchored at the first start, ending no
   * later than `limit` (the next page's start), coalescing; returns the new count.
   */
  private alignTo(at: number, m: number, c: number, limit: number): number {
    const S = this.sS;
    const L = this.sL;
    const cell = POW2[c];
    const anchor = S[at];
    let k = at - 1;
    let before = 0;
    for (let t = at; t < at + m; t++) {
      before += L[t];
      const s = anchor + Math.floor((S[t] - anchor) / cell) * cell;
      const e = Math.min(anchor + Math.ceil((S[t] + L[t] - anchor) / cell) * cell, limit);
      if (k >= at && s <= S[k] + L[k]) {
        // Touches or overlaps the previous (already rounded) extent, whose end is ≤ e.
        L[k] = e - S[k];
      } else {
        k++;
        S[k] = s;
        L[k] = e - s;
      }
    }
    let after = 0;
    for (let t = at; t <= k; t++) after += L[t];
    this.lastAdded = after - before;
    return k + 1 - at;
  }

  /** The candidate minimising bits · price + added units (at price ∞: the fewest bits). */
  private choose(count: number, price: number): number {
    let best = 0;
    for (let c = 1; c < count; c++) {
      const cost = Number.isFinite(price) ? this.candBits[c] * price + this.candAdd[c] : this.candBits[c];
      const bestCost = Number.isFinite(price) ? this.candBits[best] * price + this.candAdd[best] : this.candBits[best];
      if (cost < bestCost || (cost === bestCost && this.candBits[c] < this.candBits[best])) best = c;
    }
    return best;
  }

  /**
   * Pass 1: the lowest price (units re-sent per bit saved) at which coarsening saves `needBits`, as
   * { price, below: the next lower bucket's price, extraBits: what the last bucket must still give }.
   * Each page adds the segments of its lower convex hull of (units added, bits) to a slope histogram.
   */
  private pickPrice(needBits: number): { price: number; below: number; extraBits: number } {
    const h = this.hist;
    h.fill(0);
    const cb = this.candBits;
    const ca = this.candAdd;
    // A sample of pages is enough to find the price; pass 2 then frees exactly what is needed.
    const stride = Math.max(1, Math.floor(this.pages / 512));
    for (let p = (this.pages - 1) % stride; p < this.pages; p += stride) {
      const count = this.candidates(p, 0, this.decode(p, 0), this.pageEnd(p) - this.pOff[p]);
      let cur = 0;
      for (;;) {
        let next = -1;
        let best = Infinity;
        for (let c = 1; c < count; c++) {
          const saved = cb[cur] - cb[c];
          if (saved <= 0) continue;
          const slope = (ca[c] - ca[cur]) / saved;
          if (slope < best) {
            best = slope;
            next = c;
          }
        }
        if (next < 0) break;
        h[slopeBucket(ca[next] - ca[cur], cb[cur] - cb[next])] += (cb[cur] - cb[next]) * stride;
        cur = next;
      }
    }
    let acc = 0;
    let lastBucket = -1;
    for (let b = 0; b < SLOPE_BUCKETS; b++) {
      if (h[b] === 0) continue;
      if (acc + h[b] >= needBits) return { price: slopeTop(b), below: lastBucket >= 0 ? slopeTop(lastBucket) : 0, extraBits: needBits - acc };
      acc += h[b];
      lastBucket = b;
    }
    return { price: Infinity, below: Infinity, extraBits: 0 };
  }

  /**
   * Pass 2: rewrites every page at its chosen option, left to right in place, combining neighbours that
   * fit one page (fewer index entries). A group is written only over bytes already consumed and never
   * larger than they were, so the write position never passes the read position.
   */
  private rewrite(pick: { price: number; below: number; extraBits: number }): void {
    const S = this.sS;
    const L = this.sL;
    const M = this.layout.maxCount;
    const P = this.layout.pageBytes;
    const pages = this.pages;
    let extraBits = pick.extraBits;
    let w = 0;
    let out = 0;
    let covered = 0;
    // Pending group: extents at [0, m), its resolution, source bytes, the old offset if it is one
    // untouched page, and its last page's gap threshold (pages merge across a boundary within both).
    let m = 0;
    let srcBytes = 0;
    let oldOff = -1;
    let pendGap = 0;
    let pendCost: PieceCost = NO_COST;
    const flush = (): void => {
      if (m === 0) return;
      this.pStart[out] = S[0];
      this.pCount[out] = m;
      this.pOff[out] = w;
      if (oldOff >= 0) {
        if (oldOff !== w) this.arena.copyWithin(w, oldOff, oldOff + srcBytes);
        w += srcBytes;
      } else {
        w = this.encodeAt(w, 0, m, pendCost);
      }
      for (let t = 0; t < m; t++) covered += L[t];
      out++;
      m = 0;
    };
    const at = M + 1;
    for (let p = 0; p < pages; p++) {
      const off = this.pOff[p];
      const len = (p + 1 < pages ? this.pOff[p + 1] : this.used) - off;
      let n = this.decode(p, at);
      const stored: PieceCost = { ...this.last, bits: len * 8, bytes: len };
      const count = this.candidates(p, at, n, len);
      const hi = this.choose(count, pick.price);
      const lo = this.choose(count, pick.below);
      let chosen = lo;
      if (hi !== lo && extraBits > 0) {
        chosen = hi;
        extraBits -= this.candBits[lo] - this.candBits[hi];
      }
      const gap = Math.max(this.crossGap, this.candGap[chosen]);
      const shift = this.candShift[chosen];
      n = this.decode(p, at);
      if (gap > 0) n = this.fillGaps(at, n, gap);
      if (shift > stored.c) n = this.alignTo(at, n, shift, p + 1 < pages ? this.pStart[p + 1] : this.totalUnits);
      let cost = stored;
      let untouched = chosen === 0 && n === this.pCount[p];
      if (!untouched) {
        const c = this.pieceCost(at, at + n, shift);
        if (c.bytes <= len) cost = c;
        else {
          // Re-encoding would grow the page: keep it as it was.
          n = this.decode(p, at);
          untouched = true;
        }
      }
      // Try to combine with the pending group (the page's copy at `at` is only read).
      if (m > 0 && m + n <= M + 1) {
        const lastS = S[m - 1];
        const lastL = L[m - 1];
        let c = m;
        let t = at;
        if (S[t] - (lastS + lastL) <= Math.max(this.crossGap, Math.min(pendGap, gap))) {
          L[m - 1] = S[t] + L[t] - lastS;
          t++;
        }
        for (; t < at + n; t++) {
          S[c] = S[t];
          L[c] = L[t];
          c++;
        }
        if (c <= M) {
          const cc = this.pieceCost(0, c, Math.min(pendCost.c, cost.c));
          if (cc.bytes <= P && cc.bytes <= srcBytes + len) {
            m = c;
            srcBytes += len;
            oldOff = -1;
            pendGap = gap;
            pendCost = cc;
            continue;
          }
        }
        S[m - 1] = lastS;
        L[m - 1] = lastL;
      }
      flush();
      for (let t = 0; t < n; t++) {
        S[t] = S[at + t];
        L[t] = L[at + t];
      }
      m = n;
      srcBytes = len;
      oldOff = untouched ? off : -1;
      pendGap = gap;
      pendCost = cost;
    }
    flush();
    this.pages = out;
    this.used = w;
    this.covered = covered;
  }
}
