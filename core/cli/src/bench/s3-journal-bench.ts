// `opencdp bench s3-journal`: journal appends on S3 recovery storage (the AWS adapter's S3Storage on a
// real s3rver on loopback) against @aws-sdk/lib-storage uploading the same bytes to the same server in
// the same run (one object, multipart, its default parallelism). The ratio is appendMBps / uploadMBps
// (target ≥ 0.7): what the journal's record framing, checkpoints and chunk layout cost over a plain
// upload of the same data.
import { performance } from 'node:perf_hooks';
import { Upload } from '@aws-sdk/lib-storage';
import { Journal, SystemClock, seededRandom, type SequencedWrite } from '@opencdp/core';
import { S3RVER_CREDENTIALS, S3Storage, createS3Client, startS3rver } from '@opencdp/adapter-aws';
import { registerBenchmark, type BenchmarkContext, type BenchmarkDefinition, type BenchmarkResult } from './benchmark.js';
import { benchRounds } from './journal-bench.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const BUCKET = 'bench';

export const S3_JOURNAL_BENCH_SIZES = {
  totalBytes: 512 * MiB,
  writeBytes: 64 * KiB,
  batch: 16,
  window: 4,
  checkpointEveryMs: 1000,
  volumeBytes: 64 * GiB,
  /** lib-storage's defaults: 5 MiB parts, 4 in flight; the journal's chunks are 8 MiB, 8 uploads in flight. */
  partBytes: 8 * MiB,
} as const;

export function s3JournalTotalBytes(scale: number): number {
  const s = S3_JOURNAL_BENCH_SIZES;
  return Math.max(16, Math.round((s.totalBytes * scale) / s.writeBytes)) * s.writeBytes;
}

export const s3JournalBenchmark: BenchmarkDefinition = {
  description: 'journal append on S3 storage (s3rver on loopback) vs @aws-sdk/lib-storage uploading the same bytes',
  run: runS3JournalBenchmark,
};

async function runS3JournalBenchmark(ctx: BenchmarkContext): Promise<BenchmarkResult> {
  const s = S3_JOURNAL_BENCH_SIZES;
  const total = s3JournalTotalBytes(ctx.scale);
  const rounds = benchRounds();
  const server = await startS3rver({ buckets: [BUCKET], directory: ctx.workDir });
  const client = createS3Client({ region: 'us-east-1', endpoint: server.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS, maxAttempts: 3 });
  try {
    const pool = bufferPool(seededRandom(20_261_207), s.writeBytes, 64);
    ctx.log(`s3-journal: ${total / 1e6} MB in ${s.writeBytes / KiB} KiB writes, checkpoint every ${s.checkpointEveryMs} ms, vs lib-storage Upload of the same bytes; ${rounds} rounds, alternating`);
    let bestAppend: { MBps: number; checkpoints: number } | undefined;
    let bestUpload = 0;
    for (let round = 1; round <= rounds; round++) {
      const upload = await uploadRun(client, `upload-${round}`, total, pool);
      ctx.log(`  round ${round}: lib-storage ${upload.toFixed(1)} MB/s`);
      bestUpload = Math.max(bestUpload, upload);
      const append = await appendRun(new S3Storage({ client, bucket: BUCKET, prefix: `journal-${round}/` }), total, pool, round);
      ctx.log(`  round ${round}: journal on S3 ${append.MBps.toFixed(1)} MB/s (${append.checkpoints} checkpoints)`);
      if (!bestAppend || append.MBps > bestAppend.MBps) bestAppend = append;
    }
    return {
      name: 's3-journal',
      metrics: { appendMBps: round4(bestAppend!.MBps), uploadMBps: round4(bestUpload), checkpoints: bestAppend!.checkpoints, totalMB: round4(total / 1e6) },
      baseline: { tool: '@aws-sdk/lib-storage Upload', MBps: round4(bestUpload), partMiB: s.partBytes / MiB },
      ratio: round4(bestAppend!.MBps / bestUpload),
      targets: { ratio: '>= 0.7' },
      notes: [
        `scale ${ctx.scale}: ${total} bytes per run; best of ${rounds} alternating runs each; MB = 10^6 bytes`,
        'journal: S3Storage with 8 MiB chunk objects (full chunks sent in the background, 8 in flight), appendMany batches of 16, 4 queued; a checkpoint every second flushes the tail chunk; timed until the last checkpoint is durable',
        `baseline: one object of the same bytes with lib-storage's Upload (${s.partBytes / MiB} MiB parts, 4 in flight); both against the same s3rver process, whose folder is the benchmark's working folder`,
      ],
    };
  } finally {
    client.destroy();
    await server.stop();
  }
}

async function uploadRun(client: ReturnType<typeof createS3Client>, key: string, total: number, pool: Buffer[]): Promise<number> {
  const body = Buffer.allocUnsafe(total);
  for (let at = 0, i = 0; at < total; at += pool[0].length, i++) pool[i % pool.length].copy(body, at);
  const start = performance.now();
  await new Upload({ client, params: { Bucket: BUCKET, Key: key, Body: body }, partSize: S3_JOURNAL_BENCH_SIZES.partBytes, queueSize: 4 }).done();
  return total / 1e6 / ((performance.now() - start) / 1000);
}

async function appendRun(storage: S3Storage, total: number, pool: Buffer[], seed: number): Promise<{ MBps: number; checkpoints: number }> {
  const s = S3_JOURNAL_BENCH_SIZES;
  const rnd = seededRandom(seed);
  const journal = await Journal.open({
    storage, path: 'journal', vmId: 'bench-vm', clock: new SystemClock(),
    volumes: [{ id: 'vol-0', sizeBytes: s.volumeBytes, sectorSize: 4096 }],
    historyMs: 7 * 24 * 3600_000, hardLimitBytes: 2 * total + GiB, warningBytes: 2 * total + GiB, autoTrim: false,
  });
  const slots = s.volumeBytes / s.writeBytes;
  const count = total / s.writeBytes;
  let seq = 0;
  let checkpoints = 0;
  const checkpoint = (): Promise<void> => journal.addCheckpoint({ id: `cp-${++checkpoints}`, groupId: 'bench', seq, timestamp: Date.now(), kind: 'auto' });
  const inFlight: Promise<void>[] = [];
  const markers: Promise<void>[] = [];
  try {
    const start = performance.now();
    let last = start;
    while (seq < count) {
      const batch: SequencedWrite[] = [];
      for (let i = 0; i < s.batch && seq < count; i++) {
        seq++;
        batch.push({ seq, volumeId: 'vol-0', offset: rnd.int(0, slots - 1) * s.writeBytes, data: pool[seq % pool.length] });
      }
      inFlight.push(journal.appendMany(batch));
      if (inFlight.length >= s.window) await inFlight.shift();
      const now = performance.now();
      if (now - last >= s.checkpointEveryMs) {
        markers.push(checkpoint());
        last = now;
      }
    }
    markers.push(checkpoint());
    await Promise.all([...inFlight.splice(0), ...markers.splice(0)]);
    return { MBps: total / 1e6 / ((performance.now() - start) / 1000), checkpoints };
  } finally {
    await Promise.allSettled([...inFlight, ...markers]);
    await journal.close();
  }
}

function bufferPool(rnd: ReturnType<typeof seededRandom>, bytes: number, count: number): Buffer[] {
  return Array.from({ length: count }, () => rnd.bytes(bytes));
}

function round4(n: number): number {
  return Math.round(n * 10_000) / 10_000;
}

registerBenchmark('s3-journal', s3JournalBenchmark);
