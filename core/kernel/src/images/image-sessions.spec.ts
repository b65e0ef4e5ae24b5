import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { CheckpointNotFoundError, NotFoundError, ValidationError } from '../errors.js';
import { requireHostToolsOrSkip } from '../host-tools.js';
import { NbdClient } from '../nbd/nbd-client.js';
import { BASE_ALLOCATION, StateFlag } from '../nbd/nbd-protocol.js';
import { ImageSessions } from './image-sessions.js';
import { HISTORY_MS, imageRig, sha256, type ImageRig } from './testing/image-rig.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

describe('Checkpoint images served live over NBD', function () {
  this.timeout(60_000);
  let rig: ImageRig;
  let sessions: ImageSessions;

  before(function () {
    requireHostToolsOrSkip(this, ['qemu-img']);
  });

  beforeEach(async () => {
    rig = await imageRig(3);
    await rig.writeRandom('disk', 50);
    await rig.checkpoint();
    let n = 0;
    sessions = new ImageSessions({ clock: rig.clock, journals: rig.journals, groups: rig.groups, socketDir: path.join(rig.dir, 's'), newId: () => `session-${++n}` });
  });

  afterEach(async () => {
    await sessions.close();
    await rig.close();
  });

  const target = { groupId: 'g', vmId: 'vm-1', volumeId: 'disk', checkpointId: 'cp-1' };

  it('reads byte-exact while replication continues and trimming passes everything younger; holes are reported; stop releases the checkpoint', async () => {
    const info = await sessions.serve(target);
    assert.match(info.exportName, /^[0-9a-f]{32}$/);
    assert.equal(info.uri, `nbd+unix:///${info.exportName}?socket=${info.socketPath}`);
    assert.equal((await fs.stat(info.socketPath)).mode & 0o777, 0o600);
    assert.equal((await fs.stat(path.dirname(info.socketPath))).mode & 0o777, 0o700);
    const client = await NbdClient.connect({ path: info.socketPath, exportName: info.exportName, metaContexts: [BASE_ALLOCATION] });
    assert.equal(client.readOnly, true);
    const expected = rig.snapshots.get('cp-1')!.get('disk')!;
    const readAll = async (): Promise<Buffer> => {
      const parts = await Promise.all(Array.from({ length: 16 }, (_, i) => client.read(i * 4 * MiB, 4 * MiB)));
      return Buffer.concat(parts);
    };
    assert.equal(sha256(await readAll()), sha256(expected));
    // Replication goes on: the same blocks are overwritten, checkpoints are cut, history moves on.
    for (let round = 0; round < 3; round++) {
      await rig.writeRandom('disk', 40);
      await rig.checkpoint();
      await rig.clock.advance(HISTORY_MS);
      await rig.journal.trim();
      assert.equal(rig.journal.checkpoints()[0].id, 'cp-1', 'the session pins its checkpoint');
      assert.equal(sha256(await readAll()), sha256(expected), `round ${round}: still the image at cp-1`);
    }
    assert.notEqual(sha256(rig.oracle.get('disk')!), sha256(expected));
    // Holes are reported as such: every non-zero byte lies in a data extent, and most of the volume is a hole.
    const extents = await client.blockStatus(BASE_ALLOCATION, 0, info.sizeBytes);
    const holes = extents.filter((e) => e.flags === (StateFlag.HOLE | StateFlag.ZERO)).reduce((n, e) => n + e.length, 0);
    assert.ok(holes > 48 * MiB, `${holes} bytes of holes`);
    for (const e of extents.filter((x) => x.flags !== 0)) assert.ok(expected.subarray(e.offset, e.offset + e.length).every((b) => b === 0), `hole at ${e.offset} holds data`);
    // qemu-img reads the same through the session's URI, the way an operator would.
    await run('qemu-img', ['compare', '-q', '-f', 'raw', '-F', 'raw', await rig.oracleFile('cp-1', 'disk'), info.uri]);
    // qemu-img's connection closes on its own time; ours stays.
    for (let i = 0; i < 100 && sessions.list('g')[0].connections !== 1; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(sessions.list('g')[0].connections, 1);
    await sessions.stop(info.id);
    assert.equal(client.closed || (await client.read(0, 512).then(() => false, () => true)), true, 'the client was dropped');
    await assert.rejects(NbdClient.connect({ path: info.socketPath, exportName: info.exportName }));
    await assert.rejects(fs.stat(info.socketPath), 'the socket is gone');
    await rig.journal.trim();
    assert.notEqual(rig.journal.checkpoints()[0].id, 'cp-1', 'released: trimming passes it now');
    await assert.rejects(sessions.stop(info.id), NotFoundError);
  });

  it('ends after its idle timeout (on the clock), later requests moving the deadline, and releases its checkpoint', async () => {
    await rig.writeRandom('disk', 5);
    await rig.checkpoint();
    const info = await sessions.serve({ ...target, idleTimeoutSec: 60 });
    const client = await NbdClient.connect({ path: info.socketPath, exportName: info.exportName });
    await rig.clock.advance(40_000);
    await client.read(0, 4096);
    await rig.clock.advance(40_000);
    assert.equal(sessions.list().length, 1, '80 s after the start but 40 s after the last read: still open');
    await rig.clock.advance(21_000);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(sessions.list(), []);
    await assert.rejects(fs.stat(info.socketPath));
    await rig.clock.advance(HISTORY_MS);
    await rig.journal.trim();
    assert.equal(rig.journal.checkpoints()[0].id, 'cp-2', 'released');
    client.destroy();
  });

  it('ends when its image can no longer be read (the group\'s journal closed); bad requests are typed errors', async () => {
    const info = await sessions.serve(target);
    await rig.journal.close();
    const client = await NbdClient.connect({ path: info.socketPath, exportName: info.exportName });
    await assert.rejects(client.read(0, 4096));
    for (let i = 0; i < 50 && sessions.list().length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(sessions.list(), []);
    client.destroy();
    await rig.close();
    rig = await imageRig(4);
    await rig.writeRandom('disk', 2);
    await rig.checkpoint();
    const s2 = new ImageSessions({ clock: rig.clock, journals: rig.journals, groups: rig.groups, socketDir: path.join(rig.dir, 's') });
    await assert.rejects(s2.serve({ ...target, idleTimeoutSec: 0 }), (e: unknown) => e instanceof ValidationError && e.field === 'idleTimeoutSec');
    await assert.rejects(s2.serve({ ...target, checkpointId: 'cp-9' }), CheckpointNotFoundError);
    await assert.rejects(s2.serve({ ...target, groupId: 'x' }), NotFoundError);
    const long = new ImageSessions({ clock: rig.clock, journals: rig.journals, groups: rig.groups, socketDir: path.join(rig.dir, 'x'.repeat(120)) });
    await assert.rejects(long.serve(target), (e: unknown) => e instanceof ValidationError && e.field === 'socketDir');
    assert.deepEqual(s2.list(), []);
  });
});
