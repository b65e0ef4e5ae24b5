// The NBD server inside an adopted guest's QEMU process, shared by everything the adapter exports there
// (the read exports of syncs, the fleecing views of change tracking): started on the first lease, stopped
// when the last one ends — unless it is the operator's own server (`nbdSocket`), which is only used. A
// server found running at our own socket is a killed appliance's leftover: ours to use and stop.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { GuestStateError, QmpError } from './qemu-errors.js';
import type { QmpClient } from './qmp-client.js';

export interface GuestNbdServerOptions {
  vmId: string;
  /** Folder of the socket of the server the adapter starts (keep it short: UNIX socket paths). */
  dir: string;
  /** An NBD server the guest's QEMU already runs: used, never stopped. */
  nbdSocket?: string;
  connection(): Promise<QmpClient>;
  /** The live QMP connection, or undefined when the process is gone. */
  current(): QmpClient | undefined;
}

export class GuestNbdServer {
  private leases = 0;
  private running: { path: string; ours: boolean } | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: GuestNbdServerOptions) {}

  /** The server's socket, started first when needed; pair with `release`. */
  acquire(): Promise<string> {
    this.leases++;
    return this.serial(async () => {
      if (this.running) return this.running.path;
      const qmp = await this.o.connection();
      if (this.o.nbdSocket) {
        this.running = { path: this.o.nbdSocket, ours: false };
        return this.o.nbdSocket;
      }
      const socket = path.join(this.o.dir, 'read.sock');
      try {
        await qmp.execute('nbd-server-start', { addr: { type: 'unix', data: { path: socket } } });
      } catch (e) {
        if (!(e instanceof QmpError && /already running/i.test(e.desc))) throw e;
        if (!(await fs.stat(socket).then((s) => s.isSocket(), () => false))) {
          throw new GuestStateError(this.o.vmId, 'serving NBD for someone else', 'its QEMU already runs an NBD server (a backup or migration?); name its socket in nbdSocket');
        }
      }
      this.running = { path: socket, ours: true };
      return socket;
    }).catch((e: unknown) => {
      this.leases--;
      throw e;
    });
  }

  /** Ends a lease; the last one stops a server the adapter started. */
  release(): Promise<void> {
    this.leases = Math.max(0, this.leases - 1);
    return this.serial(async () => {
      const running = this.running;
      if (this.leases > 0 || !running) return;
      this.running = undefined;
      if (!running.ours) return;
      const qmp = this.o.current();
      if (qmp && !qmp.closed) await qmp.execute('nbd-server-stop').catch(() => undefined);
      await fs.rm(running.path, { force: true });
    });
  }

  /** The guest's process ended and the server with it: the next lease starts one again. */
  forget(): void {
    this.running = undefined;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }
}
