// One conversation over a link connection: typed messages out, typed messages in, handled strictly one
// at a time in arrival order (a checkpoint must never overtake the writes before it). A frame that
// fails to decode closes this connection with the reason logged; it never reaches a handler.
import type { LinkConnection } from '../ports/network-adapter.js';
import type { DecodedMessage, MessageCodec, MessageDefinition, MetaOf } from '../link/message-registry.js';

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

  constructor(
    readonly connection: LinkConnection,
    private readonly codec: MessageCodec<D>,
    private readonly log: (event: string, fields: Record<string, unknown>) => void = () => undefined,
  ) {
    connection.onFrame((frame) => this.receive(frame));
    connection.onClose((reason) => this.markClosed(reason));
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
    this.closedReason ??= reason;
    this.inbox.length = 0;
    this.queuedBytes = 0;
    for (const l of this.closeListeners.splice(0)) l(this.closedReason);
  }
}
