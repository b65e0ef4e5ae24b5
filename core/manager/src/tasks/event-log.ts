// The manager's event log: every change a user or an operator should be able to trace later (a status
// transition with its reason, a user action, an alert) is one stored event and one log line.
import type { Clock } from '@opencdp/core';
import type { Logger } from 'pino';
import { defined } from '../defined.js';
import type { ManagerLifecycle } from '../lifecycle.js';
import type { EventRow, Store } from '../store.js';

export class EventLog {
  constructor(private readonly store: Store, private readonly clock: Clock, private readonly log: Logger, private readonly lifecycle: ManagerLifecycle) {}

  record(type: string, description: string, groupId?: string, user?: string): void {
    // Work that ends after stop has closed the store has nowhere to write.
    if (this.lifecycle.stopped && !this.store.db.open) return;
    this.store.addEvent({ at: this.clock.now(), type, description, ...defined({ groupId, user }) });
    this.log.info({ event: type, groupId, user }, description);
  }

  /** Oldest first. */
  list(filter: { groupId?: string; type?: string; from?: number; to?: number } = {}): EventRow[] {
    return this.store.listEvents(filter);
  }
}
