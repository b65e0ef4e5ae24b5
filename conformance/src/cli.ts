#!/usr/bin/env node
// `opencdp-conformance`: runs the conformance suites against a builtin adapter or a vendor's module and
// prints a summary (skipped cases with reasons); `--json` writes the report. Exit codes: 0 all passed
// (skips allowed), 1 a case failed, 2 bad usage (unknown adapter, module without createHarness, bad option).
import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { createFakeHarness } from '@opencdp/adapter-fake';
import { CAPTURE_MODES, isEntryPoint, type CapabilityTable, type CaptureMode, type HarnessFactory } from '@opencdp/core';
import { runConformance } from './run-conformance.js';

export const EXIT_PASSED = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Adapters that ship with the suite, by name. */
export const BUILTIN_ADAPTERS: Readonly<Record<string, HarnessFactory>> = {
  fake: (options) => createFakeHarness({ seed: 1, ...options }),
  // Loaded only when asked for, so the suite does not depend on the QEMU adapter (or on QEMU being installed).
  qemu: async (options) => {
    const spec = '@opencdp/adapter-qemu/conformance';
    const mod = (await import(spec)) as { createHarness: HarnessFactory };
    return mod.createHarness(options);
  },
};

export interface LoadedAdapter {
  name: string;
  createHarness: HarnessFactory;
  capabilities?: Partial<CapabilityTable>;
}

/** Bad usage: printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * A builtin name, or a path to an ES module exporting `createHarness` (a HarnessFactory) and
 * optionally `name` and `capabilities`.
 */
export async function loadAdapter(spec: string, cwd = process.cwd()): Promise<LoadedAdapter> {
  const builtin = BUILTIN_ADAPTERS[spec];
  if (builtin) return { name: spec, createHarness: builtin };
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
  const name = typeof mod.name === 'string' && mod.name.trim() !== '' ? mod.name : basename(path).replace(/\.[cm]?js$/, '');
  const capabilities = typeof mod.capabilities === 'object' && mod.capabilities !== null ? (mod.capabilities as Partial<CapabilityTable>) : undefined;
  return { name, createHarness: mod.createHarness as HarnessFactory, ...(capabilities ? { capabilities } : {}) };
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

/** The CLI; returns the exit code instead of exiting so it can be driven in-process. */
export async function main(argv: readonly string[], io: { out: (t: string) => void; err: (t: string) => void } = {
  out: (t) => { process.stdout.write(t); },
  err: (t) => { process.stderr.write(t); },
}): Promise<number> {
  const program = new Command()
    .name('opencdp-conformance')
    .description('Runs the OpenCDP conformance suites against an adapter. Unsupported capabilities skip with the reason the adapter gives.')
    .requiredOption('--adapter <name|path>', `a builtin adapter (${Object.keys(BUILTIN_ADAPTERS).join(', ')}) or a path to a module exporting createHarness`)
    .option('--json <file>', 'also write the JSON report to <file>')
    .option('--grep <pattern>', 'only run cases whose title matches <pattern> (a regular expression), e.g. "J1\\."', regexSource)
    .option('--repeat <n>', 'run the suites n times in a row in one run; every run must pass', positiveInt, 1)
    .option('--capture <mode>', `the capture mode to run in (${CAPTURE_MODES.join(' | ')}); default: the splitter when the adapter has one`, captureMode)
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });
  let opts: { adapter: string; json?: string; grep?: string; repeat: number; capture?: CaptureMode };
  try {
    program.parse([...argv], { from: 'user' });
    opts = program.opts();
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_PASSED : EXIT_USAGE;
    throw error;
  }
  let adapter: LoadedAdapter;
  try {
    adapter = await loadAdapter(opts.adapter);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`opencdp-conformance: ${error.message}\n`);
      return EXIT_USAGE;
    }
    throw error;
  }
  const report = await runConformance({
    name: adapter.name,
    createHarness: adapter.createHarness,
    ...(adapter.capabilities ? { capabilities: adapter.capabilities } : {}),
    repeat: opts.repeat,
    ...(opts.capture ? { capture: opts.capture } : {}),
    write: io.out,
    ...(opts.json !== undefined ? { json: resolve(opts.json) } : {}),
    ...(opts.grep !== undefined ? { grep: opts.grep } : {}),
  });
  if (opts.json !== undefined) io.out(`report written to ${resolve(opts.json)}\n`);
  return report.failed > 0 ? EXIT_FAILED : EXIT_PASSED;
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
