// Seeded randomness: every workload, fault schedule and property test takes a seed, so a failure
// seen once can be replayed exactly.
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformInt } from 'pure-rand/distribution/uniformInt';

export interface Random {
  /** Integer in [min, max], both inclusive. */
  int(min: number, max: number): number;
  /** Float in [0, 1). */
  next(): number;
  /** A new buffer of `length` random bytes. */
  bytes(length: number): Buffer;
  pick<T>(items: readonly T[]): T;
}

export function seededRandom(seed: number): Random {
  const rng = xoroshiro128plus(seed);
  const int = (min: number, max: number): number => uniformInt(rng, min, max);
  return {
    int,
    next: () => int(0, 0x7fffffff) / 0x80000000,
    bytes(length: number): Buffer {
      // Bulk data comes from xorshift32 seeded by the main generator: calling the uniform
      // distribution per word would dominate workloads that write gigabytes.
      const words = new Uint32Array(Math.ceil(length / 4));
      let x = int(1, 0x7fffffff) >>> 0;
      for (let i = 0; i < words.length; i++) {
        x ^= x << 13; x >>>= 0;
        x ^= x >>> 17;
        x ^= x << 5; x >>>= 0;
        words[i] = x;
      }
      return Buffer.from(words.buffer, 0, length);
    },
    pick<T>(items: readonly T[]): T {
      return items[int(0, items.length - 1)];
    },
  };
}
