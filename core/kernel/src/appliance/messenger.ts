// One conversation over a link connection: typed messages out, typed messages in, handled strictly one
// at a time in arrival order (a checkpoint must never overtake the writes before it). A frame that
// fails to decode closes this connection with the reason logged; it never reaches a handler.
import type { Clock, TimerHandle } from '../clock.js';
import { LinkError } from '../link/link-errors.js';
import type { LinkConnection } from '../ports/network-adapter.js';
import type { DecodedMessage, MessageCodec, MessageDefinition, MetaOf } from '../link/message-registry.js';

/**
 * Keep-alive: a side that has heard nothing for `intervalMs` sends a `ping` (answered by a `pong` at once,
 * outside the handler's queue); one that has heard nothing for `deadAfterMs` closes the connection with a
 * LinkError. A peer that died without closing (power cut, silent partition) is so detected within
 * `deadAfterMs + intervalMs`. Needs a codec with the handshake's ping/pong messages.
 */
export interface KeepAliveOptions {
  clock: Clock;
  /** Ping after this much silence (default 5 s). */
  intervalMs?: number;
  /** Give up after this much silence (default 3 × intervalMs). */
  deadAfterMs?: number;
}

export type MessageHandler<D extends MessageDefinition> = (message: DecodedMessage<D>) => Promise<void> | void;

export class Messenger<D extends MessageDefinition> {
  private handler?: MessageHandler<D>;
  private readonly inbox: DecodedMessage<D>[] = [];
  private draining = false;
  private closedReason?: Error;
  private isClosed = false;
  private readonly closeListeners: ((reason: Error | undefined) => void)[] = [];
  /** Payload bytes received and not yet handled: the receiver's buffer fill. */
  queuedBytes = 0;
  private lastHeard = 0;
  private keepAliveTimer?: TimerHandle;
  private pings = 0;

  constructor(
    readonly connection: LinkConnection,
    private readonly codec: MessageCodec<D>,
    private readonly log: (event: string, fields: Record<string, unknown>) => void = () => undefined,
    private readonly keepAlive?: KeepAliveOptions,
  ) {
    connection.onFrame((frame) => this.receive(frame));
    connection.onClose((reason) => this.markClosed(reason));
    if (keepAlive) {
      this.lastHeard = keepAlive.clock.now();
      this.armKeepAlive();
    }
  }

  private armKeepAlive(): void {
    const k = this.keepAlive!;
    const interval = k.intervalMs ?? 5000;
    const deadAfter = k.deadAfterMs ?? 3 * interval;
    this.keepAliveTimer = k.clock.setTimer(interval, () => {
      this.keepAliveTimer = undefined;
      if (this.isClosed) return;
      const silent = k.clock.now() - this.lastHeard;
      if (silent >= deadAfter) {
        void this.close(new LinkError(`nothing heard from ${this.connection.remote} for ${silent} ms (keep-alive limit ${deadAfter} ms); the peer is presumed dead`));
        return;
      }
      if (silent >= interval) {
        type Send = (name: string, meta: unknown) => Promise<void>;
        void (this.send as unknown as Send)('ping', { n: ++this.pings }).catch(() => undefined);
      }
      this.armKeepAlive();
    });
  }

  get closed(): boolean {
    return this.isClosed;
  }

  send<N extends D['name']>(name: N, meta: MetaOf<D, N>, payload?: Buffer): Promise<void> {
    const parts = this.codec.encode(name, meta, payload);
    if (parts.length === 1) return this.connection.send(parts[0]);
    // Connections that take parts avoid copying a large payload into one buffer.
    return this.connection.sendParts ? this.connection.sendParts(parts) : this.connection.send(Buffer.concat(parts));
  }

  /** Sends a message whose payload is several buffers, back to back, without concatenating them. */
  sendParts<N extends D['name']>(name: N, meta: MetaOf<D, N>, payload: readonly Buffer[]): Promise<void> {
    const parts = this.codec.encodeParts(name, meta, payload);
    return this.connection.sendParts ? this.connection.sendParts(parts) : this.connection.send(Buffer.concat(parts));
  }

  /** Sets the handler; messages that arrived before it are handled first, in order. */
  onMessage(handler: MessageHandler<D>): void {
    this.handler = handler;
    void this.drain();
  }

  onClose(listener: (reason: Error | undefined) => void): void {
    if (this.isClosed) queueMicrotask(() => listener(this.closedReason));
    else this.closeListeners.push(listener);
  }

  async close(reason?: Error): Promise<void> {
    this.keepAliveTimer?.cancel();
    if (reason) this.log('connection-closed', { remote: this.connection.remote, reason: reason.message });
    this.closedReason ??= reason;
    await this.connection.close();
    this.markClosed(reason);
  }

  private receive(frame: Buffer): void {
    if (this.isClosed) return;
    let message: DecodedMessage<D>;
    try {
      message = this.codec.decode(frame);
    } catch (e) {
      void this.close(e as Error);
      return;
    }
    if (this.keepAlive) {
      this.lastHeard = this.keepAlive.clock.now();
      // Keep-alive traffic never reaches the handler, so a busy handler still answers at once.
      const name = message.name as string;
      if (name === 'pong') return;
      if (name === 'ping') {
        type Send = (name: string, meta: unknown) => Promise<void>;
        void (this.send as unknown as Send)('pong', message.meta).catch(() => undefined);
        return;
      }
    }
    this.queuedBytes += message.payload?.length ?? 0;
    this.inbox.push(message);
    void this.drain();
  }

  private async drain(): Promise<void> {
    if (this.draining || !this.handler) return;
    this.draining = true;
    try {
      while (this.inbox.length > 0 && !this.isClosed) {
        const message = this.inbox.shift()!;
        try {
          await this.handler(message);
        } catch (e) {
          // A handler that throws means the peer broke the protocol (e.g. a write for a group it never opened).
          await this.close(e as Error);
        } finally {
          this.queuedBytes -= message.payload?.length ?? 0;
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private markClosed(reason: Error | undefined): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.keepAliveTimer?.cancel();
    this.closedReason ??= reason;
    this.inbox.length = 0;
    this.queuedBytes = 0;
    for (const l of this.closeListeners.splice(0)) l(this.closedReason);
  }
}
