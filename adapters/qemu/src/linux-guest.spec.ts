// The test guest's parts, built from this host's Debian packages without booting anything: the initramfs
// holds busybox, the init script and the virtio/ext4 modules in dependency order; the kernel handed to
// QEMU is the bzImage's uncompressed ELF when it has a PVH entry (fast TCG boots), else the bzImage.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildGuestInitramfs, findGuestKernel, hasPvhNote, missingGuestParts, parseFileLines, prepareGuestKernel } from './linux-guest.js';
import { tempDir } from './spec-helpers.js';

const run = promisify(execFile);

describe('test guest image', function () {
  this.timeout(60_000);
  let dir = '';
  before(async function () {
    const missing = await missingGuestParts();
    if (missing.length > 0) {
      if (process.env.CI === 'true') throw new Error(`the guest cannot be built: missing ${missing.join(', ')}`);
      process.stderr.write(`\n!!! SKIPPING GUEST IMAGE TESTS: missing ${missing.join(', ')}\n\n`);
      this.skip();
    }
    dir = await tempDir();
  });
  after(async () => {
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('builds an initramfs with busybox, the init script and the modules, dependencies first', async () => {
    const initrd = await buildGuestInitramfs(dir);
    const { stdout } = await run('sh', ['-c', 'gzip -dc "$1" | cpio -t --quiet', 'sh', initrd]);
    const files = stdout.split('\n').filter(Boolean);
    for (const f of ['init', 'bin/busybox', 'modules.order', 'lib/modules/virtio_blk.ko', 'lib/modules/ext4.ko']) assert.ok(files.includes(f), `${f} is in the initramfs`);
    const order = (await run('sh', ['-c', 'gzip -dc "$1" | cpio -i --quiet --to-stdout modules.order', 'sh', initrd])).stdout.split('\n').filter(Boolean);
    for (const [dep, mod] of [['virtio', 'virtio_blk'], ['jbd2', 'ext4'], ['mbcache', 'ext4']]) {
      if (order.includes(dep)) assert.ok(order.indexOf(dep) < order.indexOf(mod), `${dep} loads before ${mod}: ${order.join(' ')}`);
    }
    assert.equal(order.at(-1), 'ext4');
  });

  it('hands QEMU the uncompressed PVH kernel when the bzImage holds one', async () => {
    const kernel = (await findGuestKernel())!;
    const boot = await prepareGuestKernel(dir, kernel);
    const elf = await fs.readFile(boot);
    if (boot === kernel.kernel) {
      assert.equal(hasPvhNote(elf), false, 'only a kernel without a PVH entry is handed over compressed');
    } else {
      assert.equal(path.dirname(boot), dir);
      assert.ok(hasPvhNote(elf), 'the extracted kernel has the PVH entry note');
    }
    assert.equal(hasPvhNote(Buffer.alloc(4096, 0x7f)), false);
  });

  it('reads the guest\'s file lines, whatever the spacing of wc', () => {
    const sha = 'a'.repeat(64);
    assert.deepEqual(parseFileLines([`fsynced f00001 ${sha} 977`, `fsynced f00002 ${sha}    1954`, 'booted', `file f00001 ${sha} 977`], 'fsynced'),
      [{ name: 'f00001', sha256: sha, size: 977 }, { name: 'f00002', sha256: sha, size: 1954 }]);
  });
});
