// The site link between appliances and the recovery networks VMs come up on. The link carries framed
// messages; the protocol above it (sequence, acks, resume) belongs to the kernel, not the adapter.

export const NetworkAdapter = Symbol('NetworkAdapter');

/** A bidirectional, ordered, reliable-until-it-breaks byte-message channel. */
export interface LinkConnection {
  readonly remote: string;
  send(frame: Buffer): Promise<void>;
  /**
   * Optional: sends one frame given as parts (header, payload) without joining them, so a large payload
   * is never copied. Adapters without it get `send(Buffer.concat(parts))` (see `sendFrame` in core/link).
   */
  sendParts?(parts: readonly Buffer[]): Promise<void>;
  onFrame(listener: (frame: Buffer) => void): void;
  onClose(listener: (reason: Error | undefined) => void): void;
  /** Optional: stop / restart delivering frames, so a slow receiver pushes back on the sender. */
  pause?(): void;
  resume?(): void;
  close(): Promise<void>;
}

export interface LinkListener {
  readonly address: string;
  onConnection(listener: (connection: LinkConnection) => void): void;
  close(): Promise<void>;
}

export interface NetworkAdapter {
  readonly kind: string;
  listen(address: string): Promise<LinkListener>;
  connect(address: string): Promise<LinkConnection>;
  /** Bytes per second the link may use; undefined means unthrottled. */
  setBandwidthLimit(bytesPerSecond: number | undefined): void;
}
