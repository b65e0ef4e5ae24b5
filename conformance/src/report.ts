// The conformance report: a mocha reporter that turns a run into the JSON vendors publish (counts per
// suite, every case with its state, duration and the reason for each skip or failure, the adapter's TODO
// list), the same as JUnit XML for CI, and a human summary that lists what was skipped and why — the
// part Libcloud users missed most.
import { writeFileSync } from 'node:fs';
import Mocha from 'mocha';
import { caseInfoOf, conformanceScopeOf, conformanceSuitesUnder, skipReasons } from './define-conformance.js';
import { failureMessage } from './failure-message.js';
import { toJUnitXml } from './junit-report.js';
import type { CaseReport, CaseState, ConformanceReport, SuiteCounts } from './report-model.js';

export type { CaseReport, CaseState, ConformanceReport, SuiteCounts } from './report-model.js';

export interface ConformanceReporterOptions {
  /** Adapter name for the report; default: the name the cases were registered under. */
  adapter?: string;
  /** Write the JSON report to this file at the end of the run. */
  json?: string;
  /** Write the report as JUnit XML to this file at the end of the run. */
  junit?: string;
  /** The adapter's TODO list, echoed in the report and the summary. */
  todo?: readonly string[];
  /** Called with the report at the end of the run (programmatic runs). */
  onReport?: (report: ConformanceReport) => void;
  /** No per-case lines and no summary (`true` or `'true'` from the command line). */
  quiet?: boolean | string;
  /** Where human output goes (default stdout). */
  write?: (text: string) => void;
}

/** Collects case results in order and builds the report. */
export class ReportBuilder {
  private readonly cases: CaseReport[] = [];
  private readonly suites = new Map<string, SuiteCounts>();
  private adapterName: string | undefined;

  constructor(adapter?: string, private readonly todo: readonly string[] = []) {
    this.adapterName = adapter;
  }

  /** Makes a suite appear in the report even when none of its cases ran (all filtered out). */
  addSuite(suite: string, adapter?: string): void {
    if (!this.suites.has(suite)) this.suites.set(suite, { passed: 0, failed: 0, skipped: 0 });
    this.adapterName ??= adapter;
  }

  add(result: CaseReport, adapter?: string): void {
    this.addSuite(result.suite, adapter);
    this.suites.get(result.suite)![result.state]++;
    this.cases.push({ ...result });
  }

  build(): ConformanceReport {
    const count = (state: CaseState): number => this.cases.filter((c) => c.state === state).length;
    return {
      adapter: this.adapterName ?? 'unknown',
      passed: count('passed'),
      failed: count('failed'),
      skipped: count('skipped'),
      suites: Object.fromEntries([...this.suites].map(([k, v]) => [k, { ...v }])),
      cases: this.cases.map(({ id, title, suite, state, reason, durationMs }) => ({ id, title, suite, state, ...(reason !== undefined ? { reason } : {}), durationMs })),
      ...(this.todo.length > 0 ? { todo: [...this.todo] } : {}),
    };
  }
}

const { EVENT_RUN_BEGIN, EVENT_RUN_END, EVENT_SUITE_BEGIN, EVENT_TEST_FAIL, EVENT_TEST_PASS, EVENT_TEST_PENDING } = Mocha.Runner.constants;

/**
 * A mocha reporter for conformance runs. Use it programmatically (`new Mocha({ reporter:
 * ConformanceReporter, reporterOptions })`) or from mocha's CLI
 * (`--reporter @opencdp/conformance/reporter --reporter-option json=report.json`).
 * Tests that are not conformance cases are ignored, unless one of their hooks fails inside a
 * conformance block, which is reported as a failed case named after the hook.
 */
export class ConformanceReporter extends Mocha.reporters.Base {
  /** The last report built by any instance (for callers that cannot pass `onReport`). */
  static lastReport: ConformanceReport | undefined;

  constructor(runner: Mocha.Runner, options: Mocha.MochaOptions = {}) {
    super(runner, options);
    // reporterOptions is untyped in mocha's options; this is the shape documented above.
    const opts = (options.reporterOptions ?? {}) as ConformanceReporterOptions;
    const quiet = opts.quiet === true || opts.quiet === 'true';
    const write = opts.write ?? ((text: string): void => { process.stdout.write(text); });
    const todo = typeof opts.todo === 'string' ? [opts.todo] : opts.todo ?? [];
    const builder = new ReportBuilder(opts.adapter, todo);
    const started = new Map<Mocha.Runnable, number>();

    runner.on(EVENT_RUN_BEGIN, () => {
      for (const s of conformanceSuitesUnder(runner.suite)) builder.addSuite(s.suite, s.adapter);
    });
    runner.on(EVENT_SUITE_BEGIN, (suite: Mocha.Suite) => {
      if (quiet || suite.root) return;
      const scope = suite.tests.length > 0 ? conformanceScopeOf(suite.tests[0]) : undefined;
      if (scope?.suite) write(`\n${suite.fullTitle()}\n`);
    });
    runner.on('test', (test: Mocha.Test) => { started.set(test, Date.now()); });
    const line = (mark: string, id: string, title: string, extra: string): void => {
      if (!quiet) write(`  ${mark} ${id} ${title}${extra}\n`);
    };
    const took = (test: Mocha.Runnable): number => Date.now() - (started.get(test) ?? Date.now());
    runner.on(EVENT_TEST_PASS, (test: Mocha.Test) => {
      const info = caseInfoOf(test);
      if (!info) return;
      const durationMs = took(test);
      builder.add({ id: info.id, title: info.title, suite: info.suite, state: 'passed', durationMs }, info.adapter);
      line('✓', info.id, info.title, ` (${durationMs} ms)`);
    });
    runner.on(EVENT_TEST_PENDING, (test: Mocha.Test) => {
      const info = caseInfoOf(test);
      if (!info) return;
      const reason = skipReasons.get(test.fullTitle()) ?? 'skipped without a reason';
      builder.add({ id: info.id, title: info.title, suite: info.suite, state: 'skipped', reason, durationMs: 0 }, info.adapter);
      line('-', info.id, info.title, ` — skipped: ${reason}`);
    });
    // Prepended: mocha's Base reporter turns the error's expected and observed values into diff strings
    // in its own handler; the report wants the values themselves.
    runner.prependListener(EVENT_TEST_FAIL, (runnable: Mocha.Runnable, error: Error) => {
      const info = caseInfoOf(runnable);
      const reason = failureMessage(error);
      if (info) {
        builder.add({ id: info.id, title: info.title, suite: info.suite, state: 'failed', reason, durationMs: took(runnable) }, info.adapter);
        line('✗', info.id, info.title, `\n      ${reason.split('\n').join('\n      ')}`);
        return;
      }
      // A hook (capability probe, setup) that fails inside a conformance block fails the run too.
      const scope = conformanceScopeOf(runnable);
      if (!scope) return;
      builder.add({ id: 'setup', title: runnable.fullTitle(), suite: scope.suite ?? 'setup', state: 'failed', reason, durationMs: took(runnable) }, scope.adapter);
      line('✗', 'setup', runnable.fullTitle(), `\n      ${reason}`);
    });
    runner.on('hook', (hook: Mocha.Hook) => { started.set(hook, Date.now()); });
    runner.once(EVENT_RUN_END, () => {
      const report = builder.build();
      ConformanceReporter.lastReport = report;
      if (opts.json) writeFileSync(opts.json, `${JSON.stringify(report, null, 2)}\n`);
      if (opts.junit) writeFileSync(opts.junit, toJUnitXml(report));
      if (!quiet) write(`\n${formatSummary(report)}`);
      opts.onReport?.(report);
    });
  }
}

/** A human summary: counts per suite, then every skipped case with its reason and every failure. */
export function formatSummary(report: ConformanceReport): string {
  const lines = [`OpenCDP conformance for adapter '${report.adapter}': ${report.passed} passed, ${report.failed} failed, ${report.skipped} skipped`];
  for (const [suite, c] of Object.entries(report.suites)) lines.push(`  ${suite}: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`);
  const skipped = report.cases.filter((c) => c.state === 'skipped');
  if (skipped.length > 0) {
    lines.push('Skipped (unsupported capabilities):');
    for (const c of skipped) lines.push(`  ${c.id} ${c.title}\n      ${c.reason ?? ''}`);
  }
  const failed = report.cases.filter((c) => c.state === 'failed');
  if (failed.length > 0) {
    lines.push('Failed:');
    for (const c of failed) {
      const reason = (c.reason ?? '').split('\n').filter((l) => l.trim() !== '');
      lines.push(`  ${c.id} ${c.title}\n      ${[...reason.slice(0, 6), ...(reason.length > 6 ? [`… (${reason.length - 6} more lines in the JSON report)`] : [])].join('\n      ')}`);
    }
  }
  if (report.todo && report.todo.length > 0) {
    lines.push(`TODO (the adapter module's own list, ${report.todo.length} left):`);
    for (const t of report.todo) lines.push(`  - ${t}`);
  }
  return `${lines.join('\n')}\n`;
}

export default ConformanceReporter;
