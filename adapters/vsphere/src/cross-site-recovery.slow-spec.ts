// The conformance recovery suite with the protected site on the fake data centre (a splitter) and the
// recovery site on vSphere: vcsim, whose CBT and snapshot disk data are the fixture's SIMULATION (recovery
// itself uses none of it: uploads, CreateVM_Task, power, customization and Destroy_Task are vcsim's own).
// Recovered disks are compared with the oracle by hash. Without Go the suite skips loudly (fails in CI).
import assert from 'node:assert/strict';
import { defineConformance, skipReasons } from '@opencdp/conformance';
import { CROSS_SITE_UNSUPPORTED, createCrossSiteHarness } from './cross-site-harness.js';
import { missingVcsimTools, requireVcsimOrSkip } from './testing/vcsim-fixture.js';

if (missingVcsimTools().length > 0 && process.env.CI !== 'true') {
  describe('fake-to-vsphere conformance (vcsim with SIMULATED CBT)', function () {
    it('needs Go and govmomi to build the vcsim fixture', function () {
      requireVcsimOrSkip(this);
    });
  });
} else {
  defineConformance({ name: 'fake-to-vsphere', title: 'fake-to-vsphere conformance (vcsim with SIMULATED CBT)', createHarness: () => createCrossSiteHarness({ seed: 3 }), suites: ['recovery'] });

  describe('fake-to-vsphere conformance coverage', () => {
    it('skipped only the cases needing reverse protection onto vSphere, with that reason', () => {
      const skipped = [...skipReasons.entries()].filter(([t]) => t.startsWith('fake-to-vsphere conformance '));
      assert.deepEqual(skipped.map(([t]) => /(R\d+\.\d+)/.exec(t)?.[1]).sort(), ['R2.4', 'R3.2']);
      for (const [title, reason] of skipped) assert.ok(reason.includes(CROSS_SITE_UNSUPPORTED.reverseProtection), `${title} was skipped for: ${reason}`);
    });
  });
}
