// The whole conformance suite against the reference adapter, inside the normal test run, in both capture
// modes: the fake supports every capability of each, so the only skips are the other mode's cases.
import assert from 'node:assert/strict';
import { createFakeHarness } from '@opencdp/adapter-fake';
import { defineConformance, skipReasons, SUITES } from './define-conformance.js';

defineConformance({ name: 'fake', createHarness: (options) => createFakeHarness({ seed: 7, ...options }) });
defineConformance({ name: 'fake', capture: 'change-tracking', createHarness: (options) => createFakeHarness({ seed: 7, ...options }) });

describe('fake conformance coverage', () => {
  const cases = Object.values(SUITES).flat();
  /** Case id → skip reason, for the run whose outer title is `title`. */
  const skips = (title: string): Map<string, string> => {
    const out = new Map<string, string>();
    for (const [full, reason] of skipReasons) {
      if (!full.startsWith(`${title} `)) continue;
      const rest = full.slice(title.length + 1);
      const suite = Object.keys(SUITES).find((s) => rest.startsWith(`${s} `));
      if (suite) out.set(rest.slice(suite.length + 1).split(' ')[0], reason);
    }
    return out;
  };

  it('splitter mode skipped only the change-tracking cases (C1–C5), for that reason', () => {
    // Mocha runs files' suites in order, so by now the fake's cases have run.
    const skipped = skips('fake conformance');
    assert.deepEqual([...skipped.keys()].sort(), cases.filter((c) => c.id.startsWith('C')).map((c) => c.id).sort());
    for (const reason of skipped.values()) assert.match(reason, /changeTracking: .*splitter capture mode/);
  });

  it('change-tracking mode skipped only the splitter-only cases, each with the harness\'s reason for having no splitter', () => {
    const skipped = skips('fake conformance (change-tracking)');
    assert.deepEqual([...skipped.keys()].sort(), cases.filter((c) => c.splitterOnly).map((c) => c.id).sort());
    for (const reason of skipped.values()) assert.match(reason, /^writeTap: this fake harness was built for the change-tracking capture mode/);
  });
});
