// The recovery suite (R1–R10) with the fake data centre protecting and the SIMULATED Hyper-V host
// recovering: recovered VMs are written as VHDX disks on the host's storage and compared with the oracle
// by hash (and by qemu-img compare in the adapter's own specs). Reverse protection of a VM recovered on
// Hyper-V (R2.4, R3.2) runs in the kernel's change-tracking capture mode (RCT; Hyper-V has no splitter).
import assert from 'node:assert/strict';
import { defineConformance, skipReasons } from '@opencdp/conformance';
import { missingQemuImgTools } from '../testing/qemu-img.js';
import { createHypervRecoveryHarness } from './hyperv-harness.js';

const TITLE = 'fake→hyperv (SIMULATED Hyper-V host) conformance';

if (missingQemuImgTools().length > 0 && process.env.CI !== 'true') {
  describe(TITLE, () => {
    it('needs qemu-utils (the VHDX files are checked with it)', function () {
      process.stderr.write('\n!!! SKIPPING Hyper-V recovery conformance: qemu-img / qemu-io missing\n\n');
      this.skip();
    });
  });
} else {
  defineConformance({ name: 'fake→hyperv', title: TITLE, suites: ['recovery'], createHarness: () => createHypervRecoveryHarness() });

  describe(`${TITLE} coverage`, () => {
    it('skipped no case', () => {
      const skipped = [...skipReasons.entries()].filter(([t]) => t.startsWith(TITLE));
      assert.deepEqual(skipped, [], 'every recovery case runs with Hyper-V recovering, reverse protection included');
    });
  });
}
