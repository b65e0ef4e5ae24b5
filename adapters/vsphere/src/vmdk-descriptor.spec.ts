// VMDK descriptors: the extents a flat reader needs, what it refuses (sparse and delta disks), and the
// descriptor written for uploaded recovery disks — which qemu-img reads as the disk it describes.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ValidationError } from '@opencdp/core';
import { flatDescriptor, parseVmdkDescriptor } from './vmdk-descriptor.js';
import { tempDir } from './testing/spec-helpers.js';

const run = promisify(execFile);

describe('VMDK descriptors', () => {
  it('parses flat and VMFS extents with their offsets, and refuses sparse and delta disks', () => {
    const d = parseVmdkDescriptor('# Disk DescriptorFile\nversion=1\ncreateType="twoGbMaxExtentFlat"\nRW 4194304 FLAT "a-f001.vmdk" 0\nRW 2048 FLAT "a-f002.vmdk" 8\n', 'a.vmdk');
    assert.equal(d.createType, 'twoGbMaxExtentFlat');
    assert.deepEqual(d.extents.map((e) => [e.sectors, e.file, e.offset]), [[4194304, 'a-f001.vmdk', 0], [2048, 'a-f002.vmdk', 8]]);
    assert.throws(() => parseVmdkDescriptor('createType="monolithicSparse"\nRW 100 SPARSE "a.vmdk"\n', 'a.vmdk'), (e: unknown) => e instanceof ValidationError && /SPARSE/.test(e.message) && /VDDK/.test(e.message));
    assert.throws(() => parseVmdkDescriptor('parentFileNameHint="base.vmdk"\nRW 100 VMFSSPARSE "a-delta.vmdk"\n', 'a.vmdk'), (e: unknown) => e instanceof ValidationError && /delta/.test(e.message));
    assert.throws(() => parseVmdkDescriptor('# nothing\n', 'a.vmdk'), /no extents/);
  });

  it('writes a vmfs descriptor qemu-img reads as a disk of the right size and content', async function () {
    try {
      await run('qemu-img', ['--version']);
    } catch {
      if (process.env.CI === 'true') throw new Error('qemu-img is missing (qemu-utils); .ci/run installs it');
      process.stderr.write('\n  SKIPPED LOCALLY: qemu-img (qemu-utils) is not installed\n');
      this.skip();
    }
    const dir = await tempDir();
    try {
      const size = 3 * 1024 * 1024;
      const data = Buffer.alloc(size);
      for (let i = 0; i < size; i += 4096) data.writeUInt32LE(i * 7 + 1, i);
      await fs.writeFile(path.join(dir, 'disk0-flat.vmdk'), data);
      await fs.writeFile(path.join(dir, 'disk0.vmdk'), flatDescriptor({ capacityBytes: size, flatFileName: 'disk0-flat.vmdk' }));
      await fs.writeFile(path.join(dir, 'oracle.raw'), data);
      const info = JSON.parse((await run('qemu-img', ['info', '--output=json', path.join(dir, 'disk0.vmdk')])).stdout) as { 'virtual-size': number; format: string };
      assert.equal(info.format, 'vmdk');
      assert.equal(info['virtual-size'], size);
      await run('qemu-img', ['compare', '-f', 'vmdk', '-F', 'raw', path.join(dir, 'disk0.vmdk'), path.join(dir, 'oracle.raw')]);
      data.writeUInt8(0xff, size - 1);
      await fs.writeFile(path.join(dir, 'oracle.raw'), data);
      await assert.rejects(run('qemu-img', ['compare', '-f', 'vmdk', '-F', 'raw', path.join(dir, 'disk0.vmdk'), path.join(dir, 'oracle.raw')]), 'a difference is found');
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
    assert.throws(() => flatDescriptor({ capacityBytes: 1000, flatFileName: 'x' }), ValidationError);
    assert.throws(() => flatDescriptor({ capacityBytes: 512, flatFileName: '../x' }), ValidationError);
  });
});
