// VHDX judged by qemu-img: files we write pass `qemu-img check` and equal their source under `qemu-img
// compare`; files qemu-img creates and qemu-io writes read back byte for byte; damaged headers, region
// tables, metadata, BATs and logs are refused with typed errors; a crafted log replays like QEMU replays it.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { seededRandom } from '@opencdp/core';
import { qemuImg, qemuImgCheck, qemuImgEqual, qemuIo, requireQemuImgOrSkip } from '../testing/qemu-img.js';
import { sha256, tempDir } from '../spec-helpers.js';
import { encodeHeader, decodeHeader, HEADER1_OFFSET, HEADER2_OFFSET, MiB, KiB, newGuid, VhdxFormatError, VhdxLogError, VhdxUnsupportedError, REGION1_OFFSET, REGION2_OFFSET } from './vhdx-format.js';
import { encodeLogEntry } from './vhdx-log.js';
import { structureChecksum } from './crc32c.js';
import { VhdxFile } from './vhdx-file.js';
import { writeVhdx, type DiskSource } from './vhdx-writer.js';

/** A raw image with random extents (some 4 KiB, some spanning blocks) and zeros elsewhere. */
async function rawImage(file: string, size: number, seed: number, extents = 20): Promise<Buffer> {
  const r = seededRandom(seed);
  const data = Buffer.alloc(size);
  for (let i = 0; i < extents; i++) {
    const length = r.pick([4 * KiB, 64 * KiB, 1 * MiB + 4 * KiB]);
    const offset = r.int(0, (size - length) / 4096) * 4096;
    r.bytes(length).copy(data, offset);
  }
  await fs.writeFile(file, data);
  return data;
}

function bufferSource(data: Buffer, allocated?: { offset: number; length: number }[]): DiskSource & { reads: number } {
  const s = {
    sizeBytes: data.length,
    reads: 0,
    async read(offset: number, length: number): Promise<Buffer> {
      s.reads++;
      return Buffer.from(data.subarray(offset, offset + length));
    },
    ...(allocated ? { allocated: async () => allocated } : {}),
  };
  return s;
}

describe('VHDX (checked by qemu-img)', function () {
  this.timeout(60_000);
  let dir: string;
  let cleanup: () => Promise<void>;

  before(function () {
    requireQemuImgOrSkip(this);
  });
  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
  });
  afterEach(async () => {
    await cleanup();
  });

  describe('writeVhdx', () => {
    for (const [label, opts] of [
      ['32 MiB blocks, 512-byte sectors', { blockSize: 32 * MiB, logicalSectorSize: 512 }],
      ['1 MiB blocks, 512-byte sectors', { blockSize: 1 * MiB, logicalSectorSize: 512 }],
    ] as const) {
      it(`writes a dynamic disk (${label}) that passes qemu-img check and equals its source`, async () => {
        const raw = path.join(dir, 'src.raw');
        const size = 40 * MiB + 8 * KiB; // not a whole number of blocks
        const data = await rawImage(raw, size, 7);
        const out = path.join(dir, 'out.vhdx');
        const result = await writeVhdx(out, bufferSource(data), opts);
        await qemuImgCheck(out);
        assert.equal(await qemuImgEqual(raw, 'raw', out, 'vhdx'), true, 'qemu-img compare: the VHDX equals the raw source');
        const info = JSON.parse(await qemuImg(['info', '--output=json', out])) as { 'virtual-size': number; format: string };
        assert.equal(info.format, 'vhdx');
        assert.equal(info['virtual-size'], size);
        assert.ok(result.allocatedBlocks < Math.ceil(size / opts.blockSize) || opts.blockSize === 32 * MiB, 'zero blocks were not allocated');
        // Our own reader agrees too.
        const f = await VhdxFile.open(out);
        try {
          assert.equal(sha256(await f.read(0, size)), sha256(data));
          assert.equal(f.logicalSectorSize, opts.logicalSectorSize);
        } finally {
          await f.close();
        }
        assert.equal((await fs.stat(out)).mode & 0o777, 0o600, 'a recovered disk is private to its owner');
      });
    }

    it('4096-byte logical sectors round-trip through our reader (qemu-img refuses 4 KiB-sector VHDX: "Operation not supported")', async () => {
      const data = Buffer.alloc(6 * MiB);
      seededRandom(9).bytes(12 * KiB).copy(data, 3 * MiB + 4096);
      const out = path.join(dir, 'four-k.vhdx');
      await writeVhdx(out, bufferSource(data), { blockSize: MiB, logicalSectorSize: 4096, physicalSectorSize: 4096 });
      const f = await VhdxFile.open(out, { writable: true });
      try {
        assert.equal(f.logicalSectorSize, 4096);
        assert.equal(sha256(await f.read(0, data.length)), sha256(data));
        await assert.rejects(f.write(512, Buffer.alloc(512)), /not aligned to the 4096-byte logical sector/);
      } finally {
        await f.close();
      }
    });

    it('does not allocate all-zero blocks nor read outside the allocated ranges, and a mismatching change shows in qemu-img compare', async () => {
      const size = 16 * MiB;
      const data = Buffer.alloc(size);
      seededRandom(3).bytes(8 * KiB).copy(data, 5 * MiB);
      const src = bufferSource(data, [{ offset: 5 * MiB, length: 8 * KiB }]);
      const out = path.join(dir, 'sparse.vhdx');
      const result = await writeVhdx(out, src, { blockSize: 1 * MiB });
      assert.equal(result.allocatedBlocks, 1);
      assert.equal(src.reads, 1, 'only the allocated block was read');
      const raw = path.join(dir, 'sparse.raw');
      await fs.writeFile(raw, data);
      await qemuImgCheck(out);
      assert.equal(await qemuImgEqual(raw, 'raw', out, 'vhdx'), true);
      data[5 * MiB + 100] ^= 1;
      await fs.writeFile(raw, data);
      assert.equal(await qemuImgEqual(raw, 'raw', out, 'vhdx'), false, 'the comparison can fail');
    });

    it('a source that fails mid-way leaves no file behind', async () => {
      const out = path.join(dir, 'fail.vhdx');
      const failing: DiskSource = { sizeBytes: 8 * MiB, read: async (offset) => { if (offset >= 4 * MiB) throw new Error('journal read failed'); return Buffer.alloc(MiB, 1); } };
      await assert.rejects(writeVhdx(out, failing, { blockSize: MiB }), /journal read failed/);
      assert.deepEqual(await fs.readdir(dir), []);
    });

    it('refuses a geometry VHDX cannot hold', async () => {
      await assert.rejects(writeVhdx(path.join(dir, 'x.vhdx'), bufferSource(Buffer.alloc(1000))), /multiple of the 512-byte logical sector/);
      await assert.rejects(writeVhdx(path.join(dir, 'y.vhdx'), bufferSource(Buffer.alloc(MiB)), { blockSize: 3 * MiB }), /power of two/);
      assert.deepEqual(await fs.readdir(dir), []);
    });
  });

  describe('VhdxFile', () => {
    it('reads what qemu-io wrote into a disk qemu-img created, and lists its allocated blocks', async () => {
      const file = path.join(dir, 'q.vhdx');
      await qemuImg(['create', '-q', '-f', 'vhdx', '-o', 'block_size=1M', file, '24M']);
      await qemuIo(file, 'vhdx', ['write -P 0xab 1M 64k', 'write -P 0x5c 7340032 4096', 'write -P 0x11 20M 1M']);
      const reference = path.join(dir, 'q.raw');
      await qemuImg(['convert', '-f', 'vhdx', '-O', 'raw', file, reference]);
      const f = await VhdxFile.open(file);
      try {
        assert.equal(f.virtualSize, 24 * MiB);
        assert.equal(f.blockSize, MiB);
        assert.equal(sha256(await f.read(0, f.virtualSize)), sha256(await fs.readFile(reference)));
        assert.deepEqual((await f.read(7340032, 4096)), Buffer.alloc(4096, 0x5c));
        assert.deepEqual(f.allocatedRanges(), [{ offset: MiB, length: MiB }, { offset: 7 * MiB, length: MiB }, { offset: 20 * MiB, length: MiB }]);
        await assert.rejects(f.read(24 * MiB - 512, 1024), RangeError);
      } finally {
        await f.close();
      }
    });

    it('writes in place into an existing disk (new blocks and allocated ones); qemu-img check passes and the content matches an oracle', async () => {
      const size = 12 * MiB;
      const oracle = Buffer.alloc(size);
      const file = path.join(dir, 'w.vhdx');
      await qemuImg(['create', '-q', '-f', 'vhdx', '-o', 'block_size=1M', file, String(size)]);
      await qemuIo(file, 'vhdx', ['write -P 0x77 2M 8k']);
      oracle.fill(0x77, 2 * MiB, 2 * MiB + 8 * KiB);
      const r = seededRandom(11);
      const f = await VhdxFile.open(file, { writable: true });
      for (let i = 0; i < 40; i++) {
        const len = r.int(1, 16) * 512;
        const off = r.int(0, (size - len) / 512) * 512;
        const data = r.bytes(len);
        await f.write(off, data);
        data.copy(oracle, off);
      }
      await f.write(2 * MiB, Buffer.alloc(512)); // zeros into an allocated block are written
      oracle.fill(0, 2 * MiB, 2 * MiB + 512);
      await f.close();
      const raw = path.join(dir, 'w.raw');
      await fs.writeFile(raw, oracle);
      await qemuImgCheck(file);
      assert.equal(await qemuImgEqual(raw, 'raw', file, 'vhdx'), true);
      const again = await VhdxFile.open(file);
      try {
        assert.equal(sha256(await again.read(0, size)), sha256(oracle));
      } finally {
        await again.close();
      }
    });

    describe('bad files are refused with typed errors', () => {
      async function sample(): Promise<string> {
        const file = path.join(dir, 's.vhdx');
        await qemuImg(['create', '-q', '-f', 'vhdx', '-o', 'block_size=1M', file, '8M']);
        await qemuIo(file, 'vhdx', ['write -P 0x42 0 4k']);
        return file;
      }
      async function patch(file: string, at: number, bytes: Buffer): Promise<void> {
        const fh = await fs.open(file, 'r+');
        await fh.write(bytes, 0, bytes.length, at);
        await fh.close();
      }
      async function expect(file: string, type: new (...a: never[]) => Error, re: RegExp): Promise<void> {
        await assert.rejects(VhdxFile.open(file), (e: unknown) => {
          assert.ok(e instanceof type, `expected ${type.name}, got ${(e as Error).constructor.name}: ${(e as Error).message}`);
          assert.match((e as Error).message, re);
          return true;
        });
      }

      it('not a VHDX at all', async () => {
        const file = path.join(dir, 'raw.vhdx');
        await fs.writeFile(file, Buffer.alloc(MiB, 7));
        await expect(file, VhdxFormatError, /file identifier/);
      });

      it('one damaged header falls back to the other; both damaged is an error', async () => {
        const file = await sample();
        await patch(file, HEADER1_OFFSET + 100, Buffer.from('xx'));
        const f = await VhdxFile.open(file);
        assert.deepEqual(await f.read(0, 4096), Buffer.alloc(4096, 0x42), 'the other header still opens the disk');
        await f.close();
        await patch(file, HEADER2_OFFSET + 100, Buffer.from('xx'));
        await expect(file, VhdxFormatError, /neither header/);
      });

      it('damaged region tables, a missing metadata item, a bad BAT entry, a truncated file', async () => {
        let file = await sample();
        await patch(file, REGION1_OFFSET + 20, Buffer.from('zz'));
        await patch(file, REGION2_OFFSET + 20, Buffer.from('zz'));
        await expect(file, VhdxFormatError, /region table/);
        await fs.rm(file);
        file = await sample();
        const regions = (await fs.readFile(file)).subarray(REGION1_OFFSET, REGION1_OFFSET + 64 * KiB);
        const metaOffset = Number(regions.readBigUInt64LE(16 + 32 + 16));
        await patch(file, metaOffset + 32, Buffer.alloc(32)); // the first entry (File Parameters) wiped
        await expect(file, VhdxFormatError, /required item File Parameters is missing/);
        await fs.rm(file);
        file = await sample();
        const batOffset = Number(regions.readBigUInt64LE(16 + 16));
        await patch(file, batOffset, Buffer.from([0x04, 0, 0, 0, 0, 0, 0, 0])); // state 4 is undefined
        await expect(file, VhdxFormatError, /undefined state 4/);
        await fs.rm(file);
        file = await sample();
        await fs.truncate(file, 200 * KiB);
        await expect(file, VhdxFormatError, /ends at|lies outside the file/);
      });

      it('a differencing disk without its parent is refused (qemu cannot make one; the flag is set by hand)', async () => {
        const file = await sample();
        const regions = (await fs.readFile(file)).subarray(REGION1_OFFSET, REGION1_OFFSET + 64 * KiB);
        const metaOffset = Number(regions.readBigUInt64LE(16 + 32 + 16));
        const table = (await fs.readFile(file)).subarray(metaOffset, metaOffset + 64 * KiB);
        const entries = table.readUInt16LE(10);
        for (let i = 0; i < entries; i++) {
          if (table.readUInt32LE(32 + i * 32) === 0xcaa16737) { // File Parameters
            const at = metaOffset + table.readUInt32LE(32 + i * 32 + 16);
            await patch(file, at + 4, Buffer.from([2, 0, 0, 0])); // HasParent
          }
        }
        await expect(file, VhdxFormatError, /differencing disk without a parent locator/);
      });
    });

    describe('the log', () => {
      /** A disk with a dirty log whose one entry rewrites the first 4 KiB of block 0's data (as a torn metadata update would). */
      async function dirty(torn = false): Promise<{ file: string; expected: Buffer }> {
        const file = path.join(dir, 'l.vhdx');
        await qemuImg(['create', '-q', '-f', 'vhdx', '-o', 'block_size=1M', file, '8M']);
        await qemuIo(file, 'vhdx', ['write -P 0x42 0 1M']);
        const buf = await fs.readFile(file);
        const regions = buf.subarray(REGION1_OFFSET, REGION1_OFFSET + 64 * KiB);
        const batOffset = Number(regions.readBigUInt64LE(16 + 16));
        const blockOffset = (buf.readUInt32LE(batOffset + 4) * 4096 + (buf.readUInt32LE(batOffset) >>> 20)) * MiB;
        const h1 = decodeHeader(buf.subarray(HEADER1_OFFSET, HEADER1_OFFSET + 4096))!;
        const h2 = decodeHeader(buf.subarray(HEADER2_OFFSET, HEADER2_OFFSET + 4096))!;
        const current = h1.sequenceNumber > h2.sequenceNumber ? h1 : h2;
        const logGuid = newGuid();
        const sector = seededRandom(5).bytes(4096);
        const entry = encodeLogEntry({ seq: 10n, logGuid, tail: 0, lastFileOffset: buf.length, writes: [{ fileOffset: blockOffset, data: sector }] });
        if (torn) {
          // The data sector's sequence low word no longer matches its entry, under a valid checksum.
          entry.writeUInt32LE(0xdeadbeef, entry.length - 4);
          entry.writeUInt32LE(structureChecksum(entry, 4), 4);
        }
        const fh = await fs.open(file, 'r+');
        await fh.write(entry, 0, entry.length, current.logOffset);
        await fh.write(encodeHeader({ ...current, sequenceNumber: current.sequenceNumber + 1n, logGuid }), 0, 4096, HEADER1_OFFSET);
        await fh.write(encodeHeader({ ...current, sequenceNumber: current.sequenceNumber + 2n, logGuid }), 0, 4096, HEADER2_OFFSET);
        await fh.close();
        const expected = Buffer.alloc(MiB, 0x42);
        sector.copy(expected, 0);
        return { file, expected };
      }

      it('a dirty log is replayed in memory for reading (the file is not changed), the way qemu-img check -r all replays it', async () => {
        const { file, expected } = await dirty();
        const before = sha256(await fs.readFile(file));
        const f = await VhdxFile.open(file);
        assert.equal(sha256(await f.read(0, MiB)), sha256(expected), 'our read shows the replayed sector');
        await f.close();
        assert.equal(sha256(await fs.readFile(file)), before, 'a read-only open does not touch the file');
        await qemuImg(['check', '-r', 'all', '-f', 'vhdx', file]).catch(() => '');
        const raw = path.join(dir, 'l.raw');
        await qemuImg(['convert', '-f', 'vhdx', '-O', 'raw', file, raw]);
        assert.equal(sha256((await fs.readFile(raw)).subarray(0, MiB)), sha256(expected), 'QEMU replays the crafted entry to the same bytes');
      });

      it('a writable open replays the log into the file and clears it; qemu-img check then passes', async () => {
        const { file, expected } = await dirty();
        const f = await VhdxFile.open(file, { writable: true });
        await f.close();
        await qemuImgCheck(file);
        const g = await VhdxFile.open(file);
        assert.equal(sha256(await g.read(0, MiB)), sha256(expected));
        await g.close();
      });

      it('a torn log entry is refused with VhdxLogError', async () => {
        const { file } = await dirty(true);
        await expect(file, VhdxLogError, /data sector of descriptor 0 in entry 10 is torn/);

        async function expect(f: string, type: typeof VhdxLogError, re: RegExp): Promise<void> {
          await assert.rejects(VhdxFile.open(f), (e: unknown) => e instanceof type && re.test((e as Error).message));
        }
      });
    });

    it('VhdxUnsupportedError for a required region this implementation does not know', async () => {
      const file = path.join(dir, 'u.vhdx');
      await qemuImg(['create', '-q', '-f', 'vhdx', file, '8M']);
      const buf = await fs.readFile(file);
      const table = Buffer.from(buf.subarray(REGION1_OFFSET, REGION1_OFFSET + 64 * KiB));
      const { decodeRegionTable, encodeRegionTable } = await import('./vhdx-format.js');
      const entries = decodeRegionTable(table)!;
      const patched = encodeRegionTable([...entries, { guid: newGuid(), fileOffset: 0x400000, length: MiB, required: true }]);
      const fh = await fs.open(file, 'r+');
      await fh.write(patched, 0, patched.length, REGION1_OFFSET);
      await fh.write(patched, 0, patched.length, REGION2_OFFSET);
      await fh.close();
      await assert.rejects(VhdxFile.open(file), VhdxUnsupportedError);
    });
  });
});
