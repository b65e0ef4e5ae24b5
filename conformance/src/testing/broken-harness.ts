// Deliberately broken harnesses for testing the suite itself: a conformance suite that cannot fail
// proves nothing. These are the mutant catalogue's (mutation/mutants.ts) under the names the suite's own
// tests use, plus a harness that declares one capability unsupported.
import type { Capability, HarnessFactory } from '@opencdp/core';
import { overlay, wrapFactory } from '../mutation/harness-wrappers.js';
import { MUTANTS } from '../mutation/mutants.js';

function mutant(id: string): (factory: HarnessFactory) => HarnessFactory {
  const m = MUTANTS.find((x) => x.id === id);
  if (!m) throw new Error(`no mutant '${id}' in the catalogue`);
  return (factory) => m.mutate(factory);
}

/** A splitter that silently loses every 50th write across the harness's taps (the bug J1 exists to catch). */
export function dropEveryNthWrite(factory: HarnessFactory, n = 50): HarnessFactory {
  if (n !== 50) throw new Error('the catalogue drops every 50th write');
  return mutant('drops-every-50th-write')(factory);
}

/** A splitter that is not write-blocking: the guest's write completes at once and replicates a few turns later (J2's bug). */
export const completeBeforeReplicating = mutant('delivers-after-completing');

/** A recovery platform whose recovery disks read zeros past the first MiB of every point-in-time image. */
export const recoveryDisksLoseData = mutant('recovered-disks-lose-data');

/** The same harness with one capability declared unsupported, for the reason given. */
export function withoutCapability(factory: HarnessFactory, capability: Capability, reason: string): HarnessFactory {
  return wrapFactory(factory, (inner) => overlay(inner, { capabilities: { ...inner.capabilities, [capability]: reason } }));
}
