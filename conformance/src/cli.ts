#!/usr/bin/env node
// `opencdp-conformance`: runs the conformance suites against a builtin adapter or a vendor's module and
// prints a summary (skipped cases with reasons); writes JSON and JUnit reports; `init` writes an adapter
// skeleton, `matrix` prints (or checks) the capability matrix. Exit codes: 0 passed, 1 a case failed,
// 2 bad usage, 3 nothing was tested or more was skipped than declared (`--expect-skips`).
import { existsSync, writeFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { createFakeHarness } from '@opencdp/adapter-fake';
import { CAPTURE_MODES, OpenCdpError, ValidationError, isEntryPoint, type CapabilityTable, type CaptureMode, type HarnessFactory } from '@opencdp/core';
import { SUITE_NAMES, type SuiteName } from './conformance-case.js';
import { probeHarness, selectCases } from './define-conformance.js';
import { runConformance } from './run-conformance.js';
import { EXIT_FAILED, EXIT_PASSED, EXIT_UNPROVEN, EXIT_USAGE, judge, loadExpectedSkips, type ExpectedSkips } from './verdict.js';
import { matrixCommand } from './capability-matrix.js';
import { mutationTable, runMutants } from './mutation/run-mutants.js';
import { scaffoldAdapter } from './scaffold.js';

export { EXIT_FAILED, EXIT_PASSED, EXIT_UNPROVEN, EXIT_USAGE } from './verdict.js';

/** Adapters that ship with the suite, by name. */
export const BUILTIN_ADAPTERS: Readonly<Record<string, HarnessFactory>> = {
  fake: (options) => createFakeHarness({ seed: 1, ...options }),
  // The fake with its journals in real files, on the I/O-aware clock: the model for a file-backed harness.
  'fake-files': (options) => createFakeHarness({ seed: 1, ...options, recoveryStorage: 'files' }),
  // Loaded only when asked for, so the suite does not depend on the QEMU adapter (or on QEMU being installed).
  qemu: async (options) => {
    const spec = '@opencdp/adapter-qemu/conformance';
    const mod = (await import(spec)) as { createHarness: HarnessFactory };
    return mod.createHarness(options);
  },
  // Hyper-V on its SIMULATED host (no PowerShell runs here); protected VMs use the change-tracking capture mode.
  hyperv: async (options) => {
    const spec = '@opencdp/adapter-hyperv/conformance';
    const mod = (await import(spec)) as { createHarness: HarnessFactory };
    return mod.createHarness(options);
  },
  // vSphere on vcsim (needs Go and Debian's govmomi to build the simulator fixture), change-tracking mode.
  vsphere: async (options) => {
    const spec = '@opencdp/adapter-vsphere/conformance';
    const mod = (await import(spec)) as { createHarness: HarnessFactory };
    return mod.createHarness(options);
  },
  // S3 on a real s3rver, EBS/EC2 simulated; the harness honours the capture mode the suite asks for.
  aws: async (options) => {
    const spec = '@opencdp/adapter-aws/conformance';
    const mod = (await import(spec)) as { createHarness: HarnessFactory };
    return mod.createHarness(options);
  },
};

export interface LoadedAdapter {
  /** The module's `name` export; absent when it has none (the harness's own name is used then). */
  name?: string;
  /** The module file's base name, the last resort for the report. */
  fileName: string;
  createHarness: HarnessFactory;
  capabilities?: Partial<CapabilityTable>;
  /** The module's `todo` export: what is left to implement (the scaffold writes one). */
  todo?: string[];
}

/** Bad usage: printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * A builtin name, or a path to an ES module exporting `createHarness` (a HarnessFactory) and
 * optionally `name`, `capabilities` and `todo`.
 */
export async function loadAdapter(spec: string, cwd = process.cwd()): Promise<LoadedAdapter> {
  const builtin = BUILTIN_ADAPTERS[spec];
  if (builtin) return { name: spec, fileName: spec, createHarness: builtin };
  const path = resolve(cwd, spec);
  if (!existsSync(path)) {
    throw new UsageError(`unknown adapter '${spec}': not a builtin adapter (${Object.keys(BUILTIN_ADAPTERS).join(', ')}) and no module at ${path}`);
  }
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    throw new UsageError(`adapter module ${path} failed to load: ${(error as Error).message}`);
  }
  if (typeof mod.createHarness !== 'function') {
    throw new UsageError(`adapter module ${path} does not export createHarness (a function returning a ConformanceHarness)`);
  }
  const name = typeof mod.name === 'string' && mod.name.trim() !== '' ? mod.name : undefined;
  const capabilities = typeof mod.capabilities === 'object' && mod.capabilities !== null ? (mod.capabilities as Partial<CapabilityTable>) : undefined;
  const todo = Array.isArray(mod.todo) ? mod.todo.filter((t): t is string => typeof t === 'string') : undefined;
  return {
    ...(name ? { name } : {}), fileName: basename(path).replace(/\.[cm]?js$/, ''), createHarness: mod.createHarness as HarnessFactory,
    ...(capabilities ? { capabilities } : {}), ...(todo ? { todo } : {}),
  };
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number ≥ 1');
  return n;
}

function captureMode(value: string): CaptureMode {
  if (!(CAPTURE_MODES as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected ${CAPTURE_MODES.join(' or ')}`);
  return value as CaptureMode;
}

function regexSource(value: string): string {
  try {
    new RegExp(value);
  } catch (error) {
    throw new InvalidArgumentError(`not a regular expression: ${(error as Error).message}`);
  }
  return value;
}

function suiteList(value: string, previous: SuiteName[]): SuiteName[] {
  const names = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const n of names) {
    if (!(SUITE_NAMES as readonly string[]).includes(n)) throw new InvalidArgumentError(`unknown suite '${n}' (suites: ${SUITE_NAMES.join(', ')})`);
  }
  return [...previous, ...(names as SuiteName[]).filter((n) => !previous.includes(n))];
}

export interface CliIo {
  out: (t: string) => void;
  err: (t: string) => void;
}

interface RunOptions {
  adapter: string;
  suite: SuiteName[];
  grep?: string;
  repeat: number;
  seed?: number;
  json?: string;
  junit?: string;
  expectSkips?: string;
  timeout?: number;
  capture?: CaptureMode;
}

async function runCommand(opts: RunOptions, io: CliIo): Promise<number> {
  let adapter: LoadedAdapter;
  let expected: ExpectedSkips | undefined;
  try {
    adapter = await loadAdapter(opts.adapter);
    if (opts.expectSkips !== undefined) expected = loadExpectedSkips(resolve(opts.expectSkips));
  } catch (error) {
    if (error instanceof UsageError || error instanceof ValidationError) {
      io.err(`opencdp-conformance: ${error.message}\n`);
      return EXIT_USAGE;
    }
    throw error;
  }
  const suites = opts.suite.length > 0 ? opts.suite : [...SUITE_NAMES];
  const selected = selectCases(suites, opts.grep).reduce((n, s) => n + s.cases.length, 0);
  let name = adapter.name;
  let capabilities: Partial<CapabilityTable> | undefined = adapter.capabilities;
  if (selected > 0) {
    // One probe up front: the report is named after the harness, and a factory that cannot even build a
    // harness fails here with its own error instead of inside every case.
    try {
      const probed = await probeHarness(adapter.createHarness, adapter.capabilities, opts.capture ? { capture: opts.capture } : undefined);
      name ??= probed.name.trim() !== '' ? probed.name : undefined;
      capabilities = probed.capabilities;
    } catch (error) {
      io.err(`opencdp-conformance: the adapter's createHarness failed: ${error instanceof OpenCdpError ? error.message : (error as Error)?.stack ?? String(error)}\n`);
      return EXIT_FAILED;
    }
  }
  const report = await runConformance({
    name: name ?? adapter.fileName,
    createHarness: adapter.createHarness,
    ...(capabilities ? { capabilities } : {}),
    suites,
    ...(opts.grep !== undefined ? { grep: opts.grep } : {}),
    repeat: opts.repeat,
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    ...(adapter.todo ? { todo: adapter.todo } : {}),
    ...(opts.capture ? { capture: opts.capture } : {}),
    write: io.out,
    ...(opts.json !== undefined ? { json: resolve(opts.json) } : {}),
    ...(opts.junit !== undefined ? { junit: resolve(opts.junit) } : {}),
    ...(opts.timeout !== undefined ? { timeoutMs: opts.timeout } : {}),
  });
  if (opts.json !== undefined) io.out(`report written to ${resolve(opts.json)}\n`);
  if (opts.junit !== undefined) io.out(`JUnit report written to ${resolve(opts.junit)}\n`);
  const verdict = judge(report, expected);
  for (const note of verdict.notes) io.out(`note: ${note}\n`);
  for (const problem of verdict.problems) io.err(`opencdp-conformance: ${problem}\n`);
  return verdict.exitCode;
}

/** The CLI; returns the exit code instead of exiting so it can be driven in-process. */
export async function main(argv: readonly string[], io: CliIo = {
  out: (t) => { process.stdout.write(t); },
  err: (t) => { process.stderr.write(t); },
}): Promise<number> {
  let code = EXIT_PASSED;
  const program = new Command()
    .name('opencdp-conformance')
    .description('The OpenCDP conformance suites for adapters: run them, scaffold an adapter, print the capability matrix.')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });
  program.command('run', { isDefault: true })
    .description('Runs the conformance suites against an adapter (the default command). Unsupported capabilities skip with the reason the adapter gives.')
    .requiredOption('--adapter <name|path>', `a builtin adapter (${Object.keys(BUILTIN_ADAPTERS).join(', ')}) or a path to a module exporting createHarness`)
    .option('--suite <names>', `only these suites, comma-separated or repeated (${SUITE_NAMES.join(', ')})`, suiteList, [] as SuiteName[])
    .option('--grep <pattern>', 'only cases whose "<id> <title>" matches <pattern> (a regular expression), e.g. "^J1\\." or "promotion"', regexSource)
    .option('--repeat <n>', 'run the suites n times in a row in one run; every run must pass', positiveInt, 1)
    .option('--seed <n>', 'seed of every case\'s randomness (default 1); a failure replays with the same seed', positiveInt)
    .option('--json <file>', 'also write the JSON report to <file>')
    .option('--junit <file>', 'also write the report as JUnit XML to <file>')
    .option('--capture <mode>', `the capture mode to run in (${CAPTURE_MODES.join(' | ')}); default: the splitter when the adapter has one`, captureMode)
    .option('--timeout <ms>', 'per-case timeout on a virtual clock in ms (ten times it on a real clock); default 60000', positiveInt)
    .option('--expect-skips <file>', 'JSON list (or object id → reason) of the case ids or prefixes ("S5.*") the adapter may skip; any other skip fails the run (exit 3)')
    .action(async (opts: RunOptions) => { code = await runCommand(opts, io); });
  program.command('init <dir>')
    .description('Writes a compiling adapter skeleton into <dir>: package.json, tsconfig.json, a harness module whose stubs fail the suite where work is left, and TODO.md.')
    .option('--name <name>', 'the platform\'s name (default: the folder\'s name)')
    .option('--force', 'write into a folder that is not empty (never overwrites existing files)')
    .action(async (dir: string, opts: { name?: string; force?: boolean }) => {
      try {
        const written = await scaffoldAdapter({ dir: resolve(dir), ...(opts.name ? { name: opts.name } : {}), force: opts.force === true });
        io.out(`wrote ${written.files.length} files to ${written.dir}:\n${written.files.map((f) => `  ${f}`).join('\n')}\nnext: cd ${dir} && npm install && npm run conformance\n`);
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        io.err(`opencdp-conformance: ${error.message}\n`);
        code = EXIT_USAGE;
      }
    });
  program.command('mutate')
    .description('Runs the suite against every mutant of the catalogue (the adapter broken on purpose, one promise at a time) and prints the mutation score; exit 1 when a mutant survives.')
    .requiredOption('--adapter <name|path>', 'the adapter to mutate (builtin name or module path)')
    .option('--json <file>', 'also write the mutation report as JSON')
    .action(async (opts: { adapter: string; json?: string }) => {
      let adapter: LoadedAdapter;
      try {
        adapter = await loadAdapter(opts.adapter);
      } catch (error) {
        if (!(error instanceof UsageError)) throw error;
        io.err(`opencdp-conformance: ${error.message}\n`);
        code = EXIT_USAGE;
        return;
      }
      const report = await runMutants({
        name: adapter.name ?? adapter.fileName, createHarness: adapter.createHarness,
        onResult: (r) => io.out(`  ${r.outcome === 'killed' ? '✓' : r.outcome === 'survived' ? '✗' : '-'} ${r.id}: ${r.outcome}${r.killedBy ? ` by ${r.killedBy.id}` : ''}${r.reason ? ` (${r.reason})` : ''}\n`),
      });
      io.out(`\n${mutationTable(report)}\n`);
      if (opts.json !== undefined) writeFileSync(resolve(opts.json), `${JSON.stringify(report, null, 2)}\n`);
      code = report.survived > 0 ? EXIT_FAILED : EXIT_PASSED;
    });
  program.command('matrix')
    .description('Prints the capability matrix (which capabilities each case needs) as Markdown, or checks / rewrites it inside a document between its markers.')
    .option('--check <file>', 'exit 1 when the matrix in <file> is stale')
    .option('--write <file>', 'rewrite the matrix in <file>')
    .action(async (opts: { check?: string; write?: string }) => { code = await matrixCommand(opts, io); });
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_PASSED : EXIT_USAGE;
    throw error;
  }
  return code;
}

if (isEntryPoint(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (error: unknown) => {
      process.stderr.write(`opencdp-conformance: ${(error as Error)?.stack ?? String(error)}\n`);
      process.exitCode = EXIT_FAILED;
    },
  );
}
