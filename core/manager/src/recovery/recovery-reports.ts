// Recovery reports (R10): every recovery operation ends in one, whether it ended through this manager or
// at the recovery site on its own; each is stored once and announced by one event.
import type { RecoveryReport } from '@opencdp/core';
import type { ManagerLifecycle } from '../lifecycle.js';
import type { Store } from '../store.js';
import type { EventLog } from '../tasks/event-log.js';

export interface ReportFilter { from?: number; to?: number; groupName?: string; kind?: string; result?: string; offset: number; limit: number }

export class RecoveryReports {
  constructor(private readonly store: Store, private readonly events: EventLog, private readonly lifecycle: ManagerLifecycle) {}

  record(report: RecoveryReport): void {
    if (this.lifecycle.stopped) return;
    this.store.putReport(report);
    this.events.record('RecoveryReport', `${report.kind} of group '${report.groupName}' ended: ${report.result}`, report.groupId);
  }

  has(id: string): boolean {
    return this.store.hasReport(id);
  }

  list(filter: ReportFilter): { total: number; reports: RecoveryReport[] } {
    return this.store.listReports(filter);
  }
}
