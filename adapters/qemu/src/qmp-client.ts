// A QMP client: JSON over a UNIX socket to qemu-storage-daemon or qemu-system-*. Commands carry an id
// and resolve with `return` or reject with a QmpError (QEMU's error class and text); events are
// emitted as they arrive; when the process dies every pending command rejects with QmpClosedError.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { QmpClosedError, QmpError } from './qemu-errors.js';

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

export interface QmpClientEvents {
  event: [event: QmpEvent];
  close: [reason: Error];
}

interface PendingCommand {
  command: string;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

export class QmpClient extends EventEmitter<QmpClientEvents> {
  private readonly pending = new Map<string, PendingCommand>();
  private nextId = 1;
  private buffer = '';
  private closedReason: Error | undefined;
  /** The greeting's QEMU version, e.g. `{ major: 7, minor: 2, micro: 22 }`. */
  version: { major: number; minor: number; micro: number } | undefined;

  private constructor(private readonly socket: net.Socket, readonly path: string) {
    super();
    // Every tap and every waiter listens here; dozens at once are normal, not a leak.
    this.setMaxListeners(0);
  }

  /** Connects, reads the greeting and leaves capabilities negotiation mode. */
  static async connect(path: string, timeoutMs = 10_000): Promise<QmpClient> {
    const socket = net.createConnection(path);
    const client = new QmpClient(socket, path);
    const greeting = new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new QmpClosedError(path, `no QMP greeting within ${timeoutMs} ms`)), timeoutMs);
      client.greetingWaiter = (g) => { clearTimeout(timer); resolve(g); };
      socket.once('error', (e) => { clearTimeout(timer); reject(new QmpClosedError(path, e.message)); });
      // Something that is not QEMU may talk (unparseable) or hang up before any greeting.
      client.once('close', (reason) => { clearTimeout(timer); reject(reason); });
    });
    socket.on('data', (chunk) => client.onData(chunk.toString('utf8')));
    socket.on('error', (e) => client.shutdown(new QmpClosedError(path, e.message)));
    socket.on('close', () => client.shutdown(new QmpClosedError(path)));
    try {
      const g = await greeting;
      const qmp = g.QMP as { version?: { qemu?: { major: number; minor: number; micro: number } } } | undefined;
      client.version = qmp?.version?.qemu;
      await client.execute('qmp_capabilities');
    } catch (error) {
      socket.destroy();
      throw error;
    }
    return client;
  }

  private greetingWaiter: ((g: Record<string, unknown>) => void) | undefined;

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  /** Runs one command; resolves with its `return` value. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.closedReason) return Promise.reject(this.closedReason);
    const id = `c${this.nextId++}`;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject });
      this.socket.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id })}\n`);
    });
  }

  /** Resolves with the first event named `name` for which `match` holds (or rejects on close / timeout). */
  waitForEvent(name: string, match: (e: QmpEvent) => boolean = () => true, timeoutMs = 30_000): Promise<QmpEvent> {
    if (this.closedReason) return Promise.reject(this.closedReason);
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off('event', onEvent);
        this.off('close', onClose);
      };
      const onEvent = (e: QmpEvent): void => {
        if (e.event === name && match(e)) {
          cleanup();
          resolve(e);
        }
      };
      const onClose = (reason: Error): void => {
        cleanup();
        reject(reason);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new QmpError(`wait for ${name}`, 'Timeout', `no ${name} event within ${timeoutMs} ms`));
      }, timeoutMs);
      this.on('event', onEvent);
      this.on('close', onClose);
    });
  }

  close(): void {
    this.socket.destroy();
    this.shutdown(new QmpClosedError(this.path, 'closed by the client'));
  }

  private onData(text: string): void {
    this.buffer += text;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line) this.onMessage(line);
    }
  }

  private onMessage(line: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      this.socket.destroy();
      this.shutdown(new QmpClosedError(this.path, `unparseable QMP message: ${line.slice(0, 200)}`));
      return;
    }
    if ('QMP' in msg) {
      this.greetingWaiter?.(msg);
      this.greetingWaiter = undefined;
      return;
    }
    if (typeof msg.event === 'string') {
      this.emit('event', msg as unknown as QmpEvent);
      return;
    }
    const id = typeof msg.id === 'string' ? msg.id : undefined;
    const p = id !== undefined ? this.pending.get(id) : undefined;
    if (!p || id === undefined) return; // an answer to nobody (e.g. after a client-side timeout): ignore
    this.pending.delete(id);
    if ('error' in msg) {
      const e = msg.error as { class?: string; desc?: string };
      p.reject(new QmpError(p.command, e.class ?? 'GenericError', e.desc ?? 'unknown error'));
    } else {
      p.resolve(msg.return);
    }
  }

  private shutdown(reason: Error): void {
    if (this.closedReason) return;
    this.closedReason = reason;
    for (const p of this.pending.values()) p.reject(new QmpClosedError(this.path, `while '${p.command}' was pending`));
    this.pending.clear();
    this.emit('close', reason);
  }
}
