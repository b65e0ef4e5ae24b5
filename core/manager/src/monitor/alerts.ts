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

  /**
   * Raises, changes or clears the group's alerts from the facts of one poll (nothing during its initial
   * sync). `standing`: the poll's preloaded standing alerts (one query for all groups); `unreachable`: the
   * protected appliance of the group that cannot be reached (its checkpoints stop until it returns).
   */
  evaluate(g: GroupRow, facts: ReplicationFacts, rt: GroupRuntime, syncing: boolean, extra: { standing?: Map<string, AlertRow>; unreachable?: string } = {}): void {
    this.standing = extra.standing;
    this.set(g, 'ApplianceUnreachable', extra.unreachable ? 'error' : undefined,
      `group '${g.name}': ${extra.unreachable ?? 'a protected appliance'} cannot be reached; the group's checkpoints stop until it returns (other groups are not affected)`);
    const rpoHigh = !syncing && facts.actualRpoMs !== undefined && facts.actualRpoMs > facts.rpoTargetMs && g.lifecycle === 'active';
    this.set(g, 'RpoAboveTarget', rpoHigh ? 'warning' : undefined,
      `group '${g.name}': RPO ${Math.round((facts.actualRpoMs ?? 0) / 1000)} s is above the ${g.settings.rpoTargetSeconds} s target`);
    const history = syncing ? 'ok' : facts.historyStatus;
    this.set(g, 'HistoryNotMeetingSLA', history === 'ok' ? undefined : history,
      `group '${g.name}': journal history ${Math.round(rt.historyMs / 60_000)} min is below ${history === 'error' ? '75' : '85'} % of the configured ${g.settings.journalHistoryHours} h`);
    const over = rt.journals.filter((j) => j.warningBytes > 0 && j.usedBytes >= j.warningBytes);
    this.set(g, 'JournalWarningThreshold', over.length > 0 ? 'warning' : undefined,
      `group '${g.name}': journal of VM ${over.map((j) => j.vmId).join(', ')} passed its warning threshold`);
    this.standing = undefined;
  }

  /** Standing alerts preloaded for the poll under way (undefined: ask the store). */
  private standing?: Map<string, AlertRow>;

  private set(g: GroupRow, type: string, level: AlertLevel | undefined, description: string): void {
    const current = this.standing ? this.standing.get(`${g.id}/${type}`) : this.store.activeAlert(g.id, type);
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
    } else if (current.level !== level || (type === 'ApplianceUnreachable' && current.description !== description)) {
      this.store.putAlert({ ...current, level, description });
      this.events.record('AlertChanged', `${level}: ${description}`, g.id);
    }
  }

  /**
   * Raises or clears an alert about a site rather than a group (a paired manager this one is not connected
   * to, seed 000). Returns true when the alert was raised or cleared by this call.
   */
  setSite(siteId: string, type: string, level: AlertLevel | undefined, description: string): boolean {
    const current = this.store.activeSiteAlert(siteId, type);
    const now = this.clock.now();
    if (!level) {
      if (!current) return false;
      this.store.putAlert({ ...current, clearedAt: now });
      this.events.record('AlertCleared', `cleared: ${current.description}`);
      return true;
    }
    if (current) return false;
    this.store.putAlert({ id: `alert-${this.store.nextCounter('alert')}`, groupId: '', siteId, type, level, description, raisedAt: now, dismissed: false });
    this.events.record('AlertRaised', `${level}: ${description}`);
    return true;
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

  /** Every group's alert status code at once (groups with no standing alert are absent: 0). */
  statusAll(): Map<string, number> {
    const out = new Map<string, number>();
    for (const a of this.store.listAlerts()) {
      if (!a.groupId) continue;
      out.set(a.groupId, Math.max(out.get(a.groupId) ?? 0, a.level === 'error' ? 2 : 1));
    }
    return out;
  }

  /** The group's alert status code: 0 none, 1 warning, 2 error (standing alerts, dismissed or not). */
  status(groupId: string): number {
    const alerts = this.store.listAlerts({ groupId });
    return alerts.some((a) => a.level === 'error') ? 2 : alerts.length > 0 ? 1 : 0;
  }
}
