import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { ImageExports, requireHostToolsOrSkip } from '@opencdp/core';
import { HISTORY_MS, imageRig, sha256, type ImageRig } from '@opencdp/core/images/testing';
import { VhdxFile } from './vhdx-file.js';
import { VhdxImageWriter } from './vhdx-image-writer.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

describe('VhdxImageWriter: checkpoint images as VHDX written in TypeScript', function () {
  this.timeout(60_000);
  let rig: ImageRig;

  before(function () {
    requireHostToolsOrSkip(this, ['qemu-img']);
  });

  beforeEach(async () => {
    rig = await imageRig(9);
    await rig.writeRandom('disk', 40);
    await rig.writeRandom('disk4k', 20, 8 * MiB);
    await rig.checkpoint();
    await rig.clock.advance(HISTORY_MS + 1);
    await rig.writeRandom('disk', 20);
    await rig.writeRandom('disk4k', 10, 8 * MiB);
    await rig.checkpoint();
    await rig.journal.trim();
  });

  afterEach(async () => {
    await rig.close();
  });

  /** 1 MiB blocks of the oracle that hold a non-zero byte: the payload blocks the file must allocate, and no others. */
  const dataBlocks = (oracle: Buffer): number[] => {
    const out: number[] = [];
    for (let b = 0; b * MiB < oracle.length; b++) if (oracle.subarray(b * MiB, (b + 1) * MiB).some((x) => x !== 0)) out.push(b);
    return out;
  };

  for (const volumeId of ['disk', 'disk4k']) {
    it(`${volumeId}: every byte equals the oracle, the payload blocks are exactly those holding data, the volume's sector size is kept`, async () => {
      const dir = path.join(rig.dir, 'exports');
      const exports = await ImageExports.open({ clock: rig.clock, journals: rig.journals, groups: rig.groups, dir, writers: [new VhdxImageWriter({ blockSize: MiB })] });
      const report = await exports.exportImage({ groupId: 'g', checkpointId: 'cp-2', vmId: 'vm-1', volumeId, format: 'vhdx' });
      assert.equal(report.engine, 'native');
      const file = path.join(dir, report.id, report.file);
      const oracle = rig.snapshots.get('cp-2')!.get(volumeId)!;
      if (volumeId === 'disk') {
        // qemu-img reads VHDX with 512-byte logical sectors only.
        await run('qemu-img', ['check', '-q', '-f', 'vhdx', file]);
        await run('qemu-img', ['compare', '-q', '-f', 'raw', '-F', 'vhdx', await rig.oracleFile('cp-2', volumeId), file]);
        await assert.rejects(run('qemu-img', ['compare', '-q', '-f', 'raw', '-F', 'vhdx', await rig.oracleFile('cp-1', volumeId), file]), 'it can tell a different checkpoint');
      }
      // Our validating reader (log replay, BAT checks) for both sector sizes.
      const vhdx = await VhdxFile.open(file);
      try {
        assert.equal(vhdx.logicalSectorSize, volumeId === 'disk4k' ? 4096 : 512, 'the volume\'s logical sector size');
        assert.equal(sha256(await vhdx.read(0, oracle.length)), sha256(oracle));
        const blocks = vhdx.allocatedRanges().flatMap((r) => Array.from({ length: r.length / MiB }, (_, i) => r.offset / MiB + i));
        assert.deepEqual(blocks, dataBlocks(oracle));
      } finally {
        await vhdx.close();
      }
    });
  }
});
