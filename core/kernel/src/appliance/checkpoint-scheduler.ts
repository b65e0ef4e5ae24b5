// Cuts a group's checkpoints (the manager's job): every `checkpointIntervalMs` an auto checkpoint, tagged
// ones on demand (to several groups at once), VSS ones with a consistency agent. The barrier holds write
// completions on every appliance of the group, marks each stream with one id and one timestamp, and
// releases. No checkpoint is cut while any appliance syncs, is disconnected or paused, or while the
// manager is unreachable; the gap then shows in the checkpoint list.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Clock, TimerHandle } from '../clock.js';
import { checkOneMode } from '../capture/capture-mode.js';
import { UnsupportedError } from '../errors.js';
import type { Checkpoint, CheckpointKind, VmId } from '../model.js';
import type { ConsistencyAgent } from '../ports/consistency-agent.js';
import type { GroupSender } from './protected-appliance.js';

export interface CheckpointSchedulerOptions {
  clock: Clock;
  /** The group's senders, one per protected appliance that hosts some of its VMs. */
  senders: GroupSender[];
  intervalMs: number;
  agents?: ConsistencyAgent[];
  newId?: () => string;
}

export interface SchedulerEvents {
  checkpoint: [Checkpoint];
  /** A checkpoint was due but could not be cut; `reason` says why. */
  skipped: [{ at: number; reason: string }];
  /** The manager is reachable again after an outage ("synchronizing with site"). */
  'manager-returned': [{ at: number; outageMs: number }];
}

export class CheckpointScheduler extends EventEmitter<SchedulerEvents> {
  private timer?: TimerHandle;
  private nextAt = 0;
  private managerUp = true;
  private downSince = 0;
  private stopped = false;

  constructor(private readonly options: CheckpointSchedulerOptions) {
    super();
    // One group, one meaning of a checkpoint: a split write stream and a cycle of views do not mix.
    checkOneMode(options.senders[0]?.groupId ?? '?', options.senders.map((s, i) => ({ mode: s.captureMode, where: `appliance ${i + 1} (VMs ${s.vms.map((v) => v.id).join(', ')})` })));
  }

  get groupId(): string {
    return this.options.senders[0].groupId;
  }

  start(): void {
    this.nextAt = this.options.clock.now() + this.options.intervalMs;
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  /** The manager went away (or came back). While away no checkpoint is cut; replication goes on. */
  setManagerReachable(up: boolean): void {
    if (up === this.managerUp) return;
    this.managerUp = up;
    const now = this.options.clock.now();
    if (!up) this.downSince = now;
    else this.emit('manager-returned', { at: now, outageMs: now - this.downSince });
  }

  /** Why a checkpoint cannot be cut now, or undefined when it can. */
  blockedBy(): string | undefined {
    if (!this.managerUp) return 'the manager is unreachable';
    const s = this.options.senders.find((x) => !x.canCheckpoint);
    return s ? `group ${s.groupId} is ${s.state.connected ? s.state.phase : 'disconnected'}` : undefined;
  }

  /** Cuts a crash-consistent checkpoint now, or returns undefined (and emits `skipped`) when it cannot. */
  cut(kind: CheckpointKind = 'tagged', tag?: string): Checkpoint | undefined {
    return cutCheckpoints([this], kind, tag, this.options.clock.now())[0];
  }

  /** Quiesces `vmId` with a consistency agent, cuts, and always thaws. */
  async cutVss(vmId: VmId, tag?: string): Promise<Checkpoint | undefined> {
    const agent = (this.options.agents ?? []).find((a) => a.handles(vmId));
    if (!agent) throw new UnsupportedError(`application-consistent checkpoints for VM '${vmId}' (no consistency agent handles it)`);
    const token = await agent.quiesce(vmId);
    try {
      const cp = cutCheckpoints([this], 'vss', tag, this.options.clock.now())[0];
      // Change tracking: thaw only once the view the checkpoint lists is frozen.
      if (cp && !(await Promise.all(this.options.senders.map((s) => s.whenFrozen(cp.id)))).every(Boolean)) return undefined;
      return cp;
    } finally {
      await agent.thaw(token);
    }
  }

  /** Internal to cutCheckpoints. */
  barrier(): GroupSender[] {
    return this.options.senders;
  }

  newId(): string {
    return this.options.newId?.() ?? randomUUID();
  }

  private arm(): void {
    if (this.stopped) return;
    const now = this.options.clock.now();
    this.timer = this.options.clock.setTimer(Math.max(0, this.nextAt - now), () => {
      this.nextAt += this.options.intervalMs;
      if (this.nextAt <= this.options.clock.now()) this.nextAt = this.options.clock.now() + this.options.intervalMs;
      this.cut('auto');
      this.arm();
    });
  }
}

/**
 * One checkpoint across several groups with one timestamp: holds every appliance of every group first,
 * so no write that completed before another was issued lands after the marker while the other lands
 * before it. Groups that cannot be checkpointed now are skipped (their entry is undefined).
 */
export function cutCheckpoints(schedulers: CheckpointScheduler[], kind: CheckpointKind, tag: string | undefined, timestamp: number): (Checkpoint | undefined)[] {
  const ready = schedulers.filter((s) => {
    const reason = s.blockedBy();
    if (reason) s.emit('skipped', { at: timestamp, reason });
    return !reason;
  });
  const cut = holdMarkRelease(ready.map((s) => ({ senders: s.barrier(), id: s.newId() })), kind, timestamp, tag);
  ready.forEach((s, i) => s.emit('checkpoint', cut[i]));
  return schedulers.map((s) => (ready.includes(s) ? cut[ready.indexOf(s)] : undefined));
}

/**
 * The barrier itself: every sender of every group holds write completions, then each group's streams get
 * one marker with the group's id, then all release. The caller has checked that each sender can checkpoint.
 */
export function holdMarkRelease(groups: { senders: GroupSender[]; id: string }[], kind: CheckpointKind, timestamp: number, tag: string | undefined): Checkpoint[] {
  const held: GroupSender[] = [];
  try {
    for (const g of groups) {
      for (const sender of g.senders) {
        sender.hold();
        held.push(sender);
      }
    }
    return groups.map((g) => {
      let cp: Checkpoint | undefined;
      for (const sender of g.senders) cp = sender.mark(g.id, kind, timestamp, tag);
      return cp!;
    });
  } finally {
    for (const sender of held) sender.release();
  }
}
