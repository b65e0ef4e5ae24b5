// The README's promise on a fresh clone: right after `npm ci` the workspaces' commands are linked (npm
// links bins when it installs, before any build, so each bin is a committed shim, not a file in dist/),
// they say "build first" instead of going to the registry, and after the build `npx opencdp-conformance`
// and `npx opencdp` run. Clones this repository's HEAD (committed work only) into a temporary folder.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConformanceReport } from './report.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));

function sh(command: string, args: string[], cwd: string, timeoutMs = 900_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, npm_config_update_notifier: 'false' } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

describe('a fresh clone (README: npm ci, then the build)', function () {
  this.timeout(1_800_000);
  let dir: string;
  let clone: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ocdp-fresh-clone-'));
    clone = join(dir, 'opencdp');
    const c = await sh('git', ['clone', '--quiet', repo, clone], dir);
    assert.equal(c.code, 0, `git clone: ${c.stderr}`);
    assert.equal(existsSync(join(clone, 'conformance', 'dist')), false, 'a clone has no build output');
    // --ignore-scripts: native modules (better-sqlite3) are not what this checks, and skipping their
    // compilation keeps the test minutes shorter; bins are linked either way.
    const ci = await sh('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], clone);
    assert.equal(ci.code, 0, `npm ci: ${ci.stdout}${ci.stderr}`);
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('links every workspace command at npm ci, before the build, to a committed file', async () => {
    for (const [bin, target] of [
      ['opencdp-conformance', 'conformance/bin/opencdp-conformance.js'],
      ['opencdp', 'core/cli/bin/opencdp.js'],
      ['opencdp-vss-agent', 'plugins/consistency-agent/bin/opencdp-vss-agent.js'],
      ['opencdp-guest-agent', 'plugins/consistency-agent/bin/opencdp-guest-agent.js'],
    ]) {
      const link = join(clone, 'node_modules', '.bin', bin);
      assert.ok(existsSync(link), `npm ci linked ${bin}`);
      assert.equal(realpathSync(link), realpathSync(join(clone, target)), `${bin} points at ${target}`);
    }
    // Before the build: the local command answers (never the registry) and says what to do.
    const early = await sh('npx', ['--no', '--', 'opencdp-conformance', '--help'], clone);
    assert.equal(early.code, 2, early.stdout + early.stderr);
    assert.match(early.stderr, /opencdp-conformance: .*conformance\/dist\/cli\.js is missing: build first \(npm run build\)/);
  });

  it('after npm run build, npx opencdp-conformance runs the suite and npx opencdp answers', async () => {
    const build = await sh('npm', ['run', 'build'], clone);
    assert.equal(build.code, 0, `npm run build: ${build.stdout}${build.stderr}`);
    const report = join(dir, 'report.json');
    const run = await sh('npx', ['--no', '--', 'opencdp-conformance', '--adapter', 'fake', '--grep', '^P1\\.1 |^J1\\.1 ', '--json', report], clone);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const json = JSON.parse(await readFile(report, 'utf8')) as ConformanceReport;
    assert.deepEqual(json.cases.map((c) => [c.id, c.state]), [['P1.1', 'passed'], ['J1.1', 'passed']]);
    const help = await sh('npx', ['--no', '--', 'opencdp', '--help'], clone);
    assert.equal(help.code, 0, help.stdout + help.stderr);
    assert.match(help.stdout, /Usage: opencdp \[options\] \[command\]/);
    assert.match(help.stdout, /demo/);
  });
});
