// The guest agent service over real HTTP on 127.0.0.1, with real child processes for the hooks and the
// fake fsfreeze (never the real one) sharing one log file, so the order of every step is checked.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { VirtualClock } from '@opencdp/core';
import { parseAgentConfig } from './config.js';
import type { CommandSpec } from './config.js';
import { FsfreezeCommand } from './filesystem-freezer.js';
import type { FilesystemFreezer } from './filesystem-freezer.js';
import { createGuestAgent } from './guest-agent.js';
import type { GuestAgentServer } from './guest-agent.js';
import type { ErrorBody, FreezeResponse, StatusResponse, ThawResponse } from './protocol.js';
import { appendStep, AUTH_TOKEN, failingStep, fakeFreezeCommand, frozenMounts, readLog, slowStep, tempDir } from './spec-helpers.js';

interface HookSpec { name: string; preFreeze?: CommandSpec; postThaw?: CommandSpec }

interface Rig {
  agent: GuestAgentServer;
  clock: VirtualClock;
  log: string;
  messages: string[];
  call(method: string, path: string, body?: unknown, auth?: string | null): Promise<{ status: number; body: unknown; headers: Headers }>;
}

describe('guest agent service', function () {
  this.timeout(30_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  const agents: GuestAgentServer[] = [];

  beforeEach(async () => { ({ dir, cleanup } = await tempDir()); });
  afterEach(async () => {
    for (const agent of agents.splice(0)) await agent.close();
    await cleanup();
  });

  async function start(options: { hooks?: (log: string) => HookSpec[]; mounts?: string[]; maxFreezeMs?: number; freezer?: FilesystemFreezer } = {}): Promise<Rig> {
    const log = join(dir, 'steps.log');
    const config = parseAgentConfig({
      authToken: AUTH_TOKEN,
      maxFreezeMs: options.maxFreezeMs ?? 10_000,
      mounts: options.mounts ?? ['/mnt/data', '/mnt/logs'],
      freezeCommand: fakeFreezeCommand(log),
      hooks: options.hooks?.(log) ?? [],
      listen: { port: 0 },
    }, { dir });
    const clock = new VirtualClock();
    const messages: string[] = [];
    const agent = createGuestAgent(config, { clock, log: (level, m) => messages.push(`${level}: ${m}`), ...(options.freezer ? { freezer: options.freezer } : {}) });
    agents.push(agent);
    const url = await agent.listen();
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/, 'loopback by default');
    const call: Rig['call'] = async (method, path, body, auth = AUTH_TOKEN) => {
      const headers: Record<string, string> = {};
      if (auth !== null) headers.Authorization = auth.includes(' ') ? auth : `Bearer ${auth}`;
      const init: RequestInit = { method, headers };
      if (body !== undefined) {
        headers['Content-Type'] = 'application/json';
        init.body = typeof body === 'string' ? body : JSON.stringify(body);
      }
      const res = await fetch(`${url}${path}`, init);
      const text = await res.text();
      return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined, headers: res.headers };
    };
    return { agent, clock, log, messages, call };
  }

  const twoHooks = (log: string): HookSpec[] => [
    { name: 'db', preFreeze: appendStep(log, 'pre db'), postThaw: appendStep(log, 'post db {reason}') },
    { name: 'app', preFreeze: appendStep(log, 'pre app'), postThaw: appendStep(log, 'post app {reason}') },
    // A shell line, and a hook without a post-thaw step.
    { name: 'sync', preFreeze: `"${process.execPath}" -e "require('fs').appendFileSync(process.argv[1], 'pre sync\\n')" "${log}"` },
  ];

  it('runs the pre-freeze hooks in order, freezes each mount, and on thaw unfreezes and runs the post-thaw hooks in reverse', async () => {
    const rig = await start({ hooks: twoHooks });
    const frozen = await rig.call('POST', '/v1/freeze', {});
    assert.equal(frozen.status, 200, JSON.stringify(frozen.body));
    const answer = frozen.body as FreezeResponse;
    assert.match(answer.token, /^[0-9a-f]{32}$/);
    assert.deepEqual(answer.mounts, [{ mount: '/mnt/data', frozen: true }, { mount: '/mnt/logs', frozen: true }]);
    assert.deepEqual(answer.hooks, ['db', 'app', 'sync']);
    assert.equal(answer.frozenAt, rig.clock.now());
    assert.equal(answer.thawDeadline - answer.frozenAt, 10_000);
    assert.deepEqual(readLog(rig.log), ['pre db', 'pre app', 'pre sync', 'freeze /mnt/data', 'freeze /mnt/logs']);
    assert.deepEqual(frozenMounts(rig.log), ['/mnt/data', '/mnt/logs']);
    assert.equal(((await rig.call('GET', '/v1/status')).body as StatusResponse).state, 'frozen');

    await rig.clock.advance(1234);
    const thawed = await rig.call('POST', '/v1/thaw', { token: answer.token });
    assert.equal(thawed.status, 200, JSON.stringify(thawed.body));
    assert.deepEqual(thawed.body as ThawResponse, { thawed: true, frozenMs: 1234 });
    assert.deepEqual(readLog(rig.log).slice(5), ['unfreeze /mnt/logs', 'unfreeze /mnt/data', 'post app request', 'post db request']);
    assert.deepEqual(frozenMounts(rig.log), []);
    const status = (await rig.call('GET', '/v1/status')).body as StatusResponse;
    assert.equal(status.state, 'idle');
    assert.deepEqual(status.thaws.map((t) => [t.reason, t.frozenMs, t.errors]), [['request', 1234, []]]);
    assert.equal(rig.clock.pending, 0, 'the watchdog was cancelled');

    const again = await rig.call('POST', '/v1/thaw', { token: answer.token });
    assert.equal(again.status, 409);
    assert.equal((again.body as ErrorBody).error.code, 'ALREADY_THAWED');
    assert.equal(readLog(rig.log).length, 9, 'a second thaw runs nothing');
  });

  it('thaws by itself once maxFreezeMs has passed on its clock, records it, and answers the late thaw with 410', async () => {
    const rig = await start({ hooks: twoHooks, maxFreezeMs: 5000 });
    const { token } = (await rig.call('POST', '/v1/freeze', {})).body as FreezeResponse;
    await rig.clock.advance(4999);
    await rig.agent.freezer.settled();
    assert.equal(rig.agent.freezer.state, 'frozen');
    assert.deepEqual(frozenMounts(rig.log), ['/mnt/data', '/mnt/logs']);

    await rig.clock.advance(1);
    await rig.agent.freezer.settled();
    assert.equal(rig.agent.freezer.state, 'idle');
    assert.deepEqual(frozenMounts(rig.log), []);
    assert.deepEqual(readLog(rig.log).slice(5), ['unfreeze /mnt/logs', 'unfreeze /mnt/data', 'post app watchdog', 'post db watchdog']);
    const status = (await rig.call('GET', '/v1/status')).body as StatusResponse;
    assert.deepEqual(status.thaws.map((t) => [t.reason, t.frozenMs]), [['watchdog', 5000]]);
    assert.ok(rig.messages.some((m) => /^warn: .*watchdog/.test(m)), rig.messages.join('\n'));

    const late = await rig.call('POST', '/v1/thaw', { token });
    assert.equal(late.status, 410);
    assert.equal((late.body as ErrorBody).error.code, 'FREEZE_EXPIRED');
    assert.deepEqual((late.body as ErrorBody).error.details, { reason: 'watchdog' });
    assert.equal((await rig.call('POST', '/v1/freeze', {})).status, 200, 'the guest can be frozen again');
  });

  it('holds a freeze no longer than the timeoutMs asked for, and never longer than maxFreezeMs', async () => {
    const rig = await start({ maxFreezeMs: 5000 });
    const short = (await rig.call('POST', '/v1/freeze', { timeoutMs: 2000 })).body as FreezeResponse;
    assert.equal(short.thawDeadline - short.frozenAt, 2000);
    await rig.clock.advance(2000);
    await rig.agent.freezer.settled();
    assert.equal(rig.agent.freezer.state, 'idle');
    assert.deepEqual(readLog(rig.log), ['freeze /mnt/data', 'freeze /mnt/logs', 'unfreeze /mnt/logs', 'unfreeze /mnt/data']);

    const long = (await rig.call('POST', '/v1/freeze', { timeoutMs: 60_000 })).body as FreezeResponse;
    assert.equal(long.thawDeadline - long.frozenAt, 5000, 'capped at maxFreezeMs');
    await rig.clock.advance(5000);
    await rig.agent.freezer.settled();
    assert.equal(rig.agent.freezer.state, 'idle');
  });

  it('aborts on a failing pre-freeze hook: runs the post-thaw hooks of the steps before it, freezes nothing, reports the hook', async () => {
    const rig = await start({
      hooks: (log) => [
        { name: 'db', preFreeze: appendStep(log, 'pre db'), postThaw: appendStep(log, 'post db {reason}') },
        { name: 'queue', preFreeze: failingStep(log, 'pre queue', 3, 'boom: broker refused'), postThaw: appendStep(log, 'post queue') },
        { name: 'app', preFreeze: appendStep(log, 'pre app'), postThaw: appendStep(log, 'post app') },
      ],
    });
    const res = await rig.call('POST', '/v1/freeze', {});
    assert.equal(res.status, 500);
    const error = (res.body as ErrorBody).error;
    assert.equal(error.code, 'QUIESCE_FAILED');
    assert.match(error.message, /hook 'queue' failed: exited with code 3: boom: broker refused/);
    assert.ok(error.hint);
    const failed = error.details?.failed as { kind: string; name: string; reason: string };
    assert.deepEqual([failed.kind, failed.name], ['hook', 'queue']);
    assert.deepEqual(error.details?.undoErrors, []);
    assert.deepEqual(readLog(rig.log), ['pre db', 'pre queue', 'post db abort'], 'no freeze; app never ran; only db was undone');
    assert.deepEqual(frozenMounts(rig.log), []);
    assert.equal(rig.agent.freezer.state, 'idle');
    assert.equal(rig.clock.pending, 0, 'no watchdog left behind');
  });

  it('aborts when a mount cannot be frozen: unfreezes the mounts before it, then undoes the hooks', async () => {
    const rig = await start({ hooks: (log) => [{ name: 'db', preFreeze: appendStep(log, 'pre db'), postThaw: appendStep(log, 'post db {reason}') }], mounts: ['/mnt/a', '/mnt/fail-freeze', '/mnt/c'] });
    const res = await rig.call('POST', '/v1/freeze', {});
    assert.equal(res.status, 500);
    const error = (res.body as ErrorBody).error;
    assert.equal(error.code, 'QUIESCE_FAILED');
    const failed = error.details?.failed as { kind: string; name: string; reason: string };
    assert.deepEqual([failed.kind, failed.name], ['mount', '/mnt/fail-freeze']);
    assert.match(failed.reason, /Operation not supported/);
    assert.deepEqual(readLog(rig.log), ['pre db', 'freeze /mnt/a', 'unfreeze /mnt/a', 'post db abort']);
    assert.deepEqual(frozenMounts(rig.log), []);
  });

  it('answers a second freeze with 409 while the first is running and while it is held', async () => {
    const rig = await start({ hooks: (log) => [{ name: 'slow', preFreeze: slowStep(log, 'pre slow', 400), postThaw: appendStep(log, 'post slow') }] });
    const first = rig.call('POST', '/v1/freeze', {});
    while (rig.agent.freezer.state !== 'freezing') await new Promise((r) => setTimeout(r, 5));
    const during = await rig.call('POST', '/v1/freeze', {});
    assert.equal(during.status, 409);
    assert.equal((during.body as ErrorBody).error.code, 'FREEZE_BUSY');
    assert.deepEqual((during.body as ErrorBody).error.details, { state: 'freezing' });
    const { status, body } = await first;
    assert.equal(status, 200);
    const held = await rig.call('POST', '/v1/freeze', {});
    assert.equal(held.status, 409);
    assert.deepEqual((held.body as ErrorBody).error.details, { state: 'frozen' });
    assert.equal((await rig.call('POST', '/v1/thaw', { token: (body as FreezeResponse).token })).status, 200);
    assert.deepEqual(readLog(rig.log), ['pre slow', 'freeze /mnt/data', 'freeze /mnt/logs', 'unfreeze /mnt/logs', 'unfreeze /mnt/data', 'post slow']);
  });

  it('answers bad input with a 4xx JSON error and changes nothing', async () => {
    const rig = await start({ hooks: twoHooks });
    // Idle: a bad freeze runs no hook.
    for (const body of ['{"timeoutMs": -1}', '{"timeoutMs": "5s"}', '[1]', '{"timeoutMs": 100, "mounts": ["/"]}', '{oops']) {
      const res = await rig.call('POST', '/v1/freeze', body);
      assert.equal(res.status, 400, body);
      assert.match((res.body as ErrorBody).error.code, /^(VALIDATION|BAD_JSON)$/, body);
    }
    assert.deepEqual(readLog(rig.log), []);

    const { token } = (await rig.call('POST', '/v1/freeze', {})).body as FreezeResponse;
    const before = readLog(rig.log);
    const cases: Array<[string, string, unknown, number, string]> = [
      ['POST', '/v1/thaw', 'not json', 400, 'BAD_JSON'],
      ['POST', '/v1/thaw', {}, 400, 'VALIDATION'],
      ['POST', '/v1/thaw', { token: 5 }, 400, 'VALIDATION'],
      ['POST', '/v1/thaw', { token, force: true }, 400, 'VALIDATION'],
      ['POST', '/v1/thaw', { token: 'f'.repeat(32) }, 404, 'UNKNOWN_TOKEN'],
      ['POST', '/v1/thaw', JSON.stringify({ token: 'x'.repeat(70_000) }), 413, 'BODY_TOO_LARGE'],
      ['GET', '/v1/thaw', undefined, 405, 'METHOD_NOT_ALLOWED'],
      ['POST', '/v1/status', {}, 405, 'METHOD_NOT_ALLOWED'],
      ['POST', '/v2/freeze', {}, 404, 'NOT_FOUND'],
    ];
    for (const [method, path, body, status, code] of cases) {
      const res = await rig.call(method, path, body);
      assert.equal(res.status, status, `${method} ${path} ${JSON.stringify(body)?.slice(0, 40)}`);
      const error = (res.body as ErrorBody).error;
      assert.equal(error.code, code);
      assert.ok(error.message.length > 0);
    }
    assert.equal((await rig.call('GET', '/v1/thaw')).headers.get('allow'), 'POST');
    assert.deepEqual(readLog(rig.log), before, 'nothing ran');
    assert.equal(rig.agent.freezer.state, 'frozen');
    assert.deepEqual(frozenMounts(rig.log), ['/mnt/data', '/mnt/logs']);
    assert.equal((await rig.call('POST', '/v1/thaw', { token })).status, 200, 'the real token still thaws');
  });

  it('refuses a missing or wrong bearer token with 401 before doing anything', async () => {
    const rig = await start({ hooks: twoHooks });
    for (const auth of [null, 'wrong-token-0123456789', `Basic ${AUTH_TOKEN}`, `Bearer ${AUTH_TOKEN.slice(0, -1)}`, `Bearer ${AUTH_TOKEN}x`]) {
      const res = await rig.call('POST', '/v1/freeze', {}, auth);
      assert.equal(res.status, 401, String(auth));
      assert.equal((res.body as ErrorBody).error.code, 'UNAUTHORIZED');
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
    }
    assert.equal((await rig.call('GET', '/v1/status', undefined, null)).status, 401, 'status needs the token too');
    assert.equal((await rig.call('POST', '/v2/anything', {}, null)).status, 401, 'unknown paths are not revealed');
    assert.deepEqual(readLog(rig.log), []);
    assert.equal(rig.agent.freezer.state, 'idle');

    const { token } = (await rig.call('POST', '/v1/freeze', {})).body as FreezeResponse;
    assert.equal((await rig.call('POST', '/v1/thaw', { token }, 'wrong-token-0123456789')).status, 401);
    assert.equal(rig.agent.freezer.state, 'frozen', 'a thaw with the wrong credentials thaws nothing');
    assert.ok(rig.messages.some((m) => m.startsWith('warn: refused POST /v1/thaw')));
  });

  it('skips the mounts with a logged reason when fsfreeze cannot work here, and still runs the hooks', async () => {
    // platform 'darwin': the check answers before any command could run, so nothing real is frozen.
    const rig = await start({ hooks: twoHooks, mounts: ['/nonexistent-opencdp-mount'], freezer: new FsfreezeCommand({ platform: 'darwin' }) });
    const res = await rig.call('POST', '/v1/freeze', {});
    assert.equal(res.status, 200);
    const answer = res.body as FreezeResponse;
    assert.deepEqual(answer.mounts, [{ mount: '/nonexistent-opencdp-mount', frozen: false, skipped: 'fsfreeze needs Linux (this is darwin)' }]);
    assert.ok(rig.messages.some((m) => m.startsWith('warn: not freezing /nonexistent-opencdp-mount: fsfreeze needs Linux')), rig.messages.join('\n'));
    assert.equal((await rig.call('POST', '/v1/thaw', { token: answer.token })).status, 200);
    assert.deepEqual(readLog(rig.log), ['pre db', 'pre app', 'pre sync', 'post app request', 'post db request']);
  });

  it('thaws a held freeze when it shuts down', async () => {
    const rig = await start({ hooks: twoHooks });
    assert.equal((await rig.call('POST', '/v1/freeze', {})).status, 200);
    await rig.agent.close();
    agents.splice(agents.indexOf(rig.agent), 1);
    assert.deepEqual(frozenMounts(rig.log), []);
    assert.deepEqual(readLog(rig.log).slice(-2), ['post app shutdown', 'post db shutdown']);
    assert.equal(rig.agent.freezer.status().thaws[0]?.reason, 'shutdown');
  });

  it('reports a failing post-thaw hook as THAW_INCOMPLETE after thawing everything else', async () => {
    const rig = await start({
      hooks: (log) => [
        { name: 'db', preFreeze: appendStep(log, 'pre db'), postThaw: appendStep(log, 'post db') },
        { name: 'app', preFreeze: appendStep(log, 'pre app'), postThaw: failingStep(log, 'post app', 1, 'app would not resume') },
      ],
    });
    const { token } = (await rig.call('POST', '/v1/freeze', {})).body as FreezeResponse;
    const res = await rig.call('POST', '/v1/thaw', { token });
    assert.equal(res.status, 500);
    const error = (res.body as ErrorBody).error;
    assert.equal(error.code, 'THAW_INCOMPLETE');
    assert.deepEqual(error.details?.errors, ["post-thaw hook 'app': exited with code 1: app would not resume"]);
    assert.deepEqual(readLog(rig.log).slice(-4), ['unfreeze /mnt/logs', 'unfreeze /mnt/data', 'post app', 'post db'], 'the other hooks still ran');
    assert.equal(rig.agent.freezer.state, 'idle');
  });
});
