// The journal's index: which journal record holds the bytes of (volume, range) as of a sequence number.
// Each write becomes one entry (typed arrays, so a million writes cost tens of MB, not objects); each
// fixed-size block keeps the ids of the entries touching it in sequence order, so a point-in-time read
// finds the newest entry ≤ the checkpoint with a binary search and falls through to older entries and
// finally to the replica for the parts a partial write did not cover.

/** Where a piece of a read comes from: a journal entry (payload byte `at` of segment `segment`) or the replica. */
export type ReadPiece =
  | { kind: 'journal'; dst: number; length: number; segment: number; at: number }
  | { kind: 'replica'; dst: number; length: number; volumeOffset: number };

export interface IndexEntry {
  seq: number;
  volume: number;
  offset: number;
  length: number;
  segment: number;
  position: number;
}

type Versions = number | number[];

export class BlockIndex {
  private seqs = new Float64Array(1024);
  private volumes = new Uint16Array(1024);
  private offsets = new Float64Array(1024);
  private lengths = new Uint32Array(1024);
  private segments = new Uint32Array(1024);
  private positions = new Float64Array(1024);
  /** Logical id of physical slot 0: ids never change when dead entries are compacted away. */
  private base = 0;
  /** First live (not yet promoted) logical id. */
  private firstLive = 0;
  private nextId = 0;
  private readonly blocks: Map<number, Versions>[] = [];

  constructor(readonly blockBytes: number) {}

  /** Number of live entries. */
  get size(): number {
    return this.nextId - this.firstLive;
  }

  get lastSeq(): number {
    return this.size === 0 ? 0 : this.seqs[this.nextId - 1 - this.base];
  }

  add(e: IndexEntry): number {
    return this.addEntry(e.seq, e.volume, e.offset, e.length, e.segment, e.position);
  }

  /** As `add`, without an entry object: recovery adds a million entries in a row. */
  addEntry(seq: number, volume: number, offset: number, length: number, segment: number, position: number): number {
    if (this.nextId - this.base === this.seqs.length) this.grow();
    const id = this.nextId++;
    const p = id - this.base;
    this.seqs[p] = seq;
    this.volumes[p] = volume;
    this.offsets[p] = offset;
    this.lengths[p] = length;
    this.segments[p] = segment;
    this.positions[p] = position;
    const map = this.blocks[volume] ?? this.blocksOf(volume);
    const first = Math.floor(offset / this.blockBytes);
    const last = Math.floor((offset + length - 1) / this.blockBytes);
    for (let b = first; b <= last; b++) {
      const v = map.get(b);
      if (v === undefined) map.set(b, id);
      else if (typeof v === 'number') map.set(b, [v, id]);
      else v.push(id);
    }
    return id;
  }

  entry(id: number): IndexEntry {
    const p = id - this.base;
    return { seq: this.seqs[p], volume: this.volumes[p], offset: this.offsets[p], length: this.lengths[p], segment: this.segments[p], position: this.positions[p] };
  }

  /** Live entries with seq ≤ `maxSeq`, oldest first (the order promotion must apply them in). */
  *entriesUpTo(maxSeq: number): Generator<IndexEntry> {
    for (let id = this.firstLive; id < this.nextId && this.seqs[id - this.base] <= maxSeq; id++) yield this.entry(id);
  }

  /** Forgets every entry with seq ≤ `maxSeq` (their bytes now live in the replica). */
  dropUpTo(maxSeq: number): void {
    while (this.firstLive < this.nextId && this.seqs[this.firstLive - this.base] <= maxSeq) {
      const p = this.firstLive - this.base;
      const map = this.blocksOf(this.volumes[p]);
      const first = Math.floor(this.offsets[p] / this.blockBytes);
      const last = Math.floor((this.offsets[p] + this.lengths[p] - 1) / this.blockBytes);
      for (let b = first; b <= last; b++) {
        const v = map.get(b);
        if (typeof v === 'number') map.delete(b);
        else if (v) {
          // Entries leave oldest first, so the one to drop is at the front.
          v.shift();
          if (v.length === 1) map.set(b, v[0]);
        }
      }
      this.firstLive++;
    }
    if (this.firstLive - this.base > this.seqs.length / 2) this.compact();
  }

  /**
   * Plans a read of [offset, offset+length) of `volume` as of `maxSeq`: the newest entry ≤ maxSeq
   * wins byte by byte; bytes no entry covers come from the replica. Adjacent pieces from the same
   * place are merged so a large read is a few large I/Os.
   */
  plan(volume: number, offset: number, length: number, maxSeq: number): ReadPiece[] {
    const map = this.blocks[volume];
    const pieces: ReadPiece[] = [];
    const end = offset + length;
    const bb = this.blockBytes;
    for (let b = Math.floor(offset / bb); b * bb < end; b++) {
      const lo = Math.max(offset, b * bb);
      const hi = Math.min(end, (b + 1) * bb);
      const v = map?.get(b);
      if (v === undefined) {
        push(pieces, { kind: 'replica', dst: lo - offset, length: hi - lo, volumeOffset: lo });
        continue;
      }
      this.planBlock(typeof v === 'number' ? [v] : v, lo, hi, maxSeq, offset, pieces);
    }
    return pieces;
  }

  private planBlock(ids: number[], lo: number, hi: number, maxSeq: number, readStart: number, out: ReadPiece[]): void {
    // Gaps still to fill in this block, as [start, end) pairs in volume offsets.
    let gaps: number[] = [lo, hi];
    const found: ReadPiece[] = [];
    let i = lastAtOrBelow(ids, maxSeq, (id) => this.seqs[id - this.base]);
    for (; i >= 0 && gaps.length > 0; i--) {
      const p = ids[i] - this.base;
      const eStart = this.offsets[p];
      const eEnd = eStart + this.lengths[p];
      const next: number[] = [];
      for (let g = 0; g < gaps.length; g += 2) {
        const s = gaps[g];
        const e = gaps[g + 1];
        const cs = Math.max(s, eStart);
        const ce = Math.min(e, eEnd);
        if (cs >= ce) {
          next.push(s, e);
          continue;
        }
        found.push({ kind: 'journal', dst: cs - readStart, length: ce - cs, segment: this.segments[p], at: this.positions[p] + (cs - eStart) });
        if (s < cs) next.push(s, cs);
        if (ce < e) next.push(ce, e);
      }
      gaps = next;
    }
    for (let g = 0; g < gaps.length; g += 2) found.push({ kind: 'replica', dst: gaps[g] - readStart, length: gaps[g + 1] - gaps[g], volumeOffset: gaps[g] });
    found.sort((a, b) => a.dst - b.dst);
    for (const piece of found) push(out, piece);
  }

  private blocksOf(volume: number): Map<number, Versions> {
    let map = this.blocks[volume];
    if (!map) this.blocks[volume] = map = new Map();
    return map;
  }

  private grow(): void {
    const cap = this.seqs.length * 2;
    const copy = <T extends Float64Array | Uint32Array | Uint16Array>(a: T, make: (n: number) => T): T => {
      const n = make(cap);
      n.set(a);
      return n;
    };
    this.seqs = copy(this.seqs, (n) => new Float64Array(n));
    this.volumes = copy(this.volumes, (n) => new Uint16Array(n));
    this.offsets = copy(this.offsets, (n) => new Float64Array(n));
    this.lengths = copy(this.lengths, (n) => new Uint32Array(n));
    this.segments = copy(this.segments, (n) => new Uint32Array(n));
    this.positions = copy(this.positions, (n) => new Float64Array(n));
  }

  /** Moves live entries to the front of the arrays; logical ids stay valid through `base`. */
  private compact(): void {
    const shift = this.firstLive - this.base;
    const live = this.nextId - this.firstLive;
    for (const a of [this.seqs, this.volumes, this.offsets, this.lengths, this.segments, this.positions]) a.copyWithin(0, shift, shift + live);
    this.base = this.firstLive;
  }
}

/** Appends a piece, merging it into the previous one when both are contiguous in source and destination. */
function push(out: ReadPiece[], piece: ReadPiece): void {
  const prev = out[out.length - 1];
  if (prev && prev.dst + prev.length === piece.dst) {
    if (prev.kind === 'replica' && piece.kind === 'replica' && prev.volumeOffset + prev.length === piece.volumeOffset) {
      prev.length += piece.length;
      return;
    }
    if (prev.kind === 'journal' && piece.kind === 'journal' && prev.segment === piece.segment && prev.at + prev.length === piece.at) {
      prev.length += piece.length;
      return;
    }
  }
  out.push(piece);
}

/** Index of the last element whose key is ≤ max in an ascending list, or -1. */
function lastAtOrBelow(ids: number[], max: number, key: (id: number) => number): number {
  let lo = 0;
  let hi = ids.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (key(ids[mid]) <= max) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}
