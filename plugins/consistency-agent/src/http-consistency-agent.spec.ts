// The kernel's HttpConsistencyAgent against real guest agents on 127.0.0.1: the happy path, each guest
// error coming back as its typed error, and timeouts (after which the guest thaws on its own).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { VirtualClock } from '@opencdp/core';
import { parseAgentConfig } from './config.js';
import type { CommandSpec } from './config.js';
import {
  AgentAuthError, AgentTimeoutError, AgentUnreachableError, AlreadyThawedError, FreezeBusyError, FreezeExpiredError,
  GuestAgentError, NoGuestAgentError, QuiesceFailedError, UnknownFreezeTokenError,
} from './errors.js';
import { createGuestAgent } from './guest-agent.js';
import type { GuestAgentServer } from './guest-agent.js';
import { HttpConsistencyAgent } from './http-consistency-agent.js';
import type { HttpConsistencyAgentConfig } from './http-consistency-agent.js';
import { appendStep, AUTH_TOKEN, closedPort, failingStep, fakeFreezeCommand, frozenMounts, readLog, slowStep, startStubManager, tempDir } from './spec-helpers.js';

describe('HttpConsistencyAgent', function () {
  this.timeout(30_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  let log: string;
  const closers: Array<() => Promise<void>> = [];

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    log = join(dir, 'steps.log');
  });
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
    await cleanup();
  });

  async function guest(hooks: Array<{ name: string; preFreeze?: CommandSpec; postThaw?: CommandSpec }>, maxFreezeMs = 10_000): Promise<{ agent: GuestAgentServer; clock: VirtualClock; url: string }> {
    const config = parseAgentConfig({ authToken: AUTH_TOKEN, maxFreezeMs, mounts: ['/mnt/data'], freezeCommand: fakeFreezeCommand(log), hooks, listen: { port: 0 } }, { dir });
    const clock = new VirtualClock();
    const agent = createGuestAgent(config, { clock });
    const url = await agent.listen();
    closers.push(() => agent.close());
    return { agent, clock, url };
  }

  function kernelAgent(url: string, extra: Partial<HttpConsistencyAgentConfig> = {}): HttpConsistencyAgent {
    return new HttpConsistencyAgent({ guests: { 'vm-1': { url, token: AUTH_TOKEN } }, ...extra });
  }

  it('quiesces a VM through its guest agent and thaws it with the token', async () => {
    const g = await guest([{ name: 'db', preFreeze: appendStep(log, 'pre db'), postThaw: appendStep(log, 'post db {reason}') }]);
    const agent = kernelAgent(`${g.url}/`, { freezeTimeoutMs: 3000, name: 'guest-http' });
    assert.equal(agent.name, 'guest-http');
    assert.equal(agent.handles('vm-1'), true);
    assert.equal(agent.handles('vm-2'), false);
    assert.equal(agent.handles('constructor'), false, 'only configured VMs, not object built-ins');

    const token = await agent.quiesce('vm-1');
    assert.equal(token.vmId, 'vm-1');
    assert.match(token.handle, /^[0-9a-f]{32}$/);
    assert.deepEqual(frozenMounts(log), ['/mnt/data']);
    const status = g.agent.freezer.status();
    assert.equal(status.thawDeadline! - status.frozenAt!, 3000, 'freezeTimeoutMs is passed to the guest');

    await agent.thaw(token);
    assert.equal(g.agent.freezer.state, 'idle');
    assert.deepEqual(readLog(log), ['pre db', 'freeze /mnt/data', 'unfreeze /mnt/data', 'post db request']);
  });

  it('turns the guest agent\'s error answers into the typed errors the guest raised', async () => {
    const g = await guest([{ name: 'db', preFreeze: appendStep(log, 'pre db') }], 5000);
    const agent = kernelAgent(g.url);
    const token = await agent.quiesce('vm-1');
    await assert.rejects(agent.quiesce('vm-1'), (e: unknown) => e instanceof FreezeBusyError && e.code === 'FREEZE_BUSY' && e.state === 'frozen');
    await assert.rejects(agent.thaw({ vmId: 'vm-1', handle: 'not-a-token' }), UnknownFreezeTokenError);
    await agent.thaw(token);
    await assert.rejects(agent.thaw(token), AlreadyThawedError);

    const expiring = await agent.quiesce('vm-1');
    await g.clock.advance(5000);
    await g.agent.freezer.settled();
    await assert.rejects(agent.thaw(expiring), (e: unknown) => e instanceof FreezeExpiredError && e.reason === 'watchdog' && /crash-consistent/.test(e.message));

    await assert.rejects(new HttpConsistencyAgent({ guests: { 'vm-1': { url: g.url, token: 'wrong-token-0123456789' } } }).quiesce('vm-1'), AgentAuthError);
    await assert.rejects(agent.quiesce('vm-9'), (e: unknown) => e instanceof NoGuestAgentError && e.vmId === 'vm-9');
    const port = await closedPort();
    await assert.rejects(kernelAgent(`http://127.0.0.1:${port}`).quiesce('vm-1'), (e: unknown) => e instanceof AgentUnreachableError && /ECONNREFUSED/.test(e.message));
    assert.equal(g.agent.freezer.state, 'idle');
  });

  it('reports a failed quiesce with the guest\'s failed step', async () => {
    const g = await guest([
      { name: 'db', preFreeze: appendStep(log, 'pre db'), postThaw: appendStep(log, 'post db {reason}') },
      { name: 'mq', preFreeze: failingStep(log, 'pre mq', 2, 'broker down') },
    ]);
    await assert.rejects(kernelAgent(g.url).quiesce('vm-1'), (e: unknown) =>
      e instanceof QuiesceFailedError && e.failed.kind === 'hook' && e.failed.name === 'mq' && /broker down/.test(e.failed.reason) && e.undoErrors.length === 0);
    assert.deepEqual(readLog(log), ['pre db', 'pre mq', 'post db abort']);
  });

  it('answers a server that is not a guest agent with a protocol error', async () => {
    const stub = await startStubManager(log, () => ({ status: 502, body: '<html>bad gateway</html>' }));
    closers.push(() => stub.close());
    await assert.rejects(kernelAgent(stub.url).quiesce('vm-1'), (e: unknown) => e instanceof GuestAgentError && e.status === 502 && e.code === 'AGENT_PROTOCOL');
  });

  it('times out a guest that answers too slowly, and the guest thaws as soon as its freeze completes', async () => {
    const g = await guest([{ name: 'slow', preFreeze: slowStep(log, 'pre slow', 700), postThaw: appendStep(log, 'post slow {reason}') }]);
    await assert.rejects(kernelAgent(g.url, { requestTimeoutMs: 150 }).quiesce('vm-1'), (e: unknown) => e instanceof AgentTimeoutError && e.timeoutMs === 150);
    const deadline = Date.now() + 10_000;
    while (g.agent.freezer.status().thaws.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await g.agent.freezer.settled();
    assert.deepEqual(g.agent.freezer.status().thaws.map((t) => t.reason), ['caller-gone'], 'not left for the watchdog');
    assert.deepEqual(readLog(log), ['pre slow', 'freeze /mnt/data', 'unfreeze /mnt/data', 'post slow caller-gone']);
    assert.equal(g.clock.pending, 0);
  });
});
