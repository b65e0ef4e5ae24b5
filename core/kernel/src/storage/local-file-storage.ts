// The embedded default StorageAdapter: plain (sparse) files under one root folder, reached through
// node:fs/promises FileHandles. Journals and replica volumes of a single-host recovery site live here.
// Creations and renames also fsync their folders, so a file that exists once open() returns survives a crash.
// Journals and replica volumes are copies of guest disks: files are created 0600 and folders 0700.
import { constants as fsConstants, promises as fs, type Dirent } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { OpenCdpError, StorageError } from '../errors.js';
import type { StorageAdapter, StorageCapacity, StoredFile } from '../ports/storage-adapter.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from './private-files.js';
import { checkByteRange, checkFileSize, checkStorageName, checkStoragePrefix } from './storage-names.js';

/** The last replace of each file path under way in this process (any instance): later ones wait for it. */
const replacing = new Map<string, Promise<void>>();

/** Trims zero at most this much per write, so trimming a huge range does not allocate a huge buffer. */
const ZERO_CHUNK_BYTES = 1024 * 1024;

export class LocalFileStorage implements StorageAdapter {
  readonly kind = 'local-files';
  private readonly root: string;

  constructor(rootDir: string) {
    this.root = path.resolve(rootDir);
  }

  async capacity(): Promise<StorageCapacity> {
    try {
      await fs.mkdir(this.root, { recursive: true, mode: PRIVATE_DIR_MODE });
      const stats = await fs.statfs(this.root);
      return { totalBytes: stats.blocks * stats.bsize, freeBytes: stats.bavail * stats.bsize };
    } catch (error) {
      throw storageError(error, 'read the capacity of', this.root);
    }
  }

  async open(name: string, options: { create?: boolean; size?: number } = {}): Promise<StoredFile> {
    checkStorageName(name);
    if (options.size !== undefined) checkFileSize(name, options.size);
    const filePath = this.pathOf(name);
    if (!options.create) {
      try {
        return new LocalStoredFile(name, await fs.open(filePath, 'r+'));
      } catch (error) {
        if (isMissing(error)) throw new StorageError(`file '${name}' does not exist`, 'missing');
        throw storageError(error, 'open', name);
      }
    }
    try {
      const parent = path.dirname(filePath);
      const firstCreated = await fs.mkdir(parent, { recursive: true, mode: PRIVATE_DIR_MODE });
      let handle: FileHandle;
      try {
        handle = await fs.open(filePath, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL, PRIVATE_FILE_MODE);
      } catch (error) {
        if (errnoOf(error) !== 'EEXIST') throw error;
        return new LocalStoredFile(name, await fs.open(filePath, 'r+'));
      }
      try {
        if (options.size !== undefined && options.size > 0) await handle.truncate(options.size);
        await this.syncNewEntries(firstCreated, parent);
      } catch (error) {
        await handle.close().catch(() => undefined);
        throw error;
      }
      return new LocalStoredFile(name, handle);
    } catch (error) {
      throw storageError(error, 'open', name);
    }
  }

  async exists(name: string): Promise<boolean> {
    checkStorageName(name);
    try {
      return (await fs.stat(this.pathOf(name))).isFile();
    } catch (error) {
      if (isMissing(error)) return false;
      throw storageError(error, 'look up', name);
    }
  }

  async list(prefix: string): Promise<string[]> {
    checkStoragePrefix(prefix);
    // Only the folder holding the prefix's last segment is read; below a matching entry, everything matches.
    const folder = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    const start = prefix.slice(folder.length);
    const names: string[] = [];
    try {
      await this.collect(folder, start, names);
    } catch (error) {
      throw storageError(error, 'list', prefix);
    }
    return names.sort();
  }

  async delete(name: string): Promise<void> {
    checkStorageName(name);
    const filePath = this.pathOf(name);
    try {
      await fs.unlink(filePath);
      await syncFolder(path.dirname(filePath));
    } catch (error) {
      if (isMissing(error)) return;
      throw storageError(error, 'delete', name);
    }
  }

  async replace(name: string, data: Buffer): Promise<void> {
    checkStorageName(name);
    const filePath = this.pathOf(name);
    // Replaces of one file run one after another: they share the temporary name, and two at once would
    // rename it from under each other (ENOENT), as the senders of one group probing together did.
    const previous = replacing.get(filePath) ?? Promise.resolve();
    const run = previous.then(() => this.replaceNow(name, filePath, data));
    const tail = run.catch(() => undefined);
    replacing.set(filePath, tail);
    void tail.then(() => { if (replacing.get(filePath) === tail) replacing.delete(filePath); });
    return run;
  }

  private async replaceNow(name: string, filePath: string, data: Buffer): Promise<void> {
    const parent = path.dirname(filePath);
    // A fixed temporary name: a crash leaves at most one stale '.tmp' beside the file, which the next replace overwrites.
    const tempPath = `${filePath}.tmp`;
    try {
      const firstCreated = await fs.mkdir(parent, { recursive: true, mode: PRIVATE_DIR_MODE });
      const handle = await fs.open(tempPath, 'w', PRIVATE_FILE_MODE);
      try {
        await writeFully(handle, [data], 0);
        await handle.datasync();
      } finally {
        await handle.close();
      }
      await fs.rename(tempPath, filePath);
      await this.syncNewEntries(firstCreated, parent);
    } catch (error) {
      await fs.rm(tempPath, { force: true }).catch(() => undefined);
      throw storageError(error, 'replace', name);
    }
  }

  async readAll(name: string): Promise<Buffer | undefined> {
    checkStorageName(name);
    try {
      return await fs.readFile(this.pathOf(name));
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw storageError(error, 'read', name);
    }
  }

  private pathOf(name: string): string {
    return path.join(this.root, ...name.split('/'));
  }

  /** Adds to `names` the files in `folder` (relative, '' or ending in '/') whose entry name starts with `start`. */
  private async collect(folder: string, start: string, names: string[]): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await fs.readdir(path.join(this.root, ...folder.split('/')), { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    for (const entry of entries) {
      if (!entry.name.startsWith(start)) continue;
      if (entry.isFile()) names.push(folder + entry.name);
      else if (entry.isDirectory()) await this.collect(`${folder}${entry.name}/`, '', names);
    }
  }

  /**
   * A new file (or renamed one) is only durable once its folder is synced, and a folder made by
   * mkdir -p only once its own parent is: sync every folder from the one that gained the first new
   * folder down to the file's parent.
   */
  private async syncNewEntries(firstCreated: string | undefined, parent: string): Promise<void> {
    const chain: string[] = [];
    const top = firstCreated === undefined ? parent : path.dirname(firstCreated);
    for (let folder = parent; ; folder = path.dirname(folder)) {
      chain.push(folder);
      if (folder === top || folder === path.dirname(folder)) break;
    }
    for (const folder of chain.reverse()) await syncFolder(folder);
  }
}

class LocalStoredFile implements StoredFile {
  private closed = false;

  constructor(readonly name: string, private readonly handle: FileHandle) {}

  async size(): Promise<number> {
    this.checkOpen();
    try {
      return (await this.handle.stat()).size;
    } catch (error) {
      throw storageError(error, 'stat', this.name);
    }
  }

  async read(offset: number, length: number): Promise<Buffer> {
    this.checkOpen();
    checkByteRange(this.name, offset, length);
    // Not zero-filled up front (a 64 MiB segment read would pay for it twice); only what lies past the
    // end of the file is zeroed afterwards.
    const out = Buffer.allocUnsafe(length);
    let done = 0;
    try {
      while (done < length) {
        const { bytesRead } = await this.handle.read(out, done, length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
    } catch (error) {
      throw storageError(error, 'read', this.name);
    }
    if (done < length) out.fill(0, done);
    return out;
  }

  async readInto(offset: number, target: Buffer): Promise<number> {
    this.checkOpen();
    checkByteRange(this.name, offset, target.length);
    let done = 0;
    try {
      while (done < target.length) {
        const { bytesRead } = await this.handle.read(target, done, target.length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
    } catch (error) {
      throw storageError(error, 'read', this.name);
    }
    return done;
  }

  async write(offset: number, data: Buffer | readonly Buffer[]): Promise<void> {
    this.checkOpen();
    const buffers = Buffer.isBuffer(data) ? [data] : [...data];
    checkByteRange(this.name, offset, buffers.reduce((sum, buffer) => sum + buffer.length, 0));
    try {
      await writeFully(this.handle, buffers, offset);
    } catch (error) {
      throw storageError(error, 'write', this.name);
    }
  }

  async flush(): Promise<void> {
    this.checkOpen();
    try {
      await this.handle.datasync();
    } catch (error) {
      throw storageError(error, 'flush', this.name);
    }
  }

  async trim(offset: number, length: number): Promise<void> {
    this.checkOpen();
    checkByteRange(this.name, offset, length);
    if (length === 0) return;
    try {
      const size = (await this.handle.stat()).size;
      if (offset >= size) return;
      if (offset + length >= size) {
        await this.handle.truncate(offset);
        return;
      }
      // Node exposes no fallocate(PUNCH_HOLE), so a range inside the file is only zeroed, not given back.
      const zeros = Buffer.alloc(Math.min(length, ZERO_CHUNK_BYTES));
      for (let done = 0; done < length; done += zeros.length) {
        const piece = Math.min(zeros.length, length - done);
        await writeFully(this.handle, [zeros.subarray(0, piece)], offset + done);
      }
    } catch (error) {
      throw storageError(error, 'trim', this.name);
    }
  }

  async resize(size: number): Promise<void> {
    this.checkOpen();
    checkFileSize(this.name, size);
    try {
      await this.handle.truncate(size);
    } catch (error) {
      throw storageError(error, 'resize', this.name);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.handle.close();
    } catch (error) {
      throw storageError(error, 'close', this.name);
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new StorageError(`file '${this.name}' is closed`, 'closed');
  }
}

/** Writes the buffers back to back at `offset`, going on after partial writes until all bytes are down. */
async function writeFully(handle: FileHandle, buffers: Buffer[], offset: number): Promise<void> {
  let pending = buffers.filter((buffer) => buffer.length > 0);
  let position = offset;
  while (pending.length > 0) {
    const written = pending.length === 1
      ? (await handle.write(pending[0], 0, pending[0].length, position)).bytesWritten
      : (await handle.writev(pending, position)).bytesWritten;
    if (written <= 0) throw new StorageError(`write made no progress at offset ${position}`, 'io');
    position += written;
    let skip = written;
    while (pending.length > 0 && skip >= pending[0].length) {
      skip -= pending[0].length;
      pending = pending.slice(1);
    }
    if (skip > 0) pending = [pending[0].subarray(skip), ...pending.slice(1)];
  }
}

async function syncFolder(folder: string): Promise<void> {
  const handle = await fs.open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function errnoOf(error: unknown): string | undefined {
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') return error.code;
  return undefined;
}

function isMissing(error: unknown): boolean {
  const code = errnoOf(error);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** Our own typed errors pass through; errno failures become StorageError naming the file and the errno. */
function storageError(error: unknown, action: string, name: string): OpenCdpError {
  if (error instanceof OpenCdpError) return error;
  const code = errnoOf(error) ?? 'unknown error';
  const detail = error instanceof Error ? error.message : String(error);
  if (code === 'ENOSPC' || code === 'EDQUOT') return new StorageError(`cannot ${action} '${name}': ${code} (${detail})`, 'full');
  if (code === 'ENOENT') return new StorageError(`cannot ${action} '${name}': ${code} (${detail})`, 'missing');
  return new StorageError(`cannot ${action} '${name}': ${code} (${detail})`, 'io');
}
