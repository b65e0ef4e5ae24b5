// File restore on real ext4 images built with mkfs.ext4 -d: listing, extraction, and refusal of every
// path that could leave the volume or smuggle a debugfs command; a crash-consistent image whose last
// transaction is still in the journal (written with debugfs's own journal writer) is read replayed, on a
// private view that never writes the image; XFS and a journal damaged beyond replay are refused, typed.
// Skips loudly without e2fsprogs (fails in CI).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError } from '../errors.js';
import type { VolumeSource } from '../ports/hypervisor-adapter.js';
import { createHash } from 'node:crypto';
import { UnsupportedError } from '../errors.js';
import {
  ExtVolumeReader, FileRestoreError, FileSystemDamagedError, VolumeFileUnavailableError, checkVolumePath, detectFileSystem, findDebugfs,
  openerWithFallback, sparseCopy, type PrivateVolumeFileOpener,
} from './file-restore.js';

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
    let mkfsPath = '';
    let debugfsPath = '';
    const sh = (cmd: string, args: string[], input?: string): Promise<string> => new Promise((resolve, reject) => {
      const child = execFile(cmd, args, (e, stdout) => (e ? reject(e) : resolve(stdout)));
      if (input !== undefined) child.stdin!.end(input);
    });
    before(async function () {
      const mkfs = ['/usr/sbin/mkfs.ext4', '/sbin/mkfs.ext4'].find((p) => existsSync(p));
      mkfsPath = mkfs ?? '';
      debugfsPath = findDebugfs() ?? '';
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

    it('refuses a volume without an ext file system with a typed error, and XFS saying why', async () => {
      await assert.rejects(ExtVolumeReader.open(source(Buffer.alloc(1024 * 1024, 0x5a)), 'v'), FileRestoreError);
      const xfs = Buffer.alloc(1024 * 1024);
      xfs.write('XFSB', 0, 'latin1');
      assert.equal(detectFileSystem(xfs), 'xfs');
      await assert.rejects(ExtVolumeReader.open(source(xfs), 'v'), (e: unknown) => e instanceof UnsupportedError && /XFS log needs the kernel/.test(e.message));
    });

    /** An image whose data block of /a.txt has a committed transaction in the journal only (debugfs jo/jw/jc), as a crash leaves it. */
    const dirtyImage = async (): Promise<Buffer> => {
      const root = join(dir, 'dirty-root');
      await mkdir(root, { recursive: true });
      await writeFile(join(root, 'a.txt'), 'old contents of the file\n');
      const img = join(dir, 'dirty.img');
      await rm(img, { force: true });
      await sh(mkfsPath, ['-q', '-F', '-b', '4096', '-d', root, img, '8M']);
      const block = (await sh(debugfsPath, ['-R', 'blocks /a.txt', img])).trim();
      const data = Buffer.alloc(4096);
      data.write('NEW contents after journal replay\n');
      await writeFile(join(dir, 'blk.bin'), data);
      await sh(debugfsPath, ['-w', '-f', '-', img], `jo\njw -b ${block} ${join(dir, 'blk.bin')}\njc\n`);
      return readFile(img);
    };

    it('replays the journal of a crash-consistent image on a private view before reading, and never writes the image', async () => {
      const image = await dirtyImage();
      const before = createHash('sha256').update(image).digest('hex');
      const reader = await ExtVolumeReader.open(source(image), 'v');
      try {
        assert.equal(reader.journalReplayed, true);
        assert.equal(reader.viewKind, 'copy');
        // Without the replay the file reads 'old contents…': the committed transaction lives in the journal only.
        assert.equal((await reader.read('/a.txt')).toString(), 'NEW contents after journa');
      } finally {
        await reader.close();
      }
      assert.equal(createHash('sha256').update(image).digest('hex'), before, 'the image is never written');
    });

    it('refuses a journal damaged beyond replay with FileSystemDamagedError, and cleans its view up', async () => {
      const image = await dirtyImage();
      const journalBlock = Number((await sh(debugfsPath, ['-R', 'bmap <8> 0', join(dir, 'dirty.img')])).trim());
      image.fill(0, journalBlock * 4096, journalBlock * 4096 + 4096); // the journal's superblock
      let views = 0;
      let closed = 0;
      const counting: PrivateVolumeFileOpener = async (src, v, d) => {
        views++;
        const view = await sparseCopy(src, v, d);
        return { ...view, close: async () => { closed++; await view.close(); } };
      };
      await assert.rejects(ExtVolumeReader.open(source(image), 'v', { opener: counting }), (e: unknown) => e instanceof FileSystemDamagedError && /invalid journal/i.test(e.message));
      assert.deepEqual([views, closed], [1, 1]);
    });

    it('falls back to the sparse copy once, for good, when the preferred view cannot work here', async () => {
      let tries = 0;
      const logged: string[] = [];
      const unavailable: PrivateVolumeFileOpener = async () => {
        tries++;
        throw new VolumeFileUnavailableError('no FUSE here');
      };
      const opener = openerWithFallback(unavailable, sparseCopy, (event) => logged.push(event));
      for (let i = 0; i < 2; i++) {
        const reader = await ExtVolumeReader.open(source(image), 'v', { opener });
        assert.equal((await reader.read('/docs/a.txt')).toString(), 'alpha');
        await reader.close();
      }
      assert.equal(tries, 1);
      assert.deepEqual(logged, ['file-restore-fallback']);
    });
  });
});
