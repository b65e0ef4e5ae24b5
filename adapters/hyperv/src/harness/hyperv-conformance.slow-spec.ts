// The protected side on the SIMULATED Hyper-V host in the change-tracking capture mode (RCT), in CI: the
// change-tracking suite (C1–C5) whole, and a representative subset of the journal, sync and recovery suites
// (docs/adapters/hyperv.md, "Conformance", says which and why). The rest runs by the conformance CLI
// (`opencdp-conformance --adapter hyperv --capture change-tracking`); the whole of it takes too long for CI
// on a shared 2-core machine. Skips are pinned: only what Hyper-V or the simulation cannot do.
import assert from 'node:assert/strict';
import { defineConformance, selectCases, skipReasons, SUITES } from '@opencdp/conformance';
import { createHypervHarness, HYPERV_UNSUPPORTED } from './hyperv-harness.js';

const TITLE = 'hyperv (SIMULATED Hyper-V host) conformance, change-tracking capture';

/** The cases CI runs: every C case, and J/S/R cases covering each promise the other suites make. */
export const HYPERV_CI_CASES = /^(C\d\.\d+|J1\.3|J3\.2|J5\.1|S2\.1|S5\.1|R2\.1|R5\.1) /;

defineConformance({
  name: 'hyperv', title: TITLE, suites: ['change-tracking', 'journal', 'sync', 'recovery'], grep: HYPERV_CI_CASES,
  capture: 'change-tracking', createHarness: (options) => createHypervHarness(options ?? {}), timeoutMs: 300_000,
});

describe(`${TITLE} coverage`, () => {
  it('selects every change-tracking case and a case of each other suite', () => {
    const ids = selectCases(['change-tracking', 'journal', 'sync', 'recovery'], HYPERV_CI_CASES).map((s) => s.cases.map((c) => c.id));
    assert.deepEqual(ids[0], SUITES['change-tracking'].map((c) => c.id), 'C1–C5, all of them');
    for (const [i, suite] of ['journal', 'sync', 'recovery'].entries()) assert.ok(ids[i + 1].length >= 2, `the ${suite} suite is represented (${ids[i + 1].join(', ')})`);
  });

  it('skipped only for what Hyper-V or its simulation cannot do', () => {
    const skipped = [...skipReasons.entries()].filter(([t]) => t.startsWith(`${TITLE} `));
    for (const [title, reason] of skipped) {
      assert.ok(Object.values(HYPERV_UNSUPPORTED).some((r) => reason.includes(r)), `${title} was skipped for an unexpected reason: ${reason}`);
    }
  });
});
