import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { CheckpointNotFoundError, CheckpointTrimmedError, NotFoundError, UnknownVolumeError, ValidationError } from '../errors.js';
import { requireHostToolsOrSkip } from '../host-tools.js';
import type { ImageFormat } from './image-api.js';
import { ImageExports } from './image-exports.js';
import { checkFormatFits, IMAGE_FORMATS, ImageFormatError } from './image-formats.js';
import { bridgeGaps, ExportDiskFullError, ImageExportError, RawWriter } from './image-writers.js';
import { deferred, gatedJournals, HISTORY_MS, imageRig, sha256, type ImageRig } from './testing/image-rig.js';

const run = promisify(execFile);
const KiB = 1024;
const MiB = 1024 * KiB;

/** qemu-img's name for each exported format (what `compare -F` and `check -f` take). */
const QEMU_NAME: Record<ImageFormat, string> = { raw: 'raw', qcow2: 'qcow2', 'vmdk-flat': 'vmdk', 'vmdk-stream': 'vmdk', vhdx: 'vhdx' };

describe('Checkpoint images exported as files', function () {
  this.timeout(120_000);
  let rig: ImageRig;
  let exportDir: string;
  let exports: ImageExports;
  let ids: number;

  before(function () {
    requireHostToolsOrSkip(this, ['qemu-img']);
  });

  beforeEach(async () => {
    rig = await imageRig();
    // About 2 MiB of data in the first 4 MiB and the last MiB of a 64 MiB volume; some of it promoted into the replica.
    await rig.writeRandom('disk', 40);
    await rig.writeRandom('disk4k', 10);
    await rig.checkpoint();
    await rig.clock.advance(HISTORY_MS / 2);
    await rig.writeRandom('disk', 40);
    await rig.checkpoint();
    await rig.clock.advance(HISTORY_MS / 2 + 1);
    await rig.journal.trim();
    assert.equal(rig.journal.checkpoints()[0].id, 'cp-2', 'cp-1 was trimmed: cp-2\'s image is replica plus journal');
    await rig.writeRandom('disk', 30);
    await rig.writeRandom('disk4k', 10);
    await rig.checkpoint();
    await rig.writeRandom('disk', 10);
    await rig.checkpoint();
    exportDir = path.join(rig.dir, 'exports');
    ids = 0;
    exports = await ImageExports.open({ clock: rig.clock, journals: rig.journals, groups: rig.groups, dir: exportDir, newId: () => `exp-${++ids}` });
  });

  afterEach(async () => {
    await rig.close();
  });

  const target = { groupId: 'g', vmId: 'vm-1', volumeId: 'disk' };

  for (const format of Object.keys(IMAGE_FORMATS) as ImageFormat[]) {
    it(`${format}: passes qemu-img check where the format has one, equals the oracle under qemu-img compare, hashes match, holes stay holes`, async () => {
      const steps: number[] = [];
      const report = await exports.exportImage({ ...target, checkpointId: 'cp-3', format, name: 'web-disk' }, (p) => steps.push(p));
      assert.deepEqual(steps.slice().sort((a, b) => a - b), steps, 'progress never goes back');
      assert.equal(steps.at(-1), 100);
      assert.equal(report.engine, 'qemu-img');
      const folder = path.join(exportDir, report.id);
      const file = path.join(folder, report.file);
      assert.equal(report.file, `web-disk${IMAGE_FORMATS[format].extension}`);
      assert.equal(report.sha256, sha256(await fs.readFile(file)), 'the report\'s SHA-256 is the file\'s');
      for (const f of report.files) assert.equal(f.sha256, sha256(await fs.readFile(path.join(folder, f.name))));
      assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
      assert.equal((await fs.stat(folder)).mode & 0o777, 0o700);
      if (format !== 'raw') await run('qemu-img', ['check', '-q', '-f', QEMU_NAME[format], file]);
      const oracle = await rig.oracleFile('cp-3', 'disk');
      await run('qemu-img', ['compare', '-q', '-f', 'raw', '-F', QEMU_NAME[format], oracle, file]);
      // The comparison can fail: the next checkpoint differs.
      await assert.rejects(run('qemu-img', ['compare', '-q', '-f', 'raw', '-F', QEMU_NAME[format], await rig.oracleFile('cp-4', 'disk'), file]));
      // 64 MiB volume, about 3 MiB of data: the files hold little more than the data.
      assert.ok(report.dataBytes < 8 * MiB, `allocation ${report.dataBytes}`);
      assert.ok(report.bytesWritten < report.dataBytes + 4 * MiB, `${report.bytesWritten} bytes on disk for ${report.dataBytes} of data (format ${format})`);
      assert.equal(report.bytesWritten, report.files.reduce((n, f) => n + f.allocatedBytes, 0));
      if (format === 'raw') assert.equal(report.files[0].sizeBytes, 64 * MiB, 'a raw export is as long as the volume, and sparse');
      if (format === 'vmdk-flat') {
        assert.deepEqual(report.files.map((f) => f.name), ['web-disk-flat.vmdk', 'web-disk.vmdk']);
        assert.equal(report.files[0].sha256, sha256(rig.snapshots.get('cp-3')!.get('disk')!), 'the flat extent is the volume\'s bytes');
      }
    });
  }

  it('bridgeGaps fills only the gaps shorter than the bridge, keeping order and the regions themselves', () => {
    const r = (offset: number, length: number): { volumeId: string; offset: number; length: number } => ({ volumeId: 'disk', offset, length });
    assert.deepEqual(bridgeGaps([r(0, 4096), r(8192, 4096), r(MiB + 12288, 4096), r(MiB + 20480, 4096)], MiB), [r(0, 12288), r(MiB + 12288, 12288)]);
    assert.deepEqual(bridgeGaps([r(0, 4096), r(4096 + MiB, 4096)], MiB), [r(0, 4096), r(4096 + MiB, 4096)], 'a gap of exactly the bridge stays a hole');
    assert.deepEqual(bridgeGaps([], MiB), []);
  });

  it('the raw writer in TypeScript (where qemu-img is missing) writes the same bytes, sparse', async () => {
    const native = await ImageExports.open({ clock: rig.clock, journals: rig.journals, groups: rig.groups, dir: path.join(rig.dir, 'native'), writers: [new RawWriter()] });
    const report = await native.exportImage({ ...target, checkpointId: 'cp-2', format: 'raw' });
    assert.equal(report.engine, 'native');
    assert.equal(report.sha256, sha256(rig.snapshots.get('cp-2')!.get('disk')!));
    assert.ok(report.bytesWritten < 8 * MiB, `${report.bytesWritten} bytes on disk`);
    await assert.rejects(native.exportImage({ ...target, checkpointId: 'cp-2', format: 'qcow2' }), ImageFormatError);
  });

  it('a checkpoint trimmed while an export runs: the export finishes from its held view, never mixing points in time', async () => {
    const gate = deferred();
    const { journals, reading } = gatedJournals(rig, gate.promise);
    const held = await ImageExports.open({ clock: rig.clock, journals, groups: rig.groups, dir: exportDir, newId: () => 'held' });
    const running = held.exportImage({ ...target, checkpointId: 'cp-2', format: 'qcow2' });
    await reading;
    // Replication goes on: cp-2's blocks are overwritten, later checkpoints cut, and history passes cp-2.
    const before = rig.snapshots.get('cp-2')!.get('disk')!;
    await rig.write('disk', 0, Buffer.alloc(4 * MiB, 0xee));
    const cp5 = await rig.checkpoint();
    await rig.clock.advance(2 * HISTORY_MS);
    await rig.journal.trim();
    assert.equal(rig.journal.checkpoints()[0].id, 'cp-2', 'trimming stopped at the pinned checkpoint');
    gate.resolve();
    const report = await running;
    await run('qemu-img', ['compare', '-q', '-f', 'raw', '-F', 'qcow2', await rig.oracleFile('cp-2', 'disk'), path.join(exportDir, 'held', report.file)]);
    assert.notEqual(sha256(before), sha256(rig.snapshots.get(cp5.id)!.get('disk')!));
    // Released: the next trim passes it, and a new export of it is refused as trimmed.
    await rig.journal.trim();
    assert.equal(rig.journal.checkpoints()[0].id, cp5.id);
    await assert.rejects(exports.exportImage({ ...target, checkpointId: 'cp-2', format: 'qcow2' }), CheckpointTrimmedError);
  });

  it('the journal closed under a running export (group deleted): a clear error, nothing left', async () => {
    const gate = deferred();
    const { journals, reading } = gatedJournals(rig, gate.promise);
    const held = await ImageExports.open({ clock: rig.clock, journals, groups: rig.groups, dir: exportDir });
    const running = held.exportImage({ ...target, checkpointId: 'cp-3', format: 'vhdx' });
    await reading;
    await rig.journal.close();
    gate.resolve();
    await assert.rejects(running, (e: unknown) => e instanceof ImageExportError && /closed while it was exported/.test(e.message));
    assert.deepEqual(await fs.readdir(exportDir), [], 'no partial folder, no file');
  });

  it('formats the volume cannot take, unknown group, VM, volume, checkpoint and bad names: typed errors, nothing written', async () => {
    await assert.rejects(exports.exportImage({ ...target, volumeId: 'disk4k', checkpointId: 'cp-3', format: 'vmdk-stream' }), (e: unknown) => e instanceof ImageFormatError && /4096-byte sectors/.test(e.message));
    // qemu-img writes VHDX with 512-byte logical sectors only; without a writer that can, the export is refused.
    await assert.rejects(exports.exportImage({ ...target, volumeId: 'disk4k', checkpointId: 'cp-3', format: 'vhdx' }), (e: unknown) => e instanceof ImageFormatError && /no writer/.test(e.message));
    assert.throws(() => checkFormatFits(IMAGE_FORMATS['vmdk-stream'], { id: 'big', sizeBytes: 3 * 1024 ** 4, sectorSize: 512 }), (e: unknown) => e instanceof ImageFormatError && /2 TiB/.test(e.message));
    assert.throws(() => checkFormatFits(IMAGE_FORMATS.vhdx, { id: 'big', sizeBytes: 65 * 1024 ** 4, sectorSize: 512 }), ImageFormatError);
    await assert.rejects(exports.exportImage({ ...target, checkpointId: 'cp-3', format: 'vdi' as ImageFormat }), (e: unknown) => e instanceof ValidationError && e.field === 'format');
    await assert.rejects(exports.exportImage({ ...target, groupId: 'nope', checkpointId: 'cp-3', format: 'raw' }), NotFoundError);
    await assert.rejects(exports.exportImage({ ...target, vmId: 'vm-9', checkpointId: 'cp-3', format: 'raw' }), (e: unknown) => e instanceof ValidationError && e.field === 'vmId');
    await assert.rejects(exports.exportImage({ ...target, volumeId: 'nope', checkpointId: 'cp-3', format: 'raw' }), UnknownVolumeError);
    await assert.rejects(exports.exportImage({ ...target, checkpointId: 'cp-99', format: 'raw' }), CheckpointNotFoundError);
    await assert.rejects(exports.exportImage({ ...target, checkpointId: 'cp-1', format: 'raw' }), CheckpointTrimmedError);
    for (const name of ['../escape', 'a/b', '.hidden', '', 'x'.repeat(101), 'white space']) {
      await assert.rejects(exports.exportImage({ ...target, checkpointId: 'cp-3', format: 'raw', name }), (e: unknown) => e instanceof ValidationError && e.field === 'name', name);
    }
    assert.deepEqual(await fs.readdir(exportDir), []);
  });

  it('reports survive a restart; files are read in chunks; delete removes them; partial folders of a killed appliance are swept', async () => {
    const a = await exports.exportImage({ ...target, checkpointId: 'cp-3', format: 'vmdk-flat' });
    await fs.mkdir(path.join(exportDir, '.partial-killed'));
    await fs.writeFile(path.join(exportDir, '.partial-killed', 'x.qcow2'), 'half');
    const reopened = await ImageExports.open({ clock: rig.clock, journals: rig.journals, groups: rig.groups, dir: exportDir });
    assert.deepEqual(reopened.list('g'), [a]);
    assert.deepEqual(reopened.list('other'), []);
    assert.deepEqual(await fs.readdir(exportDir), [a.id], 'the partial folder was removed');
    const flat = a.files.find((f) => f.name.endsWith('-flat.vmdk'))!;
    const chunks: Buffer[] = [];
    for (let at = 0; at < flat.sizeBytes; at += 4 * MiB) chunks.push(await reopened.readFile(a.id, flat.name, at, 4 * MiB));
    assert.equal(sha256(Buffer.concat(chunks)), flat.sha256);
    assert.equal((await reopened.readFile(a.id, flat.name, flat.sizeBytes - 10, 100)).length, 10, 'fewer bytes only at the end');
    await assert.rejects(reopened.readFile(a.id, '../report.json', 0, 10), NotFoundError);
    await assert.rejects(reopened.readFile(a.id, 'report.json', 0, 10), NotFoundError, 'only the image files are served');
    await assert.rejects(reopened.readFile(a.id, flat.name, 0, 5 * MiB), ValidationError);
    await reopened.delete(a.id);
    assert.deepEqual(await fs.readdir(exportDir), []);
    await assert.rejects(reopened.delete(a.id), NotFoundError);
    await assert.rejects(reopened.readFile(a.id, flat.name, 0, 1), NotFoundError);
  });

  describe('disk full while writing (a small tmpfs as the export folder)', () => {
    let mountpoint: string | undefined;

    before(async function () {
      const dir = await fs.mkdtemp(path.join((await import('node:os')).tmpdir(), 'ocfull-'));
      try {
        await run('mount', ['-t', 'tmpfs', '-o', 'size=16m,mode=0700', 'tmpfs', dir]);
        mountpoint = dir;
      } catch (e) {
        await fs.rm(dir, { recursive: true, force: true });
        const why = `cannot mount a tmpfs here (${(e as Error).message.split('\n')[0]}); the disk-full case needs root`;
        if (process.env.CI === 'true') throw new Error(why);
        process.stderr.write(`\n!!! SKIPPING: ${why}\n\n`);
        this.skip();
      }
    });

    after(async () => {
      if (!mountpoint) return;
      await run('umount', [mountpoint]).catch(() => run('umount', ['-l', mountpoint!]));
      await fs.rm(mountpoint, { recursive: true, force: true });
    });

    it('a disk that fills up during the export: ExportDiskFullError, the partial files removed; a full disk is refused up front', async () => {
      // 8 MiB more of incompressible data (11 MiB in all): the early check passes on the empty 16 MiB tmpfs.
      const rnd = Buffer.alloc(8 * MiB);
      for (let i = 0; i < rnd.length; i += 4) rnd.writeUInt32LE((i * 2654435761) >>> 0, i);
      await rig.write('disk', 16 * MiB, rnd);
      await rig.checkpoint();
      const cp = rig.journal.checkpoints().at(-1)!.id;
      const dir = path.join(mountpoint!, 'exports');
      const gate = deferred();
      const { journals, reading } = gatedJournals(rig, gate.promise);
      const full = await ImageExports.open({ clock: rig.clock, journals, groups: rig.groups, dir });
      const running = full.exportImage({ ...target, checkpointId: cp, format: 'qcow2' });
      await reading;
      // Something else fills the disk while the export runs.
      await fs.writeFile(path.join(mountpoint!, 'filler'), Buffer.alloc(10 * MiB, 1));
      gate.resolve();
      await assert.rejects(running, ExportDiskFullError);
      assert.deepEqual(await fs.readdir(dir), [], 'the partial export was removed');
      const refused = await ImageExports.open({ clock: rig.clock, journals: rig.journals, groups: rig.groups, dir });
      await assert.rejects(refused.exportImage({ ...target, checkpointId: cp, format: 'raw' }), (e: unknown) => e instanceof ExportDiskFullError && /bytes free/.test(e.message));
      assert.deepEqual(await fs.readdir(dir), [], 'refused before anything was made');
      await fs.rm(path.join(mountpoint!, 'filler'));
      const ok = await refused.exportImage({ ...target, checkpointId: cp, format: 'qcow2' });
      await run('qemu-img', ['compare', '-q', '-f', 'raw', '-F', 'qcow2', await rig.oracleFile(cp, 'disk'), path.join(dir, ok.id, ok.file)]);
    });
  });
});
