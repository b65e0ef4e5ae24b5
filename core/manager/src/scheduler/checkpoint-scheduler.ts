// The checkpoint scheduler (J3, J8): every group gets an auto checkpoint on its own cadence, with an id
// this manager chose and one timestamp per round, cut through the barrier across its protected appliances
// (kernel's cutAcrossAppliances: hold on every member, mark, release; bounded hold; a member that fails
// aborts the round for its groups only). Tagged checkpoints to one or many groups use the same round.
// Scale: one timer for all groups (a queue of due times, not a timer per group); groups due within a
// tenth of their interval (at most 500 ms) share one round, so an appliance gets one hold and one release
// call per round whatever the number of groups; what a round cut is written in one transaction.
// Stopped, it cuts nothing and the appliances keep replicating; the gap shows in the checkpoint list.
import { randomUUID } from 'node:crypto';
import { InvalidStateError, ValidationError, cutAcrossAppliances } from '@opencdp/core';
import type { BarrierGroup, Checkpoint, CheckpointKind, Clock, GroupRoundOutcome, TimerHandle } from '@opencdp/core';
import type { Logger } from 'pino';
import TinyQueue from 'tinyqueue';
import type { ApplianceRegistry } from '../appliances/appliance-registry.js';
import { assertActive, drivesGroup, requireGroup } from '../groups/group-rules.js';
import type { ManagerLifecycle } from '../lifecycle.js';
import type { Sites } from '../sites/sites.js';
import type { GroupRow, Store } from '../store.js';
import type { EventLog } from '../tasks/event-log.js';
import type { TaskRunner } from '../tasks/task-runner.js';

export interface CheckpointSchedulerOptions {
  /** The longest a member appliance holds guest writes for one round, ms (default 500). */
  barrierHoldMs?: number;
  /**
   * Groups due within this many ms share a round (default 500; never more than a tenth of a group's
   * interval): a group may be cut that much early, but stays on its own grid (its next checkpoint is one
   * interval after its due time), and a site with hundreds of groups runs a couple of rounds a second.
   */
  coalesceMs?: number;
}

/** Figures of the rounds cut so far (the scale benchmark reads them; not stored). */
export interface SchedulerFigures {
  rounds: number;
  /** Duration of the latest rounds (first call to last answer), ms. */
  recentRoundMs: number[];
  /** Per group auto checkpoint: how late after its due time the round started, ms (latest ones). */
  recentLatenessMs: number[];
  cut: number;
  skipped: number;
  aborted: number;
}

interface Due {
  at: number;
  groupId: string;
}

export class CheckpointScheduler {
  /** When each scheduled group is due next (the queue may hold stale entries; this map is the truth). */
  private readonly due = new Map<string, number>();
  private readonly queue = new TinyQueue<Due>([], (a, b) => a.at - b.at);
  private timer?: { handle: TimerHandle; at: number };
  private readonly inRound = new Set<string>();
  private readonly lastTimestamp = new Map<string, number>();
  private running = false;
  private readonly figures: SchedulerFigures = { rounds: 0, recentRoundMs: [], recentLatenessMs: [], cut: 0, skipped: 0, aborted: 0 };

  constructor(
    private readonly store: Store, private readonly clock: Clock, private readonly log: Logger, private readonly lifecycle: ManagerLifecycle,
    private readonly sites: Sites, private readonly appliances: ApplianceRegistry, private readonly events: EventLog, private readonly tasks: TaskRunner,
    private readonly options: CheckpointSchedulerOptions = {},
  ) {}

  private get holdMs(): number {
    return this.options.barrierHoldMs ?? 500;
  }

  /** Schedules every stored group, and learns what each appliance serves. */
  start(): void {
    this.running = true;
    for (const g of this.store.listGroups()) this.watch(g);
    this.lifecycle.track(this.appliances.describeAll());
  }

  stop(): void {
    this.running = false;
    this.timer?.handle.cancel();
    this.timer = undefined;
  }

  /** Told about a group saved (created, changed, received from a peer, reversed): schedules it on its cadence, or drops it. */
  watch(g: Pick<GroupRow, 'id' | 'settings'> & Partial<GroupRow>): void {
    if (!this.running || this.lifecycle.stopped) return;
    const full = this.store.getGroup(g.id);
    if (!full || !this.drives(full)) {
      this.forget(g.id);
      return;
    }
    const interval = full.settings.checkpointIntervalMs;
    const current = this.due.get(g.id);
    const now = this.clock.now();
    // A new group (or a shorter interval) is due one interval from now; an unchanged one keeps its place.
    if (current === undefined || current > now + interval) this.setDue(g.id, now + interval);
  }

  /** The group is gone (deleted) or no longer this manager's to checkpoint. */
  forget(id: string): void {
    this.due.delete(id);
    this.lastTimestamp.delete(id);
  }

  /** Figures of the rounds so far. */
  roundFigures(): SchedulerFigures {
    return { ...this.figures, recentRoundMs: [...this.figures.recentRoundMs], recentLatenessMs: [...this.figures.recentLatenessMs] };
  }

  /** The group's checkpoints, oldest first: from the recovery appliance when reachable, else those this manager cut. */
  async checkpoints(id: string): Promise<Checkpoint[]> {
    const g = requireGroup(this.store, id);
    const recovery = this.appliances.recoveryAppliance(g)?.recovery;
    if (recovery) return recovery.listCheckpoints(g.id);
    return this.store.listCheckpoints(g.id).map((c) => ({ id: c.id, groupId: c.groupId, seq: c.seq, timestamp: c.timestamp, kind: c.kind, ...(c.tag ? { tag: c.tag } : {}) }));
  }

  /** Cuts one tagged checkpoint across the listed groups (one round, one timestamp). */
  async tagCheckpoint(groupIds: string[], tag: string, user?: string): Promise<{ taskId: string; checkpointIds: Record<string, string> }> {
    if (groupIds.length === 0) throw new ValidationError('name at least one group', 'vpgIdentifiers');
    const groups = groupIds.map((id) => requireGroup(this.store, id));
    for (const g of groups) {
      assertActive(g);
      this.appliances.membersOf(g);
    }
    const ids = this.newCheckpointIds(groups.map((g) => g.id));
    const taskId = this.tasks.start('AddCheckpoint', groups.length === 1 ? groups[0].id : undefined, user, async () => {
      const outcomes = await this.round(groups, 'tagged', ids, tag);
      const missed = outcomes.filter((o) => o.status !== 'cut');
      for (const o of outcomes) if (o.status === 'cut') this.events.record('CheckpointAdded', `tagged checkpoint '${tag}' added to group '${groups.find((g) => g.id === o.groupId)!.name}'`, o.groupId, user);
      if (missed.length > 0) {
        const names = missed.map((o) => `'${groups.find((g) => g.id === o.groupId)!.name}'`).join(', ');
        throw new InvalidStateError(`no checkpoint could be cut now for ${names} (syncing, paused or disconnected): ${missed.map((o) => o.reason).join('; ')}`, 'retry once the group streams again');
      }
    });
    return { taskId, checkpointIds: ids };
  }

  private drives(g: GroupRow): boolean {
    return drivesGroup(g, this.sites, this.appliances);
  }

  private setDue(id: string, at: number): void {
    this.due.set(id, at);
    this.queue.push({ at, groupId: id });
    this.arm();
  }

  /** One timer, at the earliest due time. */
  private arm(): void {
    if (!this.running || this.lifecycle.stopped) return;
    let head = this.queue.peek();
    while (head && this.due.get(head.groupId) !== head.at) {
      this.queue.pop();
      head = this.queue.peek();
    }
    if (!head) return;
    if (this.timer && this.timer.at <= head.at) return;
    this.timer?.handle.cancel();
    const at = head.at;
    this.timer = { at, handle: this.clock.setTimer(Math.max(0, at - this.clock.now()), () => this.fire(at)) };
  }

  /** Every group due now (or within the coalescing window) goes into one round; each is due again one interval later on its own grid. */
  private fire(at: number): void {
    if (this.timer?.at === at) this.timer = undefined;
    if (!this.running || this.lifecycle.stopped) return;
    const now = this.clock.now();
    // Timers are relative, so this fired when `at` was due: a wall clock that went back since makes `now`
    // earlier than `at`. Move every due time by as much, or every group would wait out the jump.
    if (now < at - 1000) this.shiftDue(now - at);
    const window = this.options.coalesceMs ?? 500;
    const batch: GroupRow[] = [];
    const lateness: number[] = [];
    const deferred: string[] = [];
    for (;;) {
      const head = this.queue.peek();
      if (!head) break;
      if (this.due.get(head.groupId) !== head.at) {
        this.queue.pop();
        continue;
      }
      const g = this.store.getGroup(head.groupId);
      const limit = now + Math.min(window, (g?.settings.checkpointIntervalMs ?? 0) / 10);
      if (head.at > limit && head.at > now) break;
      this.queue.pop();
      if (!g || !this.drives(g)) {
        this.forget(head.groupId);
        continue;
      }
      const interval = g.settings.checkpointIntervalMs;
      if (this.inRound.has(g.id)) {
        // Its previous round is still running: try again shortly (after this loop) rather than holding it twice.
        this.due.delete(g.id);
        deferred.push(g.id);
        continue;
      }
      let next = head.at + interval;
      if (next <= limit) next = now + interval; // missed beats (manager was busy or away) are not made up
      this.due.delete(g.id);
      this.setDue(g.id, next);
      lateness.push(Math.max(0, now - head.at));
      batch.push(g);
    }
    for (const id of deferred) this.setDue(id, now + 50);
    this.arm();
    if (batch.length === 0) return;
    this.noteAll(this.figures.recentLatenessMs, lateness);
    const ids = this.newCheckpointIds(batch.map((g) => g.id));
    this.lifecycle.track(this.round(batch, 'auto', ids).catch((e: Error) => this.log.warn({ err: e }, 'checkpoint round failed')));
  }

  private shiftDue(by: number): void {
    const entries = [...this.due];
    this.due.clear();
    while (this.queue.length > 0) this.queue.pop();
    for (const [id, at] of entries) this.setDue(id, at + by);
  }

  /** One round over `groups`; records what was cut (one transaction), an event per aborted group, and trims the manager's list. */
  private async round(groups: GroupRow[], kind: CheckpointKind, ids: Record<string, string>, tag?: string): Promise<GroupRoundOutcome[]> {
    for (const g of groups) this.inRound.add(g.id);
    const started = this.clock.now();
    // One timestamp for the round, never before a group's previous one (a wall clock that jumped back).
    const timestamp = Math.max(started, ...groups.map((g) => (this.lastTimestamp.get(g.id) ?? -Infinity) + 1));
    try {
      const barrierGroups: BarrierGroup[] = [];
      const unreachable: GroupRoundOutcome[] = [];
      for (const g of groups) {
        const unknown = this.appliances.unknownMembers(g);
        const down = this.appliances.protectedMembers(g).map((m) => this.appliances.downReason(m.control) !== undefined ? this.appliances.nameOf(m.control) : undefined).find((n) => n);
        if (unknown.length > 0 || down) {
          // Known down since the last poll: no hold is tried (status and alert already name it).
          unreachable.push({ groupId: g.id, status: 'skipped', reason: down ? `${down} cannot be reached` : `this manager does not reach appliance ${unknown.join(', ')}` });
          continue;
        }
        barrierGroups.push({ groupId: g.id, checkpointId: ids[g.id], members: this.appliances.protectedMembers(g).map((m) => ({ name: this.appliances.nameOf(m.control), control: m.control })) });
      }
      const outcomes = barrierGroups.length === 0 ? [] : await cutAcrossAppliances(
        { roundId: `${this.sites.siteId}-${randomUUID()}`, groups: barrierGroups, kind, timestamp, holdMs: this.holdMs, ...(tag !== undefined ? { tag } : {}) },
        { clock: this.clock },
      );
      const all = [...outcomes, ...unreachable];
      this.figures.rounds++;
      this.noteAll(this.figures.recentRoundMs, [this.clock.now() - started]);
      if (this.lifecycle.stopped) return all;
      const byId = new Map(groups.map((g) => [g.id, g]));
      this.store.transaction(() => {
        for (const o of all) {
          const g = byId.get(o.groupId)!;
          if (o.status === 'cut') {
            this.figures.cut++;
            this.lastTimestamp.set(g.id, timestamp);
            const cp = o.checkpoint;
            this.store.addCheckpoint({ id: cp.id, groupId: g.id, timestamp: cp.timestamp, kind: cp.kind, seq: cp.seq, ...(cp.tag ? { tag: cp.tag } : {}) });
            if (kind === 'auto') this.store.trimCheckpoints(g.id, timestamp - g.settings.journalHistoryHours * 3_600_000);
          } else if (o.status === 'aborted') {
            this.figures.aborted++;
            this.events.record('CheckpointRoundAborted', `${kind} checkpoint round for group '${g.name}' aborted, nothing listed for it: ${o.reason}`, g.id);
          } else {
            this.figures.skipped++;
          }
        }
      });
      return all;
    } finally {
      for (const g of groups) this.inRound.delete(g.id);
    }
  }

  /** Checkpoint ids that never repeat, reserved for a whole round in one write. */
  private newCheckpointIds(groupIds: string[]): Record<string, string> {
    const first = this.store.reserveCounter('checkpoint', groupIds.length);
    const ids: Record<string, string> = {};
    groupIds.forEach((id, i) => (ids[id] = `${this.sites.siteId}-cp-${first + i}`));
    return ids;
  }

  private noteAll(into: number[], values: number[]): void {
    into.push(...values);
    if (into.length > 20_000) into.splice(0, into.length - 10_000);
  }
}
