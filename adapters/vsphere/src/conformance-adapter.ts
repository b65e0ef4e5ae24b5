// What `opencdp-conformance --adapter vsphere` loads: vSphere on vcsim in change-tracking mode (its CBT and
// snapshot disk data are the fixture's SIMULATION). The kernel's clock comes from OPENCDP_VSPHERE_CLOCK
// (`virtual`, the default, or `real`).
import type { HarnessFactory } from '@opencdp/core';
import { createVsphereHarness } from './vsphere-harness.js';

export const name = 'vsphere';

export const createHarness: HarnessFactory = (options) => createVsphereHarness({
  ...(options ?? {}),
  capture: 'change-tracking',
  clock: process.env.OPENCDP_VSPHERE_CLOCK === 'real' ? 'real' : 'virtual',
});
