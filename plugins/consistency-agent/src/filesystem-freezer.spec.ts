// The freeze command: when it refuses to run (and why), and how it reports a failed freeze. Only the
// fake fsfreeze is ever executed; the real binary is only looked for.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FsfreezeCommand } from './filesystem-freezer.js';
import { fakeFreezeCommand, frozenMounts, readLog, tempDir } from './spec-helpers.js';

describe('FsfreezeCommand', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => { ({ dir, cleanup } = await tempDir()); });
  afterEach(async () => { await cleanup(); });

  it('says why the default fsfreeze cannot work: not Linux, not root, no binary', async () => {
    assert.equal(await new FsfreezeCommand({ platform: 'win32', uid: 0 }).unavailableReason(), 'fsfreeze needs Linux (this is win32)');
    assert.equal(await new FsfreezeCommand({ platform: 'linux', uid: 1000 }).unavailableReason(), 'fsfreeze needs root (running as uid 1000)');
    assert.equal(await new FsfreezeCommand({ platform: 'linux', uid: 0, path: dir }).unavailableReason(), 'no fsfreeze binary on PATH (install util-linux)');
  });

  it('trusts a configured command to have its privileges, but looks for its executable', async () => {
    assert.equal(await new FsfreezeCommand({ command: fakeFreezeCommand(join(dir, 'log')), platform: 'darwin', uid: 501 }).unavailableReason(), undefined);
    assert.equal(await new FsfreezeCommand({ command: [join(dir, 'no-such-tool')] }).unavailableReason(), `freeze command '${join(dir, 'no-such-tool')}' was not found`);
  });

  it('runs `<command> --freeze|--unfreeze <mount>` and rejects with the tool\'s message when it fails', async () => {
    const log = join(dir, 'log');
    const freezer = new FsfreezeCommand({ command: fakeFreezeCommand(log) });
    await freezer.freeze('/mnt/a');
    assert.deepEqual(frozenMounts(log), ['/mnt/a']);
    await assert.rejects(freezer.freeze('/mnt/a'), /--freeze \/mnt\/a exited with code 1: fsfreeze: \/mnt\/a: freeze failed: Device or resource busy/);
    await freezer.unfreeze('/mnt/a');
    await assert.rejects(freezer.unfreeze('/mnt/a'), /Invalid argument/);
    assert.deepEqual(readLog(log), ['freeze /mnt/a', 'unfreeze /mnt/a']);
  });
});
