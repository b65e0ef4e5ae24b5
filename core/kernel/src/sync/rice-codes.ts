// Bit-level Rice codes with escapes, for the dirty bitmap's pages: optimal prefix codes for geometric run
// lengths, with a second parameter for the outliers a page mixes in.
//
// A page often holds two populations (small gaps inside a hot spot, large ones to the next hot spot or a
// lone write in a cold area), so a quotient of `e` ones escapes to a second Rice code with its own
// parameter (`code2`), and that one, after 16 ones, to Elias-gamma: no value costs more than O(log v) bits.

export const POW2: readonly number[] = Array.from({ length: 64 }, (_, i) => 2 ** i);
/** A unary quotient of this many ones escapes to Elias-gamma. */
export const ESC = 16;
export const MAX_K = 52;

export function floorLog2(x: number): number {
  if (x < 0x80000000) return 31 - Math.clz32(x);
  let n = Math.floor(Math.log2(x));
  if (POW2[n] > x) n--;
  else if (POW2[n + 1] <= x) n++;
  return n;
}

/** Bits to code v ≥ 0 with Rice parameter k. */
export function codeBits(v: number, k: number): number {
  const q = k === 0 ? v : Math.floor(v / POW2[k]);
  if (q < ESC) return q + 1 + k;
  return ESC + 2 * floorLog2(q - ESC + 1) + 1 + k;
}

/** Escape lengths a two-level code may use (2 bits in a page header). */
export const ESCAPES: readonly number[] = [2, 4, 8, 16];

/** Bits to code v ≥ 0 with Rice parameter k, escaping after e ones to Rice parameter k2. */
export function code2Bits(v: number, k: number, e: number, k2: number): number {
  const q = k === 0 ? v : Math.floor(v / POW2[k]);
  if (q < e) return q + 1 + k;
  return e + codeBits(v - e * POW2[k], k2);
}

/** Writes MSB-first into a byte array from `pos`. */
export class BitWriter {
  private acc = 0;
  private nacc = 0;
  constructor(private readonly buf: Uint8Array, public pos: number) {}

  /** n ≤ 16. */
  bits(v: number, n: number): void {
    this.acc = (this.acc << n) | v;
    this.nacc += n;
    while (this.nacc >= 8) {
      this.nacc -= 8;
      this.buf[this.pos++] = (this.acc >>> this.nacc) & 0xff;
    }
    this.acc &= (1 << this.nacc) - 1;
  }

  /** v < 2^n, n ≤ 53. */
  wide(v: number, n: number): void {
    if (n <= 16) {
      this.bits(v, n);
      return;
    }
    let first = ((n - 1) % 16) + 1;
    while (n > 0) {
      const rest = n - first;
      const chunk = Math.floor(v / POW2[rest]);
      this.bits(chunk, first);
      v -= chunk * POW2[rest];
      n = rest;
      first = 16;
    }
  }

  code(v: number, k: number): void {
    const q = k === 0 ? v : Math.floor(v / POW2[k]);
    if (q < ESC) {
      this.bits(((1 << q) - 1) << 1, q + 1);
    } else {
      this.bits((1 << ESC) - 1, ESC);
      const x = q - ESC + 1;
      const n = floorLog2(x);
      this.wide(0, n);
      this.wide(x, n + 1);
    }
    if (k > 0) this.wide(v - q * POW2[k], k);
  }

  code2(v: number, k: number, e: number, k2: number): void {
    const q = k === 0 ? v : Math.floor(v / POW2[k]);
    if (q < e) {
      this.bits(((1 << q) - 1) << 1, q + 1);
      if (k > 0) this.wide(v - q * POW2[k], k);
    } else {
      this.bits((1 << e) - 1, e);
      this.code(v - e * POW2[k], k2);
    }
  }

  /** Pads the last byte with zero bits. */
  flush(): void {
    if (this.nacc > 0) this.bits(0, 8 - this.nacc);
  }
}

/** Damaged or truncated coded data. */
export class CorruptCodeError extends Error {}

/**
 * Reads MSB-first codes through a 32-bit window (unary runs are counted with clz32). Past `end` it reads
 * zeros, which end every unary run; `overran` then tells the caller the data was too short.
 */
export class BitReader {
  private acc = 0;
  private nacc = 0;
  constructor(private readonly buf: Uint8Array, private pos: number, private readonly end: number) {}

  private refill(): void {
    while (this.nacc <= 24) {
      this.acc = ((this.acc << 8) | (this.pos < this.end ? this.buf[this.pos] : 0)) >>> 0;
      this.pos++;
      this.nacc += 8;
    }
  }

  private drop(n: number): void {
    this.nacc -= n;
    this.acc = this.nacc === 0 ? 0 : (this.acc & (0xffffffff >>> (32 - this.nacc))) >>> 0;
  }

  get overran(): boolean {
    return (this.pos - this.end) * 8 > this.nacc;
  }

  /** n ≤ 16. */
  bits(n: number): number {
    if (this.nacc < n) this.refill();
    const v = (this.acc >>> (this.nacc - n)) & ((1 << n) - 1);
    this.drop(n);
    return v;
  }

  wide(n: number): number {
    if (n <= 16) return this.bits(n);
    let first = ((n - 1) % 16) + 1;
    let v = 0;
    while (n > 0) {
      v = v * POW2[first] + this.bits(first);
      n -= first;
      first = 16;
    }
    return v;
  }

  code(k: number): number {
    if (this.nacc < ESC + 1) this.refill();
    const ones = Math.clz32(~(this.acc << (32 - this.nacc)));
    let q: number;
    if (ones < ESC) {
      q = ones;
      this.drop(ones + 1);
    } else {
      this.drop(ESC);
      let n = 0;
      while (this.bits(1) === 0) {
        if (++n > 53) throw new CorruptCodeError('gamma code too long');
      }
      // The gamma code's leading 1 was consumed; n bits follow.
      q = POW2[n] + this.wide(n) + ESC - 1;
    }
    const v = k > 0 ? q * POW2[k] + this.wide(k) : q;
    if (!Number.isSafeInteger(v)) throw new CorruptCodeError('value out of range');
    return v;
  }

  code2(k: number, e: number, k2: number): number {
    if (this.nacc < e + 1) this.refill();
    const ones = Math.clz32(~(this.acc << (32 - this.nacc)));
    if (ones < e) {
      this.drop(ones + 1);
      return k > 0 ? ones * POW2[k] + this.wide(k) : ones;
    }
    this.drop(e);
    const v = e * POW2[k] + this.code(k2);
    if (!Number.isSafeInteger(v)) throw new CorruptCodeError('value out of range');
    return v;
  }
}
