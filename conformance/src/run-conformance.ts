// Runs the conformance suites in a mocha instance of their own and resolves with the report: what the
// CLI uses, and what a test uses to run the suite against a deliberately broken adapter (the mutants).
import Mocha from 'mocha';
import { ValidationError } from '@opencdp/core';
import { defineConformance, type BddInterface, type ConformanceOptions } from './define-conformance.js';
import { ConformanceReporter, type ConformanceReport, type ConformanceReporterOptions } from './report.js';

export interface RunConformanceOptions extends Omit<ConformanceOptions, 'bdd' | 'title'> {
  /** Run every suite this many times in a row in one run (default 1); csi-sanity's idempotency check. */
  repeat?: number;
  /** Also write the JSON report here. */
  json?: string;
  /** Also write the report as JUnit XML here. */
  junit?: string;
  /** The adapter's TODO list, echoed in the report. */
  todo?: readonly string[];
  /** Stop at the first failed case (the mutation harness: one kill is enough). */
  bail?: boolean;
  /** No per-case output and no summary. */
  quiet?: boolean;
  /** Where human output goes (default stdout). */
  write?: (text: string) => void;
}

export async function runConformance(options: RunConformanceOptions): Promise<ConformanceReport> {
  const repeat = options.repeat ?? 1;
  if (!Number.isSafeInteger(repeat) || repeat < 1) throw new ValidationError(`repeat must be a whole number ≥ 1, got ${repeat}`, 'repeat');
  const { json, junit, todo, bail, quiet, write, repeat: _repeat, ...conformance } = options;
  let report: ConformanceReport | undefined;
  const reporterOptions: ConformanceReporterOptions = {
    adapter: options.name,
    ...(json !== undefined ? { json } : {}),
    ...(junit !== undefined ? { junit } : {}),
    ...(todo !== undefined ? { todo } : {}),
    ...(quiet !== undefined ? { quiet } : {}),
    ...(write !== undefined ? { write } : {}),
    onReport: (r) => { report = r; },
  };
  const mocha = new Mocha({
    reporter: ConformanceReporter,
    reporterOptions,
    // Cases set their own timeouts; this bounds the capability probe and anything unforeseen.
    timeout: 600_000,
    ...(bail ? { bail: true } : {}),
  });
  // A private BDD context instead of globalThis: a run started from inside another mocha run (a test
  // of the suite itself) must not replace that run's describe/it.
  const bdd = {} as BddInterface;
  mocha.suite.emit('pre-require', bdd, 'opencdp-conformance', mocha);
  for (let run = 1; run <= repeat; run++) {
    defineConformance({ ...conformance, bdd, ...(repeat > 1 ? { title: `${options.name} conformance (run ${run} of ${repeat})` } : {}) });
  }
  await new Promise<void>((resolve) => { mocha.run(() => resolve()); });
  mocha.dispose();
  if (!report) throw new Error('the conformance run ended without a report');
  return report;
}
