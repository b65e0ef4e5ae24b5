// The appliance's NBD server: newstyle fixed negotiation (EXPORT_NAME, INFO, GO, LIST, ABORT,
// STRUCTURED_REPLY, LIST/SET_META_CONTEXT with `base:allocation`), then READ / WRITE / FLUSH / TRIM /
// WRITE_ZEROES / BLOCK_STATUS / DISC. QEMU's `nbd` block driver connects to it as a mirror target, so every
// guest write arrives here (an export's answer decides when the guest's write completes); point-in-time
// images are served read-only through it, their holes reported by block status so readers skip them.
// Bad peers get an error and lose their connection; others go on. Longer than our usual files: a
// connection's receive buffer, negotiation and replies share state that only its one class should touch.
import { EventEmitter } from 'node:events';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import { StorageError } from '../errors.js';
import { NbdProtocolError } from './nbd-errors.js';
import {
  ByteReader, Cmd, CMD_NAMES, CmdFlag, Errno, FLAG_C_FIXED_NEWSTYLE, FLAG_C_NO_ZEROES, FLAG_FIXED_NEWSTYLE, FLAG_NO_ZEROES,
  IHAVEOPT, Info, MAX_OPTION_BYTES, MAX_PAYLOAD, NBD_MAGIC, Opt, REQUEST_BYTES, REQUEST_MAGIC, Rep, ReplyFlag, ReplyType, SIMPLE_REPLY_BYTES,
  SIMPLE_REPLY_MAGIC, TFlag, BASE_ALLOCATION, BASE_ALLOCATION_ID, clipExtents, optionReply, parseInfoRequest, parseMetaContextRequest, simpleReply,
  structuredHeader, type NbdExtent,
} from './nbd-protocol.js';

/** What the server serves under one name. Ranges are checked before a method is called. */
export interface NbdExport {
  readonly sizeBytes: number;
  readonly readOnly?: boolean;
  /** Absent: reads fail with EINVAL (a write-only tap). */
  read?(offset: number, length: number): Promise<Buffer>;
  write(offset: number, data: Buffer, fua: boolean): Promise<void>;
  /** Absent: a write of zeros. */
  writeZeroes?(offset: number, length: number): Promise<void>;
  /** Absent: ignored (trim is advisory). */
  trim?(offset: number, length: number): Promise<void>;
  flush?(): Promise<void>;
  /**
   * `base:allocation` extents covering the start of `[offset, offset + length)` in order (StateFlag bits:
   * HOLE | ZERO for space that reads as zeros and need not be read). Absent: everything is data.
   */
  /**
   * Extents of `[offset, offset + length)` from `offset` on; a prefix of the range is enough (the client asks
   * again from where the answer ends). `maxExtents` says how many the reply will carry (1 for REQ_ONE).
   */
  blockStatus?(offset: number, length: number, maxExtents: number): Promise<NbdExtent[]>;
}

export interface NbdServerOptions {
  /** UNIX socket path to listen on. */
  path: string;
  /**
   * Opt-in (default false): the socket reads straight into the connection's receive buffer (no Buffer per
   * read), by re-wrapping the accepted socket's private `_handle` — about half the server's CPU per GB
   * when fio writes to it directly, but no reliable gain inside the mirror (see docs/benchmarks.md), and it
   * leans on Node internals. Off: 'data' events, each chunk copied into that buffer; also what happens when
   * this Node does not expose the handle (`fallbackConnections`).
   */
  directRead?: boolean;
}

export interface NbdServerEvents {
  /** A peer broke the protocol or asked for something out of range; its connection was closed. */
  'client-error': [error: NbdProtocolError, exportName: string | undefined];
  /** An export's handler failed; the request got an error reply. */
  'request-error': [error: Error, exportName: string];
}

const BLOCK_SIZE_INFO = { min: 1, preferred: 4096, max: MAX_PAYLOAD };
/**
 * Most extents in one block status reply: a fragmented image (a journal's scattered 4 KiB writes) has
 * hundreds of thousands, and describing the whole asked range on every request made exports quadratic.
 */
export const MAX_EXTENTS_PER_REPLY = 1024;

export class NbdServer extends EventEmitter<NbdServerEvents> {
  private readonly exports = new Map<string, NbdExport>();
  private readonly sockets = new Set<net.Socket>();
  private server: net.Server | undefined;

  constructor(readonly options: NbdServerOptions) {
    super();
  }

  get path(): string {
    return this.options.path;
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  get connections(): number {
    return this.sockets.size;
  }

  addExport(name: string, exp: NbdExport): void {
    if (Buffer.byteLength(name) > 4096) throw new RangeError(`export name of ${Buffer.byteLength(name)} bytes is longer than 4096`);
    this.exports.set(name, exp);
  }

  removeExport(name: string): void {
    this.exports.delete(name);
  }

  async listen(): Promise<void> {
    if (this.server) return;
    await fs.rm(this.path, { force: true });
    // Paused: `adopt` re-wraps the handle with a read buffer of ours before the first byte is read.
    const server = net.createServer({ pauseOnConnect: true }, (socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  /** Stops listening and drops every connection at once (as a crashed or stopped appliance would). */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(raw: net.Socket): void {
    const conn = new Connection(this);
    // Read into the connection's receive buffer (`Connection.readBuffer`) when the platform lets us; else 'data' chunks.
    const socket = (this.options.directRead === true ? adopt(raw, conn) : undefined) ?? raw;
    conn.attach(socket);
    this.sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.sockets.delete(socket);
      conn.closed();
    });
    if (socket === raw) {
      this.fallbackConnections++;
      raw.on('data', (chunk: Buffer) => conn.onChunk(chunk));
      raw.resume();
    }
    conn.run().catch((error: unknown) => conn.fail(error));
  }

  /** Connections that received through 'data' events (copied into the receive buffer), by option or because `adopt` was not possible. */
  fallbackConnections = 0;

  /** @internal */
  lookup(name: string): NbdExport | undefined {
    return this.exports.get(name);
  }

  /** @internal */
  exportNames(): string[] {
    return [...this.exports.keys()];
  }
}

/**
 * Bytes of a connection's receive buffer: reads land in it back to back and requests are parsed in place.
 * Larger than what a peer can queue on a UNIX socket at once (about 208 KiB by default), so one read
 * drains the socket.
 */
const SLAB_BYTES = 256 * 1024;
const MAX_KEPT_SLAB_BYTES = 4 * 1024 * 1024;
/** A read gets at least this much room; with less left, the unparsed tail moves to the front (or to a larger buffer). */
const MIN_READ_BYTES = 64 * 1024;
/** Simple replies that become ready in one turn leave in one write of at most this many. */
const MAX_REPLY_BATCH = 256;

/**
 * Re-wraps an accepted (paused) socket's handle in a socket that reads straight into the connection's
 * receive buffer (`onread` with a buffer function, which `net.Server` does not offer for accepted sockets).
 * Undefined when this Node does not expose the handle; the caller then uses 'data' events.
 */
function adopt(raw: net.Socket, conn: Connection): net.Socket | undefined {
  const handle = (raw as unknown as { _handle?: { readStart?: unknown } | null })._handle;
  if (!handle || typeof handle.readStart !== 'function') return undefined;
  let socket: net.Socket;
  try {
    socket = new net.Socket({
      handle,
      allowHalfOpen: false,
      onread: { buffer: () => conn.readBuffer(), callback: (n: number, buf: Uint8Array) => { conn.onRead(n, buf); } },
    } as net.SocketConstructorOpts);
  } catch {
    return undefined;
  }
  // The first wrapper no longer owns the handle; destroying it releases only the JS object.
  (raw as unknown as { _handle: unknown })._handle = null;
  raw.destroy();
  return socket;
}

interface FlushWaiter {
  /** Requests received before the FLUSH / DISC that are still unanswered. */
  ids: Set<number>;
  done: () => void;
}

class Connection {
  exportName: string | undefined;
  private socket!: net.Socket;
  private exp: NbdExport | undefined;
  private structured = false;
  private noZeroes = false;
  /** `base:allocation` was selected (SET_META_CONTEXT) for `contextExport`. */
  private allocationContext = false;
  private contextExport: string | undefined;
  /** Negotiation reads through this; transmission parses the receive buffer synchronously. */
  private readonly reader = new ByteReader();
  private transmitting = false;
  private ended = false;

  // Receive buffer: [pos, fill) is received and not parsed yet; [fill, end) is free (the socket reads there).
  private slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
  private pos = 0;
  private fill = 0;
  /** The region handed to the socket for its next read (onread mode), or undefined. */
  private region: Buffer | undefined;

  // Writes, trims, zeroings and flushes not yet answered by the export: FLUSH and DISC wait for the earlier ones.
  private readonly outstanding = new Set<number>();
  private nextId = 0;
  private readonly flushWaiters: FlushWaiter[] = [];

  // Simple replies waiting for the end of the turn: (handle high, handle low, errno) per reply.
  private readonly replies: number[] = [];
  private replyScheduled = false;
  private readonly flushReplies = (): void => this.sendReplies();

  constructor(private readonly server: NbdServer) {}

  attach(socket: net.Socket): void {
    this.socket = socket;
  }

  /** onread mode: where the next read goes (the free part of the receive buffer, at least MIN_READ_BYTES). */
  readBuffer(): Buffer {
    if (this.slab.length - this.fill < MIN_READ_BYTES) this.replaceSlab(MIN_READ_BYTES, this.transmitting);
    this.region = this.slab.subarray(this.fill);
    return this.region;
  }

  /** onread mode: `n` bytes were read into `buf`. */
  onRead(n: number, buf: Uint8Array): void {
    if (buf === this.region && !this.ended) {
      this.region = undefined;
      this.received(n);
    } else {
      // Not our current region (the buffer was replaced under a pending read): copy it in.
      this.onChunk(Buffer.from(buf.buffer, buf.byteOffset, n));
    }
  }

  /** 'data' mode (and odd onread reads): copies the chunk into the receive buffer. */
  onChunk(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length && !this.ended) {
      if (this.slab.length - this.fill < Math.min(MIN_READ_BYTES, chunk.length - at)) this.replaceSlab(chunk.length - at, this.transmitting);
      const k = chunk.copy(this.slab, this.fill, at);
      at += k;
      this.received(k);
    }
  }

  /** The bytes [fill, fill + n) of the receive buffer were just received. */
  private received(n: number): void {
    const from = this.fill;
    this.fill += n;
    if (!this.transmitting) {
      this.reader.push(this.slab.subarray(from, this.fill));
      this.pos = this.fill;
      return;
    }
    this.parse();
  }

  /**
   * Makes room for `room` more bytes after the unparsed ones. During transmission nothing outside this class
   * holds a view of the buffer (payloads are copied out, and the socket's pending region is replaced right
   * after), so the unparsed tail moves to the front when it fits. During negotiation the reader holds views
   * of it, so a new buffer is taken; a region handed to the socket then stays in the old one (`onRead` copies it over).
   */
  private replaceSlab(room: number, reuse = false): void {
    const unparsed = this.fill - this.pos;
    const size = Math.max(SLAB_BYTES, unparsed + room);
    // A buffer grown for a large write is kept up to MAX_KEPT_SLAB_BYTES; a larger one goes back to SLAB_BYTES.
    if (reuse && this.slab.length >= size && this.slab.length <= MAX_KEPT_SLAB_BYTES) {
      this.slab.copyWithin(0, this.pos, this.fill);
      this.pos = 0;
      this.fill = unparsed;
      this.region = undefined;
      return;
    }
    const next = Buffer.allocUnsafeSlow(size);
    this.slab.copy(next, 0, this.pos, this.fill);
    this.slab = next;
    this.pos = 0;
    this.fill = unparsed;
    this.region = undefined;
  }

  closed(): void {
    this.ended = true;
    this.reader.end(new Error('connection closed'));
  }

  /** A protocol error: reported, and this connection (only) is closed. */
  fail(error: unknown): void {
    if (this.ended && this.socket.destroyed) return;
    this.ended = true;
    if (error instanceof NbdProtocolError) this.server.emit('client-error', error, this.exportName);
    this.socket.destroy();
  }

  async run(): Promise<void> {
    const hello = Buffer.alloc(18);
    NBD_MAGIC.copy(hello, 0);
    hello.writeBigUInt64BE(IHAVEOPT, 8);
    hello.writeUInt16BE(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES, 16);
    this.socket.write(hello);
    const clientFlags = (await this.reader.read(4)).readUInt32BE(0);
    if ((clientFlags & ~(FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES)) !== 0) throw new NbdProtocolError(`unknown client flags 0x${clientFlags.toString(16)}`);
    this.noZeroes = (clientFlags & FLAG_C_NO_ZEROES) !== 0;
    if (!(await this.negotiate())) return;
    if (this.ended) return;
    // Bytes that came after the chosen export belong to transmission: they start a new receive buffer.
    const early = this.reader.drain();
    this.transmitting = true;
    if (early.length > 0) {
      const bytes = early.reduce((n, c) => n + c.length, 0);
      this.pos = this.fill;
      this.replaceSlab(bytes + MIN_READ_BYTES);
      for (const c of early) this.fill += c.copy(this.slab, this.fill);
    }
    this.parse();
  }

  /** Option haggling; true when an export was chosen, false when the client aborted. */
  private async negotiate(): Promise<boolean> {
    for (;;) {
      const head = await this.reader.read(16);
      if (head.readBigUInt64BE(0) !== IHAVEOPT) throw new NbdProtocolError('option without the IHAVEOPT magic');
      const option = head.readUInt32BE(8);
      const length = head.readUInt32BE(12);
      if (length > MAX_OPTION_BYTES) throw new NbdProtocolError(`option ${option} of ${length} bytes is too long`);
      const data = await this.reader.read(length);
      switch (option) {
        case Opt.EXPORT_NAME: {
          const name = data.toString('utf8');
          const exp = this.server.lookup(name);
          if (!exp) throw new NbdProtocolError(`no export named '${name}'`);
          this.choose(name, exp);
          const reply = Buffer.alloc(this.noZeroes ? 10 : 134);
          reply.writeBigUInt64BE(BigInt(exp.sizeBytes), 0);
          reply.writeUInt16BE(this.transmissionFlags(exp), 8);
          this.socket.write(reply);
          return true;
        }
        case Opt.ABORT:
          this.socket.end(optionReply(option, Rep.ACK));
          return false;
        case Opt.LIST:
          if (length !== 0) {
            this.socket.write(optionReply(option, Rep.ERR_INVALID));
            break;
          }
          for (const name of this.server.exportNames()) {
            const n = Buffer.from(name, 'utf8');
            const d = Buffer.alloc(4 + n.length);
            d.writeUInt32BE(n.length, 0);
            n.copy(d, 4);
            this.socket.write(optionReply(option, Rep.SERVER, d));
          }
          this.socket.write(optionReply(option, Rep.ACK));
          break;
        case Opt.STRUCTURED_REPLY:
          if (length !== 0) {
            this.socket.write(optionReply(option, Rep.ERR_INVALID));
            break;
          }
          this.structured = true;
          this.socket.write(optionReply(option, Rep.ACK));
          break;
        case Opt.SET_META_CONTEXT:
        case Opt.LIST_META_CONTEXT:
          this.metaContext(option, data);
          break;
        case Opt.INFO:
        case Opt.GO: {
          const parsed = parseInfoRequest(data);
          if (!parsed) {
            this.socket.write(optionReply(option, Rep.ERR_INVALID));
            break;
          }
          const exp = this.server.lookup(parsed.name);
          if (!exp) {
            this.socket.write(optionReply(option, Rep.ERR_UNKNOWN, Buffer.from(`no export named '${parsed.name}'`)));
            break;
          }
          const info = Buffer.alloc(12);
          info.writeUInt16BE(Info.EXPORT, 0);
          info.writeBigUInt64BE(BigInt(exp.sizeBytes), 2);
          info.writeUInt16BE(this.transmissionFlags(exp), 10);
          this.socket.write(optionReply(option, Rep.INFO, info));
          const bs = Buffer.alloc(14);
          bs.writeUInt16BE(Info.BLOCK_SIZE, 0);
          bs.writeUInt32BE(BLOCK_SIZE_INFO.min, 2);
          bs.writeUInt32BE(BLOCK_SIZE_INFO.preferred, 6);
          bs.writeUInt32BE(BLOCK_SIZE_INFO.max, 10);
          this.socket.write(optionReply(option, Rep.INFO, bs));
          this.socket.write(optionReply(option, Rep.ACK));
          if (option === Opt.GO) {
            this.choose(parsed.name, exp);
            return true;
          }
          break;
        }
        default:
          this.socket.write(optionReply(option, Rep.ERR_UNSUP));
      }
    }
  }

  private choose(name: string, exp: NbdExport): void {
    this.exportName = name;
    this.exp = exp;
    // Contexts selected for another export do not apply to this one.
    if (this.contextExport !== name) this.allocationContext = false;
  }

  /**
   * LIST / SET_META_CONTEXT: every export offers `base:allocation` (id BASE_ALLOCATION_ID); other
   * namespaces are answered with no context, as the protocol allows. SET replaces the earlier selection.
   */
  private metaContext(option: number, data: Buffer): void {
    const parsed = parseMetaContextRequest(data);
    if (!parsed) {
      this.socket.write(optionReply(option, Rep.ERR_INVALID));
      return;
    }
    if (option === Opt.SET_META_CONTEXT && !this.structured) {
      this.socket.write(optionReply(option, Rep.ERR_INVALID, Buffer.from('negotiate structured replies first')));
      return;
    }
    if (!this.server.lookup(parsed.name)) {
      this.socket.write(optionReply(option, Rep.ERR_UNKNOWN, Buffer.from(`no export named '${parsed.name}'`)));
      return;
    }
    // LIST with no query lists everything; `base:` lists the namespace.
    const offered = option === Opt.LIST_META_CONTEXT
      ? parsed.queries.length === 0 || parsed.queries.some((q) => q === 'base:' || q === BASE_ALLOCATION)
      : parsed.queries.includes(BASE_ALLOCATION);
    if (option === Opt.SET_META_CONTEXT) {
      this.allocationContext = offered;
      this.contextExport = parsed.name;
    }
    if (offered) {
      const name = Buffer.from(BASE_ALLOCATION, 'utf8');
      const reply = Buffer.alloc(4 + name.length);
      reply.writeUInt32BE(BASE_ALLOCATION_ID, 0);
      name.copy(reply, 4);
      this.socket.write(optionReply(option, Rep.META_CONTEXT, reply));
    }
    this.socket.write(optionReply(option, Rep.ACK));
  }

  private transmissionFlags(exp: NbdExport): number {
    let f = TFlag.HAS_FLAGS | TFlag.SEND_FLUSH | TFlag.SEND_FUA | TFlag.SEND_TRIM | TFlag.SEND_WRITE_ZEROES;
    if (exp.readOnly) f |= TFlag.READ_ONLY;
    return f;
  }

  /** Handles every complete request in the receive buffer, in order; headers are read in place, payloads copied out once. */
  private parse(): void {
    try {
      while (!this.ended) {
        const slab = this.slab;
        const p = this.pos;
        const available = this.fill - p;
        if (available < REQUEST_BYTES) break;
        if (slab.readUInt32BE(p) !== REQUEST_MAGIC) throw new NbdProtocolError(`request with bad magic 0x${slab.readUInt32BE(p).toString(16)}`);
        const type = slab.readUInt16BE(p + 6);
        const length = slab.readUInt32BE(p + 24);
        let payload: Buffer | undefined;
        if (type === Cmd.WRITE) {
          if (length > MAX_PAYLOAD) {
            this.replyError(slab.readUInt32BE(p + 8), slab.readUInt32BE(p + 12), Errno.EOVERFLOW, `${length}-byte write is larger than ${MAX_PAYLOAD}`);
            throw new NbdProtocolError(`WRITE of ${length} bytes exceeds the ${MAX_PAYLOAD}-byte limit`);
          }
          // The payload is part of the request even when the request is refused: wait for all of it.
          if (available < REQUEST_BYTES + length) {
            if (slab.length - p < REQUEST_BYTES + length) this.replaceSlab(REQUEST_BYTES + length - available + MIN_READ_BYTES, true);
            break;
          }
          // Copied once into a Buffer of its own: the export may keep it, and this buffer is reused. (Handing
          // out views of never-reused receive slabs instead measured slower: the slabs outlived young-generation
          // GCs and the qemu-splitter benchmark's process ran ten times as many mark-compacts.)
          payload = Buffer.allocUnsafe(length);
          slab.copy(payload, 0, p + REQUEST_BYTES, p + REQUEST_BYTES + length);
          this.pos = p + REQUEST_BYTES + length;
        } else {
          this.pos = p + REQUEST_BYTES;
        }
        this.handle(slab, p, type, length, payload);
      }
    } catch (error) {
      this.fail(error);
    }
  }

  /** One request whose header is at `slab[p]`; throws NbdProtocolError when the connection must close. */
  private handle(slab: Buffer, p: number, type: number, length: number, payload: Buffer | undefined): void {
    const exp = this.exp!;
    const name = this.exportName!;
    const flags = slab.readUInt16BE(p + 4);
    const hi = slab.readUInt32BE(p + 8);
    const lo = slab.readUInt32BE(p + 12);
    const offsetHigh = slab.readUInt32BE(p + 16);
    // Exact below 2^53; any higher offset is past the end of every export, whatever the rounding.
    const offset = offsetHigh * 0x100000000 + slab.readUInt32BE(p + 20);
    const what = CMD_NAMES[type] ?? `command ${type}`;
    if (type === Cmd.DISC) {
      this.ended = true;
      this.afterOutstanding(() => {
        this.sendReplies();
        this.socket.end();
      });
      return;
    }
    if (type > Cmd.BLOCK_STATUS) {
      this.replyError(hi, lo, Errno.EINVAL, `${what} is not supported`);
      throw new NbdProtocolError(`unsupported ${what} on export '${name}'`);
    }
    const ranged = type === Cmd.READ || type === Cmd.WRITE || type === Cmd.TRIM || type === Cmd.WRITE_ZEROES || type === Cmd.CACHE || type === Cmd.BLOCK_STATUS;
    if (ranged && (offsetHigh >= 0x200000 || offset + length > exp.sizeBytes)) {
      const start = slab.readBigUInt64BE(p + 16);
      const end = start + BigInt(length);
      const errno = type === Cmd.READ || type === Cmd.CACHE || type === Cmd.BLOCK_STATUS ? Errno.EINVAL : Errno.ENOSPC;
      this.replyError(hi, lo, errno, `range [${start}, ${end}) is past the end of the ${exp.sizeBytes}-byte export`);
      throw new NbdProtocolError(`${what} [${start}, ${end}) is past the end of export '${name}' (${exp.sizeBytes} bytes)`);
    }
    if (type === Cmd.READ && length > MAX_PAYLOAD) {
      this.replyError(hi, lo, Errno.EOVERFLOW, `${length}-byte read is larger than ${MAX_PAYLOAD}`);
      return;
    }
    if (exp.readOnly && (type === Cmd.WRITE || type === Cmd.TRIM || type === Cmd.WRITE_ZEROES)) {
      this.replyError(hi, lo, Errno.EPERM, `export '${name}' is read-only`);
      return;
    }
    if (type === Cmd.BLOCK_STATUS) {
      this.blockStatus(exp, name, hi, lo, offset, length, (flags & CmdFlag.REQ_ONE) !== 0);
      return;
    }
    if (type === Cmd.READ) {
      let work: Promise<Buffer>;
      try {
        work = exp.read ? exp.read(offset, length) : Promise.reject(new NbdProtocolError(`export '${name}' cannot be read`));
      } catch (error) {
        work = Promise.reject(error);
      }
      work.then((data) => this.replyData(hi, lo, offset, data), (error: unknown) => this.replyFailure(hi, lo, error, name));
      return;
    }
    // Handlers are called here, in arrival order, so the export sees the peer's order; answers may finish out of order.
    const id = this.nextId++;
    if (type === Cmd.FLUSH) {
      const before = this.outstanding.size > 0 ? new Set(this.outstanding) : undefined;
      this.outstanding.add(id);
      const flush = (): void => this.track(id, hi, lo, name, () => exp.flush?.());
      if (before) this.flushWaiters.push({ ids: before, done: flush });
      else flush();
      return;
    }
    this.outstanding.add(id);
    const fua = (flags & CmdFlag.FUA) !== 0;
    switch (type) {
      case Cmd.WRITE:
        this.track(id, hi, lo, name, () => exp.write(offset, payload!, fua));
        break;
      case Cmd.TRIM:
        this.track(id, hi, lo, name, () => exp.trim?.(offset, length));
        break;
      case Cmd.WRITE_ZEROES:
        this.track(id, hi, lo, name, () => (exp.writeZeroes ? exp.writeZeroes(offset, length) : exp.write(offset, Buffer.alloc(length), fua)));
        break;
      default: // CACHE: advisory
        this.track(id, hi, lo, name, () => undefined);
    }
  }

  /** BLOCK_STATUS on `base:allocation`: one chunk of extents from the export (everything is data when it cannot tell). */
  private blockStatus(exp: NbdExport, name: string, hi: number, lo: number, offset: number, length: number, one: boolean): void {
    if (!this.allocationContext || !this.structured) {
      this.replyError(hi, lo, Errno.EINVAL, 'no metadata context was selected (SET_META_CONTEXT base:allocation)');
      return;
    }
    if (length === 0) {
      this.replyError(hi, lo, Errno.EINVAL, 'block status of zero bytes');
      return;
    }
    let work: Promise<NbdExtent[]>;
    try {
      work = exp.blockStatus ? exp.blockStatus(offset, length, one ? 1 : MAX_EXTENTS_PER_REPLY) : Promise.resolve([{ offset, length, flags: 0 }]);
    } catch (error) {
      work = Promise.reject(error);
    }
    work.then((extents) => {
      const clipped = clipExtents(extents, offset, length, one);
      if (clipped.length === 0) throw new NbdProtocolError(`export '${name}' described nothing at ${offset}`);
      if (this.socket.destroyed) return;
      const payload = Buffer.allocUnsafe(4 + 8 * clipped.length);
      payload.writeUInt32BE(BASE_ALLOCATION_ID, 0);
      clipped.forEach((e, i) => {
        payload.writeUInt32BE(e.length, 4 + i * 8);
        payload.writeUInt32BE(e.flags, 8 + i * 8);
      });
      const handle = (BigInt(hi) << 32n) | BigInt(lo);
      this.socket.write(Buffer.concat([structuredHeader(handle, ReplyFlag.DONE, ReplyType.BLOCK_STATUS, payload.length), payload]));
    }).catch((error: unknown) => this.replyFailure(hi, lo, error, name));
  }

  /** Runs a handler now and answers the request when it settles. */
  private track(id: number, hi: number, lo: number, name: string, handler: () => Promise<void> | undefined): void {
    let work: Promise<void> | undefined;
    try {
      work = handler();
    } catch (error) {
      this.settled(id);
      this.replyFailure(hi, lo, error, name);
      return;
    }
    if (work === undefined) {
      this.settled(id);
      this.reply(hi, lo, 0);
      return;
    }
    work.then(
      () => {
        this.settled(id);
        this.reply(hi, lo, 0);
      },
      (error: unknown) => {
        this.settled(id);
        this.replyFailure(hi, lo, error, name);
      },
    );
  }

  private settled(id: number): void {
    this.outstanding.delete(id);
    if (this.flushWaiters.length === 0) return;
    for (let i = 0; i < this.flushWaiters.length;) {
      const w = this.flushWaiters[i];
      if (w.ids.delete(id) && w.ids.size === 0) {
        this.flushWaiters.splice(i, 1);
        w.done();
      } else {
        i++;
      }
    }
  }

  /** Runs `done` once every request received so far has been answered by the export. */
  private afterOutstanding(done: () => void): void {
    if (this.outstanding.size === 0) done();
    else this.flushWaiters.push({ ids: new Set(this.outstanding), done });
  }

  /** Queues a simple reply; the replies that become ready in the same turn leave in one write. */
  private reply(hi: number, lo: number, errno: number): void {
    if (this.socket.destroyed) return;
    this.replies.push(hi, lo, errno);
    if (this.replies.length >= 3 * MAX_REPLY_BATCH) this.sendReplies();
    else if (!this.replyScheduled) {
      this.replyScheduled = true;
      process.nextTick(this.flushReplies);
    }
  }

  private sendReplies(): void {
    this.replyScheduled = false;
    const r = this.replies;
    if (r.length === 0 || this.socket.destroyed) {
      r.length = 0;
      return;
    }
    const out = Buffer.allocUnsafe((r.length / 3) * SIMPLE_REPLY_BYTES);
    for (let i = 0, at = 0; i < r.length; i += 3, at += SIMPLE_REPLY_BYTES) {
      out.writeUInt32BE(SIMPLE_REPLY_MAGIC, at);
      out.writeUInt32BE(r[i + 2], at + 4);
      out.writeUInt32BE(r[i], at + 8);
      out.writeUInt32BE(r[i + 1], at + 12);
    }
    r.length = 0;
    this.socket.write(out);
  }

  private replyFailure(hi: number, lo: number, error: unknown, name: string): void {
    const err = error instanceof Error ? error : new Error(String(error));
    this.server.emit('request-error', err, name);
    this.replyError(hi, lo, error instanceof StorageError && error.code === 'STORAGE_FULL' ? Errno.ENOSPC : Errno.EIO, err.message);
  }

  private replyData(hi: number, lo: number, offset: number, data: Buffer): void {
    if (this.socket.destroyed) return;
    const handle = (BigInt(hi) << 32n) | BigInt(lo);
    if (!this.structured) {
      this.socket.cork();
      this.socket.write(simpleReply(handle, 0));
      this.socket.write(data);
      this.socket.uncork();
      return;
    }
    const off = Buffer.alloc(8);
    off.writeBigUInt64BE(BigInt(offset), 0);
    this.socket.cork();
    this.socket.write(structuredHeader(handle, ReplyFlag.DONE, ReplyType.OFFSET_DATA, 8 + data.length));
    this.socket.write(off);
    this.socket.write(data);
    this.socket.uncork();
  }

  private replyError(hi: number, lo: number, errno: number, message: string): void {
    if (this.socket.destroyed) return;
    if (!this.structured) {
      this.reply(hi, lo, errno);
      // An error that closes the connection must leave before it does.
      this.sendReplies();
      return;
    }
    const handle = (BigInt(hi) << 32n) | BigInt(lo);
    const msg = Buffer.from(message.slice(0, 1000), 'utf8');
    const payload = Buffer.alloc(6 + msg.length);
    payload.writeUInt32BE(errno, 0);
    payload.writeUInt16BE(msg.length, 4);
    msg.copy(payload, 6);
    this.socket.write(Buffer.concat([structuredHeader(handle, ReplyFlag.DONE, ReplyType.ERROR, payload.length), payload]));
  }
}

