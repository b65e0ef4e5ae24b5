import assert from 'node:assert/strict';
import { VirtualClock } from '../clock.js';
import { ValidationError } from '../errors.js';
import type { Checkpoint, CheckpointKind } from '../model.js';
import type { PreparedMark, SenderState } from '../appliance/group-sender.js';
import { BarrierParticipant, type BarrierSender } from './barrier-participant.js';

/** A sender double that records what the round did to its stream: held or not, markers placed or dropped. */
class StubSender implements BarrierSender {
  held = false;
  placed: Checkpoint[] = [];
  dropped = 0;
  linkLost = false;
  state: SenderState = { phase: 'streaming', connected: true };
  constructor(readonly groupId: string, public seq = 10) {}
  get canCheckpoint(): boolean {
    return !this.held && this.state.connected && this.state.phase === 'streaming';
  }
  prepareMark(): PreparedMark {
    if (this.held) throw new ValidationError('already held');
    this.held = true;
    const seq = this.seq;
    return {
      seq,
      commit: (id: string, kind: CheckpointKind, timestamp: number, tag?: string) => {
        this.held = false;
        if (this.linkLost) return undefined;
        const cp: Checkpoint = { id, groupId: this.groupId, seq, timestamp, kind, ...(tag ? { tag } : {}) };
        this.placed.push(cp);
        return cp;
      },
      abort: () => {
        this.held = false;
        this.dropped++;
      },
    };
  }
}

describe('BarrierParticipant (an appliance\'s side of the barrier across appliances)', () => {
  let clock: VirtualClock;
  let senders: Map<string, StubSender>;
  let log: { event: string; fields: Record<string, unknown> }[];
  let p: BarrierParticipant;

  beforeEach(() => {
    clock = new VirtualClock();
    senders = new Map(['g1', 'g2', 'g3'].map((g) => [g, new StubSender(g)]));
    log = [];
    p = new BarrierParticipant({ clock, sender: (g) => senders.get(g), log: (event, fields) => log.push({ event, fields }) });
  });

  it('holds the groups it can, refuses the others with a reason, and places the markers named at release', () => {
    senders.get('g3')!.state = { phase: 'bitmap-sync', connected: true };
    const held = p.hold({ roundId: 'r1', groupIds: ['g1', 'g2', 'g3', 'nope'], holdMs: 500 });
    assert.deepEqual(held.held.map((h) => h.groupId), ['g1', 'g2']);
    assert.deepEqual(held.refused.map((r) => r.groupId), ['g3', 'nope']);
    assert.match(held.refused[0].reason, /bitmap-sync/);
    assert.match(held.refused[1].reason, /not protected/);
    assert.ok(senders.get('g1')!.held && senders.get('g2')!.held);
    const released = p.release({ roundId: 'r1', ids: { g1: 'cp-1' }, kind: 'auto', timestamp: 42 });
    assert.deepEqual(released.checkpoints.map((c) => [c.groupId, c.id, c.timestamp]), [['g1', 'cp-1', 42]]);
    assert.deepEqual(released.missed, []);
    assert.equal(senders.get('g2')!.dropped, 1, 'a held group not named gets its marker dropped');
    assert.ok(!senders.get('g1')!.held && !senders.get('g2')!.held, 'everything released');
  });

  it('releases on its own when the hold bound passes, and a late outcome places nothing', async () => {
    p.hold({ roundId: 'r1', groupIds: ['g1', 'g2'], holdMs: 300 });
    await clock.advance(299);
    assert.ok(senders.get('g1')!.held, 'still held just before the bound');
    await clock.advance(1);
    assert.ok(!senders.get('g1')!.held && !senders.get('g2')!.held, 'released at the bound');
    assert.equal(senders.get('g1')!.dropped, 1);
    assert.ok(log.some((l) => l.event === 'barrier-expired' && l.fields.roundId === 'r1'));
    const late = p.release({ roundId: 'r1', ids: { g1: 'cp-1', g2: 'cp-2' }, kind: 'auto', timestamp: 1 });
    assert.deepEqual(late.checkpoints, []);
    assert.equal(late.missed.length, 2);
    assert.match(late.missed[0].reason, /ended here before its outcome arrived/);
    assert.deepEqual(senders.get('g1')!.placed, []);
    assert.equal(p.holdFigures().expired, 1);
  });

  it('refuses a hold that arrives after its round was aborted (messages may cross), and holds nothing', () => {
    p.abort('r9', 'a member did not answer');
    const held = p.hold({ roundId: 'r9', groupIds: ['g1'], holdMs: 500 });
    assert.deepEqual(held.held, []);
    assert.match(held.refused[0].reason, /already ended here/);
    assert.ok(!senders.get('g1')!.held);
  });

  it('aborting a held round drops every marker and releases', () => {
    p.hold({ roundId: 'r1', groupIds: ['g1', 'g2'], holdMs: 500 });
    p.abort('r1', 'member host-2 failed');
    assert.equal(senders.get('g1')!.dropped + senders.get('g2')!.dropped, 2);
    assert.ok(log.some((l) => l.event === 'barrier-aborted' && /host-2/.test(String(l.fields.reason))));
  });

  it('a group removed during the round is released with no marker and reported missed', () => {
    p.hold({ roundId: 'r1', groupIds: ['g1', 'g2'], holdMs: 500 });
    p.forget('g2');
    assert.ok(!senders.get('g2')!.held);
    const r = p.release({ roundId: 'r1', ids: { g1: 'a', g2: 'b' }, kind: 'tagged', tag: 't', timestamp: 5 });
    assert.deepEqual(r.checkpoints.map((c) => c.groupId), ['g1']);
    assert.match(r.missed[0].reason, /stopped being protected here/);
  });

  it('a marker that cannot be placed any more (link lost during the hold) is missed, not claimed', () => {
    p.hold({ roundId: 'r1', groupIds: ['g1'], holdMs: 500 });
    senders.get('g1')!.linkLost = true;
    const r = p.release({ roundId: 'r1', ids: { g1: 'a' }, kind: 'auto', timestamp: 5 });
    assert.deepEqual(r.checkpoints, []);
    assert.match(r.missed[0].reason, /lost its link/);
  });

  it('a clock whose wall time jumps does not stretch the hold: the bound runs on timers', async () => {
    const jumpy = new VirtualClock();
    const q = new BarrierParticipant({ clock: { now: () => jumpy.now() - 3_600_000, setTimer: (ms, fn) => jumpy.setTimer(ms, fn), sleep: (ms) => jumpy.sleep(ms) }, sender: (g) => senders.get(g) });
    q.hold({ roundId: 'r1', groupIds: ['g1'], holdMs: 200 });
    await jumpy.advance(200);
    assert.ok(!senders.get('g1')!.held);
  });

  it('refuses bad input and changes nothing', () => {
    const bad: unknown[] = [
      { roundId: '', groupIds: ['g1'], holdMs: 10 },
      { roundId: 'r', groupIds: [], holdMs: 10 },
      { roundId: 'r', groupIds: ['g1'], holdMs: 0 },
      { roundId: 'r', groupIds: ['g1'], holdMs: 60_000 },
      { roundId: 'r', groupIds: [7], holdMs: 10 },
      null,
    ];
    for (const b of bad) assert.throws(() => p.hold(b as never), ValidationError, JSON.stringify(b));
    assert.ok([...senders.values()].every((s) => !s.held));
    p.hold({ roundId: 'r1', groupIds: ['g1'], holdMs: 100 });
    assert.throws(() => p.hold({ roundId: 'r1', groupIds: ['g2'], holdMs: 100 }), ValidationError, 'a round id twice');
    assert.throws(() => p.release({ roundId: 'r1', ids: { g1: '' }, kind: 'auto', timestamp: 1 }), ValidationError);
    assert.throws(() => p.release({ roundId: 'r1', ids: { g1: 'x' }, kind: 'weird' as never, timestamp: 1 }), ValidationError);
    assert.ok(senders.get('g1')!.held, 'a refused release leaves the round as it was');
  });
});
