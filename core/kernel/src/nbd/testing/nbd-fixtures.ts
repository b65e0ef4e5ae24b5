// Helpers of the NBD specs: temp folders, hashing, watching a promise without awaiting it, running QEMU
// tools, and a memory-backed export that records what reached it.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { NbdExport } from '../nbd-server.js';

export const run = promisify(execFile);

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function tempDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'ocnbd-'));
}

export interface Watched<T> {
  readonly state: 'pending' | 'resolved' | 'rejected';
  readonly error?: unknown;
  readonly value?: T;
}

export function watch<T>(promise: Promise<T>): Watched<T> {
  const w: { state: Watched<T>['state']; value?: T; error?: unknown } = { state: 'pending' };
  promise.then((value) => { w.state = 'resolved'; w.value = value; }, (error: unknown) => { w.state = 'rejected'; w.error = error; });
  return w;
}

export async function until(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A read-write export over a buffer; `ops` records every call in order. */
export class MemoryExport implements NbdExport {
  readonly data: Buffer;
  readonly ops: string[] = [];
  flushes = 0;

  constructor(readonly sizeBytes: number, readonly readOnly = false) {
    this.data = Buffer.alloc(sizeBytes);
  }

  async read(offset: number, length: number): Promise<Buffer> {
    this.ops.push(`read ${offset}+${length}`);
    return Buffer.from(this.data.subarray(offset, offset + length));
  }

  async write(offset: number, data: Buffer): Promise<void> {
    this.ops.push(`write ${offset}+${data.length}`);
    data.copy(this.data, offset);
  }

  async writeZeroes(offset: number, length: number): Promise<void> {
    this.ops.push(`zero ${offset}+${length}`);
    this.data.fill(0, offset, offset + length);
  }

  async trim(offset: number, length: number): Promise<void> {
    this.ops.push(`trim ${offset}+${length}`);
    this.data.fill(0, offset, offset + length);
  }

  async flush(): Promise<void> {
    this.flushes++;
    this.ops.push('flush');
  }
}
