// The rules a run must meet: failures fail it, a run that tested nothing fails it, and so does a skip
// that the vendor did not declare; declared skips are parsed strictly.
import assert from 'node:assert/strict';
import { ValidationError } from '@opencdp/core';
import type { CaseReport, ConformanceReport } from './report.js';
import { EXIT_FAILED, EXIT_PASSED, EXIT_UNPROVEN, judge, parseExpectedSkips } from './verdict.js';

function report(cases: [string, CaseReport['state'], string?][]): ConformanceReport {
  const list = cases.map(([id, state, reason]) => ({ id, title: 't', suite: 'journal', state, ...(reason ? { reason } : {}), durationMs: 1 }));
  const count = (s: string): number => list.filter((c) => c.state === s).length;
  return { adapter: 'a', passed: count('passed'), failed: count('failed'), skipped: count('skipped'), suites: {}, cases: list };
}

describe('judge', () => {
  it('passes a run that tested something, with skips allowed when none are declared', () => {
    assert.deepEqual(judge(report([['J1.1', 'passed'], ['J6.1', 'skipped', 'faultStorageCrash: no']])), { exitCode: EXIT_PASSED, problems: [], notes: [] });
  });

  it('fails with 1 on a failure, and with 3 when nothing ran (nothing selected, or everything skipped)', () => {
    assert.equal(judge(report([['J1.1', 'failed', 'x']])).exitCode, EXIT_FAILED);
    const none = judge(report([]));
    assert.equal(none.exitCode, EXIT_UNPROVEN);
    assert.match(none.problems[0], /no case was selected/);
    const skipped = judge(report([['S1.1', 'skipped', 'writeTap: tracking only'], ['S1.2', 'skipped', 'writeTap: tracking only; virtualClock: real']]));
    assert.equal(skipped.exitCode, EXIT_UNPROVEN);
    assert.match(skipped.problems[0], /all 2 selected case\(s\) were skipped \(2 need writeTap, 1 need virtualClock\)/);
  });

  it('fails with 3 on a skip the expected-skips file does not declare; ids and prefixes match; extra declarations are notes', () => {
    const expected = parseExpectedSkips('{"J6.1": "no power cut", "S5.*": "no restarts", "R9.1": "x"}', 'skips.json');
    const ok = judge(report([['J1.1', 'passed'], ['J6.1', 'skipped'], ['S5.4', 'skipped'], ['R9.1', 'passed']]), expected);
    assert.equal(ok.exitCode, EXIT_PASSED);
    assert.deepEqual(ok.notes, ['declared as skipped in skips.json but ran: R9.1 (the adapter supports more than declared; the file can shrink)']);
    const bad = judge(report([['J1.1', 'passed'], ['J6.2', 'skipped', 'faultStorageCrash: no']]), expected);
    assert.equal(bad.exitCode, EXIT_UNPROVEN);
    assert.match(bad.problems[0], /1 case\(s\) skipped that skips\.json does not declare: J6\.2 \(faultStorageCrash: no\)/);
    assert.equal(judge(report([['J1.1', 'failed'], ['J6.2', 'skipped']]), expected).exitCode, EXIT_FAILED, 'a failure outranks the skip rule');
  });

  it('parses arrays and objects, and refuses anything else naming the entry', () => {
    assert.deepEqual(parseExpectedSkips('["J6.1", "S5.*", "*"]', 'f').entries.map((e) => e.pattern), ['J6.1', 'S5.*', '*']);
    for (const [text, pattern] of [['nope', /not JSON/], ['3', /must hold a JSON array or object/], ['["j6"]', /f\[0\] is "j6", not a case id/], ['{"J6.1": 1}', /reason for J6\.1 must be a string/], ['["J*6"]', /not a case id/]] as const) {
      assert.throws(() => parseExpectedSkips(text, 'f'), (e: unknown) => e instanceof ValidationError && pattern.test(e.message), text);
    }
  });
});
