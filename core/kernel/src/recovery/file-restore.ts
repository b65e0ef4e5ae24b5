// File restore (R5): a checkpoint's volume, opened read-only through its point-in-time image, copied
// to a sparse temporary file and read with `debugfs` from e2fsprogs (ext2/3/4, no mount, no root).
// Paths are untrusted: anything with `..`, a relative start, quotes or control characters is refused
// before debugfs sees it, so a request can neither run another debugfs command nor leave the volume.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OpenCdpError, UnsupportedError, ValidationError } from '../errors.js';
import type { VolumeId } from '../model.js';
import type { VolumeSource } from '../ports/hypervisor-adapter.js';
import type { RestoredFileEntry } from './recovery-api.js';

const DEBUGFS_CANDIDATES = ['/usr/sbin/debugfs', '/sbin/debugfs', '/usr/bin/debugfs'];

/** The file system tool failed, or the volume holds no readable ext file system. */
export class FileRestoreError extends OpenCdpError {
  constructor(message: string, hint?: string) {
    super('FILE_RESTORE', message, hint);
  }
}

/** Where debugfs is, or undefined when e2fsprogs is not installed. */
export function findDebugfs(): string | undefined {
  return DEBUGFS_CANDIDATES.find((p) => existsSync(p));
}

/**
 * Checks a path inside the volume and returns it normalised (no trailing slash, repeated slashes
 * folded). Throws ValidationError for anything that could escape the volume or the debugfs command.
 */
export function checkVolumePath(path: unknown): string {
  if (typeof path !== 'string' || path.length === 0) throw new ValidationError('path must be a non-empty string', 'path');
  if (!path.startsWith('/')) throw new ValidationError(`path '${path}' is not absolute within the volume`, 'path', "start it with '/'");
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f"\\]/.test(path)) throw new ValidationError('path contains a quote, a backslash or a control character', 'path');
  const segments = path.split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '..')) throw new ValidationError(`path '${path}' contains '..'`, 'path', 'paths must stay inside the volume');
  if (segments.some((s) => s === '.')) throw new ValidationError(`path '${path}' contains a '.' segment`, 'path');
  if (path.length > 4096) throw new ValidationError('path is longer than 4096 characters', 'path');
  return `/${segments.join('/')}`;
}

/** An ext file system on a temporary copy of one volume of a point-in-time image. */
export class ExtVolumeReader {
  private constructor(private readonly debugfs: string, private readonly dir: string, private readonly file: string) {}

  /** Copies the volume (sparse: zero chunks are skipped) to a temporary file and checks it holds an ext file system. */
  static async open(source: VolumeSource, volumeId: VolumeId, options: { debugfsPath?: string; tempDir?: string } = {}): Promise<ExtVolumeReader> {
    const debugfs = options.debugfsPath ?? findDebugfs();
    if (!debugfs) throw new UnsupportedError('file restore (debugfs from e2fsprogs is not installed)');
    const dir = await mkdtemp(join(options.tempDir ?? tmpdir(), 'opencdp-restore-'));
    const file = join(dir, 'volume.img');
    try {
      const size = source.sizeBytes(volumeId);
      // A copy of a guest's volume in a 0700 temporary folder: the owner's only too.
      const handle = await open(file, 'w', 0o600);
      try {
        const chunk = 1024 * 1024;
        for (let at = 0; at < size; at += chunk) {
          const data = await source.read(volumeId, at, Math.min(chunk, size - at));
          if (!data.every((b) => b === 0)) await handle.write(data, 0, data.length, at);
        }
        await handle.truncate(size);
      } finally {
        await handle.close();
      }
      const reader = new ExtVolumeReader(debugfs, dir, file);
      const { stderr } = await reader.run('stats');
      if (/Bad magic number|Couldn't find valid filesystem|superblock/i.test(stderr)) {
        throw new FileRestoreError(`volume '${volumeId}' holds no ext2/3/4 file system`, 'file restore reads ext file systems only');
      }
      return reader;
    } catch (e) {
      await rm(dir, { recursive: true, force: true });
      throw e;
    }
  }

  /** Entries of a directory (without `.` and `..`), sorted by name. */
  async list(path: string): Promise<RestoredFileEntry[]> {
    const p = checkVolumePath(path);
    const { stdout, stderr } = await this.run(`ls -p "${p}"`);
    this.failOn(stderr, p);
    const entries = parseLsP(stdout.toString('utf8'));
    if (!entries.some((e) => e.name === '.')) throw new ValidationError(`'${p}' is not a directory`, 'path');
    return entries.filter((e) => e.name !== '.' && e.name !== '..')
      .map((e) => ({ path: p === '/' ? `/${e.name}` : `${p}/${e.name}`, type: e.type, sizeBytes: e.size }))
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** The bytes of a regular file. Symlinks are refused: their target may point outside what was asked for. */
  async read(path: string): Promise<Buffer> {
    const p = checkVolumePath(path);
    if (p === '/') throw new ValidationError("'/' is a directory", 'path');
    const parent = p.slice(0, p.lastIndexOf('/')) || '/';
    const name = p.slice(p.lastIndexOf('/') + 1);
    const { stdout, stderr } = await this.run(`ls -p "${parent}"`);
    this.failOn(stderr, parent);
    const entry = parseLsP(stdout.toString('utf8')).find((e) => e.name === name);
    if (!entry) throw new ValidationError(`'${p}' does not exist in the volume`, 'path');
    if (entry.type !== 'file') throw new ValidationError(`'${p}' is a ${entry.type}, not a regular file`, 'path');
    const out = await this.run(`cat "${p}"`);
    this.failOn(out.stderr, p);
    if (out.stdout.length !== entry.size) throw new FileRestoreError(`debugfs returned ${out.stdout.length} bytes of '${p}', which holds ${entry.size}`);
    return out.stdout;
  }

  async close(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }

  private failOn(stderr: string, path: string): void {
    if (/File not found by ext2_lookup/.test(stderr)) throw new ValidationError(`'${path}' does not exist in the volume`, 'path');
    const lines = stderr.split('\n').filter((l) => l.trim() !== '' && !/^debugfs \d/.test(l));
    if (lines.length > 0) throw new FileRestoreError(`debugfs failed on '${path}': ${lines.join('; ')}`);
  }

  private run(request: string): Promise<{ stdout: Buffer; stderr: string }> {
    return new Promise((resolve, reject) => {
      execFile(this.debugfs, ['-R', request, this.file], { encoding: 'buffer', maxBuffer: 1024 * 1024 * 1024 }, (error, stdout, stderr) => {
        if (error) reject(new FileRestoreError(`debugfs failed: ${error.message}`));
        else resolve({ stdout, stderr: stderr.toString('utf8') });
      });
    });
  }
}

interface LsEntry {
  name: string;
  type: RestoredFileEntry['type'];
  size: number;
}

/** Parses `debugfs ls -p`: `/inode/mode/uid/gid/name/size/` per entry (mode in octal; names cannot hold '/'). */
function parseLsP(text: string): LsEntry[] {
  const out: LsEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^\/(\d+)\/([0-7]+)\/(\d+)\/(\d+)\/(.*)\/(\d*)\/$/.exec(line);
    if (!m) continue;
    const mode = parseInt(m[2], 8) & 0o170000;
    const type = mode === 0o040000 ? 'directory' : mode === 0o100000 ? 'file' : mode === 0o120000 ? 'symlink' : 'other';
    out.push({ name: m[5], type, size: m[6] === '' ? 0 : Number(m[6]) });
  }
  return out;
}
