// opencdp-guest-agent as a supervisor runs it: a child process that listens where its config says,
// serves freezes, and thaws the guest before it exits on SIGTERM.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { FreezeResponse } from './protocol.js';
import { appendStep, AUTH_TOKEN, fakeFreezeCommand, frozenMounts, readLog, tempDir, writeJson } from './spec-helpers.js';

const bin = fileURLToPath(new URL('./guest-agent-main.js', import.meta.url));

describe('opencdp-guest-agent', function () {
  this.timeout(30_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => { ({ dir, cleanup } = await tempDir()); });
  afterEach(async () => { await cleanup(); });

  it('serves freezes and thaws the guest before exiting on SIGTERM', async () => {
    const log = join(dir, 'steps.log');
    const config = await writeJson(join(dir, 'agent.json'), {
      authToken: AUTH_TOKEN, mounts: ['/mnt/data'], freezeCommand: fakeFreezeCommand(log),
      hooks: [{ name: 'db', preFreeze: appendStep(log, 'pre db'), postThaw: appendStep(log, 'post db {reason}') }],
      listen: { host: '127.0.0.1', port: 0 },
    });
    const child = spawn(process.execPath, [bin, '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    const first = await new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', resolve));
    const { listening } = JSON.parse(first) as { listening: string };
    assert.match(listening, /^http:\/\/127\.0\.0\.1:\d+$/);

    const res = await fetch(`${listening}/v1/freeze`, { method: 'POST', headers: { Authorization: `Bearer ${AUTH_TOKEN}` }, body: '{}' });
    assert.equal(res.status, 200);
    assert.match(((await res.json()) as FreezeResponse).token, /^[0-9a-f]{32}$/);
    assert.deepEqual(frozenMounts(log), ['/mnt/data']);

    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    assert.deepEqual(readLog(log), ['pre db', 'freeze /mnt/data', 'unfreeze /mnt/data', 'post db shutdown']);
    assert.deepEqual(frozenMounts(log), []);
    const lines = stderr.trim().split('\n').map((l) => JSON.parse(l) as { level: string; msg: string });
    assert.ok(lines.some((l) => l.level === 'info' && /^thawed \(shutdown\)/.test(l.msg)), stderr);
  });

  it('exits 2 on a config without a token', async () => {
    const config = await writeJson(join(dir, 'agent.json'), { mounts: [] });
    const code = await new Promise<number>((resolve) => execFile(process.execPath, [bin, '--config', config], (error) => resolve(error ? Number(error.code) : 0)));
    assert.equal(code, 2);
  });
});
