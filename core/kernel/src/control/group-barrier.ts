// The manager's side of a checkpoint round across appliances (J2 across hosts): for every group of the
// round, each member appliance (one per host holding some of its VMs) holds write completions and takes
// its marker's place; when every member of a group answered within the hold bound, the round releases
// that group with its marker placed everywhere; a member that refuses, fails or answers late makes the
// group's markers dropped on every member that held it — no checkpoint with a partial member set is
// placed by the barrier, and the recovery side lists only checkpoints every journal holds. A group that
// lives on one appliance is cut there in one call (hold, mark and release inside that appliance).
// The same round serves auto checkpoints of many groups and a tagged checkpoint to several groups.
import type { Clock } from '../clock.js';
import { ValidationError } from '../errors.js';
import type { Checkpoint, CheckpointKind, GroupId } from '../model.js';
import type { ApplianceControl, BarrierHoldResult, BarrierReleaseResult } from './appliance-control.js';
import { MAX_BARRIER_HOLD_MS } from './barrier-participant.js';

export interface BarrierMember {
  /** How events name it, e.g. `appliance host-2 (site-a)`. */
  name: string;
  control: ApplianceControl;
}

export interface BarrierGroup {
  groupId: GroupId;
  checkpointId: string;
  /** Every appliance protecting some of the group's VMs. */
  members: BarrierMember[];
}

export interface BarrierRoundRequest {
  roundId: string;
  groups: BarrierGroup[];
  kind: CheckpointKind;
  tag?: string;
  /** One timestamp for every group of the round. */
  timestamp: number;
  /** The longest any member holds guest writes for this round, ms; a member that has not answered by then fails the round for its groups. */
  holdMs: number;
}

/**
 * A group's result: `cut` (every member placed the marker), `skipped` (a member could not be checkpointed
 * now — syncing, paused, disconnected — nothing was held long), or `aborted` (a member failed, answered
 * late or lost the hold: the markers were dropped, nothing is listed). `member` names the one at fault.
 */
export type GroupRoundOutcome =
  | { groupId: GroupId; status: 'cut'; checkpoint: Checkpoint }
  | { groupId: GroupId; status: 'skipped' | 'aborted'; reason: string; member?: string };

export interface GroupBarrierOptions {
  clock: Clock;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

interface MemberWork {
  member: BarrierMember;
  /** Groups that live on this member alone: one `cutCheckpoints` call. */
  local: BarrierGroup[];
  /** Groups spanning members: the two-step barrier. */
  spanning: BarrierGroup[];
}

/** Runs one checkpoint round over the members of every listed group; resolves with one outcome per group, in order. */
export async function cutAcrossAppliances(request: BarrierRoundRequest, options: GroupBarrierOptions): Promise<GroupRoundOutcome[]> {
  checkRound(request);
  const { clock } = options;
  const work = new Map<ApplianceControl, MemberWork>();
  const workOf = (m: BarrierMember): MemberWork => {
    let w = work.get(m.control);
    if (!w) work.set(m.control, (w = { member: m, local: [], spanning: [] }));
    return w;
  };
  const outcome = new Map<GroupId, GroupRoundOutcome>();
  for (const g of request.groups) {
    const members = uniqueMembers(g.members);
    if (members.length === 0) outcome.set(g.groupId, { groupId: g.groupId, status: 'skipped', reason: 'no appliance protects the group' });
    else if (members.length === 1) workOf(members[0]).local.push(g);
    else {
      const lacking = members.find((m) => !m.control.holdBarrier || !m.control.releaseBarrier);
      if (lacking) outcome.set(g.groupId, { groupId: g.groupId, status: 'skipped', member: lacking.name, reason: `${lacking.name} cannot take part in a barrier across appliances` });
      else for (const m of members) workOf(m).spanning.push(g);
    }
  }
  const base = { kind: request.kind, timestamp: request.timestamp, ...(request.tag !== undefined ? { tag: request.tag } : {}) };

  // Step one, on every member at once: groups that live on one appliance are cut outright; the others are held.
  const holds = new Map<ApplianceControl, BarrierHoldResult | Error>();
  await Promise.all([...work.values()].map(async (w) => {
    await Promise.all([
      w.local.length > 0 ? cutLocal(w, base, outcome) : undefined,
      w.spanning.length > 0 ? bounded(w.member.control.holdBarrier!({ roundId: request.roundId, groupIds: w.spanning.map((g) => g.groupId), holdMs: request.holdMs }), request.holdMs, clock, w.member)
        .then((r) => holds.set(w.member.control, r), (e: Error) => holds.set(w.member.control, e)) : undefined,
    ]);
  }));

  // Which spanning groups every member held; the first member that did not names the reason.
  const spanning = request.groups.filter((g) => !outcome.has(g.groupId) && uniqueMembers(g.members).length > 1);
  for (const g of spanning) {
    for (const m of uniqueMembers(g.members)) {
      const r = holds.get(m.control);
      if (r instanceof Error) {
        outcome.set(g.groupId, { groupId: g.groupId, status: 'aborted', member: m.name, reason: `${m.name} failed the hold: ${r.message}` });
        break;
      }
      const refused = r?.refused.find((x) => x.groupId === g.groupId);
      if (refused || !r?.held.some((x) => x.groupId === g.groupId)) {
        outcome.set(g.groupId, { groupId: g.groupId, status: 'skipped', member: m.name, reason: `${m.name}: ${refused?.reason ?? 'did not hold the group'}` });
        break;
      }
    }
  }

  // Step two: release every member at once, placing the markers of the groups every member held.
  const placed = new Map<GroupId, Checkpoint[]>();
  await Promise.all([...work.values()].filter((w) => w.spanning.length > 0).map(async (w) => {
    const r = holds.get(w.member.control);
    const control = w.member.control;
    if (r instanceof Error || r === undefined) {
      // It may still hold (an answer that came too late): tell it to drop the round, without waiting on it.
      void control.abortBarrier?.(request.roundId, r?.message ?? 'no answer').catch(() => undefined);
      return;
    }
    if (r.held.length === 0) return;
    const ids: Record<GroupId, string> = {};
    for (const g of w.spanning) if (!outcome.has(g.groupId)) ids[g.groupId] = g.checkpointId;
    let released: BarrierReleaseResult;
    try {
      released = await control.releaseBarrier!({ roundId: request.roundId, ids, ...base });
    } catch (e) {
      for (const groupId of Object.keys(ids)) {
        if (!outcome.has(groupId)) outcome.set(groupId, { groupId, status: 'aborted', member: w.member.name, reason: `${w.member.name} failed the release: ${(e as Error).message}` });
      }
      return;
    }
    for (const m of released.missed) {
      if (!outcome.has(m.groupId)) outcome.set(m.groupId, { groupId: m.groupId, status: 'aborted', member: w.member.name, reason: `${w.member.name}: ${m.reason}` });
    }
    for (const cp of released.checkpoints) placed.set(cp.groupId, [...(placed.get(cp.groupId) ?? []), cp]);
  }));
  for (const g of spanning) {
    if (outcome.has(g.groupId)) continue;
    const cps = placed.get(g.groupId) ?? [];
    if (cps.length === uniqueMembers(g.members).length) outcome.set(g.groupId, { groupId: g.groupId, status: 'cut', checkpoint: cps[0] });
    else outcome.set(g.groupId, { groupId: g.groupId, status: 'aborted', reason: 'not every member placed the marker' });
  }
  const out = request.groups.map((g) => outcome.get(g.groupId) ?? { groupId: g.groupId, status: 'aborted' as const, reason: 'no outcome' });
  for (const o of out) if (o.status === 'aborted') options.log?.('barrier-round-aborted', { roundId: request.roundId, groupId: o.groupId, member: o.member, reason: o.reason });
  return out;
}

async function cutLocal(w: MemberWork, base: { kind: CheckpointKind; timestamp: number; tag?: string }, outcome: Map<GroupId, GroupRoundOutcome>): Promise<void> {
  const groupIds = w.local.map((g) => g.groupId);
  try {
    const cut = await w.member.control.cutCheckpoints({ groupIds, ids: Object.fromEntries(w.local.map((g) => [g.groupId, g.checkpointId])), ...base });
    w.local.forEach((g, i) => {
      const cp = cut[i];
      outcome.set(g.groupId, cp ? { groupId: g.groupId, status: 'cut', checkpoint: cp } : { groupId: g.groupId, status: 'skipped', member: w.member.name, reason: `${w.member.name}: the group cannot be checkpointed now (syncing, paused or disconnected)` });
    });
  } catch (e) {
    for (const g of w.local) outcome.set(g.groupId, { groupId: g.groupId, status: 'aborted', member: w.member.name, reason: `${w.member.name} failed the cut: ${(e as Error).message}` });
  }
}

/** `p`, or a rejection naming the member once `ms` passed on the clock. */
function bounded<T>(p: Promise<T>, ms: number, clock: Clock, member: BarrierMember): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimer(ms, () => reject(new Error(`no answer within the ${ms} ms hold bound`)));
    p.then((v) => {
      timer.cancel();
      resolve(v);
    }, (e: Error) => {
      timer.cancel();
      reject(new Error(e?.message ?? `${member.name} failed`));
    });
  });
}

function uniqueMembers(members: BarrierMember[]): BarrierMember[] {
  const seen = new Set<ApplianceControl>();
  return members.filter((m) => !seen.has(m.control) && seen.add(m.control));
}

function checkRound(r: BarrierRoundRequest): void {
  if (typeof r.roundId !== 'string' || r.roundId === '') throw new ValidationError('roundId must be a non-empty string', 'roundId');
  if (!Number.isSafeInteger(r.holdMs) || r.holdMs < 1 || r.holdMs > MAX_BARRIER_HOLD_MS) throw new ValidationError(`holdMs must be a whole number from 1 to ${MAX_BARRIER_HOLD_MS}`, 'holdMs');
  const ids = new Set<string>();
  for (const g of r.groups) {
    if (ids.has(g.groupId)) throw new ValidationError(`group '${g.groupId}' is listed twice in the round`, 'groups');
    ids.add(g.groupId);
    if (typeof g.checkpointId !== 'string' || g.checkpointId === '') throw new ValidationError(`group '${g.groupId}' needs a checkpoint id`, 'groups');
  }
}
