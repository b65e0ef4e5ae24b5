// `opencdp bench vhdx`: writing a recovered disk as a dynamic VHDX with the Hyper-V adapter's streaming
// writer, against `qemu-img convert -O vhdx` of the same raw image in the same run. The image is 4 GiB at
// scale 1 with 30 % of it allocated in random 1 MiB extents of random data (the rest holes). Both writers
// use the block size qemu-img picks, both outputs must equal the source under `qemu-img compare`; reported:
// MB/s of virtual disk written (ratio = ours / qemu-img's), the file sizes and their ratio.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { seededRandom } from '@opencdp/core';
import { writeVhdx, type DiskSource } from '@opencdp/adapter-hyperv/vhdx';
import { registerBenchmark, type BenchmarkContext, type BenchmarkDefinition, type BenchmarkResult } from './benchmark.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

export interface VhdxBenchPlan {
  volumeBytes: number;
  /** Share of the disk holding data. */
  allocatedShare: number;
}

export function vhdxPlanFor(scale: number): VhdxBenchPlan {
  return { volumeBytes: Math.max(16 * MiB, Math.round((4096 * scale)) * MiB), allocatedShare: 0.3 };
}

/** A raw sparse image: `share` of its 1 MiB extents hold random data; returns how many bytes hold data. */
async function makeRaw(file: string, plan: VhdxBenchPlan): Promise<number> {
  const r = seededRandom(42);
  const extents = plan.volumeBytes / MiB;
  const fh = await fs.open(file, 'w');
  let data = 0;
  try {
    await fh.truncate(plan.volumeBytes);
    for (let i = 0; i < extents; i++) {
      if (r.next() >= plan.allocatedShare) continue;
      await fh.write(r.bytes(MiB), 0, MiB, i * MiB);
      data += MiB;
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  return data;
}

/** The raw image as the writer's source, read with positional reads (the way a point-in-time image serves it). */
async function rawSource(file: string, size: number): Promise<{ source: DiskSource; close: () => Promise<void> }> {
  const fh = await fs.open(file, 'r');
  // Three buffers in rotation: the writer holds at most two results at a time (DiskSource.read).
  const pool: Buffer[] = [];
  let next = 0;
  return {
    source: {
      sizeBytes: size,
      async read(offset, length) {
        const slot = next++ % 3;
        if (!pool[slot] || pool[slot].length < length) pool[slot] = Buffer.allocUnsafe(length);
        const b = pool[slot].subarray(0, length);
        const { bytesRead } = await fh.read(b, 0, length, offset);
        if (bytesRead < length) b.fill(0, bytesRead);
        return b;
      },
    },
    close: () => fh.close(),
  };
}

async function allocatedBytes(file: string): Promise<number> {
  return (await fs.stat(file)).blocks * 512;
}

export const vhdxBenchmark: BenchmarkDefinition = {
  description: 'write a 4 GiB disk (30 % allocated) as dynamic VHDX: our streaming writer against qemu-img convert -O vhdx',
  async run({ scale, workDir, log }: BenchmarkContext): Promise<BenchmarkResult> {
    const plan = vhdxPlanFor(scale);
    const raw = path.join(workDir, 'disk.raw');
    const dataBytes = await makeRaw(raw, plan);
    log(`raw image: ${plan.volumeBytes / MiB} MiB, ${dataBytes / MiB} MiB of data (in the page cache for both runs: it was just written)`);
    const qemuOut = path.join(workDir, 'qemu.vhdx');
    let t = process.hrtime.bigint();
    await run('qemu-img', ['convert', '-f', 'raw', '-O', 'vhdx', raw, qemuOut]);
    await fs.open(qemuOut, 'r+').then(async (f) => { await f.sync(); await f.close(); });
    const qemuSeconds = Number(process.hrtime.bigint() - t) / 1e9;
    const info = JSON.parse((await run('qemu-img', ['info', '--output=json', qemuOut])).stdout) as { 'cluster-size': number };
    const blockSize = info['cluster-size'];
    log(`qemu-img convert: ${qemuSeconds.toFixed(2)} s (block size ${blockSize / MiB} MiB)`);
    const ourOut = path.join(workDir, 'opencdp.vhdx');
    const { source, close } = await rawSource(raw, plan.volumeBytes);
    t = process.hrtime.bigint();
    let result;
    try {
      result = await writeVhdx(ourOut, source, { blockSize, logicalSectorSize: 512 });
    } finally {
      await close();
    }
    const ourSeconds = Number(process.hrtime.bigint() - t) / 1e9;
    log(`opencdp writeVhdx: ${ourSeconds.toFixed(2)} s`);
    await run('qemu-img', ['check', '-f', 'vhdx', ourOut]);
    await run('qemu-img', ['compare', '-q', '-f', 'raw', '-F', 'vhdx', raw, ourOut]);
    await run('qemu-img', ['compare', '-q', '-f', 'raw', '-F', 'vhdx', raw, qemuOut]);
    const mb = plan.volumeBytes / 1e6;
    const ourSize = (await fs.stat(ourOut)).size;
    const qemuSize = (await fs.stat(qemuOut)).size;
    const metrics = {
      volumeBytes: plan.volumeBytes,
      dataBytes,
      blockSize,
      mbPerSecond: mb / ourSeconds,
      seconds: ourSeconds,
      fileBytes: ourSize,
      allocatedBytes: await allocatedBytes(ourOut),
      sizeRatio: ourSize / qemuSize,
      allocatedRatio: (await allocatedBytes(ourOut)) / (await allocatedBytes(qemuOut)),
      allocatedPayloadBlocks: result.allocatedBlocks,
    };
    return {
      name: 'vhdx',
      metrics,
      baseline: { tool: 'qemu-img convert -O vhdx', mbPerSecond: mb / qemuSeconds, seconds: qemuSeconds, fileBytes: qemuSize, allocatedBytes: await allocatedBytes(qemuOut) },
      ratio: (mb / ourSeconds) / (mb / qemuSeconds),
      targets: { ratio: '>= 0.8', sizeRatio: '<= 1.05' },
      notes: ['both outputs pass qemu-img compare against the raw image; ours also passes qemu-img check', 'MB/s counts the virtual disk size (holes included), as the recovered disk\'s size'],
    };
  },
};

registerBenchmark('vhdx', vhdxBenchmark);
