// The shape of one conformance case, shared by every suite: an id the report keys on, the capabilities
// it needs (missing ones skip it with the harness's reason), and a body run against a fresh harness.
import type { Capability } from '@opencdp/core';
import type { CaseContext } from './case-context.js';

/**
 * Suites the conformance package knows, in run order; each is a list of cases. `platform` checks the
 * ports' own contract (the splitter, power and delete rules, recovered geometry) before the suites that
 * need the whole pipeline.
 */
export const SUITE_NAMES = ['platform', 'journal', 'sync', 'recovery', 'change-tracking'] as const;
export type SuiteName = (typeof SUITE_NAMES)[number];

export interface ConformanceCase {
  /** Stable id, e.g. `J1.1`: the group of the design's semantics, then a number. */
  readonly id: string;
  readonly title: string;
  /**
   * Capabilities the case needs. `writeTap` stands for the capture mode of the run: in change-tracking
   * mode the case needs `changeTracking` instead (unless it is `splitterOnly`).
   */
  readonly needs: readonly Capability[];
  /** The case is about the splitter (bitmap, buffer pressure, taps): in change-tracking mode it skips with this reason. */
  readonly splitterOnly?: string;
  /** The case checks crash consistency across VMs (J2): in change-tracking mode it needs views that span VMs. */
  readonly crossVm?: boolean;
  run(ctx: CaseContext): Promise<void>;
}
