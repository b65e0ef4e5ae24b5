// File restore on a real ext4 image built with mkfs.ext4 -d: listing, extraction, and refusal of every
// path that could leave the volume or smuggle a debugfs command. Skips loudly without e2fsprogs (fails in CI).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError } from '../errors.js';
import type { VolumeSource } from '../ports/hypervisor-adapter.js';
import { ExtVolumeReader, FileRestoreError, checkVolumePath, findDebugfs } from './file-restore.js';

function source(bytes: Buffer): VolumeSource {
  return { sizeBytes: () => bytes.length, read: async (_v, offset, length) => bytes.subarray(offset, offset + length) };
}

describe('file restore', () => {
  it('normalises good paths and refuses escaping or command-smuggling ones', () => {
    assert.equal(checkVolumePath('/'), '/');
    assert.equal(checkVolumePath('//etc//hosts/'), '/etc/hosts');
    for (const bad of ['', 'etc', '/..', '/a/../b', '/a/./b', '/a"b', '/a\nb', '/a\\b', 7]) {
      assert.throws(() => checkVolumePath(bad), ValidationError, JSON.stringify(bad));
    }
  });

  describe('on an ext4 image', function () {
    let dir = '';
    let image: Buffer;
    before(async function () {
      const mkfs = ['/usr/sbin/mkfs.ext4', '/sbin/mkfs.ext4'].find((p) => existsSync(p));
      if (!mkfs || !findDebugfs()) {
        if (process.env.CI === 'true') throw new Error('e2fsprogs (mkfs.ext4, debugfs) is required in CI');
        process.stderr.write('file restore: SKIPPED — e2fsprogs is not installed\n');
        this.skip();
      }
      dir = await mkdtemp(join(tmpdir(), 'opencdp-fr-'));
      await mkdir(join(dir, 'root/docs'), { recursive: true });
      await writeFile(join(dir, 'root/docs/a.txt'), 'alpha');
      await writeFile(join(dir, 'root/big.bin'), Buffer.alloc(300_000, 7));
      await symlink('/etc/passwd', join(dir, 'root/docs/escape'));
      await new Promise<void>((resolve, reject) => execFile(mkfs!, ['-q', '-F', '-b', '4096', '-d', join(dir, 'root'), join(dir, 'fs.img'), '4M'], (e) => (e ? reject(e) : resolve())));
      image = await readFile(join(dir, 'fs.img'));
    });
    after(async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('lists and extracts; refuses symlinks, directories and missing files', async () => {
      const reader = await ExtVolumeReader.open(source(image), 'v');
      try {
        assert.deepEqual((await reader.list('/docs')).map((e) => [e.path, e.type, e.sizeBytes]), [['/docs/a.txt', 'file', 5], ['/docs/escape', 'symlink', 11]]);
        assert.equal((await reader.read('/docs/a.txt')).toString(), 'alpha');
        assert.ok((await reader.read('/big.bin')).equals(Buffer.alloc(300_000, 7)));
        await assert.rejects(reader.read('/docs/escape'), ValidationError);
        await assert.rejects(reader.read('/docs'), ValidationError);
        await assert.rejects(reader.read('/nope'), /does not exist/);
        await assert.rejects(reader.list('/docs/a.txt'), /not a directory/);
        await assert.rejects(reader.list('/../..'), ValidationError);
      } finally {
        await reader.close();
      }
    });

    it('refuses a volume without an ext file system with a typed error', async () => {
      await assert.rejects(ExtVolumeReader.open(source(Buffer.alloc(1024 * 1024, 0x5a)), 'v'), FileRestoreError);
    });
  });
});
