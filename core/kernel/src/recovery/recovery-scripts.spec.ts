// LocalScriptRunner with real child processes: output, exit codes, the timeout (which also kills what the
// script started), the environment it gets, and the scripts it refuses to run.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ValidationError } from '../errors.js';
import { LocalScriptRunner, RecoveryScriptError, type RecoveryScriptContext } from './recovery-scripts.js';

const ctx: RecoveryScriptContext = { operation: 'Failover', phase: 'pre', groupId: 'g1', groupName: 'erp', checkpointId: 'cp-7' };

describe('LocalScriptRunner (real processes)', function () {
  this.timeout(20_000);
  let dir: string;
  let runner: LocalScriptRunner;
  const script = async (name: string, body: string, mode = 0o700): Promise<void> => {
    await fs.writeFile(path.join(dir, name), `#!/bin/sh\n${body}\n`, { mode });
    await fs.chmod(path.join(dir, name), mode);
  };
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ocdp-scripts-'));
    runner = new LocalScriptRunner({ scriptsDir: dir, maxOutputBytes: 200 });
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  it('runs a script with its parameters and the operation in its environment (and nothing of the appliance\'s), capturing its output', async () => {
    await script('hello.sh', 'echo "op=$OPENCDP_OPERATION group=$OPENCDP_GROUP_NAME cp=$OPENCDP_CHECKPOINT_ID args=$*"; echo "token=${OPENCDP_TOKEN:-unset}" >&2');
    process.env.OPENCDP_TOKEN = 'appliance-secret';
    try {
      const r = await runner.run({ command: 'hello.sh', parameters: ['a b', '$(id)'], timeoutSeconds: 5 }, ctx);
      assert.equal(r.exitCode, 0);
      assert.equal(r.timedOut, false);
      assert.equal(r.output, 'op=Failover group=erp cp=cp-7 args=a b $(id)\ntoken=unset');
    } finally {
      delete process.env.OPENCDP_TOKEN;
    }
  });

  it('reports a non-zero exit, and cuts long output at the limit saying how much was dropped', async () => {
    await script('fail.sh', 'i=0; while [ $i -lt 100 ]; do echo "line $i"; i=$((i+1)); done; exit 4');
    const r = await runner.run({ command: 'fail.sh', timeoutSeconds: 5 }, ctx);
    assert.equal(r.exitCode, 4);
    assert.match(r.output, /^line 0\nline 1\n/);
    assert.match(r.output, /\[\d+ more bytes of output dropped\]$/);
  });

  it('kills a script at its timeout, with what it started', async () => {
    await script('hang.sh', 'echo started; sleep 30 & sleep 30; echo never');
    const started = Date.now();
    const r = await runner.run({ command: 'hang.sh', timeoutSeconds: 1 }, ctx);
    assert.equal(r.timedOut, true);
    assert.equal(r.exitCode, null);
    assert.equal(r.output, 'started');
    assert.ok(Date.now() - started < 10_000, 'the backgrounded sleep did not keep the run open');
  });

  it('refuses paths, missing, non-executable and group-writable scripts, and bad definitions', async () => {
    await script('plain.sh', 'echo x', 0o600);
    await script('loose.sh', 'echo x', 0o777);
    await fs.symlink('/bin/sh', path.join(dir, 'escape'));
    const refused: Array<[() => Promise<unknown>, RegExp | typeof ValidationError]> = [
      [() => runner.run({ command: '../../bin/sh', timeoutSeconds: 5 }, ctx), ValidationError],
      [() => runner.run({ command: 'missing.sh', timeoutSeconds: 5 }, ctx), /no script 'missing.sh'/],
      [() => runner.run({ command: 'plain.sh', timeoutSeconds: 5 }, ctx), /not an executable file/],
      [() => runner.run({ command: 'loose.sh', timeoutSeconds: 5 }, ctx), /writable by its group or others/],
      [() => runner.run({ command: 'escape', timeoutSeconds: 5 }, ctx), /leads out of the scripts folder/],
      [() => runner.run({ command: 'plain.sh', timeoutSeconds: 0 }, ctx), ValidationError],
    ];
    for (const [p, expected] of refused) {
      await assert.rejects(p(), (e: unknown) => (expected instanceof RegExp ? e instanceof RecoveryScriptError && expected.test((e as Error).message) : e instanceof expected));
    }
  });
});
