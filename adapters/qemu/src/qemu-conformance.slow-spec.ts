// The conformance suites against real QEMU, in both capture modes: two qemu-storage-daemon hosts, guest
// writes through NBD; the splitter mode taps them with the write-blocking mirror into the appliance's NBD
// server, the change-tracking mode takes fleecing views over persistent dirty bitmaps. The splitter mode
// runs in full; change-tracking mode runs a representative subset (C1–C5, the platform cases, and a few
// J/S/R cases: see CHANGE_TRACKING_CI) to keep the suite's wall time bounded — OPENCDP_QEMU_CT=full runs
// all of it (as `opencdp-conformance --adapter qemu --capture change-tracking` does). Without the tools the
// run skips loudly (fails under CI=true, where .ci/run installs them).
import assert from 'node:assert/strict';
import { defineConformance, skipReasons } from '@opencdp/conformance';
import { createQemuHarness, QEMU_UNSUPPORTED } from './qemu-harness.js';
import { missingTools, requireToolsOrSkip } from './qemu-tools.js';

/**
 * The change-tracking cases CI runs: every C case, the platform suite, a journal exactness, cadence and
 * durability case, link loss, appliance restart and hot-add syncs, and failover, reverse protection and
 * move. About a minute of a full run's six (measured figures in docs/adapters/qemu.md).
 */
export const CHANGE_TRACKING_CI = /^(C\d|P\d|J1\.1|J3\.1|J6\.1|S2\.1|S5\.2|S7\.2|R1\.1|R2\.4|R3\.1)[. ]/;

if (missingTools().length > 0 && process.env.CI !== 'true') {
  describe('qemu conformance', function () {
    it('needs the QEMU tools', function () {
      requireToolsOrSkip(this);
    });
  });
} else {
  // OPENCDP_QEMU_CLOCK=real runs the kernel on the wall clock (minutes instead of seconds).
  const clock = process.env.OPENCDP_QEMU_CLOCK === 'real' ? 'real' : 'virtual';
  defineConformance({ name: 'qemu', createHarness: (options) => createQemuHarness({ clock, ...options }) });
  defineConformance({
    name: 'qemu', capture: 'change-tracking', createHarness: (options) => createQemuHarness({ clock, ...options }),
    ...(process.env.OPENCDP_QEMU_CT === 'full' ? {} : { grep: CHANGE_TRACKING_CI }),
    // Every cycle is real QEMU work (a view, NBD reads, a release): slower than a tap on a loaded machine.
    timeoutMs: 180_000,
  });

  describe('qemu conformance coverage', () => {
    const always = [QEMU_UNSUPPORTED.consistencyAgent, QEMU_UNSUPPORTED.multiHost, ...(clock === 'real' ? [QEMU_UNSUPPORTED.virtualReal] : [])];
    const skipped = (prefix: string): [string, string][] => [...skipReasons.entries()].filter(([t]) => t.startsWith(prefix));

    it('splitter mode skipped only the guest-agent cases and the change-tracking cases (C1–C5), each for its reason', () => {
      const runs = skipped('qemu conformance ').filter(([t]) => !t.startsWith('qemu conformance (change-tracking) '));
      assert.ok(runs.some(([t]) => /conformance change-tracking C1\.1 /.test(t)), 'the C cases are skipped in splitter mode');
      for (const [title, reason] of runs) {
        // `changeTracking: …`, and for the fault cases also `faultChangeTracking: …`, all for the mode.
        const parts = reason.split('; ');
        const changeTrackingCase = /conformance change-tracking C\d+\.\d+ /.test(title) && parts[0].startsWith('changeTracking: ')
          && parts.every((p) => p.endsWith(`: ${QEMU_UNSUPPORTED.splitterMode}`));
        assert.ok(changeTrackingCase || always.some((r) => reason.includes(r)), `${title} was skipped for an unexpected reason: ${reason}`);
      }
    });

    it('change-tracking mode skipped only the splitter cases (no openTap) and the guest-agent case, each for its reason', () => {
      const runs = skipped('qemu conformance (change-tracking) ');
      assert.ok(runs.some(([t]) => / P2\.1 /.test(t)), 'the splitter\'s platform cases are skipped in change-tracking mode');
      for (const [title, reason] of runs) {
        const splitterCase = reason.split('; ').every((p) => p === `writeTap: ${QEMU_UNSUPPORTED.changeTrackingMode}`);
        assert.ok(splitterCase || always.some((r) => reason.includes(r)), `${title} was skipped for an unexpected reason: ${reason}`);
      }
    });
  });
}
