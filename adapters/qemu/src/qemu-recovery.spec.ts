import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { VolumeSource } from '@opencdp/core';
import { NbdClient, NbdRequestError, NbdServer, volumeExport } from '@opencdp/core/nbd';
import { QemuProcessError } from './qemu-errors.js';
import { addScratchDisk, imagesEqual, promoteToFile, removeScratchDisk } from './qemu-recovery.js';
import { requireToolsOrSkip } from './qemu-tools.js';
import { StorageDaemon } from './storage-daemon.js';
import { run, sha256, tempDir } from './spec-helpers.js';

const MiB = 1024 * 1024;

/** A point-in-time image stand-in: fixed bytes per volume, counting reads. */
function bufferSource(volumes: Record<string, Buffer>): VolumeSource & { reads: number } {
  const s = {
    reads: 0,
    sizeBytes: (id: string) => volumes[id].length,
    read: async (id: string, offset: number, length: number) => { s.reads++; return Buffer.from(volumes[id].subarray(offset, offset + length)); },
  };
  return s;
}

describe('QEMU recovery building blocks', function () {
  this.timeout(60_000);
  let dir: string;
  let server: NbdServer;
  let image: Buffer;
  let oracleFile: string;

  before(function () {
    requireToolsOrSkip(this);
  });

  beforeEach(async () => {
    dir = await tempDir();
    server = new NbdServer({ path: path.join(dir, 'recovery.sock') });
    await server.listen();
    image = Buffer.alloc(4 * MiB);
    for (let i = 0; i < 40; i++) image.fill(i + 1, i * 97 * 1024, i * 97 * 1024 + 8192);
    oracleFile = path.join(dir, 'oracle.raw');
    await fs.writeFile(oracleFile, image);
    server.addExport('pit/vol0', volumeExport(bufferSource({ vol0: image }), 'vol0'));
  });

  afterEach(async () => {
    await server.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('serves a point-in-time image read-only over NBD: exact reads, writes refused with EPERM', async () => {
    const c = await NbdClient.connect({ path: server.path, exportName: 'pit/vol0' });
    assert.equal(c.readOnly, true);
    assert.equal(sha256(await c.read(0, 4 * MiB)), sha256(image));
    await assert.rejects(c.write(0, Buffer.alloc(512)), (e: unknown) => e instanceof NbdRequestError && e.errno === 1);
    await c.close();
  });

  for (const format of ['qcow2', 'raw'] as const) {
    it(`promotes the image into a ${format} file; qemu-img compare agrees with the oracle, and tells a difference`, async () => {
      const target = path.join(dir, `promoted.${format}`);
      await promoteToFile(server, 'pit/vol0', target, format);
      if (format === 'qcow2') await run('qemu-img', ['check', '-q', target]);
      assert.equal(await imagesEqual({ file: target, format }, { file: oracleFile, format: 'raw' }), true);
      await run('qemu-io', ['-f', format, '-c', 'write -P 0xee 1M 4k', target]);
      assert.equal(await imagesEqual({ file: target, format }, { file: oracleFile, format: 'raw' }), false);
    });
  }

  it('promotion into an unwritable place fails with a typed error', async () => {
    const ro = path.join(dir, 'ro');
    await fs.mkdir(ro);
    await fs.writeFile(path.join(ro, 'exists'), 'x');
    // Root ignores permission bits: a path under a regular file cannot be created by anyone.
    await assert.rejects(promoteToFile(server, 'pit/vol0', path.join(ro, 'exists', 'promoted.qcow2'), 'qcow2'), QemuProcessError);
  });

  it('a failover-test disk reads through the image and keeps its own writes in a qcow2 scratch overlay; dropping it leaves the image untouched', async () => {
    const daemon = await StorageDaemon.start({ dir: path.join(dir, 'qsd'), name: 'recovery-host' });
    try {
      await addScratchDisk(daemon, { node: 'test0', server, exportName: 'pit/vol0', scratchFile: path.join(dir, 'scratch.qcow2'), sizeBytes: 4 * MiB });
      const c = await NbdClient.connect({ path: daemon.nbdPath, exportName: 'test0' });
      assert.equal(sha256(await c.read(0, 4 * MiB)), sha256(image), 'the test disk starts as the image');
      await c.write(2 * MiB, Buffer.alloc(64 * 1024, 0x99));
      const expected = Buffer.from(image);
      expected.fill(0x99, 2 * MiB, 2 * MiB + 64 * 1024);
      assert.equal(sha256(await c.read(0, 4 * MiB)), sha256(expected), 'the test VM sees its own write');
      await c.close();
      await removeScratchDisk(daemon, 'test0');
      const check = await NbdClient.connect({ path: server.path, exportName: 'pit/vol0' });
      assert.equal(sha256(await check.read(0, 4 * MiB)), sha256(image), 'the image is unchanged');
      await check.close();
    } finally {
      await daemon.kill();
    }
  });
});
