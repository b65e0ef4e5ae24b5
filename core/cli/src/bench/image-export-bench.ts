// `opencdp bench image-export`: exporting a checkpoint image as a disk file, as the recovery appliance does
// it (ImageExports: the image pinned, qemu-img convert reading it over our NBD server with block status from
// its allocation map, files fsynced and hashed), against `qemu-img convert` of a raw copy of the same image
// in the same run (qemu-img finds the raw file's holes with SEEK_DATA). The image: a 4 GiB volume at scale 1
// whose replica holds 30 % data in random 1 MiB extents (seeded the way reverse protection seeds replicas)
// and whose journal holds 100,000 random 4 KiB writes over it up to the checkpoint. Formats qcow2 and VHDX.
// Reported per format: MB/s of virtual disk (ours with and without the hashing; ratio on the whole export),
// file sizes and their ratio; every output must equal the raw copy under qemu-img compare.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  ImageExports, Journal, LocalFileStorage, QemuImgWriter, seededRandom, seedReplicaVolume, StaticGroupDirectory, SystemClock, type ImageFormat,
} from '@opencdp/core';
import { registerBenchmark, type BenchmarkContext, type BenchmarkDefinition, type BenchmarkResult } from './benchmark.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const WRITE_BYTES = 4096;

export interface ImageExportPlan {
  volumeBytes: number;
  allocatedShare: number;
  journalWrites: number;
}

export function imageExportPlanFor(scale: number): ImageExportPlan {
  return { volumeBytes: Math.max(16 * MiB, Math.round(4096 * scale) * MiB), allocatedShare: 0.3, journalWrites: Math.max(100, Math.round(100_000 * scale)) };
}

interface Fixture {
  raw: string;
  exports: ImageExports;
  journal: Journal;
  dataBytes: number;
}

/**
 * The raw copy (extents of random data, the rest holes), the replica seeded from it, the journal's writes
 * applied to both (the raw copy stays the oracle), and one checkpoint after them.
 */
async function build(workDir: string, plan: ImageExportPlan, log: (line: string) => void): Promise<Fixture> {
  const r = seededRandom(7);
  const raw = path.join(workDir, 'copy.raw');
  const extents: boolean[] = [];
  const fh = await fs.open(raw, 'w');
  let dataBytes = 0;
  try {
    await fh.truncate(plan.volumeBytes);
    for (let i = 0; i < plan.volumeBytes / MiB; i++) {
      extents.push(r.next() < plan.allocatedShare);
      if (!extents[i]) continue;
      await fh.write(r.bytes(MiB), 0, MiB, i * MiB);
      dataBytes += MiB;
    }
  } finally {
    await fh.close();
  }
  const storage = new LocalFileStorage(path.join(workDir, 'store'));
  const zero = Buffer.alloc(MiB);
  const src = await fs.open(raw, 'r');
  try {
    // Holes need no reading: the seed skips zero chunks anyway.
    await seedReplicaVolume({
      storage, groupId: 'g', vmId: 'vm', volumeId: 'disk', sizeBytes: plan.volumeBytes,
      read: async (offset, length) => {
        if (!extents[Math.floor(offset / MiB)]) return zero.subarray(0, length);
        const b = Buffer.alloc(length);
        await src.read(b, 0, length, offset);
        return b;
      },
    });
  } finally {
    await src.close();
  }
  const clock = new SystemClock();
  const journal = await Journal.open({
    storage, clock, path: 'journals/g/vm', vmId: 'vm', volumes: [{ id: 'disk', sizeBytes: plan.volumeBytes, sectorSize: 512 }],
    historyMs: 24 * 3600_000, hardLimitBytes: 64 * 1024 * MiB, warningBytes: 48 * 1024 * MiB, autoTrim: false,
  });
  const out = await fs.open(raw, 'r+');
  const pool = Array.from({ length: 64 }, () => r.bytes(WRITE_BYTES));
  try {
    const batch = 1000;
    for (let seq = 1; seq <= plan.journalWrites;) {
      const writes = [];
      for (let i = 0; i < batch && seq <= plan.journalWrites; i++, seq++) {
        const offset = r.int(0, plan.volumeBytes / WRITE_BYTES - 1) * WRITE_BYTES;
        writes.push({ volumeId: 'disk', offset, data: pool[seq % pool.length], seq });
      }
      await journal.appendMany(writes);
      for (const w of writes) await out.write(w.data, 0, WRITE_BYTES, w.offset);
    }
    await out.sync();
  } finally {
    await out.close();
  }
  await journal.addCheckpoint({ id: 'cp', groupId: 'g', seq: plan.journalWrites, timestamp: clock.now(), kind: 'auto' });
  log(`image: ${plan.volumeBytes / MiB} MiB, ${dataBytes / MiB} MiB of data in the replica, ${plan.journalWrites} journal writes of 4 KiB over it (journal ${(journal.stats().usedBytes / MiB).toFixed(0)} MiB)`);
  const groups = new StaticGroupDirectory([{ groupId: 'g', name: 'bench', vms: [{ id: 'vm', name: 'vm' }], plan: {} }]);
  const exports = await ImageExports.open({
    clock, groups, journals: { journal: (g, v) => (g === 'g' && v === 'vm' ? journal : undefined) }, dir: path.join(workDir, 'exports'),
    writers: [new QemuImgWriter({ socketDir: workDir })],
  });
  return { raw, exports, journal, dataBytes };
}

async function fsyncFile(file: string): Promise<void> {
  const f = await fs.open(file, 'r');
  await f.sync();
  await f.close();
}

interface Measured {
  seconds: number;
  conversionSeconds: number;
  fileBytes: number;
  allocatedBytes: number;
  baselineSeconds: number;
  baselineFileBytes: number;
  baselineAllocatedBytes: number;
}

async function measure(f: Fixture, workDir: string, format: ImageFormat, qemuFormat: string, qemuOptions: string[], log: (line: string) => void): Promise<Measured> {
  const baselineOut = path.join(workDir, `qemu.${qemuFormat}`);
  let t = process.hrtime.bigint();
  await run('qemu-img', ['convert', '-f', 'raw', '-O', qemuFormat, ...qemuOptions.flatMap((o) => ['-o', o]), f.raw, baselineOut]);
  await fsyncFile(baselineOut);
  const baselineSeconds = Number(process.hrtime.bigint() - t) / 1e9;
  let hashingFrom: bigint | undefined;
  t = process.hrtime.bigint();
  const report = await f.exports.exportImage({ groupId: 'g', checkpointId: 'cp', vmId: 'vm', volumeId: 'disk', format }, (percent) => {
    if (percent >= 90 && hashingFrom === undefined) hashingFrom = process.hrtime.bigint();
  });
  const end = process.hrtime.bigint();
  const seconds = Number(end - t) / 1e9;
  const conversionSeconds = Number((hashingFrom ?? end) - t) / 1e9;
  const ours = path.join(f.exports.dir, report.id, report.file);
  log(`${format}: qemu-img convert from the raw copy ${baselineSeconds.toFixed(2)} s; our export ${seconds.toFixed(2)} s (${conversionSeconds.toFixed(2)} s before hashing)`);
  await run('qemu-img', ['compare', '-q', '-f', 'raw', '-F', qemuFormat, f.raw, ours]);
  await run('qemu-img', ['compare', '-q', '-f', 'raw', '-F', qemuFormat, f.raw, baselineOut]);
  const [a, b] = await Promise.all([fs.stat(ours), fs.stat(baselineOut)]);
  await fs.rm(baselineOut);
  await f.exports.delete(report.id);
  return {
    seconds, conversionSeconds, fileBytes: a.size, allocatedBytes: a.blocks * 512,
    baselineSeconds, baselineFileBytes: b.size, baselineAllocatedBytes: b.blocks * 512,
  };
}

export const imageExportBenchmark: BenchmarkDefinition = {
  description: 'export a 4 GiB checkpoint image (30 % allocated, 100,000 journal writes) as qcow2 and VHDX, against qemu-img convert of a raw copy',
  async run({ scale, workDir, log }: BenchmarkContext): Promise<BenchmarkResult> {
    const plan = imageExportPlanFor(scale);
    const f = await build(workDir, plan, log);
    try {
      const mb = plan.volumeBytes / 1e6;
      const q = await measure(f, workDir, 'qcow2', 'qcow2', [], log);
      const v = await measure(f, workDir, 'vhdx', 'vhdx', ['subformat=dynamic'], log);
      const metrics = {
        volumeBytes: plan.volumeBytes, replicaDataBytes: f.dataBytes, journalWrites: plan.journalWrites,
        qcow2MBps: mb / q.seconds, qcow2ConversionMBps: mb / q.conversionSeconds, qcow2Ratio: q.baselineSeconds / q.seconds,
        qcow2SizeRatio: q.fileBytes / q.baselineFileBytes, qcow2AllocatedRatio: q.allocatedBytes / q.baselineAllocatedBytes,
        vhdxMBps: mb / v.seconds, vhdxConversionMBps: mb / v.conversionSeconds, vhdxRatio: v.baselineSeconds / v.seconds,
        vhdxSizeRatio: v.fileBytes / v.baselineFileBytes, vhdxAllocatedRatio: v.allocatedBytes / v.baselineAllocatedBytes,
      };
      return {
        name: 'image-export',
        metrics,
        baseline: {
          tool: 'qemu-img convert of a raw copy of the image', qcow2MBps: mb / q.baselineSeconds, vhdxMBps: mb / v.baselineSeconds,
          qcow2FileBytes: q.baselineFileBytes, vhdxFileBytes: v.baselineFileBytes,
        },
        ratio: Math.min(metrics.qcow2Ratio, metrics.vhdxRatio),
        targets: { ratio: '>= 0.7', qcow2Ratio: '>= 0.7', vhdxRatio: '>= 0.7', qcow2SizeRatio: '<= 1.05', vhdxSizeRatio: '<= 1.05' },
        notes: [
          'ours: ImageExports as on the appliance (image pinned, qemu-img reading our NBD server with base:allocation block status, files fsynced, SHA-256 computed); baseline: qemu-img convert of the raw copy, fsynced',
          'ratio = the lower of the two formats\' MB/s ratios, each on the whole export (hashing included); *ConversionMBps stop before hashing',
          'every output equals the raw copy under qemu-img compare; MB/s counts the virtual disk size (holes included)',
        ],
      };
    } finally {
      await f.journal.close();
    }
  },
};

registerBenchmark('image-export', imageExportBenchmark);
