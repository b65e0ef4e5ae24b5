// The disk transport seam: how the appliance reaches the VHDX files on a Hyper-V host's storage — to read a
// checkpoint's frozen disk during capture, and to stream a recovered disk onto the host before New-VM.
// Implemented here: SMB paths — host folders (a CSV, a local volume, an SMB 3 file share) mounted on the
// appliance, given as prefix mappings. The other documented choice, a reader running on the host that
// streams the disk over TLS, plugs in behind the same interface (docs/adapters/hyperv.md).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { DiskTransportError } from './hyperv-errors.js';
import { VhdxFile, type VhdxOpenOptions } from './vhdx/vhdx-file.js';
import { writeVhdx, type DiskSource, type WriteVhdxOptions, type WriteVhdxResult } from './vhdx/vhdx-writer.js';

export interface DiskTransport {
  readonly kind: string;
  /** Opens a VHDX on the host (a differencing disk's parents are opened through the same transport). */
  open(hostPath: string, options?: { writable?: boolean }): Promise<VhdxFile>;
  /** Streams `source` into a new dynamic VHDX at `hostPath` (nothing is left there on failure). */
  writeVhdx(hostPath: string, source: DiskSource, options?: WriteVhdxOptions): Promise<WriteVhdxResult>;
  /** Makes a folder (and its parents) on the host. */
  mkdir(hostPath: string): Promise<void>;
  /** Removes a file or folder tree on the host; a missing one is fine. */
  remove(hostPath: string): Promise<void>;
}

export interface PathMapping {
  /** A Windows path prefix on the host, e.g. `C:\ClusterStorage\Volume1\` or `\\fs01\vms\`. */
  hostPath: string;
  /** Where the appliance sees it, e.g. `/mnt/csv1/`. */
  localPath: string;
}

/** Host paths reached through mounted SMB shares: the longest matching prefix (case-insensitive, as Windows) wins. */
export class SmbPathTransport implements DiskTransport {
  readonly kind = 'smb';
  private readonly mappings: PathMapping[];

  constructor(mappings: readonly PathMapping[]) {
    this.mappings = mappings.map((m) => ({ hostPath: m.hostPath.replace(/\\+$/, ''), localPath: m.localPath })).sort((a, b) => b.hostPath.length - a.hostPath.length);
  }

  /** The appliance-side path of a host path. */
  local(hostPath: string): string {
    const m = this.mappings.find((x) => hostPath.toLowerCase() === x.hostPath.toLowerCase() || hostPath.toLowerCase().startsWith(`${x.hostPath.toLowerCase()}\\`));
    if (!m) throw new DiskTransportError(hostPath, `no mapping covers it (mapped: ${this.mappings.map((x) => x.hostPath).join(', ') || 'none'})`);
    const rest = hostPath.slice(m.hostPath.length).split('\\').filter((p) => p !== '');
    if (rest.some((p) => p === '..' || p === '.')) throw new DiskTransportError(hostPath, 'it contains . or .. components');
    return path.join(m.localPath, ...rest);
  }

  async open(hostPath: string, options: { writable?: boolean } = {}): Promise<VhdxFile> {
    const open = (p: string, o: VhdxOpenOptions): Promise<VhdxFile> => VhdxFile.open(this.local(p), {
      ...o,
      // A differencing disk's parent: its absolute Windows path if mapped, else beside the child.
      openParent: (locator, child) => {
        const abs = locator.entries.absolute_win32_path;
        const rel = locator.entries.relative_path;
        const parent = abs ?? (rel ? path.win32.join(path.win32.dirname(hostPathOf(child, p)), rel) : undefined);
        if (!parent) throw new DiskTransportError(p, 'its parent locator names no path');
        return open(parent, {});
      },
    });
    return open(hostPath, { writable: options.writable ?? false });
  }

  async writeVhdx(hostPath: string, source: DiskSource, options?: WriteVhdxOptions): Promise<WriteVhdxResult> {
    return writeVhdx(this.local(hostPath), source, options);
  }

  async mkdir(hostPath: string): Promise<void> {
    await fs.mkdir(this.local(hostPath), { recursive: true });
  }

  async remove(hostPath: string): Promise<void> {
    await fs.rm(this.local(hostPath), { recursive: true, force: true });
  }
}

function hostPathOf(_localChild: string, hostChild: string): string {
  return hostChild;
}
