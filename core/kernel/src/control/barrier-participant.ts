// An appliance's side of the checkpoint barrier across appliances (J2 across hosts). A round holds write
// completions of the listed groups and takes each marker's place in its stream (`hold`); the manager,
// once every member of a group answered, releases the round placing the markers of the groups every
// member held and dropping the others (`release`). The hold is bounded here, by this appliance's own
// timer: with no outcome in time the round is dropped, so a guest never waits on a member or a manager
// that went away, and a marker is placed only while every member of its group still held (why: docs/control-plane.md).
import type { Clock, TimerHandle } from '../clock.js';
import { ValidationError } from '../errors.js';
import type { Checkpoint, CheckpointKind, GroupId } from '../model.js';
import type { GroupSender, PreparedMark } from '../appliance/group-sender.js';
import type { BarrierHoldRequest, BarrierHoldResult, BarrierReleaseRequest, BarrierReleaseResult } from './appliance-control.js';

/** The longest hold a round may ask for: guests must never wait long on a checkpoint. */
export const MAX_BARRIER_HOLD_MS = 10_000;
/** Rounds that ended here are remembered (to refuse a hold arriving after its round was decided) up to this many. */
const ENDED_MEMORY = 4096;
const KINDS: readonly CheckpointKind[] = ['auto', 'tagged', 'vss'];

/** What a round needs of a group's sender. */
export type BarrierSender = Pick<GroupSender, 'canCheckpoint' | 'state' | 'prepareMark'>;

export interface BarrierParticipantOptions {
  clock: Clock;
  /** The group's sender on this appliance, if it protects the group. */
  sender(groupId: GroupId): BarrierSender | undefined;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

/** How long guest writes were held by rounds here (hold to release), for figures. */
export interface BarrierHoldFigures {
  rounds: number;
  expired: number;
  /** Hold durations of the latest rounds, ms (at most 10 000 kept). */
  recentHoldMs: number[];
}

interface Round {
  marks: Map<GroupId, PreparedMark>;
  /** Groups that stopped being protected here during the round. */
  dropped: Set<GroupId>;
  timer: TimerHandle;
  heldAt: number;
  holdMs: number;
}

export class BarrierParticipant {
  private readonly rounds = new Map<string, Round>();
  private readonly ended = new Set<string>();
  private readonly figures: BarrierHoldFigures = { rounds: 0, expired: 0, recentHoldMs: [] };

  constructor(private readonly options: BarrierParticipantOptions) {}

  /** Holds every listed group that can be checkpointed now and takes its marker's place; the rest is refused with a reason. */
  hold(request: BarrierHoldRequest): BarrierHoldResult {
    checkHold(request);
    const { roundId } = request;
    if (this.rounds.has(roundId)) throw new ValidationError(`barrier round '${roundId}' is already held here`, 'roundId');
    const groupIds = [...new Set(request.groupIds)];
    if (this.ended.has(roundId)) {
      return { roundId, held: [], refused: groupIds.map((groupId) => ({ groupId, reason: `round '${roundId}' already ended here (its outcome or abort arrived first)` })) };
    }
    const marks = new Map<GroupId, PreparedMark>();
    const result: BarrierHoldResult = { roundId, held: [], refused: [] };
    for (const groupId of groupIds) {
      const sender = this.options.sender(groupId);
      const reason = !sender ? 'not protected by this appliance' : blockedReason(sender);
      if (reason || !sender) {
        result.refused.push({ groupId, reason: reason ?? 'not protected by this appliance' });
        continue;
      }
      try {
        const mark = sender.prepareMark();
        marks.set(groupId, mark);
        result.held.push({ groupId, seq: mark.seq });
      } catch (e) {
        result.refused.push({ groupId, reason: (e as Error).message });
      }
    }
    if (marks.size === 0) {
      this.remember(roundId);
      return result;
    }
    const timer = this.options.clock.setTimer(request.holdMs, () => this.expire(roundId));
    this.rounds.set(roundId, { marks, dropped: new Set(), timer, heldAt: this.options.clock.now(), holdMs: request.holdMs });
    return result;
  }

  /** Ends a round with its outcome: places the markers of the groups named in `ids`, drops the others, releases all. */
  release(request: BarrierReleaseRequest): BarrierReleaseResult {
    checkRelease(request);
    const { roundId } = request;
    const round = this.rounds.get(roundId);
    const named = Object.keys(request.ids);
    if (!round) {
      const reason = this.ended.has(roundId) ? `round '${roundId}' ended here before its outcome arrived (hold bound passed or aborted)` : `round '${roundId}' was never held here`;
      return { roundId, checkpoints: [], missed: named.map((groupId) => ({ groupId, reason })) };
    }
    this.finish(roundId, round);
    const checkpoints: Checkpoint[] = [];
    const missed: BarrierReleaseResult['missed'] = named.filter((g) => !round.marks.has(g)).map((groupId) => ({
      groupId, reason: round.dropped.has(groupId) ? `group '${groupId}' stopped being protected here during the round` : `group '${groupId}' was not held here in round '${roundId}'`,
    }));
    for (const [groupId, mark] of round.marks) {
      const id = request.ids[groupId];
      if (id === undefined) {
        mark.abort();
        continue;
      }
      const cp = mark.commit(id, request.kind, request.timestamp, request.tag);
      if (cp) checkpoints.push(cp);
      else missed.push({ groupId, reason: 'the marker could not be placed: the group lost its link or was paused during the hold' });
    }
    return { roundId, checkpoints, missed };
  }

  /** Drops a round: releases what it holds with no marker; remembers it so that a hold arriving later is refused. */
  abort(roundId: string, reason: string): void {
    if (typeof roundId !== 'string' || roundId === '') throw new ValidationError('roundId must be a non-empty string', 'roundId');
    const round = this.rounds.get(roundId);
    if (!round) {
      this.remember(roundId);
      return;
    }
    this.finish(roundId, round);
    for (const mark of round.marks.values()) mark.abort();
    this.options.log?.('barrier-aborted', { roundId, groups: [...round.marks.keys()], reason: String(reason).slice(0, 500) });
  }

  /** A group stops being protected here (unprotected, VMs moved): its hold in any round ends with no marker. */
  forget(groupId: GroupId): void {
    for (const round of this.rounds.values()) {
      const mark = round.marks.get(groupId);
      if (!mark) continue;
      mark.abort();
      round.marks.delete(groupId);
      round.dropped.add(groupId);
    }
  }

  /** Drops every round under way (the appliance stops). */
  stop(): void {
    for (const roundId of [...this.rounds.keys()]) this.abort(roundId, 'the appliance is stopping');
  }

  holdFigures(): BarrierHoldFigures {
    return { ...this.figures, recentHoldMs: [...this.figures.recentHoldMs] };
  }

  /** The hold bound passed with no outcome: release with no marker. */
  private expire(roundId: string): void {
    const round = this.rounds.get(roundId);
    if (!round) return;
    this.finish(roundId, round);
    this.figures.expired++;
    for (const mark of round.marks.values()) mark.abort();
    this.options.log?.('barrier-expired', { roundId, groups: [...round.marks.keys()], holdMs: round.holdMs });
  }

  private finish(roundId: string, round: Round): void {
    round.timer.cancel();
    this.rounds.delete(roundId);
    this.remember(roundId);
    this.figures.rounds++;
    this.figures.recentHoldMs.push(Math.max(0, this.options.clock.now() - round.heldAt));
    if (this.figures.recentHoldMs.length > 10_000) this.figures.recentHoldMs.splice(0, 1000);
  }

  private remember(roundId: string): void {
    this.ended.add(roundId);
    if (this.ended.size > ENDED_MEMORY) this.ended.delete(this.ended.values().next().value as string);
  }
}

function blockedReason(sender: BarrierSender): string | undefined {
  if (sender.canCheckpoint) return undefined;
  const s = sender.state;
  return !s.connected ? 'disconnected from the recovery appliance' : s.storageError ? `recovery ${s.storageError} storage failing` : s.phase === 'streaming' ? 'a checkpoint is being cut or a VM is re-attaching' : `in ${s.phase}`;
}

const isId = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 200;

function checkHold(r: BarrierHoldRequest): void {
  if (typeof r !== 'object' || r === null) throw new ValidationError('the request must be an object', 'request');
  if (!isId(r.roundId)) throw new ValidationError('roundId must be a non-empty string of at most 200 characters', 'roundId');
  if (!Array.isArray(r.groupIds) || r.groupIds.length === 0 || !r.groupIds.every(isId)) throw new ValidationError('groupIds must be a non-empty list of group ids', 'groupIds');
  if (!Number.isSafeInteger(r.holdMs) || r.holdMs < 1 || r.holdMs > MAX_BARRIER_HOLD_MS) {
    throw new ValidationError(`holdMs must be a whole number from 1 to ${MAX_BARRIER_HOLD_MS}, got ${String(r.holdMs)}`, 'holdMs', 'guests must never wait long on a checkpoint');
  }
}

function checkRelease(r: BarrierReleaseRequest): void {
  if (typeof r !== 'object' || r === null) throw new ValidationError('the request must be an object', 'request');
  if (!isId(r.roundId)) throw new ValidationError('roundId must be a non-empty string of at most 200 characters', 'roundId');
  if (typeof r.ids !== 'object' || r.ids === null || Array.isArray(r.ids)) throw new ValidationError('ids must map group ids to checkpoint ids', 'ids');
  for (const [g, id] of Object.entries(r.ids)) if (!isId(id)) throw new ValidationError(`the checkpoint id of group '${g}' must be a non-empty string`, `ids.${g}`);
  if (!KINDS.includes(r.kind)) throw new ValidationError(`kind must be one of ${KINDS.join(', ')}`, 'kind');
  if (r.tag !== undefined && (typeof r.tag !== 'string' || r.tag.length > 200)) throw new ValidationError('tag must be a string of at most 200 characters', 'tag');
  if (!Number.isFinite(r.timestamp)) throw new ValidationError('timestamp must be a number (ms since the epoch)', 'timestamp');
}
