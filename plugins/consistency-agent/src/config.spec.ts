// The config file: defaults, strict keys (a typo must not silently drop a hook), and file errors.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_HOOK_TIMEOUT_MS, DEFAULT_LISTEN_HOST, DEFAULT_MAX_FREEZE_MS, loadAgentConfig, parseAgentConfig } from './config.js';
import { AgentConfigError } from './errors.js';
import { AUTH_TOKEN, tempDir, writeJson } from './spec-helpers.js';

describe('agent config', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => { ({ dir, cleanup } = await tempDir()); });
  afterEach(async () => { await cleanup(); });

  it('fills in the defaults and keeps hooks in their order', () => {
    const config = parseAgentConfig({ hooks: [{ preFreeze: 'echo a' }, { name: 'db', postThaw: ['/bin/true'] }] }, { dir });
    assert.equal(config.maxFreezeMs, DEFAULT_MAX_FREEZE_MS);
    assert.deepEqual(config.listen, { host: DEFAULT_LISTEN_HOST, port: 9480 });
    assert.deepEqual(config.mounts, []);
    assert.deepEqual(config.hooks, [
      { name: 'hook-1', preFreeze: 'echo a', timeoutMs: DEFAULT_HOOK_TIMEOUT_MS },
      { name: 'db', postThaw: ['/bin/true'], timeoutMs: DEFAULT_HOOK_TIMEOUT_MS },
    ]);
    assert.equal(config.authToken, undefined);
  });

  it('refuses unknown keys, bad values and unsafe tokens, naming the field', () => {
    const bad: Array<[unknown, string]> = [
      [{ hooks: [{ preFreez: 'x' }] }, 'hooks[0].preFreez'],
      [{ mount: ['/'] }, 'mount'],
      [{ mounts: ['relative/path'] }, 'mounts[0]'],
      [{ mounts: ['/a', '/a'] }, 'mounts[1]'],
      [{ maxFreezeMs: 0 }, 'maxFreezeMs'],
      [{ maxFreezeMs: 1_000_000 }, 'maxFreezeMs'],
      [{ hooks: [{ name: 'x' }] }, 'hooks[0]'],
      [{ hooks: [{ name: 'x', preFreeze: 'a' }, { name: 'x', preFreeze: 'b' }] }, 'hooks[1].name'],
      [{ hooks: [{ preFreeze: [] }] }, 'hooks[0].preFreeze'],
      [{ freezeCommand: 'fsfreeze' }, 'freezeCommand'],
      [{ authToken: 'short' }, 'authToken'],
      [{ listen: { port: 70000 } }, 'listen.port'],
      [[], '(top level)'],
    ];
    for (const [raw, field] of bad) {
      assert.throws(() => parseAgentConfig(raw, { dir, file: '/etc/x.json' }), (e: unknown) => e instanceof AgentConfigError && e.field === field && e.message.startsWith('/etc/x.json: '), JSON.stringify(raw));
    }
  });

  it('loads a file, reading the token from authTokenFile next to it', async () => {
    await writeFile(join(dir, 'token'), `${AUTH_TOKEN}\n`);
    const file = await writeJson(join(dir, 'agent.json'), { vmId: 'vm-1', authTokenFile: 'token', mounts: ['/srv'] });
    const config = await loadAgentConfig(file);
    assert.equal(config.authToken, AUTH_TOKEN);
    assert.equal(config.dir, dir);
    assert.equal(config.vmId, 'vm-1');
  });

  it('names the file when it is missing or not JSON', async () => {
    await assert.rejects(loadAgentConfig(join(dir, 'missing.json')), /missing\.json: cannot read the config file: ENOENT/);
    await writeFile(join(dir, 'broken.json'), '{ "hooks": [');
    await assert.rejects(loadAgentConfig(join(dir, 'broken.json')), (e: unknown) => e instanceof AgentConfigError && /broken\.json: not valid JSON/.test(e.message));
    const both = await writeJson(join(dir, 'both.json'), { authToken: AUTH_TOKEN, authTokenFile: 'token' });
    await assert.rejects(loadAgentConfig(both), /give authToken or authTokenFile, not both/);
  });
});
