// The CLI as a vendor runs it: a child process, its exit code, its output and the JSON report.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConformanceReport } from './report.js';

const cli = fileURLToPath(new URL('./cli.js', import.meta.url));
const droppingAdapter = fileURLToPath(new URL('./testing/dropping-adapter.js', import.meta.url));

interface Result { code: number; stdout: string; stderr: string }

function runCli(args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      // execFile reports a non-zero exit as an error carrying the code; that is an answer here, not a failure.
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('opencdp-conformance CLI', function () {
  // The whole suite runs twice in a child process (with J2.4's control-link rounds); on a loaded 2-core machine that takes over a minute.
  this.timeout(150_000);
  let dir: string;
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'ocdp-conformance-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it('runs the whole suite twice in a row against the fake adapter, exits 0 and writes the JSON report', async () => {
    const file = join(dir, 'report.json');
    const r = await runCli(['--adapter', 'fake', '--json', file, '--repeat', '2']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const report = JSON.parse(await readFile(file, 'utf8')) as ConformanceReport;
    assert.deepEqual(Object.keys(report), ['adapter', 'passed', 'failed', 'skipped', 'suites', 'cases']);
    assert.equal(report.adapter, 'fake');
    assert.equal(report.failed, 0);
    assert.equal(report.skipped, 0, 'the fake supports every capability');
    assert.equal(report.passed + report.failed + report.skipped, report.cases.length);
    assert.deepEqual(Object.keys(report.suites), ['journal', 'sync', 'recovery']);
    assert.equal(report.suites.journal.passed + report.suites.sync.passed + report.suites.recovery.passed, report.passed);
    assert.deepEqual([report.suites.journal.failed, report.suites.sync.failed, report.suites.recovery.failed], [0, 0, 0]);
    for (const c of report.cases) {
      assert.match(c.id, /^[JSR]\d+\.\d+$/);
      assert.ok(typeof c.title === 'string' && c.title.length > 0);
      assert.ok(['passed', 'failed', 'skipped'].includes(c.state));
      assert.ok(Object.keys(c).every((k) => ['id', 'title', 'state', 'reason'].includes(k)), `case keys ${Object.keys(c).join(',')}`);
    }
    for (const group of ['J1', 'J2', 'J3', 'J4', 'J5', 'J6', 'J7', 'J8', 'S1', 'S2', 'S3', 'S4', 'S5', 'S8', 'S9']) {
      assert.ok(report.cases.some((c) => c.id.startsWith(`${group}.`)), `a ${group} case`);
    }
    const ids = report.cases.map((c) => c.id);
    const once = [...new Set(ids)];
    assert.deepEqual(ids, [...once, ...once], 'every case ran twice, in the same order');
    assert.match(r.stdout, /OpenCDP conformance for adapter 'fake': \d+ passed, 0 failed, 0 skipped/);
  });

  it('exits 1 and names the failing case for an adapter module that loses writes', async () => {
    const file = join(dir, 'dropping.json');
    const r = await runCli(['--adapter', droppingAdapter, '--grep', 'J1\\.1', '--json', file]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const report = JSON.parse(await readFile(file, 'utf8')) as ConformanceReport;
    assert.equal(report.adapter, 'fake-dropping-every-50th-write');
    assert.deepEqual(report.cases.map((c) => [c.id, c.state]), [['J1.1', 'failed']]);
    assert.match(r.stdout, /Failed:\n {2}J1\.1/);
  });

  it('lists skipped cases with their reasons in the summary', async () => {
    const module = join(dir, 'no-crash-adapter.mjs');
    const harnessUrl = new URL('./testing/broken-harness.js', import.meta.url).href;
    await writeFile(module, [
      // A module outside the workspace cannot resolve package names: import by URL.
      `import { createFakeHarness } from '${import.meta.resolve('@opencdp/adapter-fake')}';`,
      `import { withoutCapability } from '${harnessUrl}';`,
      "export const name = 'no-crash';",
      "export const createHarness = withoutCapability(() => createFakeHarness(), 'faultStorageCrash', 'this store cannot lose power');",
    ].join('\n'));
    const r = await runCli(['--adapter', module, '--grep', 'J6']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /Skipped \(unsupported capabilities\):\n {2}J6\.1 .*\n {6}faultStorageCrash: this store cannot lose power/);
  });

  it('exits 2 with a message for an unknown adapter', async () => {
    const r = await runCli(['--adapter', 'nope']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown adapter 'nope': not a builtin adapter \(fake, qemu, hyperv\) and no module at /);
  });

  it('exits 2 when the module does not export createHarness', async () => {
    const module = join(dir, 'empty-adapter.mjs');
    await writeFile(module, "export const name = 'empty';\n");
    const r = await runCli(['--adapter', module]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /does not export createHarness/);
  });

  it('exits 2 on bad usage: no --adapter, a repeat count that is not a positive number, a bad pattern', async () => {
    for (const args of [[], ['--adapter', 'fake', '--repeat', '0'], ['--adapter', 'fake', '--grep', '(']]) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /error/i);
    }
  });
});
