// What `opencdp-conformance --adapter hyperv` loads: Hyper-V at both sites on the SIMULATED Hyper-V host,
// protected VMs in the change-tracking capture mode (RCT). Cases that need a splitter skip with the reason.
import type { HarnessFactory } from '@opencdp/core';
import { createHypervHarness } from './harness/hyperv-harness.js';

export const name = 'hyperv (SIMULATED Hyper-V host)';

export const createHarness: HarnessFactory = (options) => createHypervHarness(options ?? {});
