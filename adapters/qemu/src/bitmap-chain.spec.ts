import assert from 'node:assert/strict';
import fc from 'fast-check';
import { bitmapName, ourBitmaps, parseToken, planFreeze, retirable, tiling, tokenName, type QemuBitmapInfo, type TrackBitmap } from './bitmap-chain.js';

const info = (name: string, recording = false, extra: Partial<QemuBitmapInfo> = {}): QemuBitmapInfo => ({ name, recording, busy: false, persistent: true, granularity: 65536, count: 0, ...extra });
const E = '0a1b2c3d';

describe('bitmap chains (QEMU change-tracking tokens)', () => {
  it('parses only our bitmaps and tokens; others (a backup tool\'s, libvirt\'s) are left out', () => {
    const ours = ourBitmaps([info(bitmapName(E, 3, 3), true), info('libvirt-checkpoint-1'), info(undefined as unknown as string), info('opencdp-ct-zz-1-1'), info(bitmapName(E, 1, 2))]);
    assert.deepEqual(ours.map((b) => [b.from, b.to, b.recording]), [[1, 2, false], [3, 3, true]]);
    assert.deepEqual(parseToken(tokenName(E, 7)), { epoch: E, seq: 7 });
    for (const bad of ['', '7', `${E}-`, `${E}-x`, 'opencdp-ct-0a1b2c3d-1-1', 42 as unknown as string]) assert.equal(parseToken(bad), undefined, String(bad));
  });

  it('a freeze continues a healthy chain: the recording bitmap is stopped and the next view number follows it', () => {
    const plan = planFreeze(ourBitmaps([info(bitmapName(E, 1, 2)), info(bitmapName(E, 3, 3), true), info(bitmapName('ffffffff', 1, 1))]), () => 'deadbeef');
    assert.equal(plan.epoch, E);
    assert.equal(plan.frozen?.name, bitmapName(E, 3, 3));
    assert.equal(plan.seq, 4);
    assert.equal(plan.restart, undefined);
    assert.deepEqual(plan.useless.map((b) => b.name), [bitmapName('ffffffff', 1, 1)], 'another epoch\'s bitmap can serve no token');
  });

  it('a freeze restarts tracking in a new epoch when nothing healthy records, and says why', () => {
    const none = planFreeze([], () => 'deadbeef');
    assert.deepEqual([none.epoch, none.seq, none.frozen], ['deadbeef', 1, undefined]);
    assert.match(none.restart!, /no bitmap of ours/);
    const unclean = planFreeze(ourBitmaps([info(bitmapName(E, 2, 2), false, { inconsistent: true })]), () => 'deadbeef');
    assert.match(unclean.restart!, /inconsistent.*not shut down cleanly/);
    assert.equal(unclean.useless.length, 1);
    const disabled = planFreeze(ourBitmaps([info(bitmapName(E, 2, 2))]), () => 'deadbeef');
    assert.match(disabled.restart!, /no bitmap of ours was recording/);
    const two = planFreeze(ourBitmaps([info(bitmapName(E, 2, 2), true), info(bitmapName(E, 3, 3), true)]), () => 'deadbeef');
    assert.match(two.restart!, /2 bitmaps/);
  });

  it('the changes since a token are the bitmaps tiling [token, frozen]; a gap or an inconsistent tile means the token is lost', () => {
    const bitmaps = ourBitmaps([info(bitmapName(E, 1, 1)), info(bitmapName(E, 2, 4)), info(bitmapName(E, 2, 2)), info(bitmapName(E, 5, 5))]);
    assert.deepEqual(tiling(bitmaps, E, 1, 5)?.map((b) => b.name), [bitmapName(E, 1, 1), bitmapName(E, 2, 4), bitmapName(E, 5, 5)], 'the widest tile is taken');
    assert.deepEqual(tiling(bitmaps, E, 5, 5)?.map((b) => b.name), [bitmapName(E, 5, 5)]);
    assert.equal(tiling(bitmaps, E, 3, 5), undefined, 'no tile starts at view 3 (it was merged away)');
    assert.equal(tiling(bitmaps, 'ffffffff', 1, 5), undefined);
    const broken = ourBitmaps([info(bitmapName(E, 1, 1)), info(bitmapName(E, 2, 2), false, { inconsistent: true }), info(bitmapName(E, 3, 3))]);
    assert.equal(tiling(broken, E, 1, 3), undefined);
  });

  it('a freeze merges the middle of a long chain of failed cycles, keeping two starts at each end', () => {
    const chain = [0, 1, 2, 3, 4, 5, 6].map((i) => info(bitmapName(E, i, i)));
    const plan = planFreeze(ourBitmaps([...chain, info(bitmapName(E, 7, 7), true)]), () => 'deadbeef');
    assert.deepEqual(plan.compact?.tiles.map((b) => b.name), [2, 3, 4].map((i) => bitmapName(E, i, i)));
    assert.equal(plan.compact?.name, bitmapName(E, 2, 4));
    assert.equal(planFreeze(ourBitmaps([...chain.slice(2), info(bitmapName(E, 7, 7), true)]), () => 'deadbeef').compact, undefined);
  });

  it('retiring a token frees every bitmap starting at or before it, never the recording one nor an exported one', () => {
    const bitmaps = ourBitmaps([info(bitmapName(E, 1, 1)), info(bitmapName(E, 2, 3), false, { busy: true }), info(bitmapName(E, 3, 3)), info(bitmapName(E, 4, 4)), info(bitmapName(E, 5, 5), true)]);
    assert.deepEqual(retirable(bitmaps, E, 3).map((b) => b.name), [bitmapName(E, 1, 1), bitmapName(E, 3, 3)]);
    assert.deepEqual(retirable(bitmaps, E, 9).map((b) => b.name), [bitmapName(E, 1, 1), bitmapName(E, 3, 3), bitmapName(E, 4, 4)]);
  });

  it('property: after any sequence of views, merges of failed cycles and retirements, every acknowledged token tiles to the newest freeze', () => {
    // A model of the adapter's bookkeeping on one drive: the kernel acknowledges some cycles, passes its
    // acknowledged token to each view, and retires the previous one after each acknowledgement.
    fc.assert(fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }), (acks) => {
      let bitmaps: TrackBitmap[] = [{ name: bitmapName(E, 0, 0), epoch: E, from: 0, to: 0, recording: true, busy: false, inconsistent: false, granularity: 65536 }];
      let acked: number | undefined;
      for (const ack of acks) {
        const plan = planFreeze(bitmaps, () => 'ffffffff');
        assert.equal(plan.restart, undefined);
        if (plan.compact) {
          const { tiles, name } = plan.compact;
          bitmaps = bitmaps.filter((b) => !tiles.includes(b));
          bitmaps.push({ ...tiles[0], name, to: tiles.at(-1)!.to });
        }
        bitmaps = bitmaps.map((b) => (b === plan.frozen ? { ...b, recording: false } : b));
        bitmaps.push({ name: bitmapName(E, plan.seq, plan.seq), epoch: E, from: plan.seq, to: plan.seq, recording: true, busy: false, inconsistent: false, granularity: 65536 });
        if (acked !== undefined) {
          const tiles = tiling(bitmaps, E, acked, plan.frozen!.to);
          assert.ok(tiles, `token ${acked} tiles up to ${plan.frozen!.to} (${bitmaps.map((b) => b.name).join(' ')})`);
          if (tiles.length > 1) {
            bitmaps = bitmaps.filter((b) => !tiles.includes(b));
            bitmaps.push({ ...tiles[0], name: bitmapName(E, acked, plan.frozen!.to), to: plan.frozen!.to });
          }
          bitmaps = bitmaps.filter((b) => !(b.to < acked! && retirable([b], E, acked!).length === 1));
        }
        if (ack) {
          const old = acked;
          acked = plan.seq;
          if (old !== undefined) bitmaps = bitmaps.filter((b) => !retirable(bitmaps, E, old).includes(b));
        }
        assert.ok(bitmaps.length <= 7, `bitmaps stay few (two starts at each end, a merged middle, the stopped and the recording one): ${bitmaps.map((b) => b.name).join(' ')}`);
      }
    }));
  });
});
