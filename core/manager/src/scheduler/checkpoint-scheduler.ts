// The checkpoint scheduler (J3, J8): every group on a cadence gets an auto checkpoint with one timestamp
// and an id this manager chose, cut through its protected appliance's barrier; tagged checkpoints on
// demand, to one or many groups. Timers today are per cadence (all groups of one interval tick
// together); `watch` is told about every group saved, so per-group timers change only this module.
// Stopped, it cuts nothing and the appliances keep replicating; the gap shows in the checkpoint list.
import { InvalidStateError, ValidationError } from '@opencdp/core';
import type { ApplianceControl, Checkpoint, Clock, TimerHandle } from '@opencdp/core';
import type { Logger } from 'pino';
import type { ApplianceRegistry } from '../appliances/appliance-registry.js';
import { assertActive, requireGroup } from '../groups/group-rules.js';
import type { ManagerLifecycle } from '../lifecycle.js';
import type { Sites } from '../sites/sites.js';
import type { GroupRow, Store } from '../store.js';
import type { EventLog } from '../tasks/event-log.js';
import type { TaskRunner } from '../tasks/task-runner.js';

export class CheckpointScheduler {
  private readonly timers = new Map<number, TimerHandle>();

  constructor(
    private readonly store: Store, private readonly clock: Clock, private readonly log: Logger, private readonly lifecycle: ManagerLifecycle,
    private readonly sites: Sites, private readonly appliances: ApplianceRegistry, private readonly events: EventLog, private readonly tasks: TaskRunner,
  ) {}

  /** Schedules every stored group. */
  start(): void {
    for (const g of this.store.listGroups()) this.watch(g);
  }

  stop(): void {
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
  }

  /** Told about a group saved (created, changed, received from a peer, reversed): makes sure its cadence ticks. */
  watch(g: { settings: { checkpointIntervalMs: number } }): void {
    this.ensureScheduled(g.settings.checkpointIntervalMs);
  }

  /** The group's checkpoints, oldest first: from the recovery appliance when reachable, else those this manager cut. */
  async checkpoints(id: string): Promise<Checkpoint[]> {
    const g = requireGroup(this.store, id);
    const recovery = this.appliances.recoveryAppliance(g)?.recovery;
    if (recovery) return recovery.listCheckpoints(g.id);
    return this.store.listCheckpoints(g.id).map((c) => ({ id: c.id, groupId: c.groupId, seq: c.seq, timestamp: c.timestamp, kind: c.kind, ...(c.tag ? { tag: c.tag } : {}) }));
  }

  /** Cuts one tagged checkpoint across the listed groups (one timestamp). */
  async tagCheckpoint(groupIds: string[], tag: string, user?: string): Promise<{ taskId: string; checkpointIds: Record<string, string> }> {
    if (groupIds.length === 0) throw new ValidationError('name at least one group', 'vpgIdentifiers');
    const groups = groupIds.map((id) => requireGroup(this.store, id));
    for (const g of groups) {
      assertActive(g);
      this.appliances.protectedOf(g);
    }
    const ids = this.newCheckpointIds(groups.map((g) => g.id));
    const timestamp = this.clock.now();
    const taskId = this.tasks.start('AddCheckpoint', groups.length === 1 ? groups[0].id : undefined, user, async () => {
      const cut = await this.cut(groups, 'tagged', timestamp, ids, tag);
      const missed = groups.filter((g) => !cut.has(g.id));
      for (const g of groups) if (cut.has(g.id)) this.events.record('CheckpointAdded', `tagged checkpoint '${tag}' added to group '${g.name}'`, g.id, user);
      if (missed.length > 0) throw new InvalidStateError(`no checkpoint could be cut now for ${missed.map((g) => `'${g.name}'`).join(', ')} (syncing, paused or disconnected)`, 'retry once the group streams again');
    });
    return { taskId, checkpointIds: ids };
  }

  private newCheckpointIds(groupIds: string[]): Record<string, string> {
    const ids: Record<string, string> = {};
    for (const id of groupIds) ids[id] = `${this.sites.siteId}-cp-${this.store.nextCounter('checkpoint')}`;
    return ids;
  }

  /** Cuts checkpoints through each group's protected appliance (one barrier per appliance); records what was cut. */
  private async cut(groups: GroupRow[], kind: 'auto' | 'tagged', timestamp: number, ids: Record<string, string>, tag?: string): Promise<Map<string, Checkpoint>> {
    const byAppliance = new Map<ApplianceControl, GroupRow[]>();
    for (const g of groups) {
      const a = this.appliances.protectedAppliance(g);
      if (a) byAppliance.set(a, [...(byAppliance.get(a) ?? []), g]);
    }
    const out = new Map<string, Checkpoint>();
    await Promise.all([...byAppliance].map(async ([a, gs]) => {
      try {
        const groupIds = gs.map((g) => g.id);
        const result = await a.cutCheckpoints({ groupIds, kind, timestamp, ids: Object.fromEntries(groupIds.map((id) => [id, ids[id]])), ...(tag ? { tag } : {}) });
        result.forEach((cp, i) => {
          if (!cp) return;
          out.set(groupIds[i], cp);
          if (!this.lifecycle.stopped) this.store.addCheckpoint({ id: cp.id, groupId: cp.groupId, timestamp: cp.timestamp, kind: cp.kind, seq: cp.seq, ...(cp.tag ? { tag: cp.tag } : {}) });
        });
      } catch (e) {
        this.log.warn({ err: e, siteId: a.siteId }, 'cutting checkpoints failed');
        if (kind === 'tagged') throw e;
      }
    }));
    return out;
  }

  /** Groups whose checkpoints this manager cuts: those protected at its site, or at a site that has no paired manager of its own. */
  private scheduledGroups(intervalMs: number): GroupRow[] {
    const peers = new Set(this.sites.peerSites().map((s) => s.id));
    return this.store.listGroups().filter((g) => g.lifecycle === 'active' && g.settings.checkpointIntervalMs === intervalMs
      && (g.protectedSiteId === this.sites.siteId || !peers.has(g.protectedSiteId)) && this.appliances.protectedAppliance(g) !== undefined);
  }

  private ensureScheduled(intervalMs: number): void {
    if (this.lifecycle.stopped || this.timers.has(intervalMs)) return;
    this.timers.set(intervalMs, this.clock.setTimer(intervalMs, () => void this.tick(intervalMs)));
  }

  /** One tick: every group on this cadence gets an auto checkpoint with one timestamp. */
  private async tick(intervalMs: number): Promise<void> {
    this.timers.delete(intervalMs);
    if (this.lifecycle.stopped) return;
    const groups = this.scheduledGroups(intervalMs);
    if (groups.length === 0) return;
    this.ensureScheduled(intervalMs);
    const now = this.clock.now();
    try {
      await this.cut(groups, 'auto', now, this.newCheckpointIds(groups.map((g) => g.id)));
      if (!this.lifecycle.stopped) for (const g of groups) this.store.trimCheckpoints(g.id, now - g.settings.journalHistoryHours * 3_600_000);
    } catch (e) {
      this.log.warn({ err: e }, 'checkpoint tick failed');
    }
  }
}
