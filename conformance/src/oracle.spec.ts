// The oracle is what every verdict rests on: it must record writes exactly, keep snapshots immutable,
// and point at the first differing block when an image is wrong.
import assert from 'node:assert/strict';
import type { ConformanceHarness } from '@opencdp/core';
import { assertImageEquals, Oracle, type ImageReader } from './oracle.js';

const KiB = 1024;

/** A reader over plain buffers: the "image" side of a comparison. */
function reader(volumes: Record<string, Buffer>): ImageReader {
  return { read: async (id, offset, length) => volumes[id].subarray(offset, offset + length) };
}

/** Just enough of a harness for `guestWrite`: completes (or fails) when told. */
function manualHarness(): { harness: ConformanceHarness; finish: (error?: Error) => void } {
  const pending: ((error?: Error) => void)[] = [];
  const harness = {
    guestWrite: () => new Promise<void>((resolve, reject) => pending.push((e) => (e ? reject(e) : resolve()))),
  } as unknown as ConformanceHarness;
  return { harness, finish: (error) => pending.shift()!(error) };
}

describe('Oracle', () => {
  it('keeps written bytes per block, later writes winning, and compares images block by block', async () => {
    const oracle = new Oracle(64 * KiB);
    oracle.addVolume('vm', 'a', 256 * KiB);
    oracle.addVolume('vm', 'b', 100 * KiB);
    const model = { a: Buffer.alloc(256 * KiB), b: Buffer.alloc(100 * KiB) };
    const write = (id: 'a' | 'b', offset: number, data: Buffer): void => {
      oracle.record('vm', id, offset, data);
      data.copy(model[id], offset);
    };
    write('a', 60 * KiB, Buffer.alloc(10 * KiB, 1)); // straddles blocks 0 and 1
    write('a', 62 * KiB, Buffer.alloc(1 * KiB, 2));
    write('b', 96 * KiB, Buffer.alloc(4 * KiB, 3)); // the short last block
    assert.deepEqual(oracle.read('vm', 'a', 0, 256 * KiB), model.a);
    assert.deepEqual(oracle.read('vm', 'b', 0, 100 * KiB), model.b);
    const snapshot = oracle.snapshot();
    assert.equal(snapshot.vm('vm').volumes[0].blockHashes[3], undefined, 'untouched blocks stay zero and unstored');
    await assertImageEquals(reader(model), snapshot.vm('vm'));

    const wrong = { a: Buffer.from(model.a), b: Buffer.from(model.b) };
    wrong.a[200 * KiB + 5] = 9;
    await assert.rejects(assertImageEquals(reader(wrong), snapshot.vm('vm'), 'image X'),
      /image X: volume 'a' of VM 'vm' differs from the oracle in the block at offset 196608 \(expected zeros, first non-zero byte at 204805/);
    wrong.a[200 * KiB + 5] = 0;
    wrong.b[97 * KiB] ^= 0xff;
    await assert.rejects(assertImageEquals(reader(wrong), snapshot.vm('vm')), /volume 'b' .* block at offset 65536 \(36864-byte block/);
  });

  it('snapshots are immutable: later writes do not change what an earlier checkpoint must hold', async () => {
    const oracle = new Oracle();
    oracle.addVolume('vm', 'a', 128 * KiB);
    oracle.record('vm', 'a', 0, Buffer.alloc(512, 1));
    const before = oracle.snapshot();
    const image = Buffer.alloc(128 * KiB);
    image.fill(1, 0, 512);
    oracle.record('vm', 'a', 0, Buffer.alloc(512, 2));
    await assertImageEquals(reader({ a: image }), before.vm('vm'));
    await assert.rejects(assertImageEquals(reader({ a: image }), oracle.snapshot().vm('vm')));
  });

  it('records a guest write only when it completes, refuses to snapshot while one is in flight, and forgets failed ones', async () => {
    const oracle = new Oracle();
    oracle.addVolume('vm', 'a', 64 * KiB);
    const { harness, finish } = manualHarness();
    const ok = oracle.guestWrite(harness, 'vm', 'a', 0, Buffer.alloc(512, 7));
    assert.equal(oracle.inFlight, 1);
    assert.throws(() => oracle.snapshot(), /in flight/);
    finish();
    await ok;
    const failed = oracle.guestWrite(harness, 'vm', 'a', 512, Buffer.alloc(512, 8));
    finish(new Error('refused'));
    await assert.rejects(failed, /refused/);
    assert.equal(oracle.inFlight, 0);
    assert.equal(oracle.writeCount, 1);
    assert.deepEqual(oracle.read('vm', 'a', 0, 1024), Buffer.concat([Buffer.alloc(512, 7), Buffer.alloc(512)]));
  });

  it('lists whole blocks written since a snapshot, clamped to the volume end', () => {
    const oracle = new Oracle(64 * KiB);
    oracle.addVolume('vm', 'a', 100 * KiB);
    oracle.record('vm', 'a', 0, Buffer.alloc(512, 1));
    const snapshot = oracle.snapshot();
    oracle.record('vm', 'a', 70 * KiB, Buffer.alloc(512, 2));
    assert.deepEqual(oracle.dirtySince(snapshot), [{ vmId: 'vm', volumeId: 'a', offset: 64 * KiB, length: 36 * KiB }]);
  });

  it('refuses untracked volumes and writes outside a volume', () => {
    const oracle = new Oracle();
    oracle.addVolume('vm', 'a', 64 * KiB);
    assert.throws(() => oracle.record('vm', 'b', 0, Buffer.alloc(512)), /not tracked/);
    assert.throws(() => oracle.record('vm', 'a', 64 * KiB, Buffer.alloc(512)), /outside/);
    assert.throws(() => oracle.addVolume('vm', 'a', 64 * KiB), /already tracked/);
    assert.throws(() => new Oracle(1000), /power of two/);
  });
});
