// Exports of checkpoint images as files, on the recovery appliance. Each export gets its own folder in
// the appliance's export folder (0700, files 0600), named by an id the appliance picks: the file is
// written into `.partial-<id>/` while the image stays pinned (trimming cannot pass its checkpoint, so the
// file never mixes two points in time), hashed, described in `report.json`, fsynced, and only then renamed
// to `<id>/`. A failure — disk full, the journal closed under it, a tool error — removes the partial
// folder; leftovers of a killed appliance are swept at the next start. Downloads read the files in chunks.
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import type { Clock } from '../clock.js';
import { ClosedError, NotFoundError, OpenCdpError, ValidationError } from '../errors.js';
import { regionBytes } from '../capture/region-list.js';
import type { GroupId } from '../model.js';
import type { ProgressSink } from '../recovery/recovery-api.js';
import type { RecoveryGroupDirectory, RecoveryJournalSource } from '../recovery/recovery-platform.js';
import type { ImageExportReport, ImageExportRequest, ImageFileInfo } from './image-api.js';
import { checkFormatFits, formatSpec, ImageFormatError } from './image-formats.js';
import { resolveImageTarget } from './image-targets.js';
import { ExportDiskFullError, ImageExportError, isDiskFull, QemuImgWriter, RawWriter, type ImageWriter } from './image-writers.js';

export interface ImageExportsOptions {
  clock: Clock;
  journals: RecoveryJournalSource;
  groups: RecoveryGroupDirectory;
  /** The export folder (created 0700). */
  dir: string;
  /** Tried in order; the first that supports the format and sector size writes (default: qemu-img, then raw in TypeScript). */
  writers?: ImageWriter[];
  newId?: () => string;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const EXPORT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9-]{0,79}$/;
const PARTIAL_PREFIX = '.partial-';
const REPORT = 'report.json';
const MAX_READ = 4 * 1024 * 1024;
/** Room needed beyond the data itself: format metadata (qcow2 tables, VHDX BAT and log) and the report. */
const slackFor = (dataBytes: number): number => 1024 * 1024 + Math.ceil(dataBytes / 64);

export class ImageExports {
  private readonly reports = new Map<string, ImageExportReport>();
  private readonly writers: ImageWriter[];

  private constructor(private readonly options: ImageExportsOptions) {
    this.writers = options.writers ?? [new QemuImgWriter(), new RawWriter()];
  }

  /** Opens the export folder: creates it, removes partial exports a killed appliance left, and reads the reports of the others. */
  static async open(options: ImageExportsOptions): Promise<ImageExports> {
    const exports = new ImageExports(options);
    await fs.mkdir(options.dir, { recursive: true, mode: 0o700 });
    await fs.chmod(options.dir, 0o700);
    for (const name of await fs.readdir(options.dir)) {
      const full = path.join(options.dir, name);
      if (name.startsWith(PARTIAL_PREFIX)) {
        await fs.rm(full, { recursive: true, force: true });
        options.log?.('image-export-partial-removed', { folder: full });
        continue;
      }
      if (!EXPORT_ID_PATTERN.test(name)) continue;
      try {
        const report = JSON.parse(await fs.readFile(path.join(full, REPORT), 'utf8')) as ImageExportReport;
        if (report.id === name) exports.reports.set(name, report);
      } catch {
        options.log?.('image-export-unreadable', { folder: full });
      }
    }
    return exports;
  }

  get dir(): string {
    return this.options.dir;
  }

  async exportImage(request: ImageExportRequest, progress?: ProgressSink): Promise<ImageExportReport> {
    const report = (p: number, step: string): void => progress?.(p, step);
    const { target, journal, volume, checkpoint } = resolveImageTarget(this.options.groups, this.options.journals, request);
    const spec = formatSpec(request.format);
    checkFormatFits(spec, volume);
    const baseName = request.name === undefined ? defaultName(target.vmId, target.volumeId, target.checkpointId) : request.name;
    if (typeof baseName !== 'string' || !NAME_PATTERN.test(baseName)) {
      throw new ValidationError(`name '${String(baseName)}' must be 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit`, 'name');
    }
    const writer = this.writers.find((w) => w.supports(spec, volume.sectorSize));
    if (!writer) {
      throw new ImageFormatError(`no writer on this appliance makes ${spec.format} with ${volume.sectorSize}-byte sectors (${this.writers.map((w) => w.name).join(', ')})`,
        'install qemu-utils on the appliance, or choose raw');
    }
    const id = this.options.newId?.() ?? randomUUID();
    const startedAt = this.options.clock.now();
    report(0, `opening the image at checkpoint ${checkpoint.id}`);
    // Pinned from here to the end: trimming stops short of this checkpoint while the file is written.
    const image = await journal.openImage(checkpoint.id);
    const partial = path.join(this.options.dir, `${PARTIAL_PREFIX}${id}`);
    try {
      const allocation = await image.allocated(volume.id);
      const dataBytes = regionBytes(allocation);
      await this.checkRoom(dataBytes, volume.sizeBytes);
      await fs.mkdir(partial, { mode: 0o700 });
      report(2, `writing ${spec.format} with ${writer.name} (${dataBytes} of ${volume.sizeBytes} bytes allocated)`);
      const written = await writer.write({
        source: image, volumeId: volume.id, sizeBytes: volume.sizeBytes, sectorSize: volume.sectorSize, spec, allocation, dir: partial, baseName,
        progress: (f) => report(2 + Math.floor(f * 88), `writing ${spec.format} with ${writer.name}`),
      });
      report(90, 'hashing the files');
      const files: ImageFileInfo[] = [];
      for (const name of written.files) {
        const file = path.join(partial, name);
        await fs.chmod(file, 0o600);
        // Hashed while the flush runs (both only read what the writer left); the size on disk after it.
        const [sha256] = await Promise.all([sha256File(file), syncPath(file)]);
        const stat = await fs.stat(file);
        files.push({ name, sizeBytes: stat.size, allocatedBytes: stat.blocks * 512, sha256 });
      }
      const main = files.find((f) => f.name === written.file);
      if (!main) throw new ImageExportError(`${writer.name} did not write ${written.file}`);
      const result: ImageExportReport = {
        ...target, id, format: spec.format, engine: writer.name, checkpointTimestamp: checkpoint.timestamp, virtualSizeBytes: volume.sizeBytes,
        sectorSize: volume.sectorSize, dataBytes, file: written.file, files, bytesWritten: files.reduce((n, f) => n + f.allocatedBytes, 0),
        sha256: main.sha256, startedAt, endedAt: this.options.clock.now(),
      };
      await fs.writeFile(path.join(partial, REPORT), JSON.stringify(result, null, 2), { mode: 0o600 });
      await syncPath(path.join(partial, REPORT));
      await syncPath(partial);
      // Listed only once durable: the files, the report, then the rename into place.
      await fs.rename(partial, path.join(this.options.dir, id));
      await syncPath(this.options.dir);
      this.reports.set(id, result);
      this.options.log?.('image-exported', { id, groupId: target.groupId, checkpointId: target.checkpointId, vmId: target.vmId, volumeId: target.volumeId, format: spec.format, bytesWritten: result.bytesWritten, sha256: result.sha256 });
      report(100, 'exported');
      return { ...result, files: result.files.map((f) => ({ ...f })) };
    } catch (error) {
      await fs.rm(partial, { recursive: true, force: true });
      this.options.log?.('image-export-failed', { id, message: (error as Error).message });
      if (error instanceof ClosedError) throw new ImageExportError(`the image was closed while it was exported (${error.message})`, 'the group was deleted or the appliance is stopping; export again once it recovers');
      if (error instanceof OpenCdpError) throw error;
      if (isDiskFull(error)) throw new ExportDiskFullError(this.options.dir, (error as Error).message);
      throw new ImageExportError(`exporting the image failed: ${(error as Error).message}`);
    } finally {
      image.close();
    }
  }

  /** Refuses early when the export folder cannot hold the image's data (unless the allocation is unknown: the whole volume). */
  private async checkRoom(dataBytes: number, sizeBytes: number): Promise<void> {
    if (dataBytes >= sizeBytes) return;
    const stats = await fs.statfs(this.options.dir);
    const free = stats.bavail * stats.bsize;
    if (free < dataBytes + slackFor(dataBytes)) throw new ExportDiskFullError(this.options.dir, `${free} bytes free, the image holds ${dataBytes} bytes of data`);
  }

  list(groupId?: GroupId): ImageExportReport[] {
    return [...this.reports.values()].filter((r) => groupId === undefined || r.groupId === groupId)
      .sort((a, b) => a.startedAt - b.startedAt || (a.id < b.id ? -1 : 1)).map((r) => ({ ...r, files: r.files.map((f) => ({ ...f })) }));
  }

  get(exportId: string): ImageExportReport {
    const r = typeof exportId === 'string' ? this.reports.get(exportId) : undefined;
    if (!r) throw new NotFoundError('image export', String(exportId));
    return r;
  }

  async readFile(exportId: string, fileName: string, offset: number, length: number): Promise<Buffer> {
    const r = this.get(exportId);
    if (typeof fileName !== 'string' || !r.files.some((f) => f.name === fileName)) throw new NotFoundError(`file of image export '${exportId}'`, String(fileName));
    if (!Number.isSafeInteger(offset) || offset < 0) throw new ValidationError('offset must be a whole number ≥ 0', 'offset');
    if (!Number.isSafeInteger(length) || length < 0 || length > MAX_READ) throw new ValidationError(`length must be a whole number from 0 to ${MAX_READ}`, 'length');
    const handle = await fs.open(path.join(this.options.dir, r.id, fileName), 'r');
    try {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, offset);
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }

  async delete(exportId: string): Promise<void> {
    const r = this.get(exportId);
    this.reports.delete(r.id);
    await fs.rm(path.join(this.options.dir, r.id), { recursive: true, force: true });
    this.options.log?.('image-export-deleted', { id: r.id });
  }
}

function defaultName(vmId: string, volumeId: string, checkpointId: string): string {
  const safe = `${vmId}-${volumeId}-${checkpointId}`.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[._-]+/, '');
  return (safe || 'image').slice(0, 100);
}

/** fsync of a file or a folder (its entries). */
async function syncPath(p: string): Promise<void> {
  const handle = await fs.open(p, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
