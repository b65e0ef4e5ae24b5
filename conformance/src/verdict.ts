// Whether a conformance run proves anything: a case that failed fails it (exit 1), and so does a run that
// tested nothing, or skipped a case the vendor did not declare as unsupported (exit 3) — a CI that goes
// green with 0 passed and 55 skipped has learnt nothing. Declared skips come from an `--expect-skips` file.
import { readFileSync } from 'node:fs';
import { ValidationError } from '@opencdp/core';
import type { ConformanceReport } from './report.js';

export const EXIT_PASSED = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
/** Nothing was tested, or more was skipped than the vendor declared. */
export const EXIT_UNPROVEN = 3;

/** Case ids (`J6.1`) or prefixes ending in `*` (`S5.*`, `R*`) the vendor expects to skip, each with an optional why. */
export interface ExpectedSkips {
  readonly source: string;
  readonly entries: readonly { pattern: string; why?: string }[];
}

const PATTERN = /^[A-Z][A-Za-z0-9.-]*\*?$|^\*$/;

/**
 * Parses an expected-skips document: a JSON array of ids / patterns, or an object mapping each to the
 * reason it is unsupported (`{"J6.1": "the array cannot lose power on demand"}`). Bad input is refused
 * with the offending entry named.
 */
export function parseExpectedSkips(text: string, source: string): ExpectedSkips {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new ValidationError(`${source} is not JSON: ${(error as Error).message}`, 'expect-skips', 'write a JSON array of case ids, or an object of case id → reason');
  }
  const entries: { pattern: string; why?: string }[] = [];
  if (Array.isArray(doc)) {
    doc.forEach((p, i) => {
      if (typeof p !== 'string' || !PATTERN.test(p)) throw new ValidationError(`${source}[${i}] is ${JSON.stringify(p)}, not a case id or an id prefix ending in *`, 'expect-skips', 'e.g. "J6.1" or "S5.*"');
      entries.push({ pattern: p });
    });
  } else if (doc !== null && typeof doc === 'object') {
    for (const [p, why] of Object.entries(doc)) {
      if (!PATTERN.test(p)) throw new ValidationError(`${source}: ${JSON.stringify(p)} is not a case id or an id prefix ending in *`, 'expect-skips', 'e.g. "J6.1" or "S5.*"');
      if (typeof why !== 'string') throw new ValidationError(`${source}: the reason for ${p} must be a string`, 'expect-skips');
      entries.push({ pattern: p, why });
    }
  } else {
    throw new ValidationError(`${source} must hold a JSON array or object, not ${JSON.stringify(doc)}`, 'expect-skips');
  }
  return { source, entries };
}

export function loadExpectedSkips(file: string): ExpectedSkips {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ValidationError(`cannot read ${file}: ${(error as Error).message}`, 'expect-skips');
  }
  return parseExpectedSkips(text, file);
}

function matches(pattern: string, id: string): boolean {
  return pattern.endsWith('*') ? id.startsWith(pattern.slice(0, -1)) : id === pattern;
}

export interface Verdict {
  exitCode: number;
  /** Why the run fails (empty when it passes). */
  problems: string[];
  /** Worth saying but not failing: declared skips that ran after all. */
  notes: string[];
}

/** Judges a report: failures first, then a run that tested nothing, then skips nobody declared. */
export function judge(report: ConformanceReport, expected?: ExpectedSkips): Verdict {
  const problems: string[] = [];
  const notes: string[] = [];
  let exitCode = EXIT_PASSED;
  if (report.failed > 0) {
    exitCode = EXIT_FAILED;
    problems.push(`${report.failed} case(s) failed: ${report.cases.filter((c) => c.state === 'failed').map((c) => c.id).join(', ')}`);
  }
  const ran = report.passed + report.failed;
  if (ran === 0) {
    exitCode = exitCode || EXIT_UNPROVEN;
    problems.push(report.cases.length === 0
      ? 'nothing was tested: no case was selected (check --suite and --grep; --grep matches "<id> <title>", e.g. \'^J1\\.\')'
      : `nothing was tested: all ${report.skipped} selected case(s) were skipped (${summariseSkipReasons(report)})`);
  }
  if (expected) {
    const undeclared = report.cases.filter((c) => c.state === 'skipped' && !expected.entries.some((e) => matches(e.pattern, c.id)));
    if (undeclared.length > 0) {
      exitCode = exitCode || EXIT_UNPROVEN;
      problems.push(`${undeclared.length} case(s) skipped that ${expected.source} does not declare: ${undeclared.map((c) => `${c.id} (${c.reason ?? 'no reason'})`).join('; ')}`);
    }
    const ranAnyway = report.cases.filter((c) => c.state !== 'skipped' && expected.entries.some((e) => matches(e.pattern, c.id))).map((c) => c.id);
    if (ranAnyway.length > 0) notes.push(`declared as skipped in ${expected.source} but ran: ${ranAnyway.join(', ')} (the adapter supports more than declared; the file can shrink)`);
  }
  return { exitCode, problems, notes };
}

function summariseSkipReasons(report: ConformanceReport): string {
  const counts = new Map<string, number>();
  for (const c of report.cases) {
    if (c.state !== 'skipped') continue;
    for (const part of (c.reason ?? 'no reason').split('; ')) {
      const capability = part.split(':')[0];
      counts.set(capability, (counts.get(capability) ?? 0) + 1);
    }
  }
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([c, n]) => `${n} need ${c}`).join(', ');
}
