// The shape of a conformance report (JSON for vendors, the source of the JUnit XML and the summary):
// plain data, kept apart from the reporter so writers and readers of reports import no mocha.

export type CaseState = 'passed' | 'failed' | 'skipped';

export interface CaseReport {
  id: string;
  title: string;
  /** The suite the case belongs to (`platform`, `journal`, …; `setup` for a failed probe or hook). */
  suite: string;
  state: CaseState;
  /** The skip reason, or the failure message (with the expected and observed values). */
  reason?: string;
  /** Wall time the case took (0 for a skip). */
  durationMs: number;
}

export interface SuiteCounts {
  passed: number;
  failed: number;
  skipped: number;
}

export interface ConformanceReport extends SuiteCounts {
  adapter: string;
  suites: Record<string, SuiteCounts>;
  cases: CaseReport[];
  /** What the adapter module says is left to do (its `todo` export, e.g. from the scaffold); absent when none. */
  todo?: string[];
}
