// `opencdp-conformance cross`: the recovery suite with one adapter protecting and another recovering
// (cross-harness.ts), for one pair or for every pair of the builtin adapters as one table (text, JSON,
// JUnit with one <testsuite> per pair). The matrix runs a subset of the recovery cases per pair unless
// told `--grep .`: the full suite × 25 pairs is far longer than a CI run should be.
import { writeFileSync } from 'node:fs';
import type { CaptureMode, HarnessFactory } from '@opencdp/core';
import { toJUnitXml } from '../junit-report.js';
import type { CaseReport, ConformanceReport } from '../report-model.js';
import { runConformance } from '../run-conformance.js';
import { crossHarnessFactory } from './cross-harness.js';

/**
 * The cases each pair runs by default: a failover test at a chosen checkpoint (R1.1), a live failover
 * with commit and promotion (R2.1) — both compare every recovered disk with the oracle by hash — and
 * the cross-platform disk check (X1.1: hash, and `qemu-img compare` where the target holds a disk file).
 */
export const CROSS_DEFAULT_GREP = '^(R1\\.1|R2\\.1|X1\\.1) ';

/** Platforms that protect only in the change-tracking capture mode (no write splitter). */
const CHANGE_TRACKING_ONLY = new Set(['vsphere', 'hyperv', 'aws']);

export interface CrossSide {
  name: string;
  createHarness: HarnessFactory;
}

export interface CrossPairResult {
  protected: string;
  recovery: string;
  capture: CaptureMode;
  passed: number;
  failed: number;
  skipped: number;
  durationMs: number;
  /** Set when the pair could not run at all (a harness failed to start). */
  error?: string;
  cases: CaseReport[];
}

export interface CrossMatrixReport {
  grep: string;
  pairs: CrossPairResult[];
  passed: number;
  failed: number;
  skipped: number;
}

export interface CrossRunOptions {
  grep?: string;
  capture?: CaptureMode;
  seed?: number;
  timeoutMs?: number;
  quiet?: boolean;
  write?: (text: string) => void;
}

/** The capture mode a builtin protected side runs in by default: change tracking where it has no splitter. */
export function defaultCapture(protectedName: string): CaptureMode {
  return CHANGE_TRACKING_ONLY.has(protectedName) ? 'change-tracking' : 'splitter';
}

/** Runs the recovery suite (and the cross cases) for one pair. */
export async function runCrossPair(a: CrossSide, b: CrossSide, options: CrossRunOptions = {}): Promise<CrossPairResult> {
  const capture = options.capture ?? defaultCapture(a.name);
  const grep = options.grep ?? CROSS_DEFAULT_GREP;
  const started = Date.now();
  const name = `${a.name}→${b.name}`;
  try {
    const report = await runConformance({
      name,
      createHarness: crossHarnessFactory(a.createHarness, b.createHarness, name),
      suites: ['recovery', 'cross'],
      grep,
      capture,
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.quiet !== undefined ? { quiet: options.quiet } : {}),
      ...(options.write ? { write: options.write } : {}),
    });
    return { protected: a.name, recovery: b.name, capture, passed: report.passed, failed: report.failed, skipped: report.skipped, durationMs: Date.now() - started, cases: report.cases };
  } catch (error) {
    return {
      protected: a.name, recovery: b.name, capture, passed: 0, failed: 1, skipped: 0, durationMs: Date.now() - started,
      error: (error as Error)?.message ?? String(error), cases: [],
    };
  }
}

/** Every ordered pair of `sides` (the diagonal too: a platform recovering its own VMs through the composition). */
export interface CrossMatrixOptions extends CrossRunOptions {
  pairs?: readonly [string, string][];
  /** How a side is built when it recovers, by name (default: as it protects); e.g. a fake with an id prefix. */
  recoverySides?: readonly CrossSide[];
  onPair?: (r: CrossPairResult) => void;
}

export async function runCrossMatrix(sides: readonly CrossSide[], options: CrossMatrixOptions = {}): Promise<CrossMatrixReport> {
  const grep = options.grep ?? CROSS_DEFAULT_GREP;
  const wanted = options.pairs ?? sides.flatMap((a) => sides.map((b) => [a.name, b.name] as [string, string]));
  const pairs: CrossPairResult[] = [];
  for (const [an, bn] of wanted) {
    const a = sides.find((s) => s.name === an);
    const b = options.recoverySides?.find((s) => s.name === bn) ?? sides.find((s) => s.name === bn);
    if (!a || !b) throw new Error(`unknown adapter in pair ${an}→${bn}`);
    const r = await runCrossPair(a, b, { ...options, grep, quiet: true });
    pairs.push(r);
    options.onPair?.(r);
  }
  const sum = (k: 'passed' | 'failed' | 'skipped'): number => pairs.reduce((n, p) => n + p[k], 0);
  return { grep, pairs, passed: sum('passed'), failed: sum('failed'), skipped: sum('skipped') };
}

/** The matrix as a text table: rows protect, columns recover; a cell is passed/total, `✗` on a failure. */
export function crossTable(report: CrossMatrixReport): string {
  const protectors = [...new Set(report.pairs.map((p) => p.protected))];
  const recoverers = [...new Set(report.pairs.map((p) => p.recovery))];
  const cell = (a: string, b: string): string => {
    const p = report.pairs.find((x) => x.protected === a && x.recovery === b);
    if (!p) return '—';
    const total = p.passed + p.failed + p.skipped;
    return `${p.failed > 0 ? '✗ ' : ''}${p.passed}/${total}${p.skipped > 0 ? ` (${p.skipped} skipped)` : ''}`;
  };
  const rows = [['protects ↓ / recovers →', ...recoverers], ...protectors.map((a) => [a, ...recoverers.map((b) => cell(a, b))])];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join(' | ')).join('\n');
}

/** One conformance report whose suites are the pairs: the JUnit writer then makes one <testsuite> per pair. */
export function matrixAsReport(report: CrossMatrixReport): ConformanceReport {
  const cases: CaseReport[] = report.pairs.flatMap((p) => {
    const suite = `${p.protected}→${p.recovery}`;
    if (p.error !== undefined) return [{ id: 'setup', title: 'the pair\'s harnesses start', suite, state: 'failed' as const, reason: p.error, durationMs: p.durationMs }];
    return p.cases.map((c) => ({ ...c, suite }));
  });
  const suites: ConformanceReport['suites'] = {};
  for (const p of report.pairs) suites[`${p.protected}→${p.recovery}`] = { passed: p.passed, failed: p.failed, skipped: p.skipped };
  return { adapter: 'cross matrix', passed: report.passed, failed: report.failed, skipped: report.skipped, suites, cases };
}

export function writeMatrixReports(report: CrossMatrixReport, files: { json?: string; junit?: string }): void {
  if (files.json !== undefined) writeFileSync(files.json, `${JSON.stringify(report, null, 2)}\n`);
  if (files.junit !== undefined) writeFileSync(files.junit, toJUnitXml(matrixAsReport(report)));
}
