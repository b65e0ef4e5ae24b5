import assert from 'node:assert/strict';
import { VirtualClock } from '../clock.js';
import type { Checkpoint } from '../model.js';
import type { ApplianceControl, BarrierHoldRequest, BarrierReleaseRequest, CheckpointCutRequest } from './appliance-control.js';
import { BarrierParticipant } from './barrier-participant.js';
import { cutAcrossAppliances, type BarrierMember } from './group-barrier.js';
import type { PreparedMark } from '../appliance/group-sender.js';

/**
 * A member appliance: a real BarrierParticipant over sender doubles, behind an ApplianceControl whose
 * answers can be delayed or fail, so the coordinator meets members that are slow, dead or refusing.
 */
function member(name: string, clock: VirtualClock, groups: string[], behaviour: { holdDelayMs?: number; dead?: boolean; refuse?: string[] } = {}) {
  const held = new Map<string, boolean>();
  const placed: Checkpoint[] = [];
  const heldAt = new Map<string, number>();
  const releasedAt = new Map<string, number>();
  const calls: string[] = [];
  const participant = new BarrierParticipant({
    clock,
    sender: (g) => (!groups.includes(g) ? undefined : {
      get canCheckpoint() { return !held.get(g) && !(behaviour.refuse ?? []).includes(g); },
      state: { phase: (behaviour.refuse ?? []).includes(g) ? 'bitmap-sync' : 'streaming', connected: true },
      prepareMark: (): PreparedMark => {
        held.set(g, true);
        heldAt.set(g, clock.now());
        const end = (): void => { held.set(g, false); releasedAt.set(g, clock.now()); };
        return {
          seq: 1,
          commit: (id, kind, timestamp, tag) => {
            end();
            const cp = { id, groupId: g, seq: 1, timestamp, kind, ...(tag ? { tag } : {}) };
            placed.push(cp);
            return cp;
          },
          abort: end,
        };
      },
    }),
  });
  const gone = (): Promise<never> => Promise.reject(new Error(`${name} cannot be reached: ECONNREFUSED`));
  const control = {
    siteId: 's',
    cutCheckpoints: async (r: CheckpointCutRequest) => {
      calls.push('cut');
      if (behaviour.dead) return gone();
      return r.groupIds.map((g) => ({ id: r.ids[g], groupId: g, seq: 1, timestamp: r.timestamp, kind: r.kind }));
    },
    holdBarrier: async (r: BarrierHoldRequest) => {
      calls.push('hold');
      if (behaviour.dead) return gone();
      if (behaviour.holdDelayMs) await clock.sleep(behaviour.holdDelayMs);
      return participant.hold(r);
    },
    releaseBarrier: async (r: BarrierReleaseRequest) => {
      calls.push('release');
      if (behaviour.dead) return gone();
      return participant.release(r);
    },
    abortBarrier: async (roundId: string, reason: string) => {
      calls.push('abort');
      participant.abort(roundId, reason);
    },
  } as unknown as ApplianceControl;
  return { m: { name, control } as BarrierMember, placed, held, heldAt, releasedAt, calls };
}

describe('cutAcrossAppliances (the manager\'s side of J2 across hosts)', () => {
  let clock: VirtualClock;
  beforeEach(() => {
    clock = new VirtualClock();
  });

  async function run(p: Promise<unknown>, stepMs = 10, limitMs = 5000): Promise<void> {
    let done = false;
    void p.finally(() => (done = true));
    for (let t = 0; t < limitMs && !done; t += stepMs) await clock.advance(stepMs);
    await p;
  }

  it('cuts a group spanning two appliances with one id and one timestamp on both; a one-appliance group in one call', async () => {
    const a = member('host-1', clock, ['g1', 'g2']);
    const b = member('host-2', clock, ['g1']);
    const round = cutAcrossAppliances({
      roundId: 'r1', kind: 'auto', timestamp: 777, holdMs: 500,
      groups: [{ groupId: 'g1', checkpointId: 'cp-1', members: [a.m, b.m] }, { groupId: 'g2', checkpointId: 'cp-2', members: [a.m] }],
    }, { clock });
    await run(round);
    const out = await round;
    assert.deepEqual(out.map((o) => o.status), ['cut', 'cut']);
    assert.deepEqual(a.placed.map((c) => [c.id, c.timestamp]), [['cp-1', 777]]);
    assert.deepEqual(b.placed.map((c) => [c.id, c.timestamp]), [['cp-1', 777]]);
    assert.deepEqual(a.calls.sort(), ['cut', 'hold', 'release'], 'g2 went through cutCheckpoints');
  });

  it('a member that never answers aborts the round for its groups: the others release at the bound, no marker anywhere, the event names it', async () => {
    const a = member('host-1', clock, ['g1', 'g2']);
    const b = member('host-2', clock, ['g1', 'g2'], { holdDelayMs: 60_000 });
    const c = member('host-3', clock, ['g3']);
    const d = member('host-4', clock, ['g3']);
    const events: Record<string, unknown>[] = [];
    const round = cutAcrossAppliances({
      roundId: 'r1', kind: 'auto', timestamp: 1, holdMs: 300,
      groups: [
        { groupId: 'g1', checkpointId: 'cp-1', members: [a.m, b.m] },
        { groupId: 'g2', checkpointId: 'cp-2', members: [a.m, b.m] },
        { groupId: 'g3', checkpointId: 'cp-3', members: [c.m, d.m] },
      ],
    }, { clock, log: (_e, f) => events.push(f) });
    await run(round);
    const out = await round;
    assert.equal(out[0].status, 'aborted');
    assert.equal(out[1].status, 'aborted');
    assert.equal(out[2].status, 'cut', 'a group without the slow member is not affected');
    assert.equal(out[0].status === 'aborted' && out[0].member, 'host-2');
    assert.match(out[0].status === 'aborted' ? out[0].reason : '', /no answer within the 300 ms hold bound/);
    assert.deepEqual(a.placed, [], 'no marker on the member that answered');
    assert.ok(a.releasedAt.get('g1')! - a.heldAt.get('g1')! <= 300, 'the answering member was released by the bound');
    assert.ok(b.calls.includes('abort'), 'the slow member is told to drop the round');
    assert.ok(events.some((e) => e.member === 'host-2'));
    // The late hold, when it finally arrives, is refused: the slow member never holds a guest for nothing.
    await clock.advance(60_000);
    assert.ok(!b.held.get('g1'), 'the late hold was refused or dropped');
    assert.deepEqual(b.placed, []);
  });

  it('a member that is down (kill -9) fails its groups at once; a member that refuses (syncing) skips the group and releases the others', async () => {
    const a = member('host-1', clock, ['g1', 'g2']);
    const dead = member('host-2', clock, ['g1'], { dead: true });
    const syncing = member('host-3', clock, ['g2'], { refuse: ['g2'] });
    const round = cutAcrossAppliances({
      roundId: 'r1', kind: 'tagged', tag: 'x', timestamp: 1, holdMs: 1000,
      groups: [{ groupId: 'g1', checkpointId: 'cp-1', members: [a.m, dead.m] }, { groupId: 'g2', checkpointId: 'cp-2', members: [a.m, syncing.m] }],
    }, { clock });
    await run(round, 1);
    const out = await round;
    assert.equal(out[0].status, 'aborted');
    assert.match(out[0].status === 'aborted' ? out[0].reason : '', /ECONNREFUSED/);
    assert.equal(out[1].status, 'skipped');
    assert.match(out[1].status === 'skipped' ? out[1].reason : '', /bitmap-sync/);
    assert.deepEqual(a.placed, []);
    assert.ok(a.releasedAt.get('g1')! - a.heldAt.get('g1')! < 50, 'released at once, not at the bound');
  });

  it('a release that arrives after a member\'s bound: that member drops the marker, the group is aborted (never listed whole)', async () => {
    const a = member('host-1', clock, ['g1']);
    const b = member('host-2', clock, ['g1'], { holdDelayMs: 250 });
    // b answers after 250 ms but a's own bound (200 ms) passed first: a dropped its marker.
    const round = cutAcrossAppliances({ roundId: 'r1', kind: 'auto', timestamp: 1, holdMs: 200, groups: [{ groupId: 'g1', checkpointId: 'cp-1', members: [a.m, b.m] }] }, { clock });
    await run(round);
    const out = await round;
    assert.equal(out[0].status, 'aborted');
    assert.ok(a.placed.length + b.placed.length < 2, 'the marker is not on every member');
  });
});
