// Alerts: conditions that stand on a group until they clear (RPO above target, history below its SLA,
// a journal past its warning threshold). The monitor evaluates them on every poll; each raise, change,
// clear, dismiss and undismiss is an event. At most one alert of a type stands on a group.
import { NotFoundError } from '@opencdp/core';
import type { Clock, ReplicationFacts } from '@opencdp/core';
import type { AlertLevel, AlertRow, GroupRow, Store } from '../store.js';
import type { EventLog } from '../tasks/event-log.js';
import type { GroupRuntime } from './group-runtime.js';

/** The group id site alerts are stored under. */
export const SITE_ALERT_GROUP = '';

export interface AlertFilter { groupId?: string; dismissed?: boolean; includeCleared?: boolean; level?: string }

export class Alerts {
  constructor(private readonly store: Store, private readonly clock: Clock, private readonly events: EventLog) {}

  /** Raises, changes or clears the group's alerts from the facts of one poll (nothing during its initial sync). */
  evaluate(g: GroupRow, facts: ReplicationFacts, rt: GroupRuntime, syncing: boolean): void {
    const rpoHigh = !syncing && facts.actualRpoMs !== undefined && facts.actualRpoMs > facts.rpoTargetMs && g.lifecycle === 'active';
    this.set(g, 'RpoAboveTarget', rpoHigh ? 'warning' : undefined,
      `group '${g.name}': RPO ${Math.round((facts.actualRpoMs ?? 0) / 1000)} s is above the ${g.settings.rpoTargetSeconds} s target`);
    const history = syncing ? 'ok' : facts.historyStatus;
    this.set(g, 'HistoryNotMeetingSLA', history === 'ok' ? undefined : history,
      `group '${g.name}': journal history ${Math.round(rt.historyMs / 60_000)} min is below ${history === 'error' ? '75' : '85'} % of the configured ${g.settings.journalHistoryHours} h`);
    const over = rt.journals.filter((j) => j.warningBytes > 0 && j.usedBytes >= j.warningBytes);
    this.set(g, 'JournalWarningThreshold', over.length > 0 ? 'warning' : undefined,
      `group '${g.name}': journal of VM ${over.map((j) => j.vmId).join(', ')} passed its warning threshold`);
  }

  private set(g: GroupRow, type: string, level: AlertLevel | undefined, description: string): void {
    const current = this.store.activeAlert(g.id, type);
    const now = this.clock.now();
    if (!level) {
      if (current) {
        this.store.putAlert({ ...current, clearedAt: now });
        this.events.record('AlertCleared', `cleared: ${current.description}`, g.id);
      }
      return;
    }
    if (!current) {
      this.store.putAlert({ id: `alert-${this.store.nextCounter('alert')}`, groupId: g.id, type, level, description, raisedAt: now, dismissed: false });
      this.events.record('AlertRaised', `${level}: ${description}`, g.id);
    } else if (current.level !== level) {
      this.store.putAlert({ ...current, level, description });
      this.events.record('AlertChanged', `${level}: ${description}`, g.id);
    }
  }

  /**
   * Raises a condition of the site rather than of a group (e.g. failed logins past the backoff threshold);
   * stored with group '' and shown without a vpgIdentifier. A standing one of the type is updated in place.
   */
  raiseSiteAlert(type: string, level: AlertLevel, description: string): void {
    const current = this.store.activeAlert(SITE_ALERT_GROUP, type);
    if (current) {
      this.store.putAlert({ ...current, level, description });
      return;
    }
    this.store.putAlert({ id: `alert-${this.store.nextCounter('alert')}`, groupId: SITE_ALERT_GROUP, type, level, description, raisedAt: this.clock.now(), dismissed: false });
    this.events.record('AlertRaised', `${level}: ${description}`);
  }

  get(id: string): AlertRow {
    const a = this.store.getAlert(id);
    if (!a) throw new NotFoundError('alert', id);
    return a;
  }

  list(filter: AlertFilter = {}): AlertRow[] {
    return this.store.listAlerts(filter);
  }

  setDismissed(id: string, dismissed: boolean, user?: string): void {
    const a = this.get(id);
    if (a.dismissed === dismissed) return;
    this.store.putAlert({ ...a, dismissed });
    this.events.record(dismissed ? 'AlertDismissed' : 'AlertUndismissed', `${dismissed ? 'dismissed' : 'undismissed'}: ${a.description}`, a.groupId || undefined, user);
  }

  /** The group's alert status code: 0 none, 1 warning, 2 error (standing alerts, dismissed or not). */
  status(groupId: string): number {
    const alerts = this.store.listAlerts({ groupId });
    return alerts.some((a) => a.level === 'error') ? 2 : alerts.length > 0 ? 1 : 0;
  }
}
