import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import fc from 'fast-check';
import { NbdClient } from './nbd-client.js';
import {
  BASE_ALLOCATION, Cmd, IHAVEOPT, MAX_PAYLOAD, NBD_MAGIC, Opt, REQUEST_MAGIC, encodeRequest, optionRequest,
} from './nbd-protocol.js';
import { MAX_EXTENTS_PER_REPLY, NbdServer, type NbdExport } from './nbd-server.js';
import { extentsOf } from './volume-export.js';
import { NbdNegotiationError, NbdProtocolError, NbdRequestError } from './nbd-errors.js';
import { requireHostToolsOrSkip } from '../host-tools.js';
import { MemoryExport, run, sha256, tempDir, until, watch } from './testing/nbd-fixtures.js';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('NbdServer', () => {
  let dir: string;
  let server: NbdServer;
  let exp: MemoryExport;
  const clientErrors: NbdProtocolError[] = [];

  beforeEach(async () => {
    dir = await tempDir();
    server = new NbdServer({ path: path.join(dir, 'nbd.sock') });
    exp = new MemoryExport(4 * MiB);
    server.addExport('disk', exp);
    clientErrors.length = 0;
    server.on('client-error', (e) => clientErrors.push(e));
    await server.listen();
  });

  afterEach(async () => {
    await server.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  for (const structured of [true, false]) {
    it(`serves writes, reads, zeroes, trims and flushes to our client (${structured ? 'structured' : 'simple'} replies)`, async () => {
      const c = await NbdClient.connect({ path: server.path, exportName: 'disk', structuredReplies: structured });
      assert.equal(c.sizeBytes, 4 * MiB);
      assert.equal(c.structured, structured);
      const a = Buffer.alloc(64 * KiB, 0xa1);
      const b = Buffer.alloc(4 * KiB, 0xb2);
      await Promise.all([c.write(0, a), c.write(1 * MiB, b)]);
      await c.writeZeroes(4 * KiB, 4 * KiB);
      await c.trim(8 * KiB, 4 * KiB);
      await c.flush();
      const got = await c.read(0, 2 * MiB);
      const expected = Buffer.alloc(2 * MiB);
      a.copy(expected, 0);
      expected.fill(0, 4 * KiB, 12 * KiB);
      b.copy(expected, 1 * MiB);
      assert.equal(sha256(got), sha256(expected));
      assert.equal(exp.flushes, 1);
      await c.close();
    });
  }

  it('lists exports and refuses an unknown one with a typed negotiation error', async () => {
    await assert.rejects(NbdClient.connect({ path: server.path, exportName: 'nope' }), NbdNegotiationError);
    const c = await NbdClient.connect({ path: server.path, exportName: 'disk' });
    await c.close();
  });

  it('answers a write past the end with ENOSPC, closes that connection, writes nothing, and keeps serving others', async () => {
    const bad = await NbdClient.connect({ path: server.path, exportName: 'disk' });
    const good = await NbdClient.connect({ path: server.path, exportName: 'disk' });
    await assert.rejects(bad.write(4 * MiB - 512, Buffer.alloc(1024, 1)), (e: unknown) => e instanceof NbdRequestError && e.errno === 28);
    await until(() => bad.closed, 'the bad connection to close');
    assert.equal(exp.ops.length, 0, 'nothing reached the export');
    assert.equal(clientErrors.length, 1);
    assert.match(clientErrors[0].message, /past the end/);
    await good.write(0, Buffer.alloc(512, 7));
    assert.deepEqual(exp.ops, ['write 0+512']);
    await good.close();
  });

  it('holds the reply until the export answers (the barrier) and answers in the export\'s order', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => { release = r; });
    server.addExport('held', { sizeBytes: MiB, write: () => held });
    const c = await NbdClient.connect({ path: server.path, exportName: 'held' });
    const w = watch(c.write(0, Buffer.alloc(512)));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(w.state, 'pending', 'the write is not acknowledged while the export holds it');
    release();
    await until(() => w.state === 'resolved', 'the write to complete');
    await c.close();
  });

  it('turns an export failure into EIO for that request only', async () => {
    let fail = true;
    server.addExport('flaky', { sizeBytes: MiB, write: async () => { if (fail) throw new Error('disk on fire'); } });
    const errors: Error[] = [];
    server.on('request-error', (e) => errors.push(e));
    const c = await NbdClient.connect({ path: server.path, exportName: 'flaky' });
    await assert.rejects(c.write(0, Buffer.alloc(512)), (e: unknown) => e instanceof NbdRequestError && e.errno === 5 && /disk on fire/.test(e.message));
    fail = false;
    await c.write(0, Buffer.alloc(512));
    assert.equal(errors.length, 1);
    await c.close();
  });

  describe('block status (base:allocation)', () => {
    const sparse = (): NbdExport & { asked: string[] } => {
      const asked: string[] = [];
      return {
        asked,
        sizeBytes: 4 * MiB,
        readOnly: true,
        read: async (offset, length) => Buffer.alloc(length, offset >= MiB && offset < 2 * MiB ? 0x77 : 0),
        write: () => Promise.reject(new Error('read-only')),
        // Data in [1 MiB, 2 MiB) and [3 MiB, 3 MiB + 4 KiB); the rest is a hole.
        blockStatus: async (offset, length) => {
          asked.push(`${offset}+${length}`);
          return extentsOf([{ volumeId: 'v', offset: MiB, length: MiB }, { volumeId: 'v', offset: 3 * MiB, length: 4 * KiB }], offset, length);
        },
      };
    };

    it('reports the export\'s holes and data, clipped to the request', async () => {
      const e = sparse();
      server.addExport('sparse', e);
      const c = await NbdClient.connect({ path: server.path, exportName: 'sparse', metaContexts: [BASE_ALLOCATION] });
      const all = await c.blockStatus(BASE_ALLOCATION, 0, 4 * MiB);
      assert.deepEqual(all, [
        { offset: 0, length: MiB, flags: 3 },
        { offset: MiB, length: MiB, flags: 0 },
        { offset: 2 * MiB, length: MiB, flags: 3 },
        { offset: 3 * MiB, length: 4 * KiB, flags: 0 },
        { offset: 3 * MiB + 4 * KiB, length: MiB - 4 * KiB, flags: 3 },
      ]);
      const middle = await c.blockStatus(BASE_ALLOCATION, MiB + 512, 8 * KiB);
      assert.deepEqual(middle, [{ offset: MiB + 512, length: 8 * KiB, flags: 0 }]);
      assert.ok(e.asked.length >= 2);
      await c.close();
    });

    it('a fragmented export answers at most MAX_EXTENTS_PER_REPLY extents a request; the client follows on to the whole range', async () => {
      // 3,000 scattered 4 KiB data regions: 6,001 extents, so the client must ask several times.
      const regions = Array.from({ length: 3000 }, (_, i) => ({ volumeId: 'v', offset: i * 12 * KiB + 4 * KiB, length: 4 * KiB }));
      const size = 3000 * 12 * KiB;
      const asked: number[] = [];
      server.addExport('fragmented', {
        sizeBytes: size, readOnly: true, read: async (_o, l) => Buffer.alloc(l), write: () => Promise.reject(new Error('read-only')),
        blockStatus: async (offset, length, maxExtents) => {
          asked.push(maxExtents);
          return extentsOf(regions, offset, length, maxExtents);
        },
      });
      const c = await NbdClient.connect({ path: server.path, exportName: 'fragmented', metaContexts: [BASE_ALLOCATION] });
      const all = await c.blockStatus(BASE_ALLOCATION, 0, size);
      const expected: { offset: number; length: number; flags: number }[] = [];
      let at = 0;
      for (const r of regions) {
        expected.push({ offset: at, length: r.offset - at, flags: 3 }, { offset: r.offset, length: r.length, flags: 0 });
        at = r.offset + r.length;
      }
      expected.push({ offset: at, length: size - at, flags: 3 });
      assert.deepEqual(all, expected);
      assert.equal(asked.length, Math.ceil(expected.length / MAX_EXTENTS_PER_REPLY));
      assert.ok(asked.every((m) => m === MAX_EXTENTS_PER_REPLY));
      await c.close();
    });

    it('extentsOf: capped answers, followed on, give the uncapped list', () => {
      fc.assert(fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 1, max: 64 })), { maxLength: 40 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 4000 }),
        (gaps, cap, start) => {
          const regions: { volumeId: string; offset: number; length: number }[] = [];
          let at = 0;
          for (const [gap, len] of gaps) {
            regions.push({ volumeId: 'v', offset: at + gap + (regions.length ? 1 : 0), length: len });
            at = regions[regions.length - 1].offset + len;
          }
          const end = at + 100;
          const from = Math.min(start, end - 1);
          const whole = extentsOf(regions, from, end - from);
          const followed: typeof whole = [];
          for (let p = from; p < end;) {
            const part = extentsOf(regions, p, end - p, cap);
            assert.ok(part.length >= 1 && part.length <= cap);
            for (const e of part) {
              const last = followed.at(-1);
              if (last && last.flags === e.flags) last.length += e.length;
              else followed.push({ ...e });
              p = e.offset + e.length;
            }
          }
          assert.deepEqual(followed, whole);
        },
      ));
    });

    it('an export that cannot tell is all data; an unknown export refuses the context', async () => {
      const c = await NbdClient.connect({ path: server.path, exportName: 'disk', metaContexts: [BASE_ALLOCATION] });
      assert.deepEqual(await c.blockStatus(BASE_ALLOCATION, 4096, 8192), [{ offset: 4096, length: 8192, flags: 0 }]);
      await c.close();
      await assert.rejects(NbdClient.connect({ path: server.path, exportName: 'nope', metaContexts: [BASE_ALLOCATION] }), NbdNegotiationError);
      await assert.rejects(NbdClient.connect({ path: server.path, exportName: 'disk', metaContexts: ['qemu:dirty-bitmap:x'] }), NbdNegotiationError);
    });

    it('BLOCK_STATUS without a selected context gets EINVAL and the connection goes on', async () => {
      const socket = await rawSession(server.path, 'disk');
      const got = collect(socket);
      socket.write(encodeRequest({ flags: 0, type: Cmd.BLOCK_STATUS, handle: 7n, offset: 0n, length: 4096 }));
      socket.write(encodeRequest({ flags: 0, type: Cmd.READ, handle: 8n, offset: 0n, length: 512 }));
      await until(() => got.size() >= 16 + 16 + 512, 'both replies');
      const b = got.bytes();
      assert.equal(b.readUInt32BE(4), 22, 'EINVAL for the block status');
      assert.equal(b.readBigUInt64BE(8), 7n);
      assert.equal(b.readUInt32BE(16 + 4), 0, 'the read still succeeds');
      assert.equal(b.readBigUInt64BE(16 + 8), 8n);
      assert.deepEqual(clientErrors, []);
      socket.destroy();
    });
  });

  it('refuses writes to a read-only export with EPERM', async () => {
    const ro = new MemoryExport(MiB, true);
    server.addExport('ro', ro);
    const c = await NbdClient.connect({ path: server.path, exportName: 'ro' });
    assert.equal(c.readOnly, true);
    await assert.rejects(c.write(0, Buffer.alloc(512)), (e: unknown) => e instanceof NbdRequestError && e.errno === 1);
    assert.equal(ro.ops.length, 0);
    await c.close();
  });

  it('property: any malformed request closes only that connection with a typed error and writes nothing', async function () {
    this.timeout(60_000);
    const good = await NbdClient.connect({ path: server.path, exportName: 'disk' });
    const header = fc.record({
      magic: fc.oneof(fc.constant(REQUEST_MAGIC), fc.integer({ min: 0, max: 0xffffffff })),
      flags: fc.integer({ min: 0, max: 0xffff }),
      type: fc.oneof(fc.constantFrom(Cmd.WRITE, Cmd.READ, Cmd.TRIM, Cmd.WRITE_ZEROES, Cmd.BLOCK_STATUS), fc.integer({ min: 8, max: 0xffff })),
      offset: fc.oneof(fc.bigInt({ min: 4n * BigInt(MiB) - 4096n, max: 4n * BigInt(MiB) + 4096n }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })),
      length: fc.oneof(fc.integer({ min: 1, max: 8192 }), fc.integer({ min: MAX_PAYLOAD + 1, max: 0xffffffff })),
    }).filter((h) => {
      // Keep only requests that are malformed: bad magic, unknown/unsupported command, past the end, or oversized.
      if (h.magic !== REQUEST_MAGIC) return true;
      if (h.type > Cmd.BLOCK_STATUS) return true;
      if (h.type === Cmd.WRITE && h.length > MAX_PAYLOAD) return true;
      return h.offset + BigInt(h.length) > BigInt(4 * MiB);
    });
    await fc.assert(fc.asyncProperty(header, async (h) => {
      const before = exp.ops.length;
      const errorsBefore = clientErrors.length;
      const socket = await rawSession(server.path, 'disk');
      const req = encodeRequest({ flags: h.flags, type: h.type, handle: 42n, offset: h.offset, length: h.length });
      req.writeUInt32BE(h.magic, 0);
      socket.write(req);
      if (h.magic === REQUEST_MAGIC && h.type === Cmd.WRITE && h.length <= 8192) socket.write(Buffer.alloc(h.length, 0x5a));
      await new Promise<void>((resolve) => { socket.once('close', () => resolve()); });
      assert.equal(exp.ops.length, before, 'nothing reached the export');
      assert.equal(clientErrors.length, errorsBefore + 1, 'one typed client error');
      assert.ok(clientErrors.at(-1) instanceof NbdProtocolError);
      // Others are still served.
      await good.write(0, Buffer.alloc(512, 1));
      exp.ops.length = before;
    }), { numRuns: 60, seed: 5 });
    await good.close();
  });

  it('property: random bytes during negotiation never crash the server', async function () {
    this.timeout(60_000);
    await fc.assert(fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 200 }), async (bytes) => {
      const socket = net.createConnection(server.path);
      await new Promise<void>((r) => socket.once('connect', () => r()));
      socket.on('error', () => undefined);
      socket.write(Buffer.from(bytes));
      await new Promise((r) => setTimeout(r, 5));
      socket.destroy();
    }), { numRuns: 40, seed: 9 });
    const c = await NbdClient.connect({ path: server.path, exportName: 'disk' });
    await c.write(0, Buffer.alloc(512, 3));
    await c.close();
    assert.equal(exp.ops.filter((o) => o.startsWith('write')).length, 1, 'only the good client wrote');
  });

  it('with directRead, reads straight into its receive buffer on this Node (no fallback to copied \'data\' chunks)', async () => {
    const direct = new NbdServer({ path: path.join(dir, 'direct.sock'), directRead: true });
    direct.addExport('disk', new MemoryExport(MiB));
    await direct.listen();
    try {
      const c = await NbdClient.connect({ path: direct.path, exportName: 'disk' });
      await c.write(0, Buffer.alloc(512, 9));
      await c.close();
      assert.equal(direct.fallbackConnections, 0, 'the accepted socket could not be adopted: every read allocates a Buffer');
    } finally {
      await direct.close();
    }
  });

  it('serves requests sent in the same write as the option that chose the export', async () => {
    const socket = net.createConnection(server.path);
    socket.on('error', () => undefined);
    const replies = collect(socket);
    await new Promise<void>((r) => socket.once('connect', () => r()));
    const flags = Buffer.alloc(4);
    flags.writeUInt32BE(3, 0);
    const payload = Buffer.alloc(3000, 0x3c);
    socket.write(Buffer.concat([
      flags, optionRequest(Opt.EXPORT_NAME, Buffer.from('disk')),
      encodeRequest({ flags: 0, type: Cmd.WRITE, handle: 7n, offset: 4096n, length: payload.length }), payload,
      encodeRequest({ flags: 0, type: Cmd.FLUSH, handle: 8n, offset: 0n, length: 0 }),
    ]));
    await until(() => replies.size() >= 18 + 10 + 32, 'two replies');
    const got = replies.bytes().subarray(28);
    assert.equal(got.readBigUInt64BE(8), 7n);
    assert.equal(got.readUInt32BE(4), 0);
    assert.equal(got.readBigUInt64BE(24), 8n);
    assert.deepEqual(exp.ops, ['write 4096+3000', 'flush']);
    assert.ok(exp.data.subarray(4096, 4096 + 3000).equals(payload));
    socket.destroy();
  });

  for (const directRead of [true, false]) {
    it(`property: writes reach the export in order and byte-exact however the stream is cut, and payloads stay intact while kept (${directRead ? 'reads into the receive buffer' : 'copied data chunks'})`, async function () {
      this.timeout(120_000);
      const other = new NbdServer({ path: path.join(dir, `k${directRead}.sock`), directRead });
      const kept: { offset: number; data: Buffer }[] = [];
      let release: (() => void) | undefined;
      other.addExport('k', {
        sizeBytes: 4 * MiB,
        // Keeps every payload Buffer as the kernel may, and sometimes holds the answer (the barrier).
        write: (offset, data) => {
          kept.push({ offset, data });
          return kept.length % 7 === 0 ? new Promise<void>((r) => { const prev = release; release = () => { prev?.(); r(); }; }) : Promise.resolve();
        },
        flush: async () => undefined,
      });
      await other.listen();
      const request = fc.oneof(
        { weight: 6, arbitrary: fc.record({ kind: fc.constant('write' as const), length: fc.oneof(fc.integer({ min: 1, max: 8 * KiB }), fc.integer({ min: 60 * KiB, max: 70 * KiB }), fc.integer({ min: 900 * KiB, max: 3 * MiB })), seed: fc.integer({ min: 0, max: 255 }) }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('flush' as const) }) },
      );
      try {
        await fc.assert(fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 24 }), fc.array(fc.integer({ min: 1, max: 300 * KiB }), { minLength: 1, maxLength: 8 }), async (reqs, cuts) => {
          kept.length = 0;
          const socket = await rawSession(other.path, 'k');
          const replies = collect(socket);
          const expected: { offset: number; data: Buffer }[] = [];
          const parts: Buffer[] = [];
          reqs.forEach((r, i) => {
            if (r.kind === 'flush') {
              parts.push(encodeRequest({ flags: 0, type: Cmd.FLUSH, handle: BigInt(i), offset: 0n, length: 0 }));
              return;
            }
            const data = Buffer.alloc(r.length);
            for (let j = 0; j < data.length; j++) data[j] = (r.seed + i * 31 + j * 7) & 0xff;
            const offset = (i * 4096 * 37) % (4 * MiB - r.length);
            expected.push({ offset, data });
            parts.push(encodeRequest({ flags: 0, type: Cmd.WRITE, handle: BigInt(i), offset: BigInt(offset), length: r.length }), data);
          });
          const stream = Buffer.concat(parts);
          for (let at = 0, c = 0; at < stream.length; c++) {
            const n = cuts[c % cuts.length];
            socket.write(stream.subarray(at, at + n));
            at += n;
            if (c % 2 === 0) await new Promise((r) => setImmediate(r));
          }
          for (;;) {
            await until(() => replies.size() >= reqs.length * 16 || release !== undefined, 'replies or a held write', 30_000);
            if (replies.size() >= reqs.length * 16) break;
            const r = release!;
            release = undefined;
            await new Promise((res) => setTimeout(res, 2));
            r();
          }
          const got = replies.bytes();
          const handles = new Set<bigint>();
          for (let at = 0; at < got.length; at += 16) {
            assert.equal(got.readUInt32BE(at + 4), 0, 'no error');
            handles.add(got.readBigUInt64BE(at + 8));
          }
          assert.equal(handles.size, reqs.length, 'every request answered once');
          socket.destroy();
          assert.equal(kept.length, expected.length);
          kept.forEach((k, i) => {
            assert.equal(k.offset, expected[i].offset, `write ${i} in order`);
            assert.ok(k.data.equals(expected[i].data), `write ${i} byte-exact and still intact after the later traffic`);
          });
        }), { numRuns: 25, seed: 11 });
      } finally {
        release?.();
        await other.close();
      }
      assert.equal(other.fallbackConnections, directRead ? 0 : 25);
    });
  }

  describe('with qemu-io as the client', () => {
    before(function () {
      requireHostToolsOrSkip(this, ['qemu-io', 'qemu-img']);
    });

    it('qemu-io writes patterns through our server and reads them back', async function () {
      this.timeout(30_000);
      const uri = `nbd+unix:///disk?socket=${server.path}`;
      await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x11 0 64k', '-c', 'write -P 0x22 1M 4k', '-c', 'write -z 8k 4k', '-c', 'flush', uri]);
      const expected = Buffer.alloc(4 * MiB);
      expected.fill(0x11, 0, 64 * KiB);
      expected.fill(0, 8 * KiB, 12 * KiB);
      expected.fill(0x22, MiB, MiB + 4 * KiB);
      assert.equal(sha256(exp.data), sha256(expected));
      const { stdout } = await run('qemu-io', ['-f', 'raw', '-c', 'read -P 0x22 1M 4k', '-c', 'read -P 0 8k 4k', uri]);
      assert.doesNotMatch(stdout, /Pattern verification failed/);
      assert.ok(exp.flushes >= 1, 'qemu-io flushed');
    });

    it('qemu-img map sees block status; qemu-img convert reads only the data and keeps the holes', async function () {
      this.timeout(30_000);
      const data = Buffer.alloc(256 * KiB, 0x5c);
      const reads: string[] = [];
      const asked: number[] = [];
      server.addExport('img', {
        sizeBytes: 8 * MiB,
        readOnly: true,
        read: async (offset, length) => {
          reads.push(`${offset}+${length}`);
          const out = Buffer.alloc(length);
          // The data sits at [2 MiB, 2 MiB + 256 KiB).
          const lo = Math.max(offset, 2 * MiB);
          const hi = Math.min(offset + length, 2 * MiB + data.length);
          if (hi > lo) data.copy(out, lo - offset, lo - 2 * MiB, hi - 2 * MiB);
          return out;
        },
        write: () => Promise.reject(new Error('read-only')),
        blockStatus: async (offset, length, maxExtents) => {
          asked.push(maxExtents);
          return extentsOf([{ volumeId: 'v', offset: 2 * MiB, length: data.length }], offset, length, maxExtents);
        },
      });
      const uri = `nbd+unix:///img?socket=${server.path}`;
      const map = JSON.parse((await run('qemu-img', ['map', '--output=json', '-f', 'raw', uri])).stdout) as { start: number; length: number; data: boolean; zero: boolean }[];
      assert.deepEqual(map.filter((m) => m.data).map((m) => [m.start, m.length]), [[2 * MiB, data.length]]);
      // QEMU asks with REQ_ONE: the export is asked for one extent, never for a description of the whole range.
      assert.ok(asked.length > 0 && asked.every((m) => m === 1), `asked for ${asked.join(', ')} extents`);
      const out = path.join(dir, 'out.qcow2');
      await run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', uri, out]);
      assert.ok(reads.every((r) => { const [o, l] = r.split('+').map(Number); return o >= 2 * MiB && o + l <= 2 * MiB + data.length; }), `reads stayed inside the data: ${reads.join(', ')}`);
      const expected = path.join(dir, 'expected.raw');
      const raw = Buffer.alloc(8 * MiB);
      data.copy(raw, 2 * MiB);
      await fs.writeFile(expected, raw);
      await run('qemu-img', ['compare', '-f', 'raw', '-F', 'qcow2', expected, out]);
    });

    it('qemu-img convert copies an image through our server; qemu-img compare agrees', async function () {
      this.timeout(30_000);
      const src = path.join(dir, 'src.raw');
      await run('qemu-img', ['create', '-f', 'raw', src, '4M']);
      await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x33 512k 256k', src]);
      await run('qemu-img', ['convert', '-n', '-f', 'raw', '-O', 'raw', src, `nbd+unix:///disk?socket=${server.path}`]);
      const out = path.join(dir, 'out.raw');
      await fs.writeFile(out, exp.data);
      await run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', src, out]);
    });
  });
});

/** Negotiates by hand (EXPORT_NAME, no zeroes) and returns the socket in transmission phase. */
async function rawSession(socketPath: string, name: string): Promise<net.Socket> {
  const socket = net.createConnection(socketPath);
  socket.on('error', () => undefined);
  const chunks: Buffer[] = [];
  let size = 0;
  const need = async (n: number): Promise<void> => {
    while (size < n) await new Promise<void>((r) => socket.once('data', (c: Buffer) => { chunks.push(c); size += c.length; r(); }));
  };
  await need(18);
  const hello = Buffer.concat(chunks);
  assert.ok(hello.subarray(0, 8).equals(NBD_MAGIC) && hello.readBigUInt64BE(8) === IHAVEOPT);
  const flags = Buffer.alloc(4);
  flags.writeUInt32BE(3, 0);
  socket.write(flags);
  socket.write(optionRequest(Opt.EXPORT_NAME, Buffer.from(name)));
  await need(18 + 10);
  return socket;
}

/** Everything a socket receives, for tests that parse replies by hand. */
function collect(socket: net.Socket): { size(): number; bytes(): Buffer } {
  const chunks: Buffer[] = [];
  let size = 0;
  socket.on('data', (c: Buffer) => { chunks.push(c); size += c.length; });
  return { size: () => size, bytes: () => Buffer.concat(chunks) };
}
