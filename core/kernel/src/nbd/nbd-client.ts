// A small NBD client: fixed-newstyle negotiation with OPT_GO, structured replies, metadata contexts
// (`base:allocation`, `qemu:dirty-bitmap:NAME`), and READ / WRITE / FLUSH / TRIM / WRITE_ZEROES /
// BLOCK_STATUS with many requests in flight on one connection. The QEMU adapter writes into guest disks,
// reads protected volumes and reads dirty bitmaps through it; tests read point-in-time images with it.
import net from 'node:net';
import { ClosedError } from '../errors.js';
import { NbdNegotiationError, NbdProtocolError, NbdRequestError } from './nbd-errors.js';
import {
  ByteReader, Cmd, CMD_NAMES, CmdFlag, FLAG_C_FIXED_NEWSTYLE, FLAG_C_NO_ZEROES, FLAG_FIXED_NEWSTYLE, FLAG_NO_ZEROES, IHAVEOPT, Info,
  NBD_MAGIC, OPTION_REPLY_MAGIC, Opt, Rep, ReplyFlag, ReplyType, SIMPLE_REPLY_MAGIC, STRUCTURED_REPLY_MAGIC, TFlag,
  encodeRequest, optionRequest, type NbdExtent,
} from './nbd-protocol.js';

export interface NbdClientOptions {
  /** UNIX socket of the server. */
  path: string;
  exportName: string;
  /** Negotiate structured replies (default true; required for metadata contexts). */
  structuredReplies?: boolean;
  /** Metadata contexts to select, e.g. `qemu:dirty-bitmap:b0`. */
  metaContexts?: string[];
}

interface Pending {
  type: number;
  offset: number;
  length: number;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  data?: Buffer;
  extents?: NbdExtent[];
  contextId?: number;
  error?: Error;
}

export class NbdClient {
  private readonly pending = new Map<bigint, Pending>();
  private nextHandle = 1n;
  private closedReason: Error | undefined;
  private readonly closeListeners: ((reason: Error | undefined) => void)[] = [];

  private constructor(
    private readonly socket: net.Socket,
    private readonly reader: ByteReader,
    readonly exportName: string,
    readonly sizeBytes: number,
    readonly transmissionFlags: number,
    readonly structured: boolean,
    /** Selected metadata contexts by name → id. */
    readonly metaContexts: ReadonlyMap<string, number>,
  ) {
    void this.readReplies();
  }

  static async connect(options: NbdClientOptions): Promise<NbdClient> {
    const socket = net.createConnection(options.path);
    const reader = new ByteReader();
    socket.on('data', (c) => reader.push(c));
    socket.on('error', (e) => reader.end(e));
    socket.on('close', () => reader.end(new ClosedError(`NBD connection to ${options.path}`)));
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      const hello = await reader.read(18);
      if (!hello.subarray(0, 8).equals(NBD_MAGIC) || hello.readBigUInt64BE(8) !== IHAVEOPT) throw new NbdProtocolError('the server is not a newstyle NBD server');
      const serverFlags = hello.readUInt16BE(16);
      if (!(serverFlags & FLAG_FIXED_NEWSTYLE)) throw new NbdProtocolError('the server does not speak fixed newstyle');
      const cf = Buffer.alloc(4);
      cf.writeUInt32BE(FLAG_C_FIXED_NEWSTYLE | (serverFlags & FLAG_NO_ZEROES ? FLAG_C_NO_ZEROES : 0), 0);
      socket.write(cf);
      let structured = false;
      if (options.structuredReplies !== false) {
        socket.write(optionRequest(Opt.STRUCTURED_REPLY));
        const r = await readOptionReply(reader, Opt.STRUCTURED_REPLY);
        structured = r.type === Rep.ACK;
      }
      const contexts = new Map<string, number>();
      if (options.metaContexts && options.metaContexts.length > 0) {
        if (!structured) throw new NbdNegotiationError('metadata contexts need structured replies, which the server refused');
        socket.write(optionRequest(Opt.SET_META_CONTEXT, metaContextRequest(options.exportName, options.metaContexts)));
        for (;;) {
          const r = await readOptionReply(reader, Opt.SET_META_CONTEXT);
          if (r.type === Rep.ACK) break;
          if (r.type === Rep.META_CONTEXT) contexts.set(r.data.subarray(4).toString('utf8'), r.data.readUInt32BE(0));
          else throw new NbdNegotiationError(`server refused metadata contexts ${options.metaContexts.join(', ')} (reply 0x${r.type.toString(16)}: ${r.data.toString('utf8')})`);
        }
        const missing = options.metaContexts.filter((c) => !contexts.has(c));
        if (missing.length > 0) throw new NbdNegotiationError(`export '${options.exportName}' has no metadata context ${missing.join(', ')}`);
      }
      const name = Buffer.from(options.exportName, 'utf8');
      const go = Buffer.alloc(4 + name.length + 4);
      go.writeUInt32BE(name.length, 0);
      name.copy(go, 4);
      go.writeUInt16BE(1, 4 + name.length);
      go.writeUInt16BE(Info.BLOCK_SIZE, 6 + name.length);
      socket.write(optionRequest(Opt.GO, go));
      let size: number | undefined;
      let flags = 0;
      for (;;) {
        const r = await readOptionReply(reader, Opt.GO);
        if (r.type === Rep.ACK) break;
        if (r.type === Rep.INFO) {
          if (r.data.readUInt16BE(0) === Info.EXPORT) {
            size = Number(r.data.readBigUInt64BE(2));
            flags = r.data.readUInt16BE(10);
          }
          continue;
        }
        throw new NbdNegotiationError(`server refused export '${options.exportName}' (reply 0x${r.type.toString(16)}${r.data.length ? `: ${r.data.toString('utf8')}` : ''})`);
      }
      if (size === undefined) throw new NbdProtocolError('the server chose an export without saying its size');
      return new NbdClient(socket, reader, options.exportName, size, flags, structured, contexts);
    } catch (error) {
      socket.destroy();
      throw error;
    }
  }

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  get readOnly(): boolean {
    return (this.transmissionFlags & TFlag.READ_ONLY) !== 0;
  }

  /** Requests sent and not answered yet. */
  get inFlight(): number {
    return this.pending.size;
  }

  onClose(listener: (reason: Error | undefined) => void): void {
    this.closeListeners.push(listener);
  }

  read(offset: number, length: number): Promise<Buffer> {
    return this.request(Cmd.READ, 0, offset, length) as Promise<Buffer>;
  }

  write(offset: number, data: Buffer, options: { fua?: boolean } = {}): Promise<void> {
    return this.request(Cmd.WRITE, options.fua ? CmdFlag.FUA : 0, offset, data.length, data) as Promise<void>;
  }

  writeZeroes(offset: number, length: number): Promise<void> {
    return this.request(Cmd.WRITE_ZEROES, 0, offset, length) as Promise<void>;
  }

  trim(offset: number, length: number): Promise<void> {
    return this.request(Cmd.TRIM, 0, offset, length) as Promise<void>;
  }

  flush(): Promise<void> {
    return this.request(Cmd.FLUSH, 0, 0, 0) as Promise<void>;
  }

  /**
   * Extents of a metadata context over [offset, offset + length), following the server's answers until
   * the whole range is covered (a server may describe less than was asked per request).
   */
  async blockStatus(context: string, offset: number, length: number): Promise<NbdExtent[]> {
    const id = this.metaContexts.get(context);
    if (id === undefined) throw new NbdNegotiationError(`metadata context '${context}' was not negotiated on export '${this.exportName}'`);
    const out: NbdExtent[] = [];
    const end = offset + length;
    for (let at = offset; at < end;) {
      const len = Math.min(end - at, 0x7fffffff - 511);
      const extents = (await this.request(Cmd.BLOCK_STATUS, 0, at, len, undefined, id)) as NbdExtent[];
      if (extents.length === 0) throw new NbdProtocolError(`block status at ${at} described nothing`);
      for (const e of extents) {
        const length = Math.min(e.length, end - at);
        if (length <= 0) break;
        out.push({ offset: at, length, flags: e.flags });
        at += length;
      }
    }
    return out;
  }

  /** Sends DISC once every request is answered, then closes. */
  async close(): Promise<void> {
    if (this.closedReason) return;
    while (this.pending.size > 0 && !this.closedReason) await new Promise((r) => setTimeout(r, 1));
    if (this.closedReason) return;
    this.socket.end(encodeRequest({ flags: 0, type: Cmd.DISC, handle: this.nextHandle++, offset: 0n, length: 0 }));
    this.shutdown(undefined);
  }

  /** Drops the connection at once; requests in flight fail. */
  destroy(): void {
    this.socket.destroy();
    this.shutdown(new ClosedError(`NBD connection to export '${this.exportName}'`));
  }

  private request(type: number, flags: number, offset: number, length: number, data?: Buffer, contextId?: number): Promise<unknown> {
    if (this.closedReason) return Promise.reject(new ClosedError(`NBD connection to export '${this.exportName}' (${this.closedReason.message})`));
    const handle = this.nextHandle++;
    return new Promise((resolve, reject) => {
      this.pending.set(handle, { type, offset, length, resolve, reject, ...(type === Cmd.READ ? { data: Buffer.alloc(length) } : {}), ...(type === Cmd.BLOCK_STATUS ? { extents: [], contextId } : {}) });
      const header = encodeRequest({ flags, type, handle, offset: BigInt(offset), length });
      if (data) {
        this.socket.cork();
        this.socket.write(header);
        this.socket.write(data);
        this.socket.uncork();
      } else {
        this.socket.write(header);
      }
    });
  }

  private async readReplies(): Promise<void> {
    try {
      for (;;) {
        const magicBytes = await this.reader.read(4);
        const magic = magicBytes.readUInt32BE(0);
        if (magic === SIMPLE_REPLY_MAGIC) {
          const rest = await this.reader.read(12);
          const error = rest.readUInt32BE(0);
          const handle = rest.readBigUInt64BE(4);
          const p = this.take(handle);
          if (error !== 0) {
            p.reject(new NbdRequestError(CMD_NAMES[p.type] ?? String(p.type), error));
            continue;
          }
          if (p.type === Cmd.READ) p.resolve(await this.reader.read(p.length));
          else if (p.type === Cmd.BLOCK_STATUS) throw new NbdProtocolError('a simple reply to BLOCK_STATUS');
          else p.resolve(undefined);
        } else if (magic === STRUCTURED_REPLY_MAGIC) {
          const rest = await this.reader.read(16);
          const flags = rest.readUInt16BE(0);
          const type = rest.readUInt16BE(2);
          const handle = rest.readBigUInt64BE(4);
          const length = rest.readUInt32BE(12);
          const p = this.pending.get(handle);
          if (!p) throw new NbdProtocolError(`structured reply to unknown handle ${handle}`);
          const payload = await this.reader.read(length);
          this.chunk(p, type, payload);
          if (flags & ReplyFlag.DONE) {
            this.pending.delete(handle);
            if (p.error) p.reject(p.error);
            else p.resolve(p.type === Cmd.READ ? p.data : p.type === Cmd.BLOCK_STATUS ? p.extents : undefined);
          }
        } else {
          throw new NbdProtocolError(`reply with bad magic 0x${magic.toString(16)}`);
        }
      }
    } catch (error) {
      this.socket.destroy();
      this.shutdown(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private chunk(p: Pending, type: number, payload: Buffer): void {
    switch (type) {
      case ReplyType.NONE:
        return;
      case ReplyType.OFFSET_DATA: {
        const at = Number(payload.readBigUInt64BE(0)) - p.offset;
        if (at < 0 || at + payload.length - 8 > p.length) throw new NbdProtocolError('read chunk outside the request');
        payload.copy(p.data!, at, 8);
        return;
      }
      case ReplyType.OFFSET_HOLE: {
        const at = Number(payload.readBigUInt64BE(0)) - p.offset;
        const len = payload.readUInt32BE(8);
        if (at < 0 || at + len > p.length) throw new NbdProtocolError('hole chunk outside the request');
        p.data!.fill(0, at, at + len);
        return;
      }
      case ReplyType.BLOCK_STATUS: {
        // The server answers for every negotiated context; keep the one asked for.
        if (payload.readUInt32BE(0) !== p.contextId) return;
        for (let i = 4; i + 8 <= payload.length; i += 8) p.extents!.push({ offset: 0, length: payload.readUInt32BE(i), flags: payload.readUInt32BE(i + 4) });
        return;
      }
      case ReplyType.ERROR:
      case ReplyType.ERROR_OFFSET: {
        const errno = payload.readUInt32BE(0);
        const msgLength = payload.readUInt16BE(4);
        p.error ??= new NbdRequestError(CMD_NAMES[p.type] ?? String(p.type), errno, payload.subarray(6, 6 + msgLength).toString('utf8'));
        return;
      }
      default:
        if (type & (1 << 15)) p.error ??= new NbdRequestError(CMD_NAMES[p.type] ?? String(p.type), payload.length >= 4 ? payload.readUInt32BE(0) : 5);
    }
  }

  private take(handle: bigint): Pending {
    const p = this.pending.get(handle);
    if (!p) throw new NbdProtocolError(`reply to unknown handle ${handle}`);
    this.pending.delete(handle);
    return p;
  }

  private shutdown(reason: Error | undefined): void {
    if (this.closedReason) return;
    this.closedReason = reason ?? new ClosedError(`NBD connection to export '${this.exportName}'`);
    for (const p of this.pending.values()) p.reject(new ClosedError(`NBD connection to export '${this.exportName}' (${this.closedReason.message})`));
    this.pending.clear();
    for (const l of this.closeListeners.splice(0)) l(reason);
  }
}

async function readOptionReply(reader: ByteReader, option: number): Promise<{ type: number; data: Buffer }> {
  const head = await reader.read(20);
  if (head.readBigUInt64BE(0) !== OPTION_REPLY_MAGIC) throw new NbdProtocolError('option reply with bad magic');
  if (head.readUInt32BE(8) !== option) throw new NbdProtocolError(`reply to option ${head.readUInt32BE(8)} while waiting for ${option}`);
  const type = head.readUInt32BE(12);
  const length = head.readUInt32BE(16);
  if (length > 1024 * 1024) throw new NbdProtocolError(`option reply of ${length} bytes`);
  return { type, data: await reader.read(length) };
}

function metaContextRequest(exportName: string, queries: string[]): Buffer {
  const name = Buffer.from(exportName, 'utf8');
  const parts: Buffer[] = [];
  const head = Buffer.alloc(4 + name.length + 4);
  head.writeUInt32BE(name.length, 0);
  name.copy(head, 4);
  head.writeUInt32BE(queries.length, 4 + name.length);
  parts.push(head);
  for (const q of queries) {
    const b = Buffer.from(q, 'utf8');
    const l = Buffer.alloc(4);
    l.writeUInt32BE(b.length, 0);
    parts.push(l, b);
  }
  return Buffer.concat(parts);
}

