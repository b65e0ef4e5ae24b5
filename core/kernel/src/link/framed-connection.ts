// A LinkConnection over any byte stream (a TCP or TLS socket, or an in-memory Duplex): frames out with
// backpressure and an optional bandwidth throttle, frames in through a FrameDecoder. Whatever the peer
// sends, the worst outcome is this connection closing with a logged reason; nothing throws into the process.
import type { Duplex } from 'node:stream';
import { SystemClock, type Clock } from '../clock.js';
import { ClosedError } from '../errors.js';
import type { LinkConnection } from '../ports/network-adapter.js';
import { checkEncodedFrame, FrameDecoder, type Frame, type FrameLimits } from './frame-codec.js';
import { formatHostPort } from './link-address.js';
import { ProtocolError } from './link-errors.js';
import type { Throttle } from './token-bucket.js';

/** Structured log callback: an event name (`link.closed`, `link.protocol-error`, ...) and its fields. */
export type LinkLog = (event: string, fields: Record<string, unknown>) => void;

export const silentLog: LinkLog = () => {};

export interface FramedConnectionOptions {
  /** How the peer is named in logs and errors (default: the socket's remote address and port). */
  remote?: string;
  /** The paired site on the other end, once its certificate has been checked. */
  peerSiteId?: string;
  limits?: Partial<FrameLimits>;
  log?: LinkLog;
  /** Shared bandwidth limit; every frame takes its size in tokens before it is written. */
  throttle?: Throttle;
  clock?: Clock;
  /** How long `close()` waits for the peer to finish the close before destroying the socket (default 5000). */
  closeTimeoutMs?: number;
}

/** A frame listener gets the raw frame (as the port promises) and its decoded form. */
export type FrameListener = (frame: Buffer, decoded: Frame) => void;

interface PendingSend {
  parts: Buffer[];
  bytes: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

export class FramedConnection implements LinkConnection {
  readonly remote: string;
  /** The paired site on the other end (set once its certificate was checked). */
  peerSiteId: string | undefined;
  /** The role the peer announced in its hello (server side, after the handshake). */
  peerRole: string | undefined;
  private readonly decoder: FrameDecoder;
  private readonly log: LinkLog;
  private readonly throttle: Throttle | undefined;
  private readonly clock: Clock;
  private readonly closeTimeoutMs: number;
  private readonly frameListeners = new Set<FrameListener>();
  /** One-shot readers (`nextFrame`): each takes one frame exclusively, ahead of the listeners. */
  private readonly readers: { resolve: (frame: Frame) => void; reject: (error: Error) => void }[] = [];
  private readonly closeListeners: ((reason: Error | undefined) => void)[] = [];
  /** Decoded frames not yet handed to a listener (none attached yet, or paused). */
  private inbox: (Frame | undefined)[] = [];
  private inboxHead = 0;
  private framesIn = 0;
  private delivering = false;
  private userPaused = false;
  private readonly queue: PendingSend[] = [];
  private queuedBytes = 0;
  private pumping = false;
  private state: 'open' | 'closing' | 'closed' = 'open';
  private reason: Error | undefined;
  private readonly done: Promise<void>;
  private markDone!: () => void;

  constructor(private readonly socket: Duplex, options: FramedConnectionOptions = {}) {
    const net = socket as Duplex & { remoteAddress?: string; remotePort?: number };
    this.remote = options.remote ?? (net.remoteAddress ? formatHostPort(net.remoteAddress, net.remotePort ?? 0) : 'stream');
    this.peerSiteId = options.peerSiteId;
    this.decoder = new FrameDecoder(options.limits);
    this.log = options.log ?? silentLog;
    this.throttle = options.throttle;
    this.clock = options.clock ?? new SystemClock();
    this.closeTimeoutMs = options.closeTimeoutMs ?? 5000;
    this.done = new Promise((resolve) => { this.markDone = resolve; });
    socket.on('data', (chunk: Buffer | string) => this.received(typeof chunk === 'string' ? Buffer.from(chunk) : chunk));
    socket.on('end', () => this.ended());
    socket.on('error', (e: Error) => this.socketError(e));
    socket.on('close', () => this.finish());
    if (socket.destroyed) queueMicrotask(() => this.finish());
  }

  /** True once the connection is fully closed. */
  get closed(): boolean {
    return this.state === 'closed';
  }

  /** Why the connection closed (undefined for an orderly close, or while open). */
  get closeReason(): Error | undefined {
    return this.reason;
  }

  /** Bytes accepted by `send` but not yet handed to the socket, plus the socket's own write buffer. */
  get pendingBytes(): number {
    return this.queuedBytes + this.socket.writableLength;
  }

  /** Frames decoded from the peer so far. */
  get framesReceived(): number {
    return this.framesIn;
  }

  /** Bytes in the socket's write buffer alone (bounded by its high-water mark plus one frame). */
  get socketBufferedBytes(): number {
    return this.socket.writableLength;
  }

  /** Sends one whole frame (as built by `encodeFrame` and concatenated). */
  send(frame: Buffer): Promise<void> {
    return this.sendParts([frame]);
  }

  /**
   * Sends one frame given as parts (`encodeFrame`'s output: the payload is never copied). Resolves once
   * the socket has taken the frame without going over its buffer limit; if the buffer is full, only
   * after it drained. Frames go out in call order. Rejects with ClosedError if the connection closes first.
   */
  sendParts(parts: readonly Buffer[]): Promise<void> {
    if (this.state !== 'open') return Promise.reject(new ClosedError(`link connection to ${this.remote}`));
    let bytes: number;
    try {
      bytes = checkEncodedFrame(parts, this.decoder.limits);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ parts: [...parts], bytes, resolve, reject });
      this.queuedBytes += bytes;
      void this.pump();
    });
  }

  /**
   * Adds a frame listener; returns a function that removes it. Frames that arrived while nobody listened
   * are delivered now, in order (reading from the socket stops meanwhile, so they cannot pile up).
   */
  onFrame(listener: FrameListener): () => void {
    this.frameListeners.add(listener);
    this.deliver();
    return () => {
      this.frameListeners.delete(listener);
      this.updateFlow();
    };
  }

  /**
   * The next frame, taken exclusively (listeners do not see it): for request/answer exchanges such as
   * the handshake. Rejects with the close reason if the connection closes first, or with a ProtocolError
   * after `timeoutMs` (the connection stays open; the caller decides what a silent peer means).
   */
  nextFrame(timeoutMs?: number): Promise<Frame> {
    if (this.state === 'closed') return Promise.reject(this.reason ?? new ClosedError(`link connection to ${this.remote}`));
    return new Promise<Frame>((resolve, reject) => {
      const timer = timeoutMs === undefined ? undefined : this.clock.setTimer(timeoutMs, () => {
        const i = this.readers.indexOf(reader);
        if (i < 0) return;
        this.readers.splice(i, 1);
        this.updateFlow();
        reject(new ProtocolError(`${this.remote} sent nothing within ${timeoutMs} ms`, undefined, 'the peer may not be an OpenCDP appliance, or the link is too slow'));
      });
      const reader = {
        resolve: (frame: Frame) => { timer?.cancel(); resolve(frame); },
        reject: (error: Error) => { timer?.cancel(); reject(error); },
      };
      this.readers.push(reader);
      this.deliver();
    });
  }

  onClose(listener: (reason: Error | undefined) => void): void {
    if (this.state === 'closed') queueMicrotask(() => listener(this.reason));
    else this.closeListeners.push(listener);
  }

  /** Stops delivering frames and reading from the socket, so a slow consumer pushes back on the sender. */
  pause(): void {
    this.userPaused = true;
    this.updateFlow();
  }

  resume(): void {
    this.userPaused = false;
    this.deliver();
  }

  /**
   * Orderly close: frames not yet handed to the socket are dropped (their `send` rejects with
   * ClosedError), frames already handed over are flushed, then the stream ends. Resolves once closed.
   * A `reason` is recorded as the close reason (e.g. a handshake refusal).
   */
  close(reason?: Error): Promise<void> {
    if (this.state === 'open') {
      this.state = 'closing';
      this.reason ??= reason;
      this.rejectQueued();
      // Frames arriving from now on are dropped; reading goes on so the peer's end of the close is seen.
      this.inbox = [];
      this.inboxHead = 0;
      this.socket.resume();
      if (this.socket.destroyed) this.finish();
      else {
        this.socket.end();
        const timer = this.clock.setTimer(this.closeTimeoutMs, () => this.socket.destroy());
        void this.done.then(() => timer.cancel());
      }
    }
    return this.done;
  }

  /** Abrupt close: the socket is destroyed at once, unsent data is lost. */
  destroy(reason?: Error): void {
    if (this.state === 'closed') return;
    this.state = 'closing';
    this.reason ??= reason;
    this.rejectQueued();
    this.socket.destroy();
  }

  /** Resolves when the connection is closed, whoever closed it. */
  whenClosed(): Promise<void> {
    return this.done;
  }

  private received(chunk: Buffer): void {
    if (this.state !== 'open' || this.reason) return;
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (e) {
      this.fail(e as Error, 'link.protocol-error');
      return;
    }
    this.framesIn += frames.length;
    for (const f of frames) this.inbox.push(f);
    this.deliver();
  }

  private ended(): void {
    if (this.decoder.pendingBytes > 0 && !this.decoder.error) {
      const expected = this.decoder.expectedBytes;
      this.fail(new ProtocolError(`the peer ended the stream inside a frame: ${this.decoder.pendingBytes}` +
        (expected === undefined ? ' bytes of an unknown length' : ` of ${expected} bytes`) + ' arrived'), 'link.protocol-error');
      return;
    }
    // A plain Duplex may allow half-open streams; the link never does.
    if (!this.socket.writableEnded) this.socket.end();
  }

  private socketError(error: Error): void {
    if (this.state === 'closed') return;
    if (!this.reason) {
      this.reason = error;
      this.log('link.socket-error', { remote: this.remote, peerSiteId: this.peerSiteId, reason: error.message, code: (error as { code?: unknown }).code });
    }
  }

  /** Closes the connection because of `error` (protocol violation, listener bug), logging why. */
  private fail(error: Error, event: string): void {
    if (this.state === 'closed') return;
    this.state = 'closing';
    if (!this.reason) {
      this.reason = error;
      this.log(event, { remote: this.remote, peerSiteId: this.peerSiteId, reason: error.message, code: (error as { code?: unknown }).code });
    }
    this.rejectQueued();
    this.socket.destroy();
  }

  private finish(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.rejectQueued();
    this.inbox = [];
    this.inboxHead = 0;
    const reason = this.reason;
    for (const reader of this.readers.splice(0)) reader.reject(reason ?? new ClosedError(`link connection to ${this.remote}`));
    this.log('link.closed', { remote: this.remote, peerSiteId: this.peerSiteId, reason: reason?.message, code: (reason as { code?: unknown } | undefined)?.code });
    for (const listener of this.closeListeners.splice(0)) {
      try {
        listener(reason);
      } catch (e) {
        this.log('link.listener-error', { remote: this.remote, reason: (e as Error).message });
      }
    }
    this.markDone();
  }

  private rejectQueued(): void {
    for (const item of this.queue.splice(0)) item.reject(new ClosedError(`link connection to ${this.remote}`));
    this.queuedBytes = 0;
  }

  private deliver(): void {
    if (this.delivering) return; // a listener called resume() or onFrame(): the running loop continues
    this.delivering = true;
    try {
      while (this.inboxHead < this.inbox.length && !this.userPaused && (this.readers.length > 0 || this.frameListeners.size > 0) && this.state === 'open' && !this.reason) {
        const frame = this.inbox[this.inboxHead]!;
        this.inbox[this.inboxHead++] = undefined;
        const reader = this.readers.shift();
        if (reader) {
          reader.resolve(frame);
          continue;
        }
        for (const listener of [...this.frameListeners]) {
          if (!this.frameListeners.has(listener)) continue; // removed by an earlier listener for this frame
          try {
            listener(frame.bytes, frame);
          } catch (e) {
            this.fail(e instanceof Error ? e : new Error(String(e)), 'link.listener-error');
            return;
          }
        }
      }
      if (this.inboxHead === this.inbox.length) {
        this.inbox = [];
        this.inboxHead = 0;
      } else if (this.inboxHead > 1024) {
        this.inbox = this.inbox.slice(this.inboxHead);
        this.inboxHead = 0;
      }
    } finally {
      this.delivering = false;
    }
    this.updateFlow();
  }

  /** Reads from the socket only while frames can be delivered, so undelivered frames stay bounded. */
  private updateFlow(): void {
    if (this.state !== 'open' || this.socket.destroyed) return;
    const backlog = this.inboxHead < this.inbox.length;
    if (this.userPaused || backlog || (this.frameListeners.size === 0 && this.readers.length === 0)) this.socket.pause();
    else this.socket.resume();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length > 0 && this.state === 'open') {
        const item = this.queue[0]!;
        const wait = this.throttle?.take(item.bytes);
        if (wait) await wait;
        if (this.state !== 'open' || this.socket.destroyed || this.queue[0] !== item) break;
        this.queue.shift();
        this.queuedBytes -= item.bytes;
        // Cork so header and payload leave in one writev instead of two packets (or TLS records).
        this.socket.cork();
        for (const part of item.parts) this.socket.write(part);
        this.socket.uncork();
        if (this.socket.writableNeedDrain) {
          try {
            await this.drained();
          } catch (e) {
            item.reject(e as Error);
            break;
          }
        }
        item.resolve();
      }
    } finally {
      this.pumping = false;
    }
  }

  private drained(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.socket.destroyed) {
        reject(new ClosedError(`link connection to ${this.remote}`));
        return;
      }
      const onDrain = (): void => {
        cleanup();
        resolve();
      };
      const onClose = (): void => {
        cleanup();
        reject(new ClosedError(`link connection to ${this.remote}`));
      };
      const cleanup = (): void => {
        this.socket.off('drain', onDrain);
        this.socket.off('close', onClose);
      };
      this.socket.on('drain', onDrain);
      this.socket.on('close', onClose);
    });
  }
}

/** Sends a frame given as parts on any LinkConnection: without copying where the adapter allows it. */
export function sendFrame(connection: LinkConnection, parts: readonly Buffer[]): Promise<void> {
  if (connection.sendParts) return connection.sendParts(parts);
  return connection.send(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
}
