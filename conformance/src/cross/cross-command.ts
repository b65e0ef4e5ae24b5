// The `cross` subcommand's body: checks its options, resolves the two adapters (or the builtin list for
// `--matrix`), runs the pairs, prints the table and writes JSON / JUnit. The CLI hands in its adapter
// loader, so this module does not import the CLI (no cycle).
import { resolve } from 'node:path';
import type { CaptureMode, HarnessFactory } from '@opencdp/core';
import { createFakeHarness } from '@opencdp/adapter-fake';
import { EXIT_FAILED, EXIT_PASSED, EXIT_UNPROVEN, EXIT_USAGE } from '../verdict.js';
import { crossTable, runCrossMatrix, runCrossPair, writeMatrixReports, type CrossMatrixReport, type CrossSide } from './cross-matrix.js';

export interface CrossOptions {
  adapter?: string;
  recoveryAdapter?: string;
  matrix?: boolean;
  adapters?: string;
  pairs?: string;
  grep?: string;
  capture?: CaptureMode;
  seed?: number;
  timeout?: number;
  json?: string;
  junit?: string;
}

export interface CrossDeps {
  builtins: Readonly<Record<string, HarnessFactory>>;
  load: (spec: string) => Promise<{ name?: string; fileName: string; createHarness: HarnessFactory }>;
  isUsageError: (error: unknown) => boolean;
}

/** The fake as a recovery side: its ids get a prefix, so they never equal the protected side's (`vm-1`). */
const RECOVERY_SIDES: readonly CrossSide[] = [{ name: 'fake', createHarness: (options) => createFakeHarness({ seed: 2, idPrefix: 'recovery', ...options }) }];

/** The builtin adapters the matrix covers (`fake-files` is the fake with file journals: not another platform). */
export const MATRIX_ADAPTERS = ['fake', 'qemu', 'vsphere', 'hyperv', 'aws'] as const;

export async function crossCommand(opts: CrossOptions, io: { out: (t: string) => void; err: (t: string) => void }, deps: CrossDeps): Promise<number> {
  const usage = (message: string): number => {
    io.err(`opencdp-conformance cross: ${message}\n`);
    return EXIT_USAGE;
  };
  const common = {
    ...(opts.grep !== undefined ? { grep: opts.grep } : {}),
    ...(opts.capture ? { capture: opts.capture } : {}),
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    ...(opts.timeout !== undefined ? { timeoutMs: opts.timeout } : {}),
  };
  let report: CrossMatrixReport;
  if (opts.matrix) {
    if (opts.adapter !== undefined || opts.recoveryAdapter !== undefined) return usage('--matrix runs the builtin pairs: give it without --adapter / --recovery-adapter');
    const names = opts.adapters !== undefined ? opts.adapters.split(',').map((s) => s.trim()).filter((s) => s !== '') : [...MATRIX_ADAPTERS];
    for (const n of names) if (!deps.builtins[n]) return usage(`unknown builtin adapter '${n}' (builtins: ${Object.keys(deps.builtins).join(', ')})`);
    const sides: CrossSide[] = names.map((n) => ({ name: n, createHarness: deps.builtins[n] }));
    let pairs: [string, string][] | undefined;
    if (opts.pairs !== undefined) {
      pairs = [];
      for (const p of opts.pairs.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
        const [a, b, ...rest] = p.split(':');
        if (!a || !b || rest.length > 0 || !names.includes(a) || !names.includes(b)) return usage(`bad pair '${p}': expected <protecting>:<recovering> among ${names.join(', ')}`);
        pairs.push([a, b]);
      }
    }
    report = await runCrossMatrix(sides, {
      ...common, ...(pairs ? { pairs } : {}), recoverySides: RECOVERY_SIDES,
      onPair: (r) => io.out(`  ${r.failed > 0 ? '✗' : '✓'} ${r.protected}→${r.recovery} (${r.capture}): ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped (${Math.round(r.durationMs / 1000)} s)${r.error ? `: ${r.error}` : ''}\n`),
    });
  } else {
    if (opts.adapter === undefined || opts.recoveryAdapter === undefined) return usage('give --adapter <protecting> and --recovery-adapter <recovering>, or --matrix');
    let a: CrossSide;
    let b: CrossSide;
    try {
      const [la, lb] = [await deps.load(opts.adapter), await deps.load(opts.recoveryAdapter)];
      a = { name: la.name ?? la.fileName, createHarness: la.createHarness };
      b = { name: lb.name ?? lb.fileName, createHarness: lb.createHarness };
      if (opts.recoveryAdapter === 'fake') b = RECOVERY_SIDES[0];
    } catch (error) {
      if (deps.isUsageError(error)) return usage((error as Error).message);
      throw error;
    }
    const pair = await runCrossPair(a, b, { ...common, write: io.out });
    if (pair.error !== undefined) io.err(`opencdp-conformance cross: ${pair.protected}→${pair.recovery} could not run: ${pair.error}\n`);
    report = { grep: opts.grep ?? '', pairs: [pair], passed: pair.passed, failed: pair.failed, skipped: pair.skipped };
  }
  io.out(`\n${crossTable(report)}\n`);
  writeMatrixReports(report, { ...(opts.json !== undefined ? { json: resolve(opts.json) } : {}), ...(opts.junit !== undefined ? { junit: resolve(opts.junit) } : {}) });
  if (opts.json !== undefined) io.out(`report written to ${resolve(opts.json)}\n`);
  if (opts.junit !== undefined) io.out(`JUnit report written to ${resolve(opts.junit)}\n`);
  if (report.failed > 0) return EXIT_FAILED;
  if (report.passed === 0) io.err('opencdp-conformance cross: nothing passed: every case was skipped or none was selected\n');
  return report.passed > 0 ? EXIT_PASSED : EXIT_UNPROVEN;
}
