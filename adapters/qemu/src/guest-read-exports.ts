// The read-only NBD exports an adopted guest gets while the kernel reads its drives (syncs, seeding): an
// NBD server started in the guest's own process (or one the operator names), one export per drive, kept
// for a moment after the last read so a sync does not re-add them per chunk, removed after — leaving the
// guest's block graph as it was. Leftovers of a killed appliance are recognised by their names.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { VolumeId } from '@opencdp/core';
import type { GuestDrive } from './guest-drives.js';
import { NbdClient } from './nbd-client.js';
import { GuestStateError, QmpError } from './qemu-errors.js';
import type { QmpClient } from './qmp-client.js';

/** Exports the adapter adds are named with this prefix. */
export const GUEST_EXPORT_PREFIX = 'opencdp-read-';

/** Largest read sent to the guest's NBD server in one request (QEMU's limit is 32 MiB). */
const READ_CHUNK_BYTES = 16 * 1024 * 1024;

interface Exports {
  nbdPath: string;
  startedServer: boolean;
  exports: Map<VolumeId, string>;
  clients: Map<VolumeId, Promise<NbdClient>>;
}

export interface GuestReadExportsOptions {
  vmId: string;
  /** Where the socket of the server the adapter starts goes. */
  dir: string;
  /** An NBD server the guest's QEMU already runs: used, never stopped. */
  nbdSocket?: string;
  connection(): Promise<QmpClient>;
  /** The live QMP connection, or undefined when the process is gone. */
  current(): QmpClient | undefined;
  drives(): readonly GuestDrive[];
  /** True while a tap is attached (the exports then stay until it closes). */
  busy(): boolean;
  lingerMs?: number;
  log(event: string, fields: Record<string, unknown>): void;
}

export class GuestReadExports {
  private reads: Exports | undefined;
  private leases = 0;
  private lingerTimer: NodeJS.Timeout | undefined;
  /** Serialises adding and removing the exports. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: GuestReadExportsOptions) {}

  get active(): boolean {
    return this.reads !== undefined;
  }

  get reading(): boolean {
    return this.leases > 0;
  }

  /** Reads a drive through its export (added first when needed), in requests QEMU accepts. */
  async read(drive: GuestDrive, offset: number, length: number): Promise<Buffer> {
    const reads = await this.acquire();
    try {
      const volumeId = drive.volume.id;
      let client = reads.clients.get(volumeId);
      if (!client) {
        client = NbdClient.connect({ path: reads.nbdPath, exportName: reads.exports.get(volumeId)! });
        reads.clients.set(volumeId, client);
        client.catch(() => reads.clients.delete(volumeId));
      }
      const c = await client;
      if (length <= READ_CHUNK_BYTES) return await c.read(offset, length);
      const parts: Promise<Buffer>[] = [];
      for (let at = offset; at < offset + length; at += READ_CHUNK_BYTES) parts.push(c.read(at, Math.min(READ_CHUNK_BYTES, offset + length - at)));
      return Buffer.concat(await Promise.all(parts));
    } finally {
      this.release();
    }
  }

  /** Removes the exports now, unless a read is under way. */
  flush(): Promise<void> {
    clearTimeout(this.lingerTimer);
    return this.serial(async () => {
      const reads = this.reads;
      if (!reads || this.leases > 0) return;
      this.reads = undefined;
      const qmp = this.o.current();
      if (!qmp || qmp.closed) return;
      await this.remove(qmp, reads);
      this.o.log('guest-read-exports-removed', { exports: [...reads.exports.values()] });
    });
  }

  /** The guest's process ended: what lived in it is gone; only forget it. */
  forget(): void {
    const reads = this.reads;
    this.reads = undefined;
    for (const c of reads?.clients.values() ?? []) c.then((client) => client.destroy(), () => undefined);
    clearTimeout(this.lingerTimer);
  }

  /** Exports a killed appliance left (by name), removed when nothing of ours is live. */
  async removeLeftovers(qmp: QmpClient): Promise<void> {
    if (this.reads) return;
    for (const e of await qmp.execute<{ id: string }[]>('query-block-exports')) {
      if (e.id.startsWith(GUEST_EXPORT_PREFIX)) await deleteExport(qmp, e.id);
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private acquire(): Promise<Exports> {
    this.leases++;
    clearTimeout(this.lingerTimer);
    return this.serial(async () => {
      if (this.reads) return this.reads;
      const qmp = await this.o.connection();
      let nbdPath = this.o.nbdSocket;
      let startedServer = false;
      if (!nbdPath) {
        nbdPath = path.join(this.o.dir, 'read.sock');
        try {
          await qmp.execute('nbd-server-start', { addr: { type: 'unix', data: { path: nbdPath } } });
          startedServer = true;
        } catch (e) {
          if (!(e instanceof QmpError && /already running/i.test(e.desc))) throw e;
          // A server at our own socket is a killed appliance's leftover: ours to use and stop.
          if (!(await fs.stat(nbdPath).then((s) => s.isSocket(), () => false))) {
            throw new GuestStateError(this.o.vmId, 'serving NBD for someone else', 'its QEMU already runs an NBD server (a backup or migration?); name its socket in nbdSocket');
          }
          startedServer = true;
        }
      }
      const reads: Exports = { nbdPath, startedServer, exports: new Map(), clients: new Map() };
      try {
        for (const d of this.o.drives()) {
          const id = `${GUEST_EXPORT_PREFIX}${d.volume.id}`.replace(/[^A-Za-z0-9_.-]/g, '_');
          await qmp.execute('block-export-add', { type: 'nbd', id, 'node-name': d.node, name: id, writable: false });
          reads.exports.set(d.volume.id, id);
        }
      } catch (e) {
        await this.remove(qmp, reads).catch(() => undefined);
        throw e;
      }
      this.reads = reads;
      this.o.log('guest-read-exports-added', { exports: [...reads.exports.values()], server: startedServer ? nbdPath : `${nbdPath} (not ours)` });
      return reads;
    }).catch((e: unknown) => {
      this.leases--;
      throw e;
    });
  }

  private release(): void {
    this.leases--;
    if (this.leases > 0) return;
    clearTimeout(this.lingerTimer);
    this.lingerTimer = setTimeout(() => {
      if (this.leases === 0 && !this.o.busy()) void this.flush().catch((e: Error) => this.o.log('guest-read-exports-remove-failed', { message: e.message }));
    }, this.o.lingerMs ?? 1000);
    this.lingerTimer.unref();
  }

  private async remove(qmp: QmpClient, reads: Exports): Promise<void> {
    for (const c of reads.clients.values()) await c.then((client) => client.close(), () => undefined);
    reads.clients.clear();
    for (const id of reads.exports.values()) await deleteExport(qmp, id);
    if (reads.startedServer) {
      await qmp.execute('nbd-server-stop').catch(() => undefined);
      await fs.rm(reads.nbdPath, { force: true });
    }
  }
}

async function deleteExport(qmp: QmpClient, id: string): Promise<void> {
  const deleted = qmp.waitForEvent('BLOCK_EXPORT_DELETED', (e) => e.data?.id === id, 5000).catch(() => undefined);
  if (await qmp.execute('block-export-del', { id, mode: 'hard' }).then(() => true, () => false)) await deleted;
}
