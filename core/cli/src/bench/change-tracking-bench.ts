// `opencdp bench change-tracking`: QEMU's change-tracking mode (fleecing views over persistent dirty
// bitmaps) against real qemu-storage-daemon, measured at the platform's port (a cycle as the protected
// appliance runs it: open the view, list the changed regions, read them from the view, release it):
//   incremental: a 16 GiB sparse qcow2 volume, 1 % of its 4 KiB blocks changed at random between views
//     amplification          bytes read per cycle ÷ bytes changed (target ≤ 1.5 at the reported granularity)
//     amplificationAt64KiB   the same changed blocks counted at 64 KiB granules (QEMU's default, the qcow2
//                            cluster) — computed from the block set, not measured
//     cycleMs                open + changedSince + reads + release, median of the rounds
//     baseline               `qemu-img convert` of a sparse raw file holding exactly the changed blocks
//     ratio                  cycleMs ÷ baseline ms
//   first cycle: a 64 GiB volume holding 1 GiB in 1 MiB extents at random offsets
//     firstCycleMs / firstCycleRatio   open + allocated + reads + release, ÷ `dd` reading 1 GiB sequentially
//                                      from a regular file on the same disk (target ≤ 2)
//     firstCycleReadRatio              bytes read ÷ bytes written (the C5 bound is 2)
// What a cycle reads is what the kernel ships (before compression); the link is not part of this
// benchmark. Every byte read is compared with the content written.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { VIEW_NAME_PREFIX, type ChangedRegion, type ChangeView } from '@opencdp/core';
import { QemuHypervisor, missingTools } from '@opencdp/adapter-qemu';
import { registerBenchmark, type BenchmarkContext, type BenchmarkDefinition, type BenchmarkResult } from './benchmark.js';

const run = promisify(execFile);
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const BLOCK = 4 * KiB;

export const CHANGE_TRACKING_SIZES = {
  volumeBytes: 16 * GiB,
  changedShare: 0.01,
  firstVolumeBytes: 64 * GiB,
  firstDataBytes: 1 * GiB,
  /** The bitmap granularity measured (QEMU's default is the 64 KiB cluster; the amplification target asks for 4 KiB). */
  granularity: 4 * KiB,
  rounds: 3,
} as const;

export interface ChangeTrackingPlan {
  volumeBytes: number;
  changedBlocks: number;
  firstVolumeBytes: number;
  firstDataBytes: number;
  rounds: number;
}

export function changeTrackingPlanFor(scale: number): ChangeTrackingPlan {
  const s = CHANGE_TRACKING_SIZES;
  const mib = (bytes: number, min: number): number => Math.max(min, Math.round((bytes * scale) / MiB)) * MiB;
  const volumeBytes = mib(s.volumeBytes, 64);
  return {
    volumeBytes,
    changedBlocks: Math.max(1, Math.round((volumeBytes / BLOCK) * s.changedShare)),
    firstVolumeBytes: mib(s.firstVolumeBytes, 256),
    firstDataBytes: mib(s.firstDataBytes, 4),
    rounds: scale < 0.1 ? 1 : s.rounds,
  };
}

export const changeTrackingBenchmark: BenchmarkDefinition = {
  description: 'QEMU change-tracking cycles (fleecing views over dirty bitmaps): read amplification and cycle time vs qemu-img convert; first cycle vs a sequential read',
  run: runChangeTrackingBenchmark,
};

/** A block's content at a round (deterministic, so reads are checked without keeping what was written). */
function blockContent(block: number, round: number, bytes = BLOCK): Buffer {
  const b = Buffer.alloc(bytes);
  let x = (Math.imul(block + 1, 2654435761) ^ Math.imul(round + 1, 40503)) >>> 0;
  for (let i = 0; i < bytes; i += 4) b.writeUInt32LE((x = (Math.imul(x, 1664525) + 1013904223) >>> 0), i);
  return b;
}

/** `count` distinct indexes below `n` from a seeded generator, sorted. */
function distinct(n: number, count: number, seed: number): number[] {
  const out = new Set<number>();
  let x = seed >>> 0 || 1;
  while (out.size < Math.min(count, n)) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out.add(x % n);
  }
  return [...out].sort((a, b) => a - b);
}

async function pool<T>(items: readonly T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

/** Reads regions from a view in pieces of at most 1 MiB, 8 at a time; calls `check` with each piece. */
async function readRegions(view: ChangeView, regions: readonly ChangedRegion[], check: (offset: number, data: Buffer) => void): Promise<number> {
  const pieces: { volumeId: string; offset: number; length: number }[] = [];
  for (const r of regions) for (let at = r.offset; at < r.offset + r.length; at += MiB) pieces.push({ volumeId: r.volumeId, offset: at, length: Math.min(MiB, r.offset + r.length - at) });
  let bytes = 0;
  await pool(pieces, 8, async (p) => {
    const data = await view.read(p.volumeId, p.offset, p.length);
    check(p.offset, data);
    bytes += data.length;
  });
  return bytes;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = process.hrtime.bigint();
  const out = await fn();
  return [out, Number(process.hrtime.bigint() - t0) / 1e6];
}

async function runChangeTrackingBenchmark(ctx: BenchmarkContext): Promise<BenchmarkResult> {
  const missing = missingTools(['qemu-storage-daemon', 'qemu-img', 'dd']);
  if (missing.length > 0) throw new Error(`change-tracking needs ${missing.join(', ')}: apt-get install qemu-system-common qemu-utils coreutils`);
  const plan = changeTrackingPlanFor(ctx.scale);
  const { log } = ctx;
  const loadStart = os.loadavg()[0];
  const hv = await QemuHypervisor.create({
    workDir: path.join(ctx.workDir, 'qemu'), hosts: ['bench-host'], capture: 'change-tracking', diskFormat: 'qcow2', bitmapGranularity: CHANGE_TRACKING_SIZES.granularity,
  });
  try {
    const tracking = hv.changeTracking!;
    const vm = await hv.createVm({ name: 'ct-bench', volumes: [{ sizeBytes: plan.volumeBytes }] });
    const version = hv.daemonOf(vm.hostId)?.qmp.version;
    log(`change-tracking: ${plan.volumeBytes / GiB} GiB volume, ${plan.changedBlocks} changed 4 KiB blocks per cycle, ${plan.rounds} round(s); first cycle: ${plan.firstVolumeBytes / GiB} GiB volume holding ${plan.firstDataBytes / MiB} MiB; QEMU ${version?.major}.${version?.minor}.${version?.micro}`);

    // ---- incremental cycles ----
    const volumeId = vm.volumes[0].id;
    await tracking.enable(vm.id);
    let viewNo = 0;
    const open = (): Promise<ChangeView> => tracking.openView([vm.id], `${VIEW_NAME_PREFIX}bench-${++viewNo}`);
    const first = await open();
    let token = first.token(volumeId);
    await tracking.releaseView(first.id);
    const blocks = plan.volumeBytes / BLOCK;
    const cycles: number[] = [];
    const converts: number[] = [];
    const amplifications: number[] = [];
    const granules64: number[] = [];
    let bytesRead = 0;
    let bytesChanged = 0;
    for (let round = 1; round <= plan.rounds; round++) {
      const changed = distinct(blocks, plan.changedBlocks, 0x9e3779b9 ^ round);
      const expected = new Map(changed.map((b) => [b, round]));
      // The same blocks into a sparse raw file: what qemu-img convert copies as the baseline.
      const src = path.join(ctx.workDir, `changed-${round}.raw`);
      const file = await fs.open(src, 'w');
      await file.truncate(plan.volumeBytes);
      const [, writeMs] = await timed(() => pool(changed, 8, async (b) => {
        const data = blockContent(b, round);
        await hv.guestWrite(vm.id, volumeId, b * BLOCK, data);
        await file.write(data, 0, BLOCK, b * BLOCK);
      }));
      await file.close();
      // A cycle as the protected appliance runs it.
      let regionBytes = 0;
      const listed = new Set<number>();
      const [read, cycleMs] = await timed(async () => {
        const view = await open();
        try {
          const regions = await view.changedSince(volumeId, token);
          regionBytes = regions.reduce((n, r) => n + r.length, 0);
          for (const r of regions) for (let at = r.offset; at < r.offset + r.length; at += BLOCK) listed.add(at / BLOCK);
          const n = await readRegions(view, regions, (offset, data) => {
            for (let at = 0; at < data.length; at += BLOCK) {
              const b = (offset + at) / BLOCK;
              const want = expected.has(b) ? blockContent(b, round) : Buffer.alloc(BLOCK);
              if (!data.subarray(at, at + BLOCK).equals(want)) throw new Error(`round ${round}: block ${b} read from the view differs from what was written`);
            }
          });
          token = view.token(volumeId);
          return n;
        } finally {
          await tracking.releaseView(view.id);
        }
      });
      const missed = changed.filter((b) => !listed.has(b));
      if (missed.length > 0) throw new Error(`round ${round}: the view missed ${missed.length} changed blocks (listed ${regionBytes} bytes for ${changed.length * BLOCK} changed)`);
      const dst = path.join(ctx.workDir, `convert-${round}.raw`);
      const [, convertMs] = await timed(() => run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'raw', src, dst]));
      const copied = createHash('sha256').update(await readAt(dst, changed[0] * BLOCK, BLOCK)).digest('hex');
      if (copied !== createHash('sha256').update(blockContent(changed[0], round)).digest('hex')) throw new Error('qemu-img convert did not copy the changed data');
      await fs.rm(src);
      await fs.rm(dst);
      bytesRead += read;
      bytesChanged += changed.length * BLOCK;
      cycles.push(cycleMs);
      converts.push(convertMs);
      amplifications.push(read / (changed.length * BLOCK));
      granules64.push((new Set(changed.map((b) => Math.floor((b * BLOCK) / (64 * KiB)))).size * 64 * KiB) / (changed.length * BLOCK));
      log(`  round ${round}: wrote ${changed.length} blocks in ${(writeMs / 1000).toFixed(1)} s; cycle ${cycleMs.toFixed(0)} ms read ${(read / MiB).toFixed(1)} MiB (×${amplifications.at(-1)!.toFixed(3)}); qemu-img convert ${convertMs.toFixed(0)} ms`);
    }
    await tracking.disable(vm.id);

    // ---- first cycle on a mostly empty volume ----
    const big = await hv.createVm({ name: 'ct-bench-first', volumes: [{ sizeBytes: plan.firstVolumeBytes }] });
    const bigId = big.volumes[0].id;
    const extents = distinct(plan.firstVolumeBytes / MiB, plan.firstDataBytes / MiB, 0x5bd1e995);
    const seqFile = path.join(ctx.workDir, 'sequential.bin');
    const seq = await fs.open(seqFile, 'w');
    await pool(extents, 8, async (e) => {
      const data = blockContent(e, 7, MiB);
      await hv.guestWrite(big.id, bigId, e * MiB, data);
      await seq.write(data, 0, MiB, extents.indexOf(e) * MiB);
    });
    await seq.close();
    log(`  first cycle: wrote ${extents.length} MiB extents`);
    await tracking.enable(big.id);
    const extentSet = new Set(extents);
    let allocatedBytes = 0;
    const [firstRead, firstCycleMs] = await timed(async () => {
      const view = await tracking.openView([big.id], `${VIEW_NAME_PREFIX}bench-first`);
      try {
        const regions = await view.allocated(bigId);
        allocatedBytes = regions.reduce((n, r) => n + r.length, 0);
        return await readRegions(view, regions, (offset, data) => {
          const e = Math.floor(offset / MiB);
          const want = extentSet.has(e) ? blockContent(e, 7, MiB).subarray(offset - e * MiB, offset - e * MiB + data.length) : Buffer.alloc(data.length);
          if (!data.equals(want)) throw new Error(`first cycle: ${data.length} bytes at ${offset} differ from what was written`);
        });
      } finally {
        await tracking.releaseView(view.id);
      }
    });
    if (firstRead < plan.firstDataBytes) throw new Error(`the first cycle read ${firstRead} bytes of ${plan.firstDataBytes} written`);
    const [, seqReadMs] = await timed(() => run('dd', [`if=${seqFile}`, 'of=/dev/null', 'bs=1M']));
    await tracking.disable(big.id);
    const stats = tracking.stats();
    if (stats.viewsOpened !== stats.viewsReleased) throw new Error(`views opened ${stats.viewsOpened}, released ${stats.viewsReleased}`);

    const cycleMs = median(cycles);
    const convertMs = median(converts);
    const amplification = bytesRead / bytesChanged;
    return {
      name: 'change-tracking',
      metrics: {
        volumeBytes: plan.volumeBytes,
        changedBytesPerCycle: plan.changedBlocks * BLOCK,
        granularityBytes: tracking.granularityBytes,
        amplification,
        amplificationAt64KiB: median(granules64),
        cycleMs,
        cycleMBps: (plan.changedBlocks * BLOCK) / 1e6 / (cycleMs / 1000),
        firstVolumeBytes: plan.firstVolumeBytes,
        firstDataBytes: plan.firstDataBytes,
        firstAllocatedBytes: allocatedBytes,
        firstCycleMs,
        firstCycleReadRatio: firstRead / plan.firstDataBytes,
        firstCycleRatio: firstCycleMs / seqReadMs,
        loadAverage1mStart: loadStart,
        loadAverage1mEnd: os.loadavg()[0],
      },
      baseline: { tool: 'qemu-img convert of a sparse raw file holding the changed blocks; dd of a regular file for the first cycle', convertMs, sequentialReadMs: seqReadMs },
      ratio: cycleMs / convertMs,
      targets: { amplification: '<= 1.5', firstCycleRatio: '<= 2', firstCycleReadRatio: '<= 2' },
      notes: [
        `granularity ${tracking.granularityBytes} B (configured; QEMU's default is the 64 KiB qcow2 cluster, where scattered 4 KiB changes read ×${median(granules64).toFixed(1)})`,
        'a cycle is measured at the platform port (what the protected appliance reads and ships before compression), not through the site link',
        `${plan.rounds} round(s); medians; every byte read was compared with the content written`,
      ],
    };
  } finally {
    await hv.dispose();
  }
}

async function readAt(file: string, offset: number, length: number): Promise<Buffer> {
  const h = await fs.open(file, 'r');
  try {
    const b = Buffer.alloc(length);
    await h.read(b, 0, length, offset);
    return b;
  } finally {
    await h.close();
  }
}

registerBenchmark('change-tracking', changeTrackingBenchmark);
