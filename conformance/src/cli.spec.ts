// The CLI as a vendor runs it: a child process (through the bin npm links), its exit code, its output,
// the JSON and JUnit reports, suite and grep selection, and the rules that make a run that tested nothing
// or skipped more than declared fail.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { ConformanceReport } from './report.js';

const bin = fileURLToPath(new URL('../bin/opencdp-conformance.js', import.meta.url));
const droppingAdapter = fileURLToPath(new URL('./testing/dropping-adapter.js', import.meta.url));
const harnessUrl = new URL('./testing/broken-harness.js', import.meta.url).href;
const fakeUrl = import.meta.resolve('@opencdp/adapter-fake');

interface Result { code: number; stdout: string; stderr: string }

function runCli(args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      // execFile reports a non-zero exit as an error carrying the code; that is an answer here, not a failure.
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('opencdp-conformance CLI', function () {
  this.timeout(120_000);
  let dir: string;
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'ocdp-conformance-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  /** An adapter module outside the workspace (it imports by URL, as it cannot resolve package names). */
  async function module(file: string, lines: string[]): Promise<string> {
    const path = join(dir, file);
    await writeFile(path, [`import { createFakeHarness } from '${fakeUrl}';`, `import { withoutCapability } from '${harnessUrl}';`, ...lines].join('\n'));
    return path;
  }

  it('runs every suite twice in a row against the fake adapter, exits 0 and writes the JSON and JUnit reports', async function () {
    this.timeout(900_000); // the whole suite, twice, in a child process on a shared machine
    const file = join(dir, 'report.json');
    const xml = join(dir, 'report.xml');
    const r = await runCli(['--adapter', 'fake', '--json', file, '--junit', xml, '--repeat', '2']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const report = JSON.parse(await readFile(file, 'utf8')) as ConformanceReport;
    assert.deepEqual(Object.keys(report), ['adapter', 'passed', 'failed', 'skipped', 'suites', 'cases']);
    assert.equal(report.adapter, 'fake');
    assert.equal(report.failed, 0);
    // The fake supports every capability of the splitter mode it runs in by default: only C1–C5 skip.
    assert.ok(report.cases.filter((c) => c.state === 'skipped').every((c) => c.id.startsWith('C') && /changeTracking: /.test(c.reason ?? '')));
    assert.equal(report.skipped, report.cases.filter((c) => c.id.startsWith('C')).length);
    assert.equal(report.passed + report.failed + report.skipped, report.cases.length);
    assert.deepEqual(Object.keys(report.suites), ['platform', 'journal', 'sync', 'recovery', 'change-tracking']);
    assert.equal(Object.values(report.suites).reduce((n, s) => n + s.passed, 0), report.passed);
    for (const c of report.cases) {
      assert.match(c.id, /^[PJSRC]\d+\.\d+$/);
      assert.ok(typeof c.title === 'string' && c.title.length > 0);
      assert.ok(Object.keys(report.suites).includes(c.suite), `case ${c.id} names its suite (${c.suite})`);
      assert.ok(['passed', 'failed', 'skipped'].includes(c.state));
      assert.ok(Number.isSafeInteger(c.durationMs) && c.durationMs >= 0, `case ${c.id} has a duration`);
      assert.ok(Object.keys(c).every((k) => ['id', 'title', 'suite', 'state', 'reason', 'durationMs'].includes(k)), `case keys ${Object.keys(c).join(',')}`);
    }
    for (const group of ['P1', 'P2', 'P3', 'P4', 'J1', 'J2', 'J3', 'J4', 'J5', 'J6', 'J7', 'J8', 'S1', 'S2', 'S3', 'S4', 'S5', 'S8', 'S9', 'R1', 'R7']) {
      assert.ok(report.cases.some((c) => c.id.startsWith(`${group}.`)), `a ${group} case`);
    }
    const ids = report.cases.map((c) => c.id);
    const once = [...new Set(ids)];
    assert.deepEqual(ids, [...once, ...once], 'every case ran twice, in the same order');
    assert.match(r.stdout, /OpenCDP conformance for adapter 'fake': \d+ passed, 0 failed, \d+ skipped/);
    // JUnit: well-formed, one testsuite per suite, one testcase per case.
    const text = await readFile(xml, 'utf8');
    assert.equal(XMLValidator.validate(text), true, 'the JUnit report is well-formed XML');
    const junit = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => ['testsuite', 'testcase'].includes(name) }).parse(text) as {
      testsuites: { tests: string; failures: string; testsuite: { name: string; tests: string; testcase: { name: string }[] }[] };
    };
    assert.equal(Number(junit.testsuites.tests), report.cases.length);
    assert.equal(Number(junit.testsuites.failures), 0);
    assert.deepEqual(junit.testsuites.testsuite.map((s) => s.name), ['fake.platform', 'fake.journal', 'fake.sync', 'fake.recovery', 'fake.change-tracking']);
    assert.equal(junit.testsuites.testsuite.flatMap((s) => s.testcase).length, report.cases.length);
  });

  it('--capture change-tracking runs the fake without a splitter: C1–C5 pass, splitter-only cases skip with their reason', async function () {
    this.timeout(180_000);
    const file = join(dir, 'ct.json');
    const r = await runCli(['--adapter', 'fake', '--capture', 'change-tracking', '--grep', '(C\\d\\.\\d|J1\\.1|S3\\.1) ', '--json', file]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const report = JSON.parse(await readFile(file, 'utf8')) as ConformanceReport;
    const states = Object.fromEntries(report.cases.map((c) => [c.id, c.state]));
    assert.deepEqual(states, { 'J1.1': 'passed', 'S3.1': 'skipped', 'C1.1': 'passed', 'C1.2': 'passed', 'C2.1': 'passed', 'C3.1': 'passed', 'C4.1': 'passed', 'C5.1': 'passed' });
    assert.match(report.cases.find((c) => c.id === 'S3.1')!.reason ?? '', /^writeTap: .*change-tracking capture mode/);
    const bad = await runCli(['--adapter', 'fake', '--capture', 'psychic']);
    assert.equal(bad.code, 2);
  });

  it('exits 1 and names the failing case, with expected and observed values, for an adapter module that loses writes; JUnit holds the failure', async () => {
    const file = join(dir, 'dropping.json');
    const xml = join(dir, 'dropping.xml');
    const r = await runCli(['--adapter', droppingAdapter, '--grep', '^J1\\.1 ', '--json', file, '--junit', xml]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const report = JSON.parse(await readFile(file, 'utf8')) as ConformanceReport;
    assert.equal(report.adapter, 'fake-dropping-every-50th-write');
    assert.deepEqual(report.cases.map((c) => [c.id, c.state]), [['J1.1', 'failed']]);
    assert.match(report.cases[0].reason ?? '', /differs from the oracle in the block at offset \d+ .*sha256 expected [0-9a-f]+…, got [0-9a-f]+…/);
    assert.match(r.stdout, /Failed:\n {2}J1\.1/);
    assert.match(r.stderr, /1 case\(s\) failed: J1\.1/);
    const junit = await readFile(xml, 'utf8');
    assert.equal(XMLValidator.validate(junit), true);
    assert.match(junit, /<testcase classname="opencdp\.conformance\.fake-dropping-every-50th-write\.journal" name="J1\.1 [^"]*" time="[\d.]+">\s*<failure message="[^"]*differs from the oracle/);
  });

  it('selects by suite and by "<id> <title>": --suite journal --grep ^J1\\. runs J1 only; --grep ^J runs every J case of every suite', async () => {
    const a = join(dir, 'suite.json');
    const r1 = await runCli(['--adapter', 'fake', '--suite', 'journal', '--grep', '^J1\\.', '--json', a]);
    assert.equal(r1.code, 0, r1.stderr);
    const one = JSON.parse(await readFile(a, 'utf8')) as ConformanceReport;
    assert.deepEqual(one.cases.map((c) => c.id), ['J1.1', 'J1.2', 'J1.3']);
    assert.deepEqual(Object.keys(one.suites), ['journal']);
    const b = join(dir, 'grep.json');
    const r2 = await runCli(['--adapter', 'fake', '--grep', '^J', '--json', b]);
    assert.equal(r2.code, 0, r2.stderr);
    const js = JSON.parse(await readFile(b, 'utf8')) as ConformanceReport;
    assert.ok(js.cases.length >= 16 && js.cases.every((c) => c.id.startsWith('J')), js.cases.map((c) => c.id).join(','));
    assert.ok(js.cases.some((c) => c.suite === 'sync'), 'J cases of the sync suite (J2.3, J8.1) are selected too');
    const r3 = await runCli(['--adapter', 'fake', '--suite', 'teleport']);
    assert.equal(r3.code, 2);
    assert.match(r3.stderr, /unknown suite 'teleport' \(suites: platform, journal, sync, recovery/);
  });

  it('exits 3 when nothing is tested: a pattern that matches no case, or a harness whose every needed capability is unsupported', async () => {
    const none = await runCli(['--adapter', 'fake', '--grep', '^X']);
    assert.equal(none.code, 3, none.stdout + none.stderr);
    assert.match(none.stderr, /nothing was tested: no case was selected/);
    const mod = await module('no-tap.mjs', [
      "export const name = 'tracking-only';",
      "export const createHarness = withoutCapability(() => createFakeHarness(), 'writeTap', 'this platform has change tracking only');",
    ]);
    const r = await runCli(['--adapter', mod, '--suite', 'sync']);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stdout, /0 passed, 0 failed, 2\d skipped/);
    assert.match(r.stderr, /nothing was tested: all 2\d selected case\(s\) were skipped \(2\d need writeTap/);
  });

  it('--expect-skips: declared skips pass, an undeclared skip fails with exit 3, a declared skip that ran is noted; a bad file is a usage error', async () => {
    const mod = await module('no-crash.mjs', [
      "export const createHarness = withoutCapability(() => createFakeHarness(), 'faultStorageCrash', 'this store cannot lose power');",
    ]);
    const declared = join(dir, 'declared.json');
    await writeFile(declared, JSON.stringify({ 'J6.*': 'the array has battery-backed cache', 'J1.1': 'not really skipped' }));
    const ok = await runCli(['--adapter', mod, '--grep', '^J6|^J1\\.1 ', '--expect-skips', declared]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /Skipped \(unsupported capabilities\):\n {2}J6\.1 .*\n {6}faultStorageCrash: this store cannot lose power/);
    assert.match(ok.stdout, /note: declared as skipped in .*declared\.json but ran: J1\.1/);
    const empty = join(dir, 'empty.json');
    await writeFile(empty, '[]');
    const bad = await runCli(['--adapter', mod, '--grep', '^J6|^J1\\.1 ', '--expect-skips', empty]);
    assert.equal(bad.code, 3, bad.stdout + bad.stderr);
    assert.match(bad.stderr, /1 case\(s\) skipped that .*empty\.json does not declare: J6\.1 \(faultStorageCrash: this store cannot lose power\)/);
    const broken = join(dir, 'broken.json');
    await writeFile(broken, '{"J6.1": 3}');
    const usage = await runCli(['--adapter', mod, '--expect-skips', broken]);
    assert.equal(usage.code, 2, usage.stderr);
    assert.match(usage.stderr, /the reason for J6\.1 must be a string/);
  });

  it('names the report after the harness when the module exports no name (not after the module file)', async () => {
    const mod = await module('harness.mjs', ['export const createHarness = () => createFakeHarness();']);
    const file = join(dir, 'named.json');
    const r = await runCli(['--adapter', mod, '--grep', '^P1\\.1 ', '--json', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(await readFile(file, 'utf8')) as ConformanceReport).adapter, 'fake');
  });

  it('exits 2 with a message for an unknown adapter, a module without createHarness, and bad options', async () => {
    const r = await runCli(['--adapter', 'nope']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown adapter 'nope': not a builtin adapter \(fake, fake-files, qemu, hyperv, vsphere, aws\) and no module at /);
    const empty = join(dir, 'empty-adapter.mjs');
    await writeFile(empty, "export const name = 'empty';\n");
    const e = await runCli(['--adapter', empty]);
    assert.equal(e.code, 2);
    assert.match(e.stderr, /does not export createHarness/);
    for (const args of [[], ['--adapter', 'fake', '--repeat', '0'], ['--adapter', 'fake', '--grep', '(']]) {
      const x = await runCli(args);
      assert.equal(x.code, 2, `${args.join(' ')}: ${x.stderr}`);
      assert.match(x.stderr, /error/i);
    }
  });

  it('exits 1 naming the cause when the adapter cannot build a harness at all', async () => {
    const mod = join(dir, 'unreachable.mjs');
    await writeFile(mod, "export const createHarness = async () => { throw new Error('no platform reachable at 10.0.0.9'); };\n");
    const r = await runCli(['--adapter', mod]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /the adapter's createHarness failed: .*no platform reachable at 10\.0\.0\.9/);
  });
});
