// Who writes an exported image: `qemu-img convert` (the field's tool for disk formats) reading the image
// from a private NBD export of ours, whose block status lets it skip holes, or a writer in TypeScript:
// raw here (a sparse copy of the allocated regions), VHDX from the Hyper-V adapter where a host wires it
// (it writes 4096-byte logical sectors, which qemu-img's VHDX cannot). A writer writes into a private
// folder; the caller renames the folder into place once everything is there.
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ClosedError, OpenCdpError } from '../errors.js';
import { findTool } from '../host-tools.js';
import type { VolumeId } from '../model.js';
import { NbdServer } from '../nbd/nbd-server.js';
import { volumeExport } from '../nbd/volume-export.js';
import type { ChangedRegion } from '../ports/change-tracking.js';
import type { VolumeSource } from '../ports/hypervisor-adapter.js';
import type { ImageFormatSpec } from './image-formats.js';

/** The folder an export writes into ran out of space; what was written is removed. */
export class ExportDiskFullError extends OpenCdpError {
  constructor(dir: string, detail: string) {
    super('EXPORT_DISK_FULL', `the export folder ${dir} is full: ${detail}`, 'free space there or delete old exports (DELETE /v1/images/exports/{id}), then export again');
  }
}

/** Writing the image failed for another reason (the tool's message says which); what was written is removed. */
export class ImageExportError extends OpenCdpError {
  constructor(message: string, hint?: string) {
    super('IMAGE_EXPORT', message, hint);
  }
}

export interface ImageWriteJob {
  source: VolumeSource;
  volumeId: VolumeId;
  sizeBytes: number;
  sectorSize: number;
  spec: ImageFormatSpec;
  /** Regions that may hold data (sorted); everything else is zeros and is neither read nor written. */
  allocation: readonly ChangedRegion[];
  /** The private folder to write into, and the file name without extension. */
  dir: string;
  baseName: string;
  /** Share done, 0–1. */
  progress(fraction: number): void;
}

export interface ImageWriteResult {
  /** The file to open, relative to `dir`. */
  file: string;
  /** Every file written, relative to `dir`. */
  files: string[];
}

export interface ImageWriter {
  readonly name: string;
  /** Whether this writer can write `spec` with `sectorSize`-byte logical sectors on this host now. */
  supports(spec: ImageFormatSpec, sectorSize: number): boolean;
  write(job: ImageWriteJob): Promise<ImageWriteResult>;
}

/** True for an error that means the disk is full. */
export function isDiskFull(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  return e?.code === 'ENOSPC' || /No space left on device|ENOSPC/.test(e?.message ?? '');
}

/** `qemu-img convert -f raw -O <format>` from a private NBD export of the image (holes reported by block status). */
export class QemuImgWriter implements ImageWriter {
  readonly name = 'qemu-img';

  /** `socketDir`: where the private NBD socket goes (short: UNIX socket paths are limited to 107 bytes). */
  constructor(private readonly options: { qemuImg?: string; socketDir?: string } = {}) {}

  supports(spec: ImageFormatSpec, sectorSize: number): boolean {
    // qemu-img writes VMDK and VHDX with 512-byte logical sectors only.
    if ((spec.qemuFormat === 'vhdx' || spec.qemuFormat === 'vmdk') && sectorSize !== 512) return false;
    return this.tool() !== undefined;
  }

  private tool(): string | undefined {
    return this.options.qemuImg ?? findTool('qemu-img');
  }

  async write(job: ImageWriteJob): Promise<ImageWriteResult> {
    const qemuImg = this.tool();
    if (!qemuImg) throw new ImageExportError('qemu-img is not installed', 'apt-get install qemu-utils');
    const socketDir = await fs.mkdtemp(path.join(this.options.socketDir ?? os.tmpdir(), 'ocimg-'));
    const server = new NbdServer({ path: path.join(socketDir, 'image.sock') });
    const failures: Error[] = [];
    server.on('request-error', (e) => failures.push(e));
    // Gaps shorter than BRIDGE_BYTES are reported as data: qemu-img then reads a fragmented image (a journal's
    // scattered 4 KiB writes) in large requests instead of one block status and one small read per extent,
    // and still writes no zeros (`convert -S 4k`, its default, finds zero runs in what it reads).
    server.addExport('image', volumeExport(job.source, job.volumeId, { allocation: bridgeGaps(job.allocation, BRIDGE_BYTES) }));
    const file = `${job.baseName}${job.spec.extension}`;
    try {
      await server.listen();
      const args = ['convert', '-p', '-f', 'raw', '-O', job.spec.qemuFormat, ...job.spec.qemuOptions.flatMap((o) => ['-o', o]),
        `nbd+unix:///image?socket=${server.path}`, path.join(job.dir, file)];
      const { code, stderr } = await runWithProgress(qemuImg, args, job.progress);
      if (code !== 0) {
        const closed = failures.find((e) => e instanceof ClosedError);
        if (closed) throw new ImageExportError(`the image was closed while it was exported (${closed.message})`, 'the group was deleted or the appliance is stopping; export again once it recovers');
        if (/No space left on device/i.test(stderr)) throw new ExportDiskFullError(job.dir, stderr.trim());
        const read = failures[0];
        throw new ImageExportError(`qemu-img convert to ${job.spec.format} failed: ${stderr.trim() || `exit ${code}`}${read ? ` (reading the image: ${read.message})` : ''}`);
      }
    } finally {
      await server.close();
      await fs.rm(socketDir, { recursive: true, force: true });
    }
    const files = (await fs.readdir(job.dir)).filter((f) => f.startsWith(job.baseName)).sort();
    return { file, files };
  }
}

/** Holes shorter than this between two data regions are read rather than reported (see QemuImgWriter.write). */
export const BRIDGE_BYTES = 1024 * 1024;

/** Sorted regions with every gap shorter than `bridge` between two of them filled in. */
export function bridgeGaps(regions: readonly ChangedRegion[], bridge: number): ChangedRegion[] {
  const out: ChangedRegion[] = [];
  for (const r of regions) {
    const last = out[out.length - 1];
    if (last && r.offset - (last.offset + last.length) < bridge) last.length = Math.max(last.length, r.offset + r.length - last.offset);
    else out.push({ ...r });
  }
  return out;
}

/** Runs a tool that prints `(12.34/100%)` progress on stdout; resolves with its exit code and stderr. */
function runWithProgress(tool: string, args: string[], progress: (fraction: number) => void): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const all = [...chunk.matchAll(/\((\d+(?:\.\d+)?)\/100%\)/g)];
      if (all.length > 0) progress(Math.min(1, Number(all[all.length - 1][1]) / 100));
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr = (stderr + chunk).slice(-8000); });
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stderr }));
  });
}

const CHUNK = 4 * 1024 * 1024;

/** A sparse raw copy of the allocated regions, in TypeScript (where qemu-img is not installed). */
export class RawWriter implements ImageWriter {
  readonly name = 'native';

  supports(spec: ImageFormatSpec): boolean {
    return spec.format === 'raw';
  }

  async write(job: ImageWriteJob): Promise<ImageWriteResult> {
    const file = `${job.baseName}${job.spec.extension}`;
    const handle = await fs.open(path.join(job.dir, file), 'wx', 0o600);
    try {
      await handle.truncate(job.sizeBytes);
      const total = job.allocation.reduce((n, r) => n + r.length, 0);
      let done = 0;
      for (const r of job.allocation) {
        for (let at = r.offset; at < r.offset + r.length; at += CHUNK) {
          const length = Math.min(CHUNK, r.offset + r.length - at);
          const data = await job.source.read(job.volumeId, at, length);
          // All-zero chunks stay holes.
          if (!isZero(data)) await handle.write(data, 0, length, at);
          done += length;
          job.progress(total === 0 ? 1 : done / total);
        }
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    return { file, files: [file] };
  }
}

const ZERO = Buffer.alloc(64 * 1024);

function isZero(data: Buffer): boolean {
  for (let at = 0; at < data.length; at += ZERO.length) {
    const n = Math.min(ZERO.length, data.length - at);
    if (!data.subarray(at, at + n).equals(ZERO.subarray(0, n))) return false;
  }
  return true;
}
