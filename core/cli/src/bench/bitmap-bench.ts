// `opencdp bench bitmap`: the protected appliance's dirty-region tracker (DirtyBitmap) under a hard
// 256 KiB budget on a 1 TiB volume, against DRBD's flat bitmap (one bit per 4 KiB: 32 MiB per TiB).
//   peakBytes      the tracker's largest memoryBytes (must stay ≤ budgetBytes)
//   amplification  bytes a bitmap sync would re-send ÷ bytes truly changed (exact set kept on the side;
//                  target ≤ 2), for one million skewed random 4 KiB writes; the same figures for other
//                  skews and for uniform writes are extra metrics, as is a flat bitmap squeezed into the
//                  same budget (what DRBD's layout would re-send at 256 KiB)
//   ratio          peakBytes ÷ the DRBD bitmap's bytes for the volume
// Every run checks that no changed block is missing from the regions; a miss fails the benchmark.
import { performance } from 'node:perf_hooks';
import { DirtyBitmap, seededRandom, type Random } from '@opencdp/core';
import { registerBenchmark, type BenchmarkContext, type BenchmarkDefinition, type BenchmarkResult } from './benchmark.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;

const VOLUME = 'vol-0';
const SEED = 20_260_301;

/** Every size of the full (scale 1) run; `--scale` multiplies the volume, the writes, the hot spots and the budget. */
export const BITMAP_BENCH_SIZES = {
  volumeBytes: TiB,
  writes: 1_000_000,
  writeBytes: 4 * KiB,
  budgetBytes: 256 * KiB,
  /** Hot spots: this many extents of hotExtentBytes at distinct random aligned places, chosen Zipf(1) by rank. */
  hotExtents: 1000,
  hotExtentBytes: 16 * MiB,
  /** Share of writes to the hot spots in the headline workload; the rest fall uniformly on the whole volume. */
  hotShare: 0.95,
  /** Other hot shares reported as extra metrics (1 − share is the uniform cold share). */
  extraHotShares: [0.99, 0.9],
  /** DRBD: one bit per 4 KiB. */
  drbdBytesPerTiB: 32 * MiB,
} as const;

export interface BitmapBenchPlan {
  volumeBytes: number;
  writes: number;
  budgetBytes: number;
  hotExtents: number;
}

export function bitmapPlanFor(scale: number): BitmapBenchPlan {
  const s = BITMAP_BENCH_SIZES;
  return {
    volumeBytes: Math.max(64, Math.round((s.volumeBytes * scale) / s.hotExtentBytes)) * s.hotExtentBytes,
    writes: Math.max(1000, Math.round(s.writes * scale)),
    budgetBytes: Math.max(DirtyBitmap.minimumBudget, Math.round(s.budgetBytes * scale)),
    hotExtents: Math.max(4, Math.round(s.hotExtents * scale)),
  };
}

export const bitmapBenchmark: BenchmarkDefinition = {
  description: 'dirty-region bitmap under a 256 KiB budget on 1 TiB: memory and re-sent bytes vs DRBD\'s 4 KiB bitmap',
  run: runBitmapBenchmark,
};

/** One workload's figures. */
export interface BitmapRun {
  peakBytes: number;
  resentBytes: number;
  changedBytes: number;
  amplification: number;
  /** A flat bitmap of budgetBytes × 8 bits over the volume: its re-sent bytes ÷ changed bytes. */
  flatAmplification: number;
  marksPerSecond: number;
  regions: number;
  coarsestCellBytes: number;
  /**
   * The information in the changed set under the workload's own model: Σ over hot extents of
   * n·H(k/n) bits (k of n blocks changed) plus log2 C(cold blocks, cold changes) — about what an ideal
   * coder needs to hold the set exactly.
   */
  entropyBytes: number;
}

async function runBitmapBenchmark(ctx: BenchmarkContext): Promise<BenchmarkResult> {
  const plan = bitmapPlanFor(ctx.scale);
  const s = BITMAP_BENCH_SIZES;
  const { log } = ctx;
  log(`bitmap: ${plan.writes} writes of ${s.writeBytes / KiB} KiB on ${gib(plan.volumeBytes)} GiB, budget ${plan.budgetBytes} bytes`);

  const headline = runWorkload(plan, s.hotShare, SEED, log);
  const extras = s.extraHotShares.map((share, i) => ({ share, run: runWorkload(plan, share, SEED + 1 + i, log) }));
  const uniform = runWorkload(plan, 0, SEED + 9, log);

  const drbdBytes = (s.drbdBytesPerTiB * plan.volumeBytes) / TiB;
  const metrics: Record<string, number> = {
    peakBytes: headline.peakBytes,
    budgetBytes: plan.budgetBytes,
    amplification: round4(headline.amplification),
    resentBytes: headline.resentBytes,
    changedBytes: headline.changedBytes,
    flatBitmapAmplification: round4(headline.flatAmplification),
    marksPerSecond: round4(headline.marksPerSecond),
    regions: headline.regions,
    coarsestCellBytes: headline.coarsestCellBytes,
    entropyBytes: Math.round(headline.entropyBytes),
  };
  for (const { share, run } of extras) {
    const tag = `hot${Math.round(share * 100)}`;
    metrics[`${tag}Amplification`] = round4(run.amplification);
    metrics[`${tag}FlatBitmapAmplification`] = round4(run.flatAmplification);
    metrics[`${tag}PeakBytes`] = run.peakBytes;
    metrics[`${tag}EntropyBytes`] = Math.round(run.entropyBytes);
  }
  metrics.uniformAmplification = round4(uniform.amplification);
  metrics.uniformFlatBitmapAmplification = round4(uniform.flatAmplification);
  metrics.uniformPeakBytes = uniform.peakBytes;
  metrics.uniformResentBytes = uniform.resentBytes;
  metrics.uniformChangedBytes = uniform.changedBytes;
  metrics.uniformEntropyBytes = Math.round(uniform.entropyBytes);

  const blocks = plan.volumeBytes / s.writeBytes;
  const uniformBlocks = uniform.changedBytes / s.writeBytes;
  const exactBits = log2Binomial(blocks, uniformBlocks);
  const bound = lowerBoundAmplification(blocks, uniformBlocks, plan.budgetBytes * 8);
  metrics.uniformLowerBoundAmplification = round4(bound);
  const flatCell = Math.ceil(blocks / (plan.budgetBytes * 8)) * s.writeBytes;
  return {
    name: 'bitmap',
    metrics,
    baseline: { tool: 'drbd-4KiB-bitmap', bytes: drbdBytes },
    ratio: round4(headline.peakBytes / drbdBytes),
    targets: { amplification: '<= 2', peakBytes: `<= ${plan.budgetBytes}` },
    notes: [
      `scale ${ctx.scale}: ${plan.writes} writes of ${s.writeBytes} bytes at ${s.writeBytes}-aligned offsets on a ${plan.volumeBytes}-byte volume; budget ${plan.budgetBytes} bytes`,
      `skewed workload: ${Math.round(s.hotShare * 100)} % of writes go to ${plan.hotExtents} hot extents of ${s.hotExtentBytes / MiB} MiB at distinct random ${s.hotExtentBytes / MiB} MiB-aligned places (${((plan.hotExtents * s.hotExtentBytes) / plan.volumeBytes * 100).toFixed(2)} % of the volume), the extent picked Zipf(s = 1) by rank and the block uniformly inside it; the other ${Math.round((1 - s.hotShare) * 100)} % fall uniformly on the whole volume. hotNN metrics: the same with NN % hot`,
      'amplification = the bitmap\'s dirtyBytes (what a bitmap sync re-reads and re-sends) ÷ the bytes of distinct blocks written, counted exactly in a separate 1-bit-per-4-KiB array; every written block was checked to lie inside a region',
      'entropyBytes: the information in the changed set under the workload\'s own model (Σ over hot extents of n·H(k/n) bits for k of n blocks changed, plus log2 C(cold blocks, cold changes)), about what an ideal coder needs to hold the set exactly; above budgetBytes no structure can be exact, and the further above, the more it must re-send',
      `flatBitmapAmplification: a plain bitmap of the same ${plan.budgetBytes} bytes (one bit per ${flatCell} bytes) over the same writes`,
      `uniform writes cannot be described exactly in the budget: ${uniformBlocks} distinct blocks out of ${blocks} need log2 C(${blocks}, ${uniformBlocks}) ≈ ${Math.round(exactBits / 8 / KiB)} KiB at the very least, ${(exactBits / 8 / plan.budgetBytes).toFixed(1)} × the budget. uniformLowerBoundAmplification: what any structure of ${plan.budgetBytes} bytes must re-send at least, for all but a vanishing share of such write sets (counting: its 2^${plan.budgetBytes * 8} states can name that many covering sets, and a set of r·d blocks covers only C(r·d, d) of the C(${blocks}, d) possible sets of d changed blocks)`,
      'memory = byteLength of every typed array the tracker holds (arena, index, fixed scratch); peak checked against the budget after every write',
    ],
  };
}

/** One workload: writes with the given hot share, the tracker and the exact set side by side. */
export function runWorkload(plan: BitmapBenchPlan, hotShare: number, seed: number, log: (line: string) => void): BitmapRun {
  const s = BITMAP_BENCH_SIZES;
  const rnd = seededRandom(seed);
  const blocks = plan.volumeBytes / s.writeBytes;
  const blocksPerExtent = s.hotExtentBytes / s.writeBytes;
  const hot = pickHotExtents(rnd, plan.hotExtents, plan.volumeBytes / s.hotExtentBytes);
  const cdf = zipfCdf(plan.hotExtents);
  const exact = new Uint8Array(Math.ceil(blocks / 8));
  const bitmap = new DirtyBitmap({ budgetBytes: plan.budgetBytes, volumes: [{ id: VOLUME, sizeBytes: plan.volumeBytes }], minGranularity: s.writeBytes });

  // Offsets first, so the measured loop is the tracker alone.
  const targets = new Float64Array(plan.writes);
  for (let i = 0; i < plan.writes; i++) {
    let block: number;
    if (rnd.next() < hotShare) {
      const rank = searchCdf(cdf, rnd.next());
      block = hot[rank] * blocksPerExtent + rnd.int(0, blocksPerExtent - 1);
    } else {
      block = rnd.int(0, blocks - 1);
    }
    targets[i] = block;
    exact[block >> 3] |= 1 << (block & 7);
  }
  const start = performance.now();
  for (let i = 0; i < plan.writes; i++) {
    bitmap.mark(VOLUME, targets[i] * s.writeBytes, s.writeBytes);
    if (bitmap.memoryBytes > plan.budgetBytes) throw new Error(`bitmap holds ${bitmap.memoryBytes} bytes, over its budget of ${plan.budgetBytes}`);
  }
  const ms = performance.now() - start;

  const regions = bitmap.regions();
  const resent = regions.reduce((n, r) => n + r.length, 0);
  if (resent !== bitmap.dirtyBytes) throw new Error(`regions add up to ${resent} bytes but dirtyBytes says ${bitmap.dirtyBytes}`);
  // No misses: walk the exact set and the regions together.
  let r = 0;
  let changed = 0;
  for (let byte = 0; byte < exact.length; byte++) {
    let bits = exact[byte];
    while (bits !== 0) {
      const low = bits & -bits;
      const block = byte * 8 + 31 - Math.clz32(low);
      bits ^= low;
      changed++;
      const offset = block * s.writeBytes;
      while (r < regions.length && regions[r].offset + regions[r].length <= offset) r++;
      if (r >= regions.length || regions[r].offset > offset) throw new Error(`block at ${offset} was written but is in no dirty region`);
    }
  }
  const changedBytes = changed * s.writeBytes;
  const flat = flatBitmapBytes(exact, blocks, plan.budgetBytes * 8, plan.volumeBytes, s.writeBytes);
  let entropyBits = 0;
  let hotChanged = 0;
  for (const slot of hot) {
    let k = 0;
    for (let byte = (slot * blocksPerExtent) / 8; byte < ((slot + 1) * blocksPerExtent) / 8; byte++) k += popcount(exact[byte]);
    hotChanged += k;
    entropyBits += blocksPerExtent * binaryEntropy(k / blocksPerExtent);
  }
  entropyBits += log2Binomial(blocks - hot.length * blocksPerExtent, changed - hotChanged);
  const run: BitmapRun = {
    peakBytes: bitmap.peakMemoryBytes,
    resentBytes: resent,
    changedBytes,
    amplification: resent / changedBytes,
    flatAmplification: flat / changedBytes,
    marksPerSecond: plan.writes / (ms / 1000),
    regions: regions.length,
    coarsestCellBytes: bitmap.stats.coarsestCellBytes,
    entropyBytes: entropyBits / 8,
  };
  log(`  hot ${Math.round(hotShare * 100)} %: ${changed} blocks changed, re-send ${(resent / 1e6).toFixed(1)} MB (×${run.amplification.toFixed(2)}; flat bitmap ×${run.flatAmplification.toFixed(1)}), peak ${run.peakBytes} bytes, ${Math.round(run.marksPerSecond)} marks/s`);
  return run;
}

function popcount(x: number): number {
  let n = 0;
  for (; x !== 0; x &= x - 1) n++;
  return n;
}

function binaryEntropy(p: number): number {
  return p <= 0 || p >= 1 ? 0 : -(p * Math.log2(p) + (1 - p) * Math.log2(1 - p));
}

/** `count` distinct extent slots out of `slots`, in rank order. */
function pickHotExtents(rnd: Random, count: number, slots: number): number[] {
  const chosen = new Set<number>();
  const out: number[] = [];
  while (out.length < Math.min(count, slots)) {
    const slot = rnd.int(0, slots - 1);
    if (chosen.has(slot)) continue;
    chosen.add(slot);
    out.push(slot);
  }
  return out;
}

/** Cumulative Zipf(1) probabilities over ranks 1..n. */
function zipfCdf(n: number): Float64Array {
  const cdf = new Float64Array(n);
  let acc = 0;
  for (let r = 1; r <= n; r++) cdf[r - 1] = acc += 1 / r;
  for (let i = 0; i < n; i++) cdf[i] /= acc;
  return cdf;
}

function searchCdf(cdf: Float64Array, u: number): number {
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cdf[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Bytes a flat bitmap of `bits` bits over the volume would re-send for the exact set. */
function flatBitmapBytes(exact: Uint8Array, blocks: number, bits: number, volumeBytes: number, blockBytes: number): number {
  const blocksPerBit = Math.max(1, Math.ceil(blocks / bits));
  let dirty = 0;
  for (let cell = 0; cell * blocksPerBit < blocks; cell++) {
    const from = cell * blocksPerBit;
    const to = Math.min(blocks, from + blocksPerBit);
    for (let b = from; b < to; b++) {
      if (b % 8 === 0 && b + 8 <= to && exact[b >> 3] === 0) {
        b += 7;
        continue;
      }
      if (exact[b >> 3] & (1 << (b & 7))) {
        dirty += Math.min(volumeBytes, to * blockBytes) - from * blockBytes;
        break;
      }
    }
  }
  return dirty;
}

/** log2 of the binomial coefficient C(n, k), as Σ_{i=1..k} log2((n − k + i) / i). */
function log2Binomial(n: number, k: number): number {
  let bits = 0;
  for (let i = 1; i <= k; i++) bits += Math.log2((n - k + i) / i);
  return bits;
}

/**
 * The smallest r such that a structure of `bits` bits can cover every set of d changed blocks out of n
 * with sets of r·d blocks: 2^bits · C(r·d, d) ≥ C(n, d).
 */
function lowerBoundAmplification(n: number, d: number, bits: number): number {
  const need = log2Binomial(n, d) - bits;
  if (need <= 0) return 1;
  let lo = 1;
  let hi = n / d;
  for (let i = 0; i < 40; i++) {
    const r = (lo + hi) / 2;
    if (log2Binomial(Math.floor(r * d), d) >= need) hi = r;
    else lo = r;
  }
  return hi;
}

function gib(bytes: number): string {
  return (bytes / GiB).toFixed(bytes < 10 * GiB ? 2 : 0);
}

/** Four significant digits: readable JSON, and a tiny positive value never rounds to 0. */
function round4(n: number): number {
  return Number(n.toPrecision(4));
}

registerBenchmark('bitmap', bitmapBenchmark);
