// opencdp-vss-agent as a scheduler runs it: a child process with a config file, real hook processes,
// the fake fsfreeze, and stub managers on 127.0.0.1 (the manager's REST API arrives with the manager
// issue). Each test checks the exit code, what the managers received, and that the guest ends thawed.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { appendStep, closedPort, failingStep, fakeFreezeCommand, frozenMounts, readLog, startStubManager, tempDir, writeJson } from './spec-helpers.js';
import type { StubAnswer, StubManager } from './spec-helpers.js';
import { main } from './cli.js';
import type { VssCheckpointResult } from './vss-checkpoint.js';

const cli = fileURLToPath(new URL('./cli.js', import.meta.url));

interface Run { code: number; stdout: string; stderr: string }

function runCli(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], (error, stdout, stderr) => {
      // A non-zero exit arrives as an error carrying the code: that is the answer under test here.
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const FROZEN = ['pre db', 'pre app', 'freeze /mnt/data', 'freeze /mnt/logs'];
const THAWED = [...FROZEN, 'unfreeze /mnt/logs', 'unfreeze /mnt/data', 'post app request', 'post db request'];

describe('opencdp-vss-agent CLI', function () {
  this.timeout(60_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  let log: string;
  let config: string;
  const stubs: StubManager[] = [];

  async function writeConfig(extra: Record<string, unknown> = {}, hooks?: unknown[]): Promise<string> {
    return writeJson(join(dir, 'agent.json'), {
      vmId: 'vm-1',
      groupId: 'vpg-1',
      managerToken: 'manager-token',
      maxFreezeMs: 10_000,
      mounts: ['/mnt/data', '/mnt/logs'],
      freezeCommand: fakeFreezeCommand(log),
      hooks: hooks ?? [
        { name: 'db', preFreeze: appendStep(log, 'pre db'), postThaw: appendStep(log, 'post db {reason}') },
        { name: 'app', preFreeze: appendStep(log, 'pre app'), postThaw: appendStep(log, 'post app {reason}') },
      ],
      ...extra,
    });
  }

  async function stub(answer: (req: { method: string; url: string }) => StubAnswer): Promise<StubManager> {
    const s = await startStubManager(log, answer);
    stubs.push(s);
    return s;
  }

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    log = join(dir, 'steps.log');
    config = await writeConfig();
  });
  afterEach(async () => {
    for (const s of stubs.splice(0)) await s.close();
    await cleanup();
  });

  it('takes a VSS checkpoint against a stub manager (the REST API arrives with the manager issue) and leaves the guest thawed', async () => {
    const manager = await stub(() => ({ status: 201, body: { checkpointId: 'cp-1', taskId: 'task-1' } }));
    const remote = await stub(() => ({ status: 500 }));
    const r = await runCli(['127.0.0.1', String(manager.port), '127.0.0.1', String(remote.port), 'nightly', '--config', config, '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);

    assert.equal(manager.requests.length, 1);
    const [req] = manager.requests;
    assert.equal(req!.method, 'POST');
    assert.equal(req!.url, '/v1/vpgs/vpg-1/checkpoints');
    assert.deepEqual(req!.body, { checkpointName: 'nightly', kind: 'vss', vmId: 'vm-1' });
    assert.equal(req!.authorization, 'Bearer manager-token');
    assert.deepEqual(req!.logAtArrival, FROZEN, 'the manager was asked while the guest was quiesced');
    assert.equal(remote.requests.length, 0);

    assert.deepEqual(readLog(log), THAWED);
    assert.deepEqual(frozenMounts(log), []);
    const result = JSON.parse(r.stdout) as VssCheckpointResult;
    assert.equal(result.ok, true);
    assert.equal(result.exitCode, 0);
    assert.equal(result.manager, 'local');
    assert.equal(result.managerUrl, manager.url);
    assert.deepEqual(result.checkpoint, { checkpointId: 'cp-1', taskId: 'task-1' });
    assert.deepEqual(result.attempts, [{ manager: 'local', url: `${manager.url}/v1/vpgs/vpg-1/checkpoints`, outcome: 'ok', status: 201 }]);
    assert.deepEqual(result.quiesce?.hooks, ['db', 'app']);
    assert.equal(result.thaw?.reason, 'request');
    assert.deepEqual(result.thaw?.errors, []);

    const human = await runCli(['127.0.0.1', String(manager.port), '127.0.0.1', String(remote.port), 'nightly-2', '--config', config]);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^checkpoint 'nightly-2' of VM 'vm-1' \(group 'vpg-1'\) taken by the local manager http:\/\/127\.0\.0\.1:\d+ as cp-1; guest frozen \d+ ms, thawed \(request\)\n$/);
  });

  it('falls back to the remote manager when the local one is unreachable', async () => {
    const down = await closedPort();
    const remote = await stub(() => ({ status: 202, body: { taskId: 'task-9' } }));
    const r = await runCli(['127.0.0.1', String(down), '127.0.0.1', String(remote.port), 'fallback', '--config', config, '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const result = JSON.parse(r.stdout) as VssCheckpointResult;
    assert.equal(result.manager, 'remote');
    assert.deepEqual(result.attempts.map((a) => [a.manager, a.outcome]), [['local', 'unreachable'], ['remote', 'ok']]);
    assert.equal(remote.requests.length, 1);
    assert.deepEqual(remote.requests[0]!.logAtArrival, FROZEN);
    assert.deepEqual(readLog(log), THAWED);
    assert.deepEqual(frozenMounts(log), []);
  });

  it('exits 1 when both managers are down, and the guest is thawed', async () => {
    const [a, b] = [await closedPort(), await closedPort()];
    const r = await runCli(['127.0.0.1', String(a), 'localhost', String(b), 'nobody-home', '--config', config, '--json']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const result = JSON.parse(r.stdout) as VssCheckpointResult;
    assert.equal(result.ok, false);
    assert.equal(result.exitCode, 1);
    assert.equal(result.error?.code, 'CHECKPOINT_REQUEST_FAILED');
    assert.deepEqual(result.attempts.map((a) => [a.manager, a.outcome]), [['local', 'unreachable'], ['remote', 'unreachable']]);
    assert.equal(result.thaw?.reason, 'request');
    assert.deepEqual(readLog(log), THAWED);
    assert.deepEqual(frozenMounts(log), []);

    const human = await runCli(['127.0.0.1', String(a), '127.0.0.1', String(b), 'nobody-home', '--config', config]);
    assert.equal(human.code, 1);
    assert.match(human.stderr, /opencdp-vss-agent: requesting the checkpoint .* failed: local manager .*unreachable.*; remote manager .*unreachable.*thawed \(request\)/);
  });

  it('times out a hanging manager, thaws the guest, and does not ask the other manager (the first may have taken it)', async () => {
    const hanging = await stub(() => 'hang');
    const remote = await stub(() => ({ status: 201, body: {} }));
    const started = Date.now();
    const r = await runCli(['127.0.0.1', String(hanging.port), '127.0.0.1', String(remote.port), 'slow', '--config', config, '--timeout-ms', '400', '--json']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.ok(Date.now() - started < 8000, 'the timeout ended the wait');
    const result = JSON.parse(r.stdout) as VssCheckpointResult;
    assert.deepEqual(result.attempts.map((a) => [a.manager, a.outcome]), [['local', 'timeout']]);
    assert.match(result.attempts[0]!.error ?? '', /no answer within \d+ ms/);
    assert.equal(hanging.requests.length, 1);
    assert.equal(remote.requests.length, 0);
    assert.deepEqual(readLog(log), THAWED);
    assert.deepEqual(frozenMounts(log), []);
  });

  it('exits 1 on an error answer without asking the other manager, and thaws', async () => {
    const refusing = await stub(() => ({ status: 404, body: { error: { code: 'NOT_FOUND', message: "no group 'vpg-1'" } } }));
    const remote = await stub(() => ({ status: 201, body: {} }));
    const r = await runCli(['127.0.0.1', String(refusing.port), '127.0.0.1', String(remote.port), 'cp', '--config', config, '--json']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const result = JSON.parse(r.stdout) as VssCheckpointResult;
    assert.deepEqual(result.attempts.map((a) => [a.manager, a.outcome, a.status, a.error]), [['local', 'http-error', 404, "HTTP 404: no group 'vpg-1'"]]);
    assert.equal(remote.requests.length, 0);
    assert.deepEqual(readLog(log), THAWED);
  });

  it('asks the manager for the VM\'s group before freezing when the config names none', async () => {
    config = await writeConfig({ groupId: undefined });
    const manager = await stub((req) => (req.method === 'GET' ? { status: 200, body: { id: 'vm-7', groupId: 'vpg 7' } } : { status: 201, body: { checkpointId: 'cp-7' } }));
    const r = await runCli(['127.0.0.1', String(manager.port), '127.0.0.1', String(manager.port), 'by-lookup', '--vm', 'vm-7', '--config', config, '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(manager.requests.map((q) => [q.method, q.url, q.logAtArrival.length]), [
      ['GET', '/v1/vms/vm-7', 0],
      ['POST', '/v1/vpgs/vpg%207/checkpoints', FROZEN.length],
    ]);
    assert.deepEqual(manager.requests[1]!.body, { checkpointName: 'by-lookup', kind: 'vss', vmId: 'vm-7' });
    assert.equal((JSON.parse(r.stdout) as VssCheckpointResult).groupId, 'vpg 7');
  });

  it('exits 3 when the guest cannot be quiesced: undoes the hooks that ran and asks no manager', async () => {
    config = await writeConfig({}, [
      { name: 'db', preFreeze: appendStep(log, 'pre db'), postThaw: appendStep(log, 'post db {reason}') },
      { name: 'app', preFreeze: failingStep(log, 'pre app', 4, 'app cannot pause'), postThaw: appendStep(log, 'post app {reason}') },
    ]);
    const manager = await stub(() => ({ status: 201, body: {} }));
    const r = await runCli(['127.0.0.1', String(manager.port), '127.0.0.1', String(manager.port), 'cp', '--config', config, '--json']);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    const result = JSON.parse(r.stdout) as VssCheckpointResult;
    assert.equal(result.error?.code, 'QUIESCE_FAILED');
    assert.match(result.error?.message ?? '', /hook 'app' failed: exited with code 4: app cannot pause/);
    assert.equal(manager.requests.length, 0);
    assert.deepEqual(readLog(log), ['pre db', 'pre app', 'post db abort']);
    assert.deepEqual(frozenMounts(log), []);
  });

  it('exits 4 when the thaw itself reports an error after the checkpoint', async () => {
    config = await writeConfig({}, [
      { name: 'db', preFreeze: appendStep(log, 'pre db'), postThaw: failingStep(log, 'post db', 1, 'db stuck in backup mode') },
    ]);
    const manager = await stub(() => ({ status: 201, body: { checkpointId: 'cp-4' } }));
    const r = await runCli(['127.0.0.1', String(manager.port), '127.0.0.1', String(manager.port), 'cp', '--config', config, '--json']);
    assert.equal(r.code, 4, r.stdout + r.stderr);
    const result = JSON.parse(r.stdout) as VssCheckpointResult;
    assert.deepEqual(result.checkpoint, { checkpointId: 'cp-4' }, 'the checkpoint was taken');
    assert.equal(result.error?.code, 'THAW_INCOMPLETE');
    assert.deepEqual(frozenMounts(log), []);
  });

  it('thaws the guest and exits 1 when stopped by SIGTERM while waiting for the manager', async () => {
    const hanging = await stub(() => 'hang');
    const child = spawn(process.execPath, [cli, '127.0.0.1', String(hanging.port), '127.0.0.1', String(hanging.port), 'cp', '--config', config, '--timeout-ms', '8000'], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 15_000;
    while (hanging.requests.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(hanging.requests.length, 1);
    assert.deepEqual(frozenMounts(log), ['/mnt/data', '/mnt/logs']);
    child.kill('SIGTERM');
    assert.equal(await exited, 1);
    assert.deepEqual(readLog(log), THAWED);
    assert.deepEqual(frozenMounts(log), []);
  });

  it('exits 2 on bad usage, before running any hook or asking any manager', async () => {
    const manager = await stub(() => ({ status: 201, body: {} }));
    const p = String(manager.port);
    const noVm = await writeJson(join(dir, 'no-vm.json'), { mounts: [] });
    const typo = await writeJson(join(dir, 'typo.json'), { vmId: 'vm-1', hooks: [{ preFreez: 'x' }] });
    const cases: string[][] = [
      [],
      ['127.0.0.1', p, '127.0.0.1', p],
      ['127.0.0.1', 'http', '127.0.0.1', p, 'cp', '--config', config],
      ['127.0.0.1', p, '127.0.0.1', '70000', 'cp', '--config', config],
      ['127.0.0.1', p, '127.0.0.1', p, 'cp', 'extra', '--config', config],
      ['127.0.0.1', p, '127.0.0.1', p, '', '--config', config],
      ['127.0.0.1', p, '127.0.0.1', p, 'cp', '--config', config, '--timeout-ms', '0'],
      ['127.0.0.1', p, '127.0.0.1', p, 'cp', '--config', config, '--bogus'],
      ['127.0.0.1', p, '127.0.0.1', p, 'cp', '--config', join(dir, 'missing.json')],
      ['127.0.0.1', p, '127.0.0.1', p, 'cp', '--config', noVm],
      ['127.0.0.1', p, '127.0.0.1', p, 'cp', '--config', typo],
      ['ftp://127.0.0.1', p, '127.0.0.1', p, 'cp', '--config', config],
    ];
    // In-process (each case fails before any hook could run); two of them also as real processes below.
    for (const args of cases) {
      let out = '';
      let err = '';
      const code = await main(args, { out: (t) => { out += t; }, err: (t) => { err += t; } });
      assert.equal(code, 2, `${args.join(' ')}\n${out}${err}`);
      assert.ok(err.length > 0, `explains: ${args.join(' ')}`);
    }
    for (const args of [cases[1]!, cases[2]!]) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}\n${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /error: (missing required argument 'checkpointName'|command-argument value 'http' is invalid)/);
    }
    const json = await runCli(['127.0.0.1', p, '127.0.0.1', p, 'cp', '--config', noVm, '--json']);
    assert.equal(json.code, 2);
    assert.deepEqual(JSON.parse(json.stdout), { ok: false, exitCode: 2, error: { code: 'USAGE', message: 'no VM id: pass --vm <id> or set vmId in the config' } });
    assert.deepEqual(readLog(log), []);
    assert.equal(manager.requests.length, 0);

    let helpText = '';
    assert.equal(await main(['--help'], { out: (t) => { helpText += t; }, err: () => undefined }), 0);
    assert.match(helpText, /Usage: opencdp-vss-agent \[options\] <localManager> <localPort> <remoteManager> <remotePort> <checkpointName>/);
  });
});
