// `opencdp-conformance init`: the skeleton compiles with the SDK as it is, its harness runs the suite and
// fails where work is left (naming the stub), and the report echoes the skeleton's TODO list.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConformanceReport } from './report.js';

const bin = fileURLToPath(new URL('../bin/opencdp-conformance.js', import.meta.url));
const repoNodeModules = fileURLToPath(new URL('../../node_modules', import.meta.url));
const tsc = join(repoNodeModules, 'typescript', 'bin', 'tsc');

function run(file: string, args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [file, ...args], { cwd, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

describe('opencdp-conformance init (the adapter scaffold)', function () {
  this.timeout(300_000);
  let dir: string;
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'ocdp-scaffold-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it('writes a skeleton that compiles, runs the suite, fails at its stubs and echoes its TODO list', async () => {
    const target = join(dir, 'acme');
    const init = await run(bin, ['init', target], dir);
    assert.equal(init.code, 0, init.stderr);
    for (const f of ['package.json', 'tsconfig.json', 'src/harness.ts', 'src/hypervisor.ts', 'src/conformance.spec.ts', 'expected-skips.json', 'TODO.md']) {
      assert.ok(existsSync(join(target, f)), `${f} was written`);
    }
    const pkg = JSON.parse(await readFile(join(target, 'package.json'), 'utf8')) as { name: string; dependencies: Record<string, string> };
    assert.equal(pkg.name, 'opencdp-adapter-acme');
    assert.match(pkg.dependencies['@opencdp/core'], /^file:.*core\/kernel$/, 'the SDK comes from this checkout until it is published');
    // The packages a vendor would install: this repository's (SDK packages, TypeScript, mocha).
    await symlink(repoNodeModules, join(target, 'node_modules'), 'dir');
    const build = await run(tsc, ['-p', '.'], target);
    assert.equal(build.code, 0, `the skeleton compiles: ${build.stdout}${build.stderr}`);
    const report = join(target, 'conformance.json');
    const r = await run(bin, ['--adapter', 'dist/harness.js', '--suite', 'platform', '--json', report, '--expect-skips', 'expected-skips.json'], target);
    assert.equal(r.code, 1, `the suite fails where work is left: ${r.stdout}${r.stderr}`);
    const json = JSON.parse(await readFile(report, 'utf8')) as ConformanceReport;
    assert.equal(json.adapter, 'acme');
    const { todo } = (await import(join(target, 'dist', 'harness.js'))) as { todo: string[] };
    assert.ok(todo.length > 0);
    assert.deepEqual(json.todo, todo, 'the report echoes the module\'s TODO list');
    assert.match(r.stdout, new RegExp(`TODO \\(the adapter module's own list, ${todo.length} left\\):\\n {2}- src/hypervisor\\.ts inventory`));
    const failed = json.cases.filter((c) => c.state === 'failed');
    assert.ok(failed.length > 0 && failed.every((c) => /TODO\(/.test(c.reason ?? '')), `every failure names a stub: ${failed.map((c) => c.reason).join(' | ')}`);
    assert.deepEqual(json.cases.filter((c) => c.state === 'skipped').map((c) => c.id), ['P2.2', 'P2.3', 'P4.2'], 'the skeleton skips only what it declares unsupported (and declares it in expected-skips.json)');
  });

  it('refuses a folder that is not empty and a bad name, writing nothing', async () => {
    const busy = join(dir, 'busy');
    await mkdir(busy);
    await writeFile(join(busy, 'keep.txt'), 'mine');
    const r = await run(bin, ['init', busy], dir);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /is not empty .*--force/);
    assert.deepEqual(await readdir(busy), ['keep.txt']);
    const bad = await run(bin, ['init', join(dir, 'x'), '--name', 'Bad Name'], dir);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /'Bad Name' is not a platform name/);
    assert.equal(existsSync(join(dir, 'x')), false);
  });
});
