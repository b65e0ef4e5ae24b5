// `opencdp bench delta-sync`: delta sync by hash comparison (core deltaSync) against rsync on the same
// two files: a 1 GiB source and a copy of it with 1 % of its 4 KiB blocks changed at random. Both make
// the copy equal to the source again.
//   bytesRatio  bytes that would cross the link, ours ÷ rsync's "Total bytes sent" + "received" (≤ 0.5)
//   timeRatio   wall time, ours ÷ rsync's (≤ 1.0)
// Ours: the protected side (deltaSync, reading the source) runs in the main thread, the recovery side
// (createHashServer over the copy: hashes it, writes the blocks it is sent) in a worker thread — its own
// core, as rsync's receiver is its own process. The copy is re-created before every run, the runs
// alternate, the best of each counts, and after every run the copy must equal the source (SHA-256).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { createHashServer, deltaSync, seededRandom, type DeltaSyncResult, type HashRequest } from '@opencdp/core';
import { registerBenchmark, type BenchmarkContext, type BenchmarkDefinition, type BenchmarkResult } from './benchmark.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const SEED = 20_260_302;

/** Every size of the full (scale 1) run; `--scale` multiplies the file size. */
export const DELTA_SYNC_BENCH_SIZES = {
  fileBytes: GiB,
  blockBytes: 4 * KiB,
  changedShare: 0.01,
  /** Ours and rsync run alternately this many times each; the best of each counts. */
  rounds: 2,
} as const;

export interface DeltaSyncBenchPlan {
  fileBytes: number;
  changedBlocks: number;
}

export function deltaSyncPlanFor(scale: number): DeltaSyncBenchPlan {
  const s = DELTA_SYNC_BENCH_SIZES;
  const blocks = Math.max(64, Math.round((s.fileBytes * scale) / s.blockBytes));
  return { fileBytes: blocks * s.blockBytes, changedBlocks: Math.max(1, Math.round(blocks * s.changedShare)) };
}

export const deltaSyncBenchmark: BenchmarkDefinition = {
  description: 'delta sync by hash tree vs rsync --no-whole-file --inplace: bytes on the link and wall time',
  run: runDeltaSyncBenchmark,
};

interface OurRun {
  seconds: number;
  /** Starting the recovery side's thread (not in `seconds`). */
  startupSeconds: number;
  result: DeltaSyncResult;
}

interface RsyncRun {
  seconds: number;
  bytes: number;
  sent: number;
  received: number;
  literal: number;
}

async function runDeltaSyncBenchmark(ctx: BenchmarkContext): Promise<BenchmarkResult> {
  const plan = deltaSyncPlanFor(ctx.scale);
  const s = DELTA_SYNC_BENCH_SIZES;
  const { log } = ctx;
  const version = await rsyncVersion();
  const source = path.join(ctx.workDir, 'source.img');
  const pristine = path.join(ctx.workDir, 'copy.orig');
  const target = path.join(ctx.workDir, 'copy.img');
  log(`delta-sync: ${mb(plan.fileBytes)} MB file, ${plan.changedBlocks} of its ${plan.fileBytes / s.blockBytes} ${s.blockBytes / KiB} KiB blocks changed in the copy`);
  await makeFiles(source, pristine, plan);
  const sourceHash = await sha256File(source);

  let ours: OurRun | undefined;
  let rsync: RsyncRun | undefined;
  for (let round = 1; round <= s.rounds; round++) {
    await fs.copyFile(pristine, target);
    const o = await runOurs(source, target, plan.fileBytes);
    await verify(target, sourceHash, 'deltaSync');
    log(`  round ${round}: ours ${o.seconds.toFixed(2)} s, ${mb(o.result.bytesSent)} MB on the link (${o.result.blocksSent} blocks sent)`);
    if (!ours || o.seconds < ours.seconds) ours = o;

    await fs.copyFile(pristine, target);
    const r = await runRsync(source, target);
    await verify(target, sourceHash, 'rsync');
    log(`  round ${round}: rsync ${r.seconds.toFixed(2)} s, ${mb(r.bytes)} MB on the link (${mb(r.literal)} MB literal)`);
    if (!rsync || r.seconds < rsync.seconds) rsync = r;
  }
  const o = ours!;
  const r = rsync!;
  const bytesRatio = o.result.bytesSent / r.bytes;
  const timeRatio = o.seconds / r.seconds;
  return {
    name: 'delta-sync',
    metrics: {
      bytesRatio: round4(bytesRatio),
      timeRatio: round4(timeRatio),
      bytes: o.result.bytesSent,
      seconds: round4(o.seconds),
      recoveryThreadStartSeconds: round4(o.startupSeconds),
      dataBytes: o.result.dataBytes,
      hashBytesReceived: o.result.hashBytesReceived,
      hashRequests: o.result.hashRequests,
      messages: o.result.messages,
      blocksSent: o.result.blocksSent,
      changedBlocks: plan.changedBlocks,
      fileBytes: plan.fileBytes,
      rsyncLiteralBytes: r.literal,
    },
    baseline: { tool: 'rsync', bytes: r.bytes, seconds: round4(r.seconds), version },
    ratio: round4(bytesRatio),
    targets: { bytesRatio: '<= 0.5', timeRatio: '<= 1.0' },
    notes: [
      `scale ${ctx.scale}: a ${plan.fileBytes}-byte file of seeded random data; the copy has ${plan.changedBlocks} distinct random ${s.blockBytes}-byte blocks rewritten with other random data`,
      `ours: deltaSync with levels 1 MiB / 64 KiB / 4 KiB and xxh3-128; bytes = requests, replies and block messages at a ${32}-byte header each, plus hashes and block data, both directions; the recovery side (hash server with its leaf-hash cache, writing into the copy) runs in a worker thread, started before the clock as a recovery appliance is already running (recoveryThreadStartSeconds: loading the modules)`,
      `rsync: rsync --no-whole-file --inplace --ignore-times --stats source copy (local, so sender and receiver are separate processes; --ignore-times only stops rsync from skipping the copy when its size and modification time happen to equal the source's); bytes = "Total bytes sent" + "Total bytes received"`,
      `best of ${s.rounds} alternating runs each, the copy re-created from the same changed copy before every run; after every run the copy's SHA-256 equals the source's (checked, or the benchmark fails)`,
      'page cache not dropped (no root): both tools read files that are mostly cached; neither fsyncs',
    ],
  };
}

// ---- the files ------------------------------------------------------------------------------------------

/** The source (seeded random data) and the changed copy. */
async function makeFiles(source: string, copy: string, plan: DeltaSyncBenchPlan): Promise<void> {
  const s = DELTA_SYNC_BENCH_SIZES;
  const rnd = seededRandom(SEED);
  const handle = await fs.open(source, 'w');
  try {
    for (let off = 0; off < plan.fileBytes; off += 8 * MiB) {
      const len = Math.min(8 * MiB, plan.fileBytes - off);
      await handle.write(rnd.bytes(len), 0, len, off);
    }
  } finally {
    await handle.close();
  }
  await fs.copyFile(source, copy);
  const blocks = plan.fileBytes / s.blockBytes;
  const changed = new Set<number>();
  while (changed.size < plan.changedBlocks) changed.add(rnd.int(0, blocks - 1));
  const out = await fs.open(copy, 'r+');
  try {
    for (const b of [...changed].sort((x, y) => x - y)) await out.write(rnd.bytes(s.blockBytes), 0, s.blockBytes, b * s.blockBytes);
  } finally {
    await out.close();
  }
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  const handle = await fs.open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(8 * MiB);
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

async function verify(target: string, sourceHash: string, who: string): Promise<void> {
  const got = await sha256File(target);
  if (got !== sourceHash) throw new Error(`after ${who} the copy differs from the source (SHA-256 ${got} ≠ ${sourceHash})`);
}

/** Reads through a file handle, into the buffer the engine offers back when it does (less garbage). */
function reader(handle: fs.FileHandle): (offset: number, length: number, reuse?: Buffer) => Promise<Buffer> {
  return async (offset, length, reuse) => {
    const buf = reuse ? reuse.subarray(0, length) : Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await handle.read(buf, done, length - done, offset + done);
      if (bytesRead === 0) throw new Error(`short read at ${offset + done}`);
      done += bytesRead;
    }
    return buf;
  };
}

// ---- ours: protected side here, recovery side in a worker ------------------------------------------

type Call = { kind: 'hash'; request: HashRequest } | { kind: 'write'; offset: number; data: ArrayBuffer } | { kind: 'close' };
type ToWorker = Call & { id: number };
/** id 0 is the worker's "ready". */
type FromWorker = { id: number; ok: true; data?: ArrayBuffer } | { id: number; ok: false; error: string };

async function runOurs(source: string, target: string, sizeBytes: number): Promise<OurRun> {
  // The recovery side is a long-running appliance: start its thread (loading the modules takes a
  // second or more) and wait until it has opened the copy before the clock starts.
  const startup = performance.now();
  const worker = new Worker(new URL(import.meta.url), { workerData: { role: 'delta-sync-recovery-side', file: target } });
  const pending = new Map<number, { resolve: (m: FromWorker) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let failure: Error | undefined;
  const ready = new Promise<FromWorker>((resolve, reject) => pending.set(0, { resolve, reject }));
  worker.on('message', (m: FromWorker) => {
    const p = pending.get(m.id);
    pending.delete(m.id);
    p?.resolve(m);
  });
  worker.on('error', (e: Error) => {
    failure = e;
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  });
  const call = (msg: Call, transfer: ArrayBuffer[] = []): Promise<Buffer> => {
    if (failure) return Promise.reject(failure);
    const id = nextId++;
    return new Promise<FromWorker>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage({ ...msg, id }, transfer);
    }).then((m) => {
      if (!m.ok) throw new Error(`recovery side: ${m.error}`);
      return m.data ? Buffer.from(m.data) : Buffer.alloc(0);
    });
  };
  const handle = await fs.open(source, 'r');
  try {
    const hello = await ready;
    if (!hello.ok) throw new Error(`recovery side: ${hello.error}`);
    const startupSeconds = (performance.now() - startup) / 1000;
    const start = performance.now();
    const result = await deltaSync({
      sizeBytes,
      readLocal: reader(handle),
      remote: { hashBlocks: (request) => call({ kind: 'hash', request }) },
      sendBlock: async (offset, data) => {
        // Like writing to a socket: the data is on its way once posted (only these bytes: copied out of
        // the 8 MiB window buffer); the recovery side applies writes in order, and `close` below waits
        // for all of them, so the measured time includes every write.
        if (failure) throw failure;
        const copy = data.buffer.slice(data.byteOffset, data.byteOffset + data.length) as ArrayBuffer;
        worker.postMessage({ kind: 'write', offset, data: copy, id: -1 }, [copy]);
      },
    });
    await call({ kind: 'close' });
    return { seconds: (performance.now() - start) / 1000, startupSeconds, result };
  } finally {
    await handle.close();
    await worker.terminate();
  }
}

/** The recovery side: a hash server over the copy, answering the main thread's messages. */
async function recoverySide(file: string): Promise<void> {
  const port = parentPort!;
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r+');
  } catch (e) {
    port.postMessage({ id: 0, ok: false, error: (e as Error).message });
    return;
  }
  const server = createHashServer({
    read: reader(handle),
    write: async (offset, data) => {
      await handle.write(data, 0, data.length, offset);
    },
  });
  // Writes (unacknowledged) and the final close run in arrival order; a failed write fails the close.
  let writes: Promise<void> = Promise.resolve();
  let writeError: Error | undefined;
  port.on('message', (m: ToWorker) => {
    if (m.kind === 'write') {
      writes = writes.then(() => server.writeBlock(m.offset, Buffer.from(m.data))).catch((e: Error) => {
        writeError ??= e;
      });
      return;
    }
    const reply = async (): Promise<FromWorker> => {
      if (m.kind === 'hash') {
        const h = await server.hashBlocks(m.request);
        return { id: m.id, ok: true, data: h.buffer.slice(h.byteOffset, h.byteOffset + h.length) as ArrayBuffer };
      }
      await writes;
      await handle.close();
      if (writeError) throw writeError;
      return { id: m.id, ok: true };
    };
    reply().then(
      (r) => port.postMessage(r, r.ok && r.data ? [r.data] : []),
      (e: Error) => port.postMessage({ id: m.id, ok: false, error: e.message }),
    );
  });
  port.postMessage({ id: 0, ok: true });
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === 'delta-sync-recovery-side') {
  void recoverySide((workerData as { file: string }).file);
}

// ---- rsync ----------------------------------------------------------------------------------------------

const RSYNC = process.env.OPENCDP_RSYNC ?? 'rsync';
const RSYNC_MISSING = 'rsync is not installed (or not on PATH); install it, e.g. `sudo apt-get install rsync`, or point OPENCDP_RSYNC at the binary';

function exec(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(RSYNC, args, { maxBuffer: 16 * MiB }, (error, stdout, stderr) => {
      if (error) {
        const code = (error as NodeJS.ErrnoException).code;
        reject(new Error(code === 'ENOENT' ? RSYNC_MISSING : `rsync ${args.join(' ')} failed: ${stderr || error.message}`));
      } else {
        resolve(stdout);
      }
    });
  });
}

async function rsyncVersion(): Promise<string> {
  const first = (await exec(['--version'])).split('\n')[0];
  const m = /version\s+(\S+)/.exec(first);
  return m ? `rsync ${m[1]}` : first.trim();
}

/** Parses `--stats` output; numbers may carry thousands separators. */
export function parseRsyncStats(stdout: string): { sent: number; received: number; literal: number } {
  const num = (label: string): number => {
    const m = new RegExp(`${label}:\\s*([\\d,.]+)`).exec(stdout);
    if (!m) throw new Error(`rsync --stats output has no "${label}": ${stdout}`);
    return Number(m[1].replace(/[,.](?=\d{3}\b)/g, ''));
  };
  return { sent: num('Total bytes sent'), received: num('Total bytes received'), literal: num('Literal data') };
}

async function runRsync(source: string, target: string): Promise<RsyncRun> {
  const start = performance.now();
  // --ignore-times: the re-created copy has the source's size and may get the same modification time
  // (small files are made within a second), and rsync would then skip it as up to date.
  const stdout = await exec(['--no-whole-file', '--inplace', '--ignore-times', '--stats', source, target]);
  const seconds = (performance.now() - start) / 1000;
  const { sent, received, literal } = parseRsyncStats(stdout);
  return { seconds, bytes: sent + received, sent, received, literal };
}

// ---- helpers --------------------------------------------------------------------------------------------

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(bytes < 10e6 ? 2 : 1);
}

/** Four significant digits: readable JSON, and a tiny positive value never rounds to 0. */
function round4(n: number): number {
  return Number(n.toPrecision(4));
}

if (isMainThread) registerBenchmark('delta-sync', deltaSyncBenchmark);
