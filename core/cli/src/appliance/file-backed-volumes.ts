// Files behind the fake data centre's in-memory volumes, so a protected process killed with -9 finds its
// disks again: non-zero blocks are loaded before any tap exists (nothing is replicated), then a mirror tap
// of our own copies every guest write into the file (the FakeDataCenter has no file backing of its own).
import { closeSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import path from 'node:path';
import { ValidationError, type VmInfo } from '@opencdp/core';
import type { FakeDataCenter, FakeWriteTap } from '@opencdp/adapter-fake';

/** Load granularity; matches the fake volume's chunk so untouched chunks stay unallocated. */
const LOAD_CHUNK = 64 * 1024;

export class FileBackedVolumes {
  /** Bytes of non-zero data found in the files and written back into the VMs. */
  restoredBytes = 0;
  private readonly taps: FakeWriteTap[] = [];
  private readonly fds: number[] = [];
  private closed = false;

  private constructor() {}

  /** The file holding volume `index` of VM `vmName`. */
  static fileOf(dir: string, vmName: string, index: number): string {
    return path.join(dir, `${vmName}.disk${index}.img`);
  }

  /**
   * Loads each VM's volume files (named after the VM, see fileOf) into the data centre, then mirrors
   * every later guest write into them. Files that do not exist are created as sparse files.
   */
  static async attach(dc: FakeDataCenter, dir: string, vms: { name: string; vm: VmInfo }[]): Promise<FileBackedVolumes> {
    // Guest disks: the owner's only.
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const backed = new FileBackedVolumes();
    try {
      for (const { name, vm } of vms) {
        const fdOf = new Map<string, number>();
        for (const [i, v] of vm.volumes.entries()) {
          const file = FileBackedVolumes.fileOf(dir, name, i);
          const fd = openSync(file, 'a+', 0o600); // created if missing (owner-only), never truncated
          closeSync(fd);
          const rw = openSync(file, 'r+');
          backed.fds.push(rw);
          const size = fstatSync(rw).size;
          if (size > v.sizeBytes) {
            throw new ValidationError(`volume file '${file}' holds ${size} bytes, VM '${name}' volume ${i} is only ${v.sizeBytes}`, `vms.${i}.volumes`, 'use a fresh volumeDir after changing volume sizes');
          }
          // Sparse: a new file (or one cut short by a crash right after creation) costs no space.
          if (size < v.sizeBytes) ftruncateSync(rw, v.sizeBytes);
          backed.restoredBytes += await load(dc, vm.id, v.id, rw, size);
          fdOf.set(v.id, rw);
        }
        // Written synchronously inside the data centre's commit: file order is exactly guest order,
        // and the guest's write completes only after its bytes reached the file (page cache, which
        // survives a kill -9 of this process).
        const tap = dc.openTap(vm.id);
        tap.start((w) => {
          writeSync(fdOf.get(w.volumeId)!, w.data, 0, w.data.length, w.offset);
          return Promise.resolve();
        });
        backed.taps.push(tap);
      }
    } catch (e) {
      await backed.close();
      throw e;
    }
    return backed;
  }

  /** Stops mirroring, flushes the files to disk and closes them. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const tap of this.taps) await tap.close();
    for (const fd of this.fds) {
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
  }
}

async function load(dc: FakeDataCenter, vmId: string, volumeId: string, fd: number, size: number): Promise<number> {
  let restored = 0;
  const buf = Buffer.alloc(LOAD_CHUNK);
  const zeros = Buffer.alloc(LOAD_CHUNK);
  for (let off = 0; off < size; off += LOAD_CHUNK) {
    const n = readSync(fd, buf, 0, Math.min(LOAD_CHUNK, size - off), off);
    const chunk = buf.subarray(0, n);
    if (chunk.equals(zeros.subarray(0, n))) continue;
    await dc.guestWrite(vmId, volumeId, off, chunk);
    restored += n;
  }
  return restored;
}
