// File restore streamed over NBD: a 256 MiB ext4 image with a committed transaction left in its journal
// (debugfs's journal writer, as a crash leaves it) is opened through a real qemu-storage-daemon with a
// qcow2 overlay exported by FUSE. The journal is replayed into the overlay, the file reads back replayed,
// a small part of the volume crosses NBD, the image is never written, and closing leaves no mount.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { ExtVolumeReader, findDebugfs, type VolumeSource } from '@opencdp/core';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { nbdVolumeFile, sweepStaleVolumeFiles } from './nbd-volume-file.js';
import { requireToolsOrSkip } from './qemu-tools.js';
import { tempDir } from './spec-helpers.js';

const sh = (cmd: string, args: string[], input?: string): Promise<string> => new Promise((resolve, reject) => {
  const child = execFile(cmd, args, (e, stdout) => (e ? reject(e) : resolve(stdout)));
  if (input !== undefined) child.stdin!.end(input);
});

describe('file restore streamed over NBD (qemu-storage-daemon, qcow2 overlay, FUSE)', function () {
  this.timeout(60_000);
  let dir = '';

  before(async function () {
    requireToolsOrSkip(this, ['qemu-img', 'qemu-storage-daemon']);
    if (!findDebugfs() || !existsSync('/dev/fuse')) {
      if (process.env.CI === 'true') throw new Error('e2fsprogs and /dev/fuse are required in CI');
      process.stderr.write('\n!!! SKIPPING NBD FILE RESTORE: e2fsprogs or /dev/fuse missing\n\n');
      this.skip();
    }
    dir = await tempDir();
  });
  after(async () => {
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('replays the journal into a private overlay, reads a small part of the volume, never writes the image, and unmounts on close', async () => {
    const root = path.join(dir, 'root');
    await fs.mkdir(path.join(root, 'etc'), { recursive: true });
    await fs.writeFile(path.join(root, 'etc', 'a.txt'), 'old contents of the file\n');
    const big = Buffer.alloc(3 * 1024 * 1024 + 123);
    for (let i = 0; i < big.length; i += 32) createHash('sha256').update(String(i)).digest().copy(big, i);
    await fs.writeFile(path.join(root, 'big.bin'), big);
    const img = path.join(dir, 'fs.img');
    await sh('mkfs.ext4', ['-q', '-F', '-b', '4096', '-d', root, img, '256M']);
    const block = (await sh(findDebugfs()!, ['-R', 'blocks /etc/a.txt', img])).trim();
    const data = Buffer.alloc(4096);
    data.write('NEW contents after journal replay\n');
    await fs.writeFile(path.join(dir, 'blk.bin'), data);
    await sh(findDebugfs()!, ['-w', '-f', '-', img], `jo\njw -b ${block} ${path.join(dir, 'blk.bin')}\njc\n`);
    const before = createHash('sha256').update(await fs.readFile(img)).digest('hex');

    const handle = await fs.open(img, 'r');
    let bytesRead = 0;
    const size = (await handle.stat()).size;
    const source: VolumeSource = {
      sizeBytes: () => size,
      read: async (_v, offset, length) => {
        bytesRead += length;
        const buf = Buffer.alloc(length);
        await handle.read(buf, 0, length, offset);
        return buf;
      },
    };
    const restoreDir = path.join(dir, 'restore');
    await fs.mkdir(restoreDir);
    try {
      const reader = await ExtVolumeReader.open(source, 'v', { opener: nbdVolumeFile, tempDir: restoreDir });
      let mountpoint = '';
      try {
        assert.equal(reader.viewKind, 'nbd');
        assert.equal(reader.journalReplayed, true);
        const mounts = await fs.readFile('/proc/self/mounts', 'utf8');
        mountpoint = mounts.split('\n').map((l) => l.split(' ')[1]).find((m) => m?.startsWith(restoreDir)) ?? '';
        assert.ok(mountpoint, 'the view is a FUSE mount under the private folder');
        assert.equal((await reader.read('/etc/a.txt')).toString(), 'NEW contents after journa');
        assert.ok((await reader.read('/big.bin')).equals(big));
        assert.deepEqual((await reader.list('/')).map((e) => e.path), ['/big.bin', '/etc', '/lost+found']);
      } finally {
        await reader.close();
      }
      assert.ok(bytesRead < size / 10, `only what e2fsprogs touched crossed NBD (${bytesRead} of ${size} bytes)`);
      const after = await fs.readFile('/proc/self/mounts', 'utf8');
      assert.ok(!after.includes(mountpoint), 'closing unmounts the view');
      assert.deepEqual(await fs.readdir(restoreDir), [], 'closing removes the private folder');
    } finally {
      await handle.close();
    }
    assert.equal(createHash('sha256').update(await fs.readFile(img)).digest('hex'), before, 'the image is never written');
  });

  it('after its owner is killed -9, the next process sweeps the view: the daemon stopped, the mount gone, the folder removed', async () => {
    const parent = path.join(dir, 'sweep');
    await fs.mkdir(parent);
    const img = path.join(dir, 'small.img');
    await sh('mkfs.ext4', ['-q', '-F', img, '8M']);
    const module = path.join(path.dirname(fileURLToPath(import.meta.url)), 'nbd-volume-file.js');
    // A child that opens a view and is then killed without closing it (as a killed appliance would).
    const child = spawn(process.execPath, ['--input-type=module', '-e', `
      import { promises as fs } from 'node:fs';
      import { nbdVolumeFile } from ${JSON.stringify(module)};
      const data = await fs.readFile(${JSON.stringify(img)});
      const dir = await fs.mkdtemp(${JSON.stringify(path.join(parent, 'ocdp-fr-'))});
      await nbdVolumeFile({ sizeBytes: () => data.length, read: async (_v, o, l) => data.subarray(o, o + l) }, 'v', dir);
      console.log('ready ' + dir);
      setInterval(() => undefined, 1000);
    `], { stdio: ['ignore', 'pipe', 'inherit'] });
    const viewDir = await new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => {
        const m = /ready (\S+)/.exec(d.toString());
        if (m) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`the child exited with ${code}`)));
    });
    const mountpoint = path.join(viewDir, 'volume.img');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const qsd = Number(await fs.readFile(path.join(viewDir, 'qsd.pid'), 'utf8'));
    assert.ok((await fs.readFile('/proc/self/mounts', 'utf8')).includes(mountpoint), 'the killed owner left its mount');
    assert.equal(await sweepStaleVolumeFiles(parent), 1);
    assert.ok(!(await fs.readFile('/proc/self/mounts', 'utf8')).includes(mountpoint), 'the mount is gone');
    assert.throws(() => process.kill(qsd, 0), 'the daemon is gone');
    assert.deepEqual(await fs.readdir(parent), []);
  });
});
