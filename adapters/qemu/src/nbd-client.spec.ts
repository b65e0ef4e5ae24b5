import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { NbdClient, NbdNegotiationError, NbdRequestError } from '@opencdp/core/nbd';
import { requireToolsOrSkip } from './qemu-tools.js';
import { StorageDaemon } from './storage-daemon.js';
import { run, sha256, tempDir } from './spec-helpers.js';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('NbdClient against QEMU\'s NBD server', function () {
  this.timeout(30_000);
  let dir: string;
  let daemon: StorageDaemon;
  let img: string;

  before(function () {
    requireToolsOrSkip(this, ['qemu-storage-daemon', 'qemu-io']);
  });

  beforeEach(async () => {
    dir = await tempDir();
    img = path.join(dir, 'disk.raw');
    await run('qemu-img', ['create', '-f', 'raw', img, '4M']);
    await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x61 1M 192k', img]);
    daemon = await StorageDaemon.start({ dir, name: 'nbd-client-test' });
    await daemon.qmp.execute('blockdev-add', { driver: 'file', 'node-name': 'disk', filename: img });
    await daemon.qmp.execute('block-export-add', { type: 'nbd', id: 'disk', 'node-name': 'disk', name: 'disk', writable: true });
  });

  afterEach(async () => {
    await daemon.kill();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('reads holes and data through structured replies, byte-exact against the image file', async () => {
    const c = await NbdClient.connect({ path: daemon.nbdPath, exportName: 'disk' });
    assert.equal(c.structured, true);
    assert.equal(c.sizeBytes, 4 * MiB);
    const got = await c.read(0, 4 * MiB);
    assert.equal(sha256(got), sha256(await fs.readFile(img)));
    await c.close();
  });

  it('writes in parallel with many requests in flight; flush; qemu-io sees the pattern', async () => {
    const c = await NbdClient.connect({ path: daemon.nbdPath, exportName: 'disk' });
    await Promise.all(Array.from({ length: 32 }, (_, i) => c.write(i * 64 * KiB, Buffer.alloc(64 * KiB, 0x10 + i))));
    await c.writeZeroes(0, 64 * KiB);
    await c.flush();
    await c.close();
    const { stdout } = await run('qemu-io', ['-f', 'raw', '-r', '-c', 'read -P 0x11 64k 64k', '-c', 'read -P 0 0 64k', '-c', 'read -P 0x2f 1984k 64k', `nbd+unix:///disk?socket=${daemon.nbdPath}`]);
    assert.doesNotMatch(stdout, /verification failed/);
  });

  it('block status through base:allocation marks the written area as data', async () => {
    const c = await NbdClient.connect({ path: daemon.nbdPath, exportName: 'disk', metaContexts: ['base:allocation'] });
    const extents = await c.blockStatus('base:allocation', 0, 4 * MiB);
    assert.equal(extents.reduce((n, e) => n + e.length, 0), 4 * MiB, 'the extents cover the export');
    const data = extents.filter((e) => (e.flags & 1) === 0);
    assert.ok(data.some((e) => e.offset <= 1 * MiB && e.offset + e.length >= 1 * MiB + 192 * KiB), `written range reported as data: ${JSON.stringify(extents)}`);
    await c.close();
  });

  it('typed errors: unknown export, unknown metadata context, a read past the end', async () => {
    await assert.rejects(NbdClient.connect({ path: daemon.nbdPath, exportName: 'nope' }), NbdNegotiationError);
    await assert.rejects(NbdClient.connect({ path: daemon.nbdPath, exportName: 'disk', metaContexts: ['qemu:dirty-bitmap:none'] }), NbdNegotiationError);
    const c = await NbdClient.connect({ path: daemon.nbdPath, exportName: 'disk' });
    await assert.rejects(c.read(4 * MiB - 512, 1024), (e: unknown) => e instanceof NbdRequestError && e.errno === 22);
    assert.equal((await c.read(0, 512)).length, 512, 'the connection survives a refused request');
    await c.close();
  });
});
