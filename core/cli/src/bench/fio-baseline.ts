// Baselines from fio (the flexible I/O tester): what the disk and kernel do for a plain file, measured
// in the same run and folder as the OpenCDP code they are compared with.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';

export interface FioJob {
  /** fio job name. */
  name: string;
  /** `write`, `read`, `randwrite`, `randread`, ... */
  rw: string;
  /** Block size in bytes. */
  blockBytes: number;
  /** Bytes to transfer (rounded down to whole blocks). */
  sizeBytes: number;
  /** The file to use; put it in the folder whose disk is measured. Removed afterwards unless `keepFile`. */
  filename: string;
  ioengine?: string;
  /** fsync the file once at the end, inside the measured time (fio `end_fsync=1`). */
  endFsync?: boolean;
  keepFile?: boolean;
  /** Further `--key=value` options. */
  extra?: string[];
}

export interface FioResult {
  /** Throughput of the job's direction, in MB/s (10^6 bytes per second), as fio measured it. */
  MBps: number;
  bytes: number;
  runtimeMs: number;
  version: string;
  args: string[];
}

const MISSING = `fio is not installed (or not on PATH); install it, e.g. \`sudo apt-get install fio\` (Debian/Ubuntu) or \`sudo dnf install fio\`, or point OPENCDP_FIO at the binary`;

/** The installed fio's version string (`fio-3.33`); throws an Error saying how to install fio when it is missing. */
export async function fioVersion(): Promise<string> {
  return (await exec(['--version'])).trim();
}

export function fioArgs(job: FioJob): string[] {
  const blocks = Math.floor(job.sizeBytes / job.blockBytes);
  if (!(blocks > 0)) throw new Error(`fio job '${job.name}' needs at least one ${job.blockBytes}-byte block, got ${job.sizeBytes} bytes`);
  return [
    `--name=${job.name}`,
    `--rw=${job.rw}`,
    `--bs=${job.blockBytes}`,
    `--size=${blocks * job.blockBytes}`,
    `--ioengine=${job.ioengine ?? 'psync'}`,
    ...(job.endFsync ? ['--end_fsync=1'] : []),
    `--filename=${job.filename}`,
    ...(job.extra ?? []),
    '--output-format=json',
  ];
}

/** Runs one fio job and parses its JSON report. */
export async function runFio(job: FioJob): Promise<FioResult> {
  const version = await fioVersion();
  const args = fioArgs(job);
  let stdout: string;
  try {
    stdout = await exec(args);
  } finally {
    if (!job.keepFile) await fs.rm(job.filename, { force: true });
  }
  const report = parseFioJson(stdout);
  const direction = /read/.test(job.rw) && !/write/.test(job.rw) ? 'read' : 'write';
  return { ...throughputOf(report, direction, job.name), version, args };
}

interface FioDirectionStats {
  io_bytes: number;
  bw_bytes: number;
  runtime: number;
}

interface FioReport {
  jobs: { jobname: string; error: number; read: FioDirectionStats; write: FioDirectionStats }[];
}

/** fio may print warnings before its JSON; the report is the text from the first `{`. */
export function parseFioJson(stdout: string): FioReport {
  const start = stdout.indexOf('{');
  if (start < 0) throw new Error(`fio printed no JSON report: ${stdout.slice(0, 300)}`);
  let report: FioReport;
  try {
    report = JSON.parse(stdout.slice(start)) as FioReport;
  } catch (e) {
    throw new Error(`cannot parse fio's JSON report: ${(e as Error).message}`);
  }
  if (!Array.isArray(report.jobs) || report.jobs.length === 0) throw new Error('fio report lists no jobs');
  return report;
}

export function throughputOf(report: FioReport, direction: 'read' | 'write', name: string): { MBps: number; bytes: number; runtimeMs: number } {
  const job = report.jobs.find((j) => j.jobname === name) ?? report.jobs[0];
  if (job.error !== 0) throw new Error(`fio job '${job.jobname}' failed with error ${job.error}`);
  const stats = job[direction];
  // bw_bytes is io_bytes over the job's runtime, which includes the end_fsync.
  const MBps = stats.runtime > 0 ? stats.io_bytes / (stats.runtime / 1000) / 1e6 : stats.bw_bytes / 1e6;
  if (!(stats.io_bytes > 0 && MBps > 0 && Number.isFinite(MBps))) throw new Error(`fio job '${job.jobname}' reported no ${direction} throughput`);
  return { MBps, bytes: stats.io_bytes, runtimeMs: stats.runtime };
}

function exec(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.env.OPENCDP_FIO || 'fio', args, { maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return reject(new Error(MISSING));
      reject(new Error(`fio ${args.join(' ')} failed: ${(stderr || error.message).trim()}`));
    });
  });
}
