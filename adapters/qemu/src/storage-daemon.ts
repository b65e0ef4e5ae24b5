// One qemu-storage-daemon process: started with a QMP socket (and an NBD server for its exports),
// driven over QMP, killed for real when a test restarts its host. Its image files outlive it.
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { QmpClient } from './qmp-client.js';
import { QemuProcessError } from './qemu-errors.js';

export interface StorageDaemonOptions {
  /** Folder for the QMP socket, the NBD socket and the pid file (kept short: UNIX socket paths ≤ 107 bytes). */
  dir: string;
  /** Short label for messages. */
  name: string;
  /** Binary (default `qemu-storage-daemon` on PATH). */
  binary?: string;
}

export class StorageDaemon {
  private exitListeners: ((code: number | null, signal: NodeJS.Signals | null) => void)[] = [];
  private exited = false;
  private stderr = '';

  private constructor(readonly options: StorageDaemonOptions, readonly process: ChildProcess, private client: QmpClient, readonly nbdPath: string) {}

  /** The current QMP connection (a new one after `reconnect`). */
  get qmp(): QmpClient {
    return this.client;
  }

  /** Drops the QMP connection (as a restarting management layer does); the daemon and its guests go on. */
  disconnect(): void {
    this.client.close();
  }

  /** Opens a new QMP connection to the running daemon (its monitor accepts one client at a time). */
  async reconnect(): Promise<void> {
    if (this.exited) throw new QemuProcessError(`qemu-storage-daemon '${this.options.name}' is not running`);
    this.client.close();
    this.client = await QmpClient.connect(path.join(this.options.dir, 'qmp.sock'));
  }

  static async start(options: StorageDaemonOptions): Promise<StorageDaemon> {
    await fs.mkdir(options.dir, { recursive: true });
    const qmpPath = path.join(options.dir, 'qmp.sock');
    const nbdPath = path.join(options.dir, 'nbd.sock');
    await fs.rm(qmpPath, { force: true });
    await fs.rm(nbdPath, { force: true });
    const child = spawn(options.binary ?? 'qemu-storage-daemon', [
      '--chardev', `socket,path=${qmpPath},server=on,wait=off,id=qmp0`,
      '--monitor', 'chardev=qmp0',
      '--pidfile', path.join(options.dir, 'qsd.pid'),
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-4000); });
    let exit: string | undefined;
    child.once('exit', (code, signal) => { exit = `exited with ${code ?? signal}`; });
    child.once('error', (e) => { exit = e.message; });
    let qmp: QmpClient | undefined;
    const deadline = Date.now() + 10_000;
    while (!qmp) {
      if (exit) throw new QemuProcessError(`qemu-storage-daemon '${options.name}' ${exit}: ${stderr.trim()}`, 'is qemu-system-common installed?');
      try {
        await fs.access(qmpPath);
        qmp = await QmpClient.connect(qmpPath);
      } catch (error) {
        if (Date.now() > deadline) {
          child.kill('SIGKILL');
          throw new QemuProcessError(`qemu-storage-daemon '${options.name}' did not offer QMP within 10 s: ${(error as Error).message} ${stderr.trim()}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const daemon = new StorageDaemon(options, child, qmp, nbdPath);
    child.stderr?.on('data', (c: Buffer) => { daemon.stderr = (daemon.stderr + c.toString()).slice(-4000); });
    child.once('exit', (code, signal) => {
      daemon.exited = true;
      for (const l of daemon.exitListeners.splice(0)) l(code, signal);
    });
    try {
      await qmp.execute('nbd-server-start', { addr: { type: 'unix', data: { path: nbdPath } } });
    } catch (error) {
      await daemon.kill();
      throw error;
    }
    return daemon;
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** Last lines the daemon wrote to stderr (for error messages). */
  get log(): string {
    return this.stderr;
  }

  onExit(listener: (code: number | null, signal: NodeJS.Signals | null) => void): void {
    if (this.exited) queueMicrotask(() => listener(this.process.exitCode, this.process.signalCode));
    else this.exitListeners.push(listener);
  }

  /** kill -9 (or another signal) and wait until the process is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.onExit(() => resolve()));
    this.process.kill(signal);
    await gone;
    this.qmp.close();
  }

  /** Asks the daemon to quit over QMP; kills it if it does not within a second. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.onExit(() => resolve()));
    this.qmp.execute('quit').catch(() => undefined);
    const timer = setTimeout(() => this.process.kill('SIGKILL'), 1000);
    await gone;
    clearTimeout(timer);
    this.qmp.close();
  }
}
