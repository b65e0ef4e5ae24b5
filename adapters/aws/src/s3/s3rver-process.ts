// Starts a real S3-protocol server (s3rver) in a child process on an ephemeral loopback port, for tests,
// the conformance harness and benchmarks: S3 traffic then goes through the real @aws-sdk/client-s3 over
// HTTP. s3rver checks SigV4 signatures against its fixed account S3RVER / S3RVER, supports multipart
// uploads, range reads and listing, and does not enforce conditional puts (nothing here relies on them).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OpenCdpError } from '@opencdp/core';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 's3rver-child.js');
const READY_TIMEOUT_MS = 20_000;

/** The fixed account s3rver signs with. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface S3rverOptions {
  /** Buckets created before the server starts (default `opencdp`). */
  buckets?: readonly string[];
  /** Folder the objects live in; a fresh temporary folder (removed by `stop`) when absent. */
  directory?: string;
}

export interface S3rverHandle {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly port: number;
  readonly directory: string;
  /** Stops the server (and removes the folder if it made it). */
  stop(): Promise<void>;
}

/** s3rver did not start. */
export class S3rverStartError extends OpenCdpError {
  constructor(detail: string) {
    super('S3RVER_START', `s3rver did not start: ${detail}`, 'run `npm ci` so that the s3rver package is installed');
  }
}

export async function startS3rver(options: S3rverOptions = {}): Promise<S3rverHandle> {
  const ownDirectory = options.directory === undefined;
  const directory = options.directory ?? await fs.mkdtemp(path.join(os.tmpdir(), 'ocdp-s3rver-'));
  const buckets = options.buckets ?? ['opencdp'];
  const child = spawn(process.execPath, ['--openssl-legacy-provider', CHILD, directory, buckets.join(',')], { stdio: ['pipe', 'pipe', 'pipe'] });
  let port: number;
  try {
    port = await readPort(child);
  } catch (error) {
    child.kill('SIGKILL');
    if (ownDirectory) await fs.rm(directory, { recursive: true, force: true });
    throw error;
  }
  // From here on its output is not needed; drain it, and let the parent exit without waiting for the
  // child (closing our end of stdin then stops it).
  child.stdout.resume();
  child.stderr.resume();
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref?: () => void }).unref?.();
  let stopped: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    directory,
    stop(): Promise<void> {
      stopped ??= (async () => {
        const exited = new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) resolve();
          else child.once('exit', () => resolve());
        });
        child.stdin.end();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
        if (ownDirectory) await fs.rm(directory, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

function readPort(child: ChildProcessWithoutNullStreams): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => finish(new S3rverStartError(`no port within ${READY_TIMEOUT_MS} ms; stderr: ${err.trim()}`)), READY_TIMEOUT_MS);
    const finish = (result: Error | number): void => {
      clearTimeout(timer);
      child.stdout.removeAllListeners('data');
      child.stderr.removeAllListeners('data');
      child.removeAllListeners('exit');
      child.removeAllListeners('error');
      if (typeof result === 'number') resolve(result);
      else reject(result);
    };
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (!out.includes('\n')) return;
      try {
        const port = (JSON.parse(line) as { port?: unknown }).port;
        if (typeof port === 'number') finish(port);
        else finish(new S3rverStartError(`unexpected first line '${line}'`));
      } catch {
        finish(new S3rverStartError(`unexpected first line '${line}'`));
      }
    });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', (e) => finish(new S3rverStartError(e.message)));
    child.on('exit', (code, signal) => finish(new S3rverStartError(`exited with ${signal ?? `code ${code}`}: ${err.trim()}`)));
  });
}
