// The appliance's NBD server: newstyle fixed negotiation (EXPORT_NAME, INFO, GO, LIST, ABORT,
// STRUCTURED_REPLY), then READ / WRITE / FLUSH / TRIM / WRITE_ZEROES / DISC. QEMU's `nbd` block driver
// connects to it as a mirror target, so every guest write arrives here; an export's answer decides
// when the guest's write completes. Bad peers get an error and lose their connection; others go on.
import { EventEmitter } from 'node:events';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import { StorageError } from '@opencdp/core';
import { NbdProtocolError } from './qemu-errors.js';
import {
  ByteReader, Cmd, CMD_NAMES, CmdFlag, Errno, FLAG_C_FIXED_NEWSTYLE, FLAG_C_NO_ZEROES, FLAG_FIXED_NEWSTYLE, FLAG_NO_ZEROES,
  IHAVEOPT, Info, MAX_OPTION_BYTES, MAX_PAYLOAD, NBD_MAGIC, Opt, REQUEST_BYTES, Rep, ReplyFlag, ReplyType, TFlag,
  decodeRequest, optionReply, simpleReply, structuredHeader,
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
}

export interface NbdServerOptions {
  /** UNIX socket path to listen on. */
  path: string;
}

export interface NbdServerEvents {
  /** A peer broke the protocol or asked for something out of range; its connection was closed. */
  'client-error': [error: NbdProtocolError, exportName: string | undefined];
  /** An export's handler failed; the request got an error reply. */
  'request-error': [error: Error, exportName: string];
}

const BLOCK_SIZE_INFO = { min: 1, preferred: 4096, max: MAX_PAYLOAD };

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
    const server = net.createServer((socket) => this.accept(socket));
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

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    const reader = new ByteReader();
    socket.on('data', (chunk) => reader.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.sockets.delete(socket);
      reader.end(new Error('connection closed'));
    });
    const conn = new Connection(this, socket, reader);
    conn.run().catch((error: unknown) => {
      if (error instanceof NbdProtocolError) this.emit('client-error', error, conn.exportName);
      socket.destroy();
    });
  }

  /** @internal */
  lookup(name: string): NbdExport | undefined {
    return this.exports.get(name);
  }

  /** @internal */
  exportNames(): string[] {
    return [...this.exports.keys()];
  }
}

class Connection {
  exportName: string | undefined;
  private exp: NbdExport | undefined;
  private structured = false;
  private noZeroes = false;
  /** Writes, trims and zeroings not yet answered by the export: FLUSH waits for them. */
  private readonly pending = new Set<Promise<unknown>>();

  constructor(private readonly server: NbdServer, private readonly socket: net.Socket, private readonly reader: ByteReader) {}

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
    await this.transmit();
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
          // No metadata contexts are offered: an empty (but well-formed) answer, as the protocol allows.
          this.socket.write(optionReply(option, this.structured ? Rep.ACK : Rep.ERR_INVALID));
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
  }

  private transmissionFlags(exp: NbdExport): number {
    let f = TFlag.HAS_FLAGS | TFlag.SEND_FLUSH | TFlag.SEND_FUA | TFlag.SEND_TRIM | TFlag.SEND_WRITE_ZEROES;
    if (exp.readOnly) f |= TFlag.READ_ONLY;
    return f;
  }

  private async transmit(): Promise<void> {
    const exp = this.exp!;
    const name = this.exportName!;
    for (;;) {
      const header = this.reader.tryRead(REQUEST_BYTES) ?? await this.reader.read(REQUEST_BYTES);
      const req = decodeRequest(header);
      if (!req) throw new NbdProtocolError(`request with bad magic 0x${header.readUInt32BE(0).toString(16)}`);
      const what = CMD_NAMES[req.type] ?? `command ${req.type}`;
      if (req.type === Cmd.DISC) {
        await Promise.allSettled([...this.pending]);
        this.socket.end();
        return;
      }
      if (req.type === Cmd.WRITE && req.length > MAX_PAYLOAD) {
        this.replyError(req.handle, Errno.EOVERFLOW, `${req.length}-byte write is larger than ${MAX_PAYLOAD}`);
        throw new NbdProtocolError(`${what} of ${req.length} bytes exceeds the ${MAX_PAYLOAD}-byte limit`);
      }
      // The payload is part of the request even when the request is refused.
      const payload = req.type === Cmd.WRITE ? (this.reader.tryRead(req.length) ?? await this.reader.read(req.length)) : undefined;
      const offset = Number(req.offset);
      const end = req.offset + BigInt(req.length);
      const ranged = req.type === Cmd.READ || req.type === Cmd.WRITE || req.type === Cmd.TRIM || req.type === Cmd.WRITE_ZEROES || req.type === Cmd.CACHE;
      if (req.type > Cmd.BLOCK_STATUS || req.type === Cmd.BLOCK_STATUS) {
        this.replyError(req.handle, Errno.EINVAL, `${what} is not supported`);
        throw new NbdProtocolError(`unsupported ${what} on export '${name}'`);
      }
      if (ranged && end > BigInt(exp.sizeBytes)) {
        const errno = req.type === Cmd.READ || req.type === Cmd.CACHE ? Errno.EINVAL : Errno.ENOSPC;
        this.replyError(req.handle, errno, `range [${req.offset}, ${end}) is past the end of the ${exp.sizeBytes}-byte export`);
        throw new NbdProtocolError(`${what} [${req.offset}, ${end}) is past the end of export '${name}' (${exp.sizeBytes} bytes)`);
      }
      if (req.type === Cmd.READ && req.length > MAX_PAYLOAD) {
        this.replyError(req.handle, Errno.EOVERFLOW, `${req.length}-byte read is larger than ${MAX_PAYLOAD}`);
        continue;
      }
      if (exp.readOnly && (req.type === Cmd.WRITE || req.type === Cmd.TRIM || req.type === Cmd.WRITE_ZEROES)) {
        this.replyError(req.handle, Errno.EPERM, `export '${name}' is read-only`);
        continue;
      }
      let work: Promise<Buffer | void>;
      // Handlers are called here, in arrival order, so the export sees the peer's order; answers may finish out of order.
      try {
        switch (req.type) {
          case Cmd.READ:
            work = exp.read ? exp.read(offset, req.length) : Promise.reject(new NbdProtocolError(`export '${name}' cannot be read`));
            break;
          case Cmd.WRITE:
            work = exp.write(offset, payload!, (req.flags & CmdFlag.FUA) !== 0);
            break;
          case Cmd.TRIM:
            work = exp.trim ? exp.trim(offset, req.length) : Promise.resolve();
            break;
          case Cmd.WRITE_ZEROES:
            work = exp.writeZeroes ? exp.writeZeroes(offset, req.length) : exp.write(offset, Buffer.alloc(req.length), (req.flags & CmdFlag.FUA) !== 0);
            break;
          case Cmd.FLUSH: {
            const before = [...this.pending];
            work = Promise.allSettled(before).then(() => exp.flush?.());
            break;
          }
          default: // CACHE: advisory
            work = Promise.resolve();
        }
      } catch (error) {
        work = Promise.reject(error);
      }
      const tracked = work.then(
        (result) => {
          if (req.type === Cmd.READ) this.replyData(req.handle, req.offset, result as Buffer);
          else this.send(simpleReply(req.handle, 0));
        },
        (error: unknown) => {
          const err = error instanceof Error ? error : new Error(String(error));
          this.server.emit('request-error', err, name);
          this.replyError(req.handle, error instanceof StorageError && error.code === 'STORAGE_FULL' ? Errno.ENOSPC : Errno.EIO, err.message);
        },
      );
      if (req.type !== Cmd.READ) {
        this.pending.add(tracked);
        void tracked.finally(() => this.pending.delete(tracked));
      }
    }
  }

  private corked = false;

  /** Replies that become ready in the same turn leave in one write (the peer has many requests in flight). */
  private send(b: Buffer): void {
    if (this.socket.destroyed) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(b);
  }

  private replyData(handle: bigint, offset: bigint, data: Buffer): void {
    if (this.socket.destroyed) return;
    if (!this.structured) {
      this.socket.cork();
      this.socket.write(simpleReply(handle, 0));
      this.socket.write(data);
      this.socket.uncork();
      return;
    }
    const off = Buffer.alloc(8);
    off.writeBigUInt64BE(offset, 0);
    this.socket.cork();
    this.socket.write(structuredHeader(handle, ReplyFlag.DONE, ReplyType.OFFSET_DATA, 8 + data.length));
    this.socket.write(off);
    this.socket.write(data);
    this.socket.uncork();
  }

  private replyError(handle: bigint, errno: number, message: string): void {
    if (this.socket.destroyed) return;
    if (!this.structured) {
      this.socket.write(simpleReply(handle, errno));
      return;
    }
    const msg = Buffer.from(message.slice(0, 1000), 'utf8');
    const payload = Buffer.alloc(6 + msg.length);
    payload.writeUInt32BE(errno, 0);
    payload.writeUInt16BE(msg.length, 4);
    msg.copy(payload, 6);
    this.socket.write(Buffer.concat([structuredHeader(handle, ReplyFlag.DONE, ReplyType.ERROR, payload.length), payload]));
  }
}

/** INFO / GO payload: u32 name length, name, u16 count, count × u16 info types. */
function parseInfoRequest(data: Buffer): { name: string; infos: number[] } | undefined {
  if (data.length < 6) return undefined;
  const nameLength = data.readUInt32BE(0);
  if (4 + nameLength + 2 > data.length) return undefined;
  const name = data.subarray(4, 4 + nameLength).toString('utf8');
  const count = data.readUInt16BE(4 + nameLength);
  if (data.length !== 4 + nameLength + 2 + count * 2) return undefined;
  const infos: number[] = [];
  for (let i = 0; i < count; i++) infos.push(data.readUInt16BE(4 + nameLength + 2 + i * 2));
  return { name, infos };
}
