// The whole conformance suite against the reference adapter, inside the normal test run: the fake
// supports every capability, so nothing may be skipped and everything must pass.
import assert from 'node:assert/strict';
import { createFakeHarness } from '@opencdp/adapter-fake';
import { defineConformance, skipReasons } from './define-conformance.js';

defineConformance({ name: 'fake', createHarness: () => createFakeHarness({ seed: 7 }) });

describe('fake conformance coverage', () => {
  it('skipped nothing', () => {
    // Mocha runs files' suites in order, so by now the fake's cases have run.
    assert.deepEqual([...skipReasons.keys()].filter((t) => t.startsWith('fake conformance ')), []);
  });
});
