// File restore (R5): a checkpoint's volume read the way the kernel would mount it. A checkpoint of a live
// ext3/4 file system is crash-consistent: what the guest fsynced may still sit in the file system's
// journal, so the journal is replayed first (`e2fsck -E journal_only`) — on a private, writable view of the
// volume, never on the image. The view comes from an opener: by default a sparse private copy; where QEMU
// and FUSE exist, the host passes one that streams the image over NBD under a qcow2 overlay (see
// adapter-qemu's `nbdVolumeFile`), so nothing is copied but what e2fsprogs reads or the replay writes.
// Then `debugfs` lists and extracts (no mount, no root). Paths are untrusted: anything with `..`, a
// relative start, quotes or control characters is refused before debugfs sees it.
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
const E2FSCK_CANDIDATES = ['/usr/sbin/e2fsck', '/sbin/e2fsck', '/usr/bin/e2fsck'];

/** The file system tool failed, or the volume holds no readable ext file system. */
export class FileRestoreError extends OpenCdpError {
  constructor(message: string, hint?: string) {
    super('FILE_RESTORE', message, hint);
  }
}

/** The volume's file system cannot be read even after its journal was replayed. */
export class FileSystemDamagedError extends OpenCdpError {
  constructor(readonly volumeId: VolumeId, detail: string) {
    super('FILESYSTEM_DAMAGED', `the file system of volume '${volumeId}' is damaged beyond journal replay: ${detail}`,
      'try an earlier checkpoint, or recover the VM and let its own fsck repair the file system');
  }
}

/** Where debugfs is, or undefined when e2fsprogs is not installed. */
export function findDebugfs(): string | undefined {
  return DEBUGFS_CANDIDATES.find((p) => existsSync(p));
}

export function findE2fsck(): string | undefined {
  return E2FSCK_CANDIDATES.find((p) => existsSync(p));
}

/**
 * A private, writable view of one volume as a local file: e2fsprogs opens `path` read-write, and what it
 * writes (the journal replay) stays in the view, never reaches the image.
 */
export interface PrivateVolumeFile {
  readonly path: string;
  /** How the bytes get there, for logs and reports: `copy` (a sparse private copy) or `nbd` (streamed on demand). */
  readonly kind: string;
  close(): Promise<void>;
}

/** Makes a PrivateVolumeFile of `volumeId` in the (empty, private) folder `dir`. */
export type PrivateVolumeFileOpener = (source: VolumeSource, volumeId: VolumeId, dir: string) => Promise<PrivateVolumeFile>;

/** The default view: a sparse copy of the whole volume (all-zero chunks are skipped) in `dir`. */
export const sparseCopy: PrivateVolumeFileOpener = async (source, volumeId, dir) => {
  const file = join(dir, 'volume.img');
  const size = source.sizeBytes(volumeId);
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
  return { path: file, kind: 'copy', close: () => rm(file, { force: true }) };
};

/** Something a preferred opener throws when it cannot work on this host at all (the fallback is then used from then on). */
export class VolumeFileUnavailableError extends OpenCdpError {
  constructor(message: string, hint?: string) {
    super('VOLUME_FILE_UNAVAILABLE', message, hint);
  }
}

/**
 * Tries `preferred`; when it reports VolumeFileUnavailableError (e.g. no FUSE here), uses `fallback` for
 * this and every later volume, and says so once through `log`.
 */
export function openerWithFallback(preferred: PrivateVolumeFileOpener, fallback: PrivateVolumeFileOpener, log?: (event: string, fields: Record<string, unknown>) => void): PrivateVolumeFileOpener {
  let unavailable = false;
  return async (source, volumeId, dir) => {
    if (!unavailable) {
      try {
        return await preferred(source, volumeId, dir);
      } catch (e) {
        if (!(e instanceof VolumeFileUnavailableError)) throw e;
        unavailable = true;
        log?.('file-restore-fallback', { message: e.message });
      }
    }
    return fallback(source, volumeId, dir);
  };
}

export interface ExtVolumeReaderOptions {
  debugfsPath?: string;
  e2fsckPath?: string;
  /** Parent of the private temporary folders (default the OS temp folder; keep it short for UNIX sockets). */
  tempDir?: string;
  /** How the private view is made (default `sparseCopy`). */
  opener?: PrivateVolumeFileOpener;
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

/** What the first 4 KiB of a volume say about its file system. */
export type DetectedFileSystem = 'ext' | 'xfs' | 'unknown';

export function detectFileSystem(head: Buffer): DetectedFileSystem {
  if (head.length >= 1024 + 58 && head.readUInt16LE(1024 + 56) === 0xef53) return 'ext';
  if (head.length >= 4 && head.toString('latin1', 0, 4) === 'XFSB') return 'xfs';
  return 'unknown';
}

/** ext superblock fields the reader needs (offsets within the superblock, which starts at byte 1024). */
interface ExtSuperblock {
  hasJournal: boolean;
  needsRecovery: boolean;
  /** s_state: 1 clean, 2 errors detected. */
  errors: boolean;
}

async function readSuperblock(file: string): Promise<ExtSuperblock> {
  const handle = await open(file, 'r');
  try {
    const sb = Buffer.alloc(1024);
    await handle.read(sb, 0, 1024, 1024);
    return {
      hasJournal: (sb.readUInt32LE(0x5c) & 0x4) !== 0,
      needsRecovery: (sb.readUInt32LE(0x60) & 0x4) !== 0,
      errors: (sb.readUInt16LE(0x3a) & 0x2) !== 0,
    };
  } finally {
    await handle.close();
  }
}

/** An ext file system on a private view of one volume of a point-in-time image, its journal replayed. */
export class ExtVolumeReader {
  private constructor(
    private readonly debugfs: string,
    private readonly dir: string,
    private readonly view: PrivateVolumeFile,
    /** True when the image's journal held transactions that were replayed into the view. */
    readonly journalReplayed: boolean,
    /** The file system had recorded an error of its own before the checkpoint (its fsck would check it). */
    readonly errorsRecorded: boolean,
  ) {}

  /** How the view was made (`copy`, `nbd`). */
  get viewKind(): string {
    return this.view.kind;
  }

  /**
   * Opens the volume: refuses what is not ext2/3/4 (XFS with the reason), makes the private view, replays
   * the journal when the file system needs it, and checks debugfs can open the result. Throws
   * FileSystemDamagedError when the replay fails or leaves a file system that cannot be opened.
   */
  static async open(source: VolumeSource, volumeId: VolumeId, options: ExtVolumeReaderOptions = {}): Promise<ExtVolumeReader> {
    const debugfs = options.debugfsPath ?? findDebugfs();
    if (!debugfs) throw new UnsupportedError('file restore (debugfs from e2fsprogs is not installed)');
    const size = source.sizeBytes(volumeId);
    const fs = detectFileSystem(await source.read(volumeId, 0, Math.min(4096, size)));
    if (fs === 'xfs') {
      throw new UnsupportedError(`file restore of XFS (volume '${volumeId}'): replaying an XFS log needs the kernel's XFS driver; xfs_repair can only zero the log, which loses the last writes, and no userspace tool extracts files`);
    }
    if (fs !== 'ext') throw new FileRestoreError(`volume '${volumeId}' holds no ext2/3/4 file system`, 'file restore reads ext file systems (a whole-disk file system, not a partition table)');
    const dir = await mkdtemp(join(options.tempDir ?? tmpdir(), 'ocdp-fr-'));
    let view: PrivateVolumeFile | undefined;
    try {
      view = await (options.opener ?? sparseCopy)(source, volumeId, dir);
      const sb = await readSuperblock(view.path);
      let replayed = false;
      if (sb.hasJournal && sb.needsRecovery) {
        await replayJournal(options.e2fsckPath ?? findE2fsck(), view.path, volumeId);
        if ((await readSuperblock(view.path)).needsRecovery) throw new FileSystemDamagedError(volumeId, 'e2fsck left the journal unreplayed');
        replayed = true;
      }
      const reader = new ExtVolumeReader(debugfs, dir, view, replayed, sb.errors);
      const { stderr } = await reader.run('stats');
      if (/Bad magic number|Couldn't find valid filesystem|superblock|checksum|corrupt/i.test(stderr)) {
        throw new FileSystemDamagedError(volumeId, stderr.split('\n').filter((l) => l.trim() && !/^debugfs \d/.test(l)).join('; '));
      }
      return reader;
    } catch (e) {
      await view?.close().catch(() => undefined);
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

  /**
   * The bytes of a regular file, all of them or an error: a file whose blocks cannot be read, or that
   * comes back shorter or longer than its inode says, is never returned. Symlinks are refused: their
   * target may point outside what was asked for.
   */
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
    if (out.stdout.length !== entry.size) throw new FileRestoreError(`debugfs returned ${out.stdout.length} bytes of '${p}', which holds ${entry.size}`, 'the file system is inconsistent at this checkpoint; try another');
    return out.stdout;
  }

  async close(): Promise<void> {
    await this.view.close().catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }

  private failOn(stderr: string, path: string): void {
    if (/File not found by ext2_lookup/.test(stderr)) throw new ValidationError(`'${path}' does not exist in the volume`, 'path');
    const lines = stderr.split('\n').filter((l) => l.trim() !== '' && !/^debugfs \d/.test(l));
    if (lines.length > 0) throw new FileRestoreError(`debugfs failed on '${path}': ${lines.join('; ')}`);
  }

  private run(request: string): Promise<{ stdout: Buffer; stderr: string }> {
    return new Promise((resolve, reject) => {
      execFile(this.debugfs, ['-R', request, this.view.path], { encoding: 'buffer', maxBuffer: 1024 * 1024 * 1024 }, (error, stdout, stderr) => {
        if (error) reject(new FileRestoreError(`debugfs failed: ${error.message}`));
        else resolve({ stdout, stderr: stderr.toString('utf8') });
      });
    });
  }
}

/**
 * `e2fsck -E journal_only -p`: replays the journal and nothing else. It could not when it exits ≥ 4, or
 * when it had to clear or recreate a journal it found invalid (the transactions in it are then lost).
 */
function replayJournal(e2fsck: string | undefined, file: string, volumeId: VolumeId): Promise<void> {
  if (!e2fsck) return Promise.reject(new UnsupportedError('replaying the journal of a crash-consistent checkpoint (e2fsck from e2fsprogs is not installed)'));
  return new Promise((resolve, reject) => {
    execFile(e2fsck, ['-E', 'journal_only', '-p', file], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : 8) : 0;
      const text = `${stdout}\n${stderr}`.split('\n').map((l) => l.trim()).filter((l) => l && !/^e2fsck \d/.test(l)).join('; ');
      if (code < 4 && !/CLEARED|journal has been deleted|invalid journal|regenerated|UNEXPECTED INCONSISTENCY/i.test(text)) return resolve();
      reject(new FileSystemDamagedError(volumeId, `e2fsck -E journal_only exited ${code}: ${text.replaceAll(file, '<volume>')}`));
    });
  });
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
