// The monitor: on every poll it reads each group's facts from its appliances, evaluates the group's
// status and sub-status (core's evaluateGroupState, with recovery operations and the group's lifecycle
// on top), records every transition as an event with its reason, computes the figures (RPO, IOPS,
// throughput, WAN, journal, history SLA) and has the alerts evaluated. It also closes the start task of
// an operation that ended without this manager, fetching its report.
import { GroupStatusCode, GroupSubStatusCode, evaluateGroupState } from '@opencdp/core';
import type { ActiveRecovery, ApplianceControl, Clock, GroupFacts, GroupState, RecoveryReport, ReplicationFacts, TimerHandle } from '@opencdp/core';
import type { Logger } from 'pino';
import type { ApplianceRegistry } from '../appliances/appliance-registry.js';
import { defined } from '../defined.js';
import type { ManagerLifecycle } from '../lifecycle.js';
import type { RecoveryGuard } from '../recovery/recovery-guard.js';
import type { RecoveryReports } from '../recovery/recovery-reports.js';
import { TaskState, type GroupRow, type Store, type StoredGroupState } from '../store.js';
import type { EventLog } from '../tasks/event-log.js';
import type { TaskRunner } from '../tasks/task-runner.js';
import type { Alerts } from './alerts.js';
import type { GroupRuntime } from './group-runtime.js';

/** History SLA is judged only once this much history could exist (a fresh group cannot have any). */
const HISTORY_GRACE_MS = 60_000;

export class Monitor {
  private readonly runtime = new Map<string, GroupRuntime>();
  private pollTimer?: TimerHandle;
  private polling?: Promise<void>;

  constructor(
    private readonly store: Store, private readonly clock: Clock, private readonly log: Logger, private readonly lifecycle: ManagerLifecycle,
    private readonly appliances: ApplianceRegistry, private readonly guard: RecoveryGuard, private readonly reports: RecoveryReports,
    private readonly alerts: Alerts, private readonly events: EventLog, private readonly tasks: TaskRunner,
    private readonly pollIntervalMs = 1000,
  ) {}

  /** Polls every `pollIntervalMs` until stopped. */
  start(): void {
    this.schedulePoll();
  }

  /** Cancels the next poll; resolves when the poll under way (if any) ends. */
  stop(): Promise<void> {
    this.pollTimer?.cancel();
    return this.polling ?? Promise.resolve();
  }

  /** The group's figures from the latest poll. */
  runtimeOf(id: string): GroupRuntime | undefined {
    return this.runtime.get(id);
  }

  /** Drops the figures of a deleted group. */
  forget(id: string): void {
    this.runtime.delete(id);
  }

  private schedulePoll(): void {
    if (this.lifecycle.stopped) return;
    this.pollTimer = this.clock.setTimer(this.pollIntervalMs, () => {
      this.polling = this.pollAll().catch((e: Error) => this.log.warn({ err: e }, 'poll failed')).finally(() => {
        this.polling = undefined;
        this.schedulePoll();
      });
    });
  }

  /** Reads every group's facts from the appliances, evaluates its state, raises events and alerts. Tests call it directly. */
  async pollAll(): Promise<void> {
    for (const g of this.store.listGroups()) {
      if (this.lifecycle.stopped) return;
      try {
        await this.pollGroup(g);
      } catch (e) {
        this.log.warn({ err: e, groupId: g.id }, 'poll of group failed');
      }
    }
  }

  private async pollGroup(g: GroupRow): Promise<void> {
    const now = this.clock.now();
    const pa = this.appliances.protectedAppliance(g);
    const ra = this.appliances.recoveryAppliance(g);
    const read = async (a: ApplianceControl | undefined): Promise<GroupFacts | undefined> => {
      if (!a) return undefined;
      try {
        return await a.groupFacts(g.id);
      } catch {
        return undefined;
      }
    };
    const pf = await read(pa);
    const rf = ra === pa ? pf : await read(ra);
    let activeKnown = ra?.recovery !== undefined;
    const active = ra?.recovery ? await ra.recovery.active(g.id).catch(() => ((activeKnown = false), undefined)) : undefined;
    if (this.lifecycle.stopped) return;
    if (activeKnown && !active && !this.guard.isBusy(g.id)) await this.closeEndedElsewhere(g, ra, now);
    const prevRt = this.runtime.get(g.id);
    const journals = rf?.journals ?? pf?.journals ?? [];
    const latestAt = rf?.latestCheckpointAt ?? pf?.latestCheckpointAt ?? pf?.lastCheckpoint?.timestamp;
    const phase = pf?.phase ?? 'streaming';
    const syncing = phase === 'creating' || phase === 'initial-sync';
    if (g.syncedAt === undefined && pf && !syncing && latestAt !== undefined) g.syncedAt = now;
    const history = this.historyStatus(g, journals, now);
    const facts: ReplicationFacts = {
      // A manager that reaches only the recovery side (the other site's manager drives the protected appliance)
      // judges the group by what arrives there: the RPO tells whether replication keeps up.
      phase, connected: pf ? pf.connected ?? false : !pa && rf !== undefined, vmCount: g.vmIds.length, hasCheckpoints: latestAt !== undefined,
      rpoTargetMs: g.settings.rpoTargetSeconds * 1000, historyStatus: syncing ? 'ok' : history.status,
      ...defined({ trigger: pf?.trigger, cause: pf?.cause, storageError: rf?.storageError ?? pf?.storageError, actualRpoMs: latestAt !== undefined ? Math.max(0, now - latestAt) : undefined }),
    };
    const state = overlay(g, evaluateGroupState(facts), active);
    // Rates from the counters' change since the last poll.
    const writes = pf?.writes ?? 0, written = pf?.writtenBytes ?? 0, wire = pf?.wireBytes ?? 0;
    const prev = prevRt?.prev;
    const dt = prev ? (now - prev.at) / 1000 : 0;
    const rate = (a: number, b: number): number => (dt > 0 && a >= b ? (a - b) / dt : 0);
    const rt: GroupRuntime = {
      at: now, iops: prev ? rate(writes, prev.writes) : 0, throughputBytesPerSec: prev ? rate(written, prev.writtenBytes) : 0,
      wanBytesPerSec: prev ? rate(wire, prev.wireBytes) : 0, wanBytes: wire, writtenBytes: written, bitmapBytes: pf?.bitmapBytes ?? 0,
      journalUsedBytes: sum(journals.map((j) => j.usedBytes)), journalHardLimitBytes: sum(journals.map((j) => j.hardLimitBytes)),
      journalWarningBytes: sum(journals.map((j) => j.warningBytes)), historyMs: history.actualMs, historyStatus: facts.historyStatus, journals,
      prev: { at: now, writes, writtenBytes: written, wireBytes: wire },
      ...defined({ actualRpoMs: facts.actualRpoMs, earliestCheckpointAt: history.earliestAt, activeOperation: active ? { kind: active.kind, phase: active.phase } : undefined }),
    };
    this.runtime.set(g.id, rt);
    // Transitions: every change of status, sub-status or trigger is an event with the reason.
    const stored: StoredGroupState = { status: state.status, subStatus: state.subStatus, statusCode: state.statusCode, subStatusCode: state.subStatusCode, health: state.health, reason: state.reason, ...defined({ trigger: state.trigger }) };
    const before = g.state;
    const changed = !before || before.status !== stored.status || before.subStatus !== stored.subStatus || before.trigger !== stored.trigger;
    const fresh = this.store.getGroup(g.id);
    if (!fresh) return;
    if (changed || fresh.syncedAt !== g.syncedAt) this.store.putGroup({ ...fresh, state: stored, ...defined({ syncedAt: g.syncedAt }) });
    if (changed) {
      this.events.record('GroupStatusChanged', `group '${g.name}': ${before ? `${before.status}/${before.subStatus} → ` : ''}${stored.status}/${stored.subStatus}${stored.trigger ? ` (${stored.trigger})` : ''}: ${stored.reason}`, g.id);
    }
    this.alerts.evaluate(g, facts, rt, syncing);
  }

  /**
   * An operation that ended without this manager (a commit policy that applied on its own, or the other
   * site's manager) leaves its start task waiting: close it, after fetching the report made where the
   * operation ended, so /reports/recovery lists every operation.
   */
  private async closeEndedElsewhere(g: GroupRow, ra: ApplianceControl | undefined, now: number): Promise<void> {
    const waiting = this.tasks.list({ groupId: g.id, state: TaskState.WaitingForUserInput });
    if (waiting.length > 0 && ra?.recovery?.reports) {
      const reports = await ra.recovery.reports(g.id).catch(() => [] as RecoveryReport[]);
      for (const r of reports) if (!this.reports.has(r.id)) this.reports.record(r);
    }
    for (const t of waiting) this.tasks.end(t, 'ended outside this manager', now);
  }

  private historyStatus(g: GroupRow, journals: NonNullable<GroupFacts['journals']>, now: number): { status: 'ok' | 'warning' | 'error'; actualMs: number; earliestAt?: number } {
    const actualMs = journals.length > 0 ? Math.min(...journals.map((j) => j.historyMs)) : 0;
    const earliest = journals.map((j) => j.earliestCheckpointAt).filter((t): t is number => t !== undefined);
    const earliestAt = earliest.length > 0 ? Math.max(...earliest) : undefined;
    if (g.syncedAt === undefined || journals.length === 0) return { status: 'ok', actualMs, ...defined({ earliestAt }) };
    // A group cannot hold more history than it has existed since its initial sync.
    const expected = Math.min(g.settings.journalHistoryHours * 3_600_000, now - g.syncedAt);
    if (expected < HISTORY_GRACE_MS) return { status: 'ok', actualMs, ...defined({ earliestAt }) };
    const ratio = actualMs / expected;
    return { status: ratio < 0.75 ? 'error' : ratio < 0.85 ? 'warning' : 'ok', actualMs, ...defined({ earliestAt }) };
  }
}

/** Recovery operations and the group's lifecycle take precedence over the replication state. */
export function overlay(g: Pick<GroupRow, 'lifecycle'>, state: GroupState, active: ActiveRecovery | undefined): GroupState {
  const set = (status: keyof typeof GroupStatusCode, subStatus: keyof typeof GroupSubStatusCode, reason: string): GroupState =>
    ({ ...state, status, subStatus, statusCode: GroupStatusCode[status], subStatusCode: GroupSubStatusCode[subStatus], reason });
  if (g.lifecycle === 'deleting') return set('Deleting', 'Deleting', 'the group is being deleted');
  if (g.lifecycle === 'recovered') return { ...set('Recovered', 'None', 'the group was failed over or moved and is not protected back'), health: 'green' };
  if (active && (active.kind === 'Failover' || active.kind === 'Move')) {
    const failover = active.kind === 'Failover';
    const sub: Record<string, keyof typeof GroupSubStatusCode> = {
      running: 'None', 'before-commit': failover ? 'FailingOverBeforeCommit' : 'MovingBeforeCommit', committing: failover ? 'FailingOverCommitting' : 'MovingCommitting',
      'rolling-back': failover ? 'FailingOverRollingBack' : 'MovingRollingBack', promoting: 'Promoting', done: 'None',
    };
    return set(failover ? 'FailingOver' : 'Moving', sub[active.phase] ?? 'None', `${active.kind} in progress (${active.phase})`);
  }
  return state;
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}
