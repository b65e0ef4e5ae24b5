// The disk transport seam: how the adapter reads a VM's disk bytes — a snapshot's frozen disk for change
// tracking, a VM's current disk for syncs and recovered VMs. The tested transport reads flat extents over
// the datastore HTTP interface. A production deployment plugs VMware's VDDK in here instead (NBD/NBDSSL
// through the host, or HotAdd when the appliance is a VM on the same cluster): open(snapshot, disk) →
// VixDiskLib_Open on the snapshot's moref, read → VixDiskLib_Read, close → VixDiskLib_Close (for example
// through nbdkit's vddk plugin and an NBD client). Nothing outside this file knows how bytes travel.
import path from 'node:path';
import { ValidationError, VolumeRangeError } from '@opencdp/core';
import type { DatastoreFiles } from './datastore-http.js';
import { formatDatastorePath, parseDatastorePath, type DatastorePath } from './datastore-http.js';
import type { MoRef } from './vim-types.js';
import { parseVmdkDescriptor } from './vmdk-descriptor.js';
import { DatastoreTransferError } from './vsphere-errors.js';

/** One disk to read: a VM's current disk, or the disk as a snapshot froze it. */
export interface DiskRef {
  vm: MoRef;
  /** The snapshot whose frozen disk to read; absent: the VM's current disk. */
  snapshot?: MoRef;
  deviceKey: number;
  /** The disk's descriptor as the (snapshot's) config names it, e.g. `[ds] app/app.vmdk`. */
  fileName: string;
  capacityBytes: number;
}

export interface DiskReader {
  readonly capacityBytes: number;
  read(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

export interface DiskTransport {
  /** For logs and benchmarks, e.g. `datastore-http`, `vddk-nbdssl`, `vddk-hotadd`. */
  readonly name: string;
  open(disk: DiskRef): Promise<DiskReader>;
}

interface Extent {
  file: DatastorePath;
  /** Disk byte offset where the extent starts. */
  start: number;
  length: number;
  /** Byte offset inside the extent file. */
  fileOffset: number;
}

/** Reads flat extents (the `-flat.vmdk` files a descriptor names) with ranged GETs. */
export class DatastoreHttpTransport implements DiskTransport {
  readonly name = 'datastore-http';

  constructor(private readonly files: DatastoreFiles) {}

  async open(disk: DiskRef): Promise<DiskReader> {
    const descriptor = parseDatastorePath(disk.fileName);
    if (!descriptor) throw new ValidationError(`'${disk.fileName}' is not a datastore path`, 'fileName');
    const text = await this.files.readSmall(descriptor);
    if (text === undefined) throw new DatastoreTransferError(disk.fileName, 'read', 'the disk descriptor does not exist', 404);
    const folder = path.posix.dirname(descriptor.path);
    let extents: Extent[];
    if (text.length === 0) {
      // vcsim leaves the descriptors of disks it creates itself empty; the extent is then `<name>-flat.vmdk`.
      extents = [{ file: { datastore: descriptor.datastore, path: descriptor.path.replace(/\.vmdk$/, '-flat.vmdk') }, start: 0, length: disk.capacityBytes, fileOffset: 0 }];
    } else {
      const parsed = parseVmdkDescriptor(text.toString('utf8'), disk.fileName);
      let start = 0;
      extents = parsed.extents.map((e) => {
        const x = { file: { datastore: descriptor.datastore, path: path.posix.join(folder, e.file) }, start, length: e.sectors * 512, fileOffset: e.offset * 512 };
        start += x.length;
        return x;
      });
      if (start < disk.capacityBytes) throw new ValidationError(`the extents of ${disk.fileName} cover ${start} bytes of a ${disk.capacityBytes}-byte disk`, 'descriptor');
    }
    const files = this.files;
    const name = formatDatastorePath(descriptor);
    return {
      capacityBytes: disk.capacityBytes,
      async read(offset: number, length: number): Promise<Buffer> {
        if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > disk.capacityBytes) {
          throw new VolumeRangeError(name, offset, length, disk.capacityBytes);
        }
        const parts: Promise<Buffer>[] = [];
        for (const e of extents) {
          const from = Math.max(offset, e.start);
          const to = Math.min(offset + length, e.start + e.length);
          if (from < to) parts.push(files.read(e.file, e.fileOffset + (from - e.start), to - from));
        }
        return parts.length === 1 ? parts[0] : Buffer.concat(await Promise.all(parts));
      },
      async close(): Promise<void> {
        // Stateless over HTTP: nothing to release (a VDDK transport closes its disk handle here).
      },
    };
  }
}
