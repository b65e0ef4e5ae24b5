// `opencdp-conformance --adapter <path to this module>`: groups protected on the fake data centre (a
// splitter) recover as VMs on vSphere (vcsim). Run it with the recovery suite: `--grep 'recovery R'`.
import type { HarnessFactory } from '@opencdp/core';
import { createCrossSiteHarness } from './cross-site-harness.js';

export const name = 'fake-to-vsphere';

export const createHarness: HarnessFactory = () => createCrossSiteHarness({ seed: 3 });
