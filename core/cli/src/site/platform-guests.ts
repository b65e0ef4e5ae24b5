// Guest controls a platform adds to the demo's `guest.*` methods beyond reads and hashes (see
// demo-guests.ts), chosen by the platform's own classes.
import type { HypervisorAdapter } from '@opencdp/core';
import type { DemoGuests } from './demo-guests.js';

export function platformGuests(_hypervisor: HypervisorAdapter): Partial<DemoGuests> | undefined {
  return undefined;
}
