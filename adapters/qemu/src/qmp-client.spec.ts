import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { QmpClosedError, QmpError } from './qemu-errors.js';
import type { QmpEvent } from './qmp-client.js';
import { requireToolsOrSkip } from './qemu-tools.js';
import { StorageDaemon } from './storage-daemon.js';
import { tempDir } from './spec-helpers.js';

describe('QmpClient against qemu-storage-daemon', () => {
  let dir: string;
  let daemon: StorageDaemon | undefined;

  before(function () {
    requireToolsOrSkip(this, ['qemu-storage-daemon']);
  });

  beforeEach(async () => {
    dir = await tempDir();
    daemon = await StorageDaemon.start({ dir, name: 'qmp-test' });
  });

  afterEach(async () => {
    await daemon?.kill();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('reads the greeting, runs commands and returns their results', async () => {
    const qmp = daemon!.qmp;
    assert.ok(qmp.version && qmp.version.major >= 7, `QEMU version ${JSON.stringify(qmp.version)}`);
    const version = await qmp.execute<{ qemu: { major: number } }>('query-version');
    assert.equal(version.qemu.major, qmp.version!.major);
    const img = path.join(dir, 'a.raw');
    await fs.writeFile(img, Buffer.alloc(1024 * 1024));
    await qmp.execute('blockdev-add', { driver: 'file', 'node-name': 'n0', filename: img });
    const nodes = await qmp.execute<{ 'node-name': string }[]>('query-named-block-nodes');
    assert.ok(nodes.some((n) => n['node-name'] === 'n0'));
  });

  it('turns QMP errors into QmpError with QEMU\'s class and text, and stays usable', async () => {
    const qmp = daemon!.qmp;
    await assert.rejects(qmp.execute('blockdev-del', { 'node-name': 'missing' }), (e: unknown) => {
      assert.ok(e instanceof QmpError);
      assert.equal(e.command, 'blockdev-del');
      assert.match(e.errorClass, /GenericError|DeviceNotFound/);
      assert.match(e.message, /missing/);
      return true;
    });
    await assert.rejects(qmp.execute('no-such-command'), (e: unknown) => e instanceof QmpError && e.errorClass === 'CommandNotFound');
    await qmp.execute('query-version');
  });

  it('emits events (job status changes of a block job)', async () => {
    const qmp = daemon!.qmp;
    const events: QmpEvent[] = [];
    qmp.on('event', (e) => events.push(e));
    const img = path.join(dir, 'b.raw');
    await fs.writeFile(img, Buffer.alloc(1024 * 1024));
    await qmp.execute('blockdev-add', { driver: 'file', 'node-name': 'src', filename: img });
    await qmp.execute('blockdev-add', { driver: 'null-co', 'node-name': 'dst', size: 1024 * 1024 });
    const ready = qmp.waitForEvent('BLOCK_JOB_READY', (e) => e.data?.device === 'j0');
    await qmp.execute('blockdev-mirror', { 'job-id': 'j0', device: 'src', target: 'dst', sync: 'full' });
    await ready;
    assert.ok(events.some((e) => e.event === 'JOB_STATUS_CHANGE' && e.data?.status === 'running'));
    const done = qmp.waitForEvent('BLOCK_JOB_CANCELLED', (e) => e.data?.device === 'j0');
    await qmp.execute('block-job-cancel', { device: 'j0', force: true });
    await done;
  });

  it('rejects pending and later commands with QmpClosedError when the daemon is killed', async () => {
    const qmp = daemon!.qmp;
    const closed = new Promise<Error>((r) => qmp.once('close', r));
    process.kill(daemon!.pid!, 'SIGKILL');
    assert.ok((await closed) instanceof QmpClosedError);
    await assert.rejects(qmp.execute('query-version'), QmpClosedError);
  });
});
