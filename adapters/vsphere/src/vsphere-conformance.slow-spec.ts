// The conformance suites (journal, sync, recovery) against vSphere on vcsim in change-tracking mode (vcsim's
// CBT and snapshot disk data are the fixture's SIMULATION). Until the kernel runs the change-tracking
// capture mode every case needs a write splitter and skips with that reason; then the cases run here, in CI.
// Without Go the run skips loudly (fails under CI=true, where .ci/run installs it).
import assert from 'node:assert/strict';
import { defineConformance, skipReasons } from '@opencdp/conformance';
import { VSPHERE_UNSUPPORTED, createVsphereHarness, vsphereCapabilities } from './vsphere-harness.js';
import { missingVcsimTools, requireVcsimOrSkip } from './testing/vcsim-fixture.js';

const TITLE = 'vsphere conformance (vcsim with SIMULATED CBT and snapshot data)';

if (missingVcsimTools().length > 0 && process.env.CI !== 'true') {
  describe(TITLE, function () {
    it('needs Go and govmomi to build the vcsim fixture', function () {
      requireVcsimOrSkip(this);
    });
  });
} else {
  defineConformance({ name: 'vsphere', title: TITLE, createHarness: (options) => createVsphereHarness({ ...(options ?? {}), capture: 'change-tracking' }) });

  describe('vsphere conformance coverage', () => {
    it('skipped only for what vSphere or vcsim cannot do, each skip naming it', () => {
      const skipped = [...skipReasons.entries()].filter(([t]) => t.startsWith(`${TITLE} `));
      // A skip reason lists `capability: why` for each missing capability; each must be one the table states.
      const stated = Object.entries(vsphereCapabilities('virtual')).filter(([, v]) => v !== true).map(([c, v]) => `${c}: ${String(v)}`);
      for (const [title, reason] of skipped) {
        let rest = reason;
        for (const s of stated) rest = rest.split(s).join('');
        assert.equal(rest.replace(/;\s*/g, '').trim(), '', `${title} was skipped for an unexpected reason: ${reason}`);
        assert.ok(Object.values(VSPHERE_UNSUPPORTED).some((r) => reason.includes(r)));
      }
    });
  });
}
