// `opencdp bench journal`: the journal engine on a real disk, against plain-file baselines on the same
// disk in the same run.
//   1. appendMBps      sustained 64 KiB appends with a checkpoint (fsync) every second, vs fio sequential
//                      64 KiB psync writes with end_fsync (ratio = appendMBps / fio MBps, target ≥ 0.85)
//   2. openImageMs     openImage(oldest checkpoint) on a journal of 1,000,000 4 KiB writes (target ≤ 200 ms);
//                      recoverAfterCrashMs is Journal.open of that journal as kill -9 leaves it (the newest
//                      two segments without their summaries, so they are scanned; target ≤ 2 s), recoverMs
//                      the open after a clean close (every sealed segment summarised)
//   3. imageReadRatio  random 4 KiB reads through the image vs pread of the same offsets on a plain file
//                      (target ≥ 0.5)
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  Journal, LocalFileStorage, SystemClock, seededRandom, type JournalOptions, type PointInTimeImage, type Random,
  type SequencedWrite,
} from '@opencdp/core';
import { registerBenchmark, type BenchmarkContext, type BenchmarkDefinition, type BenchmarkResult } from './benchmark.js';
import { runFio, type FioResult } from './fio-baseline.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

const VM = 'bench-vm';
const VOLUME = 'vol-0';
const SEED = 20_260_101;

/** Every size of the full (scale 1) run; `--scale` multiplies the scaled ones. */
export const JOURNAL_BENCH_SIZES = {
  appendTotalBytes: 2 * GiB,
  appendWriteBytes: 64 * KiB,
  appendBatch: 16,
  /** appendMany batches queued at once. */
  appendWindow: 4,
  /** Sparse, so not scaled: only the spread of offsets depends on it. */
  appendVolumeBytes: 64 * GiB,
  checkpointEveryMs: 1000,
  imageWrites: 1_000_000,
  imageWriteBytes: 4 * KiB,
  imageBatch: 256,
  imageVolumeBytes: 8 * GiB,
  imageCheckpoints: 100,
  reads: 20_000,
  readConcurrency: 16,
} as const;

/** fio and the journal (and image and pread) run alternately this many times; the best of each counts. */
export function benchRounds(): number {
  const n = Number(process.env.OPENCDP_BENCH_ROUNDS ?? 2);
  return Number.isInteger(n) && n >= 1 && n <= 20 ? n : 2;
}

export interface JournalBenchPlan {
  appendTotalBytes: number;
  imageWrites: number;
  imageVolumeBytes: number;
  checkpointEveryWrites: number;
  reads: number;
}

export function planFor(scale: number): JournalBenchPlan {
  const s = JOURNAL_BENCH_SIZES;
  const imageWrites = Math.max(200, Math.round(s.imageWrites * scale));
  return {
    appendTotalBytes: Math.max(16, Math.round((s.appendTotalBytes * scale) / s.appendWriteBytes)) * s.appendWriteBytes,
    imageWrites,
    // Same density of writes per block at every scale.
    imageVolumeBytes: Math.max(16, Math.round((s.imageVolumeBytes * scale) / MiB)) * MiB,
    checkpointEveryWrites: Math.max(1, Math.round(imageWrites / s.imageCheckpoints)),
    reads: Math.max(200, Math.round(s.reads * scale)),
  };
}

export const journalBenchmark: BenchmarkDefinition = {
  description: 'journal append vs fio, point-in-time image open and reads vs pread',
  run: runJournalBenchmark,
};

async function runJournalBenchmark(ctx: BenchmarkContext): Promise<BenchmarkResult> {
  const plan = planFor(ctx.scale);
  const s = JOURNAL_BENCH_SIZES;
  const rounds = benchRounds();
  const { log } = ctx;
  const notes: string[] = [];
  await checkFreeSpace(ctx.workDir, plan);

  // ---- 1. append vs fio -------------------------------------------------------------------
  log(`append: ${mb(plan.appendTotalBytes)} MB in ${s.appendWriteBytes / KiB} KiB writes, checkpoint every ${s.checkpointEveryMs} ms; fio and journal alternately, ${rounds} rounds`);
  let bestFio: FioResult | undefined;
  let bestAppend: AppendRun | undefined;
  for (let round = 1; round <= rounds; round++) {
    const fio = await runFio({
      name: 'seq', rw: 'write', blockBytes: s.appendWriteBytes, sizeBytes: plan.appendTotalBytes, ioengine: 'psync', endFsync: true,
      filename: path.join(ctx.workDir, 'fio-seq.dat'),
    });
    log(`  round ${round}: fio ${fio.MBps.toFixed(1)} MB/s`);
    if (!bestFio || fio.MBps > bestFio.MBps) bestFio = fio;
    const run = await appendRun(ctx.workDir, `append-${round}`, plan.appendTotalBytes, SEED + round);
    log(`  round ${round}: journal ${run.MBps.toFixed(1)} MB/s (${run.checkpoints} checkpoints)`);
    if (!bestAppend || run.MBps > bestAppend.MBps) bestAppend = run;
  }
  const fio = bestFio!;
  const append = bestAppend!;

  // ---- 2. build a big journal, reopen it, open an image -----------------------------------
  const imageDir = path.join(ctx.workDir, 'image');
  const storage = new LocalFileStorage(imageDir);
  const options: JournalOptions = {
    storage, path: 'journal', vmId: VM, clock: new SystemClock(),
    volumes: [{ id: VOLUME, sizeBytes: plan.imageVolumeBytes, sectorSize: 4096 }],
    historyMs: 7 * 24 * 3600_000,
    hardLimitBytes: plan.imageWrites * (s.imageWriteBytes + 1024) + GiB,
    warningBytes: plan.imageWrites * (s.imageWriteBytes + 1024) + GiB,
    autoTrim: false,
  };
  log(`image: building a journal of ${plan.imageWrites} writes of ${s.imageWriteBytes / KiB} KiB over a ${mb(plan.imageVolumeBytes)} MB volume, checkpoint every ${plan.checkpointEveryWrites} writes`);
  const built = await buildImageJournal(options, plan);
  log(`  built in ${(built.ms / 1000).toFixed(1)} s (${built.MBps.toFixed(1)} MB/s of 4 KiB writes)`);

  // As kill -9 leaves it: the active segment never got a summary, and the one sealed before it may not have
  // (its summary follows its flush at the next checkpoint). Those two are scanned and CRC-checked.
  const segmentFiles = (await storage.list('journal/segments/')).filter((n) => n.endsWith('.seg'));
  for (const name of segmentFiles.slice(-2)) await storage.delete(name.replace(/\.seg$/, '.sum'));
  let t = performance.now();
  const cpu = process.cpuUsage();
  const crashed = await Journal.open(options);
  const recoverAfterCrashMs = performance.now() - t;
  // CPU time too: on a shared machine the wall time says more about the neighbours than about the open.
  const recoverCpu = process.cpuUsage(cpu);
  const recoverAfterCrashCpuMs = (recoverCpu.user + recoverCpu.system) / 1000;
  if (crashed.checkpoints().length !== built.checkpoints) throw new Error(`recovered ${crashed.checkpoints().length} checkpoints after the crash, expected ${built.checkpoints}`);
  await crashed.close();
  t = performance.now();
  const journal = await Journal.open(options);
  const recoverMs = performance.now() - t;
  let image: PointInTimeImage | undefined;
  let latest: PointInTimeImage | undefined;
  try {
    const checkpoints = journal.checkpoints();
    if (checkpoints.length !== built.checkpoints) throw new Error(`recovered ${checkpoints.length} checkpoints, expected ${built.checkpoints}`);
    t = performance.now();
    image = await journal.openImage(checkpoints[0].id);
    const openImageMs = performance.now() - t;
    log(`  Journal.open after kill -9 ${recoverAfterCrashMs.toFixed(1)} ms (CPU ${recoverAfterCrashCpuMs.toFixed(0)} ms), after a clean close ${recoverMs.toFixed(1)} ms (${segmentFiles.length} segments); openImage(oldest) ${openImageMs.toFixed(3)} ms`);

    // ---- 3. random reads through the image vs pread on a plain file -----------------------
    const rnd = seededRandom(SEED + 99);
    const oldestOffsets = pickReads(rnd, plan.reads, built.visibleInOldest, built.written);
    const latestOffsets = pickReads(rnd, plan.reads, built.writtenBlocks, built.written);
    const directPath = path.join(ctx.workDir, 'direct.img');
    await fillDirectFile(directPath, plan.imageVolumeBytes, [oldestOffsets, latestOffsets], rnd);
    const direct = await fs.open(directPath, 'r');
    let imageMBps = 0;
    let latestMBps = 0;
    let directMBps = 0;
    try {
      const readImage = (off: number): Promise<Buffer> => image!.read(VOLUME, off, s.imageWriteBytes);
      for (let round = 1; round <= rounds; round++) {
        const [img, dir] = await interleavedReads(oldestOffsets, s.readConcurrency, readImage, preadWorker(direct, s.imageWriteBytes));
        log(`  round ${round}: image ${img.toFixed(1)} MB/s, pread ${dir.toFixed(1)} MB/s`);
        imageMBps = Math.max(imageMBps, img);
        directMBps = Math.max(directMBps, dir);
      }
      latest = await journal.openImage(checkpoints[checkpoints.length - 1].id);
      for (let round = 1; round <= rounds; round++) {
        latestMBps = Math.max(latestMBps, await readRun(latestOffsets, s.readConcurrency, (off) => latest!.read(VOLUME, off, s.imageWriteBytes)));
      }
      log(`  latest image ${latestMBps.toFixed(1)} MB/s`);
    } finally {
      await direct.close();
    }

    notes.push(
      `scale ${ctx.scale}: append ${plan.appendTotalBytes} bytes; image journal ${plan.imageWrites} writes over ${plan.imageVolumeBytes} bytes, ${built.checkpoints} checkpoints; ${plan.reads} reads, ${s.readConcurrency} in flight`,
      `append: ${s.appendBatch}-write appendMany batches, ${s.appendWindow} queued at once; each second a checkpoint is queued behind them without stopping the producer; timed until the final checkpoint (fsync) resolves`,
      `best of ${rounds} alternating runs each; MB = 10^6 bytes; page cache not dropped between phases (the benchmark needs no root), so reads are mostly served from memory on both sides`,
      `fio: ${fio.version} ${fio.args.filter((a) => !a.startsWith('--filename') && !a.startsWith('--output')).join(' ')}`,
      'image reads: half at blocks the oldest checkpoint sees journaled, half at never-written blocks (replica holes); pread: the same offsets on a plain sparse file with data at every offset read; the two alternate in slices of a tenth',
    );
    return {
      name: 'journal',
      metrics: {
        appendMBps: round4(append.MBps),
        openImageMs: round4(openImageMs),
        imageReadRatio: round4(imageMBps / directMBps),
        imageReadMBps: round4(imageMBps),
        directReadMBps: round4(directMBps),
        recoverAfterCrashMs: round4(recoverAfterCrashMs),
        recoverAfterCrashCpuMs: round4(recoverAfterCrashCpuMs),
        recoverMs: round4(recoverMs),
        recoverMBps: round4(built.journalBytes / 1e6 / (recoverAfterCrashMs / 1000)),
        imageReadLatestMBps: round4(latestMBps),
        buildAppend4kMBps: round4(built.MBps),
      },
      baseline: { tool: 'fio', MBps: round4(fio.MBps) },
      ratio: round4(append.MBps / fio.MBps),
      targets: { ratio: '>= 0.85', openImageMs: '<= 200', imageReadRatio: '>= 0.5', recoverAfterCrashMs: '<= 2000' },
      notes,
    };
  } finally {
    image?.close();
    latest?.close();
    await journal.close();
  }
}

// ---- append ---------------------------------------------------------------------------------

interface AppendRun {
  MBps: number;
  ms: number;
  checkpoints: number;
}

/** Appends `totalBytes` in 64 KiB writes at random aligned offsets, with a checkpoint every second and one at the end. */
async function appendRun(workDir: string, name: string, totalBytes: number, seed: number): Promise<AppendRun> {
  const s = JOURNAL_BENCH_SIZES;
  const rnd = seededRandom(seed);
  const pool = bufferPool(rnd, s.appendWriteBytes, 64);
  const root = path.join(workDir, name);
  const storage = new LocalFileStorage(root);
  const journal = await Journal.open({
    storage, path: 'journal', vmId: VM, clock: new SystemClock(),
    volumes: [{ id: VOLUME, sizeBytes: s.appendVolumeBytes, sectorSize: 4096 }],
    historyMs: 7 * 24 * 3600_000, hardLimitBytes: 2 * totalBytes + GiB, warningBytes: 2 * totalBytes + GiB, autoTrim: false,
  });
  const slots = s.appendVolumeBytes / s.appendWriteBytes;
  const count = totalBytes / s.appendWriteBytes;
  let seq = 0;
  let checkpoints = 0;
  const checkpoint = (): Promise<void> => journal.addCheckpoint({ id: `cp-${++checkpoints}`, groupId: 'bench', seq, timestamp: Date.now(), kind: 'auto' });
  // Like a replication receiver: a few batches queued at once, and each second a checkpoint marker queued
  // behind the writes stamped so far without holding up the writes that follow (the journal keeps the order).
  const inFlight: Promise<void>[] = [];
  const markers: Promise<void>[] = [];
  try {
    const start = performance.now();
    let lastCheckpoint = start;
    while (seq < count) {
      const batch: SequencedWrite[] = [];
      for (let i = 0; i < s.appendBatch && seq < count; i++) {
        seq++;
        batch.push({ seq, volumeId: VOLUME, offset: rnd.int(0, slots - 1) * s.appendWriteBytes, data: pool[seq % pool.length] });
      }
      inFlight.push(journal.appendMany(batch));
      if (inFlight.length >= s.appendWindow) await inFlight.shift();
      const now = performance.now();
      if (now - lastCheckpoint >= s.checkpointEveryMs) {
        markers.push(checkpoint());
        lastCheckpoint = now;
      }
    }
    // Durable at the end, like fio's end_fsync.
    markers.push(checkpoint());
    await Promise.all([...inFlight.splice(0), ...markers.splice(0)]);
    const ms = performance.now() - start;
    return { MBps: totalBytes / 1e6 / (ms / 1000), ms, checkpoints };
  } finally {
    // After a failure, let whatever is still queued settle so no rejection goes unhandled.
    await Promise.allSettled([...inFlight, ...markers]);
    await journal.close();
    await fs.rm(root, { recursive: true, force: true });
  }
}

// ---- the image journal ----------------------------------------------------------------------

interface BuiltJournal {
  ms: number;
  MBps: number;
  checkpoints: number;
  journalBytes: number;
  /** Bit per block: ever written. */
  written: Uint8Array;
  /** Block numbers written at least once. */
  writtenBlocks: number[];
  /** Block numbers written before the oldest checkpoint (what its image sees journaled). */
  visibleInOldest: number[];
}

async function buildImageJournal(options: JournalOptions, plan: JournalBenchPlan): Promise<BuiltJournal> {
  const s = JOURNAL_BENCH_SIZES;
  const rnd = seededRandom(SEED);
  const pool = bufferPool(rnd, s.imageWriteBytes, 1024);
  const blocks = plan.imageVolumeBytes / s.imageWriteBytes;
  const written = new Uint8Array(blocks);
  const writtenBlocks: number[] = [];
  const visibleInOldest: number[] = [];
  const journal = await Journal.open(options);
  let seq = 0;
  let checkpoints = 0;
  const start = performance.now();
  try {
    while (seq < plan.imageWrites) {
      const untilCheckpoint = plan.checkpointEveryWrites - (seq % plan.checkpointEveryWrites);
      const n = Math.min(s.imageBatch, untilCheckpoint, plan.imageWrites - seq);
      const batch: SequencedWrite[] = new Array(n);
      for (let i = 0; i < n; i++) {
        seq++;
        const block = rnd.int(0, blocks - 1);
        if (!written[block]) {
          written[block] = 1;
          writtenBlocks.push(block);
        }
        if (checkpoints === 0) visibleInOldest.push(block);
        batch[i] = { seq, volumeId: VOLUME, offset: block * s.imageWriteBytes, data: pool[seq % pool.length] };
      }
      await journal.appendMany(batch);
      if (seq % plan.checkpointEveryWrites === 0 || seq === plan.imageWrites) {
        await journal.addCheckpoint({ id: `cp-${++checkpoints}`, groupId: 'bench', seq, timestamp: Date.now(), kind: 'auto' });
      }
    }
    const ms = performance.now() - start;
    const journalBytes = journal.stats().usedBytes;
    return { ms, MBps: (plan.imageWrites * s.imageWriteBytes) / 1e6 / (ms / 1000), checkpoints, journalBytes, written, writtenBlocks, visibleInOldest };
  } finally {
    await journal.close();
  }
}

// ---- reads ----------------------------------------------------------------------------------

/** Half the reads at blocks from `hits`, half at never-written blocks, shuffled together; returns byte offsets. */
function pickReads(rnd: Random, count: number, hits: readonly number[], written: Uint8Array): number[] {
  const s = JOURNAL_BENCH_SIZES;
  const offsets: number[] = [];
  for (let i = 0; i < count; i++) {
    let block: number;
    if (i % 2 === 0 && hits.length > 0) block = hits[rnd.int(0, hits.length - 1)];
    else {
      do block = rnd.int(0, written.length - 1);
      while (written[block]);
    }
    offsets.push(block * s.imageWriteBytes);
  }
  for (let i = offsets.length - 1; i > 0; i--) {
    const j = rnd.int(0, i);
    [offsets[i], offsets[j]] = [offsets[j], offsets[i]];
  }
  return offsets;
}

/** A sparse file of the volume's size with data at every offset that will be read (so pread reads data, not holes). */
async function fillDirectFile(file: string, sizeBytes: number, offsetLists: number[][], rnd: Random): Promise<void> {
  const s = JOURNAL_BENCH_SIZES;
  const pool = bufferPool(rnd, s.imageWriteBytes, 256);
  const handle = await fs.open(file, 'w+');
  try {
    await handle.truncate(sizeBytes);
    const offsets = [...new Set(offsetLists.flat())].sort((a, b) => a - b);
    let i = 0;
    for (const off of offsets) await handle.write(pool[i++ % pool.length], 0, s.imageWriteBytes, off);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

/**
 * Reads the same offsets both ways in alternating slices (a tenth of the offsets each, taking turns at
 * going first), so a slow spell of a noisy machine hits both sides alike; returns MB/s of each.
 */
async function interleavedReads(
  offsets: readonly number[], concurrency: number, a: (offset: number) => Promise<Buffer>, b: (offset: number) => Promise<Buffer>,
): Promise<[number, number]> {
  const slices = 10;
  const per = Math.ceil(offsets.length / slices);
  let msA = 0;
  let msB = 0;
  for (let i = 0; i < slices; i++) {
    const slice = offsets.slice(i * per, (i + 1) * per);
    if (slice.length === 0) break;
    if (i % 2 === 0) {
      msA += await timedReads(slice, concurrency, a);
      msB += await timedReads(slice, concurrency, b);
    } else {
      msB += await timedReads(slice, concurrency, b);
      msA += await timedReads(slice, concurrency, a);
    }
  }
  const mbytes = (offsets.length * JOURNAL_BENCH_SIZES.imageWriteBytes) / 1e6;
  return [mbytes / (msA / 1000), mbytes / (msB / 1000)];
}

/** Reads every offset with `concurrency` reads in flight; returns MB/s. */
async function readRun(offsets: readonly number[], concurrency: number, read: (offset: number) => Promise<Buffer>): Promise<number> {
  const ms = await timedReads(offsets, concurrency, read);
  return (offsets.length * JOURNAL_BENCH_SIZES.imageWriteBytes) / 1e6 / (ms / 1000);
}

/** Reads every offset with `concurrency` reads in flight; returns the milliseconds taken. */
async function timedReads(offsets: readonly number[], concurrency: number, read: (offset: number) => Promise<Buffer>): Promise<number> {
  const s = JOURNAL_BENCH_SIZES;
  let next = 0;
  let bytes = 0;
  const start = performance.now();
  const worker = async (): Promise<void> => {
    while (next < offsets.length) {
      const b = await read(offsets[next++]);
      bytes += b.length;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const ms = performance.now() - start;
  if (bytes !== offsets.length * s.imageWriteBytes) throw new Error(`read ${bytes} bytes, expected ${offsets.length * s.imageWriteBytes}`);
  return ms;
}

/** pread through a FileHandle into a buffer of its own per call (the image also returns a fresh buffer per read). */
function preadWorker(handle: fs.FileHandle, length: number): (offset: number) => Promise<Buffer> {
  return async (offset) => {
    const buf = Buffer.allocUnsafe(length);
    const { bytesRead } = await handle.read(buf, 0, length, offset);
    return buf.subarray(0, bytesRead);
  };
}

// ---- helpers --------------------------------------------------------------------------------

/** Fails early, with the numbers, when the disk cannot hold the largest phase (the image journal plus the pread file). */
async function checkFreeSpace(dir: string, plan: JournalBenchPlan): Promise<void> {
  const s = JOURNAL_BENCH_SIZES;
  const journalBytes = plan.imageWrites * (s.imageWriteBytes + 64);
  const needed = Math.max(plan.appendTotalBytes * 1.1, journalBytes + 2 * plan.reads * s.imageWriteBytes) + 64 * MiB;
  const stats = await fs.statfs(dir);
  const free = stats.bavail * stats.bsize;
  if (free < needed) {
    throw new Error(`the journal benchmark at this scale needs about ${mb(needed)} MB free in ${dir}, but only ${mb(free)} MB are; use --scale or --dir`);
  }
}

/** Pre-generated random buffers, so generating data is not part of what is measured. */
function bufferPool(rnd: Random, size: number, count: number): Buffer[] {
  const all = rnd.bytes(size * count);
  return Array.from({ length: count }, (_, i) => all.subarray(i * size, (i + 1) * size));
}

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(bytes < 10e6 ? 2 : 0);
}

/** Four significant digits: readable JSON, and a tiny positive value never rounds to 0. */
function round4(n: number): number {
  return Number(n.toPrecision(4));
}

registerBenchmark('journal', journalBenchmark);
