// `opencdp-conformance --adapter <this file> --grep recovery`: the fake data centre protects (a splitter),
// the SIMULATED Hyper-V host recovers (VMs on VHDX disks) — cross-platform recovery onto Hyper-V.
import type { HarnessFactory } from '@opencdp/core';
import { createHypervRecoveryHarness } from './harness/hyperv-harness.js';

export const name = 'fake→hyperv (SIMULATED Hyper-V host)';

export const createHarness: HarnessFactory = () => createHypervRecoveryHarness();
