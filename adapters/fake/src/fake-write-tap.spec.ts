import assert from 'node:assert/strict';
import { ClosedError, ValidationError, VirtualClock, seededRandom, settle } from '@opencdp/core';
import type { GuestWrite } from '@opencdp/core';
import { FakeDataCenter } from './fake-data-center.js';
import { watch } from './spec-helpers.js';

const MiB = 1024 * 1024;

function setup(): { clock: VirtualClock; dc: FakeDataCenter; vmId: string } {
  const clock = new VirtualClock();
  const dc = new FakeDataCenter({ clock });
  const site = dc.addSite('prod');
  const host = dc.addHost(site.id, 'h1');
  const vm = dc.createVm({ name: 'vm', hostId: host.id, volumes: [{ sizeBytes: MiB }, { sizeBytes: MiB }] });
  return { clock, dc, vmId: vm.id };
}

/** Write i carries i in its first 4 bytes, so order is visible at the sink. */
function tagged(i: number): Buffer {
  const data = Buffer.alloc(512);
  data.writeUInt32BE(i, 0);
  return data;
}

describe('FakeWriteTap', () => {
  it('delivers concurrent guest writes in issue order, whatever order the sink answers in', async () => {
    const { clock, dc, vmId } = setup();
    const tap = dc.openTap(vmId);
    const random = seededRandom(7);
    const order: number[] = [];
    const completed: number[] = [];
    // Answers after a random delay: later writes often complete before earlier ones.
    tap.start((w) => { order.push(w.data.readUInt32BE(0)); return clock.sleep(random.int(0, 50)); });
    const writes = Array.from({ length: 200 }, (_, i) => {
      const volumeId = i % 3 === 0 ? 'vol-2' : 'vol-1';
      return dc.guestWrite(vmId, volumeId, (i % 100) * 512, tagged(i)).then(() => { completed.push(i); });
    });
    assert.equal(tap.delivered, 200, 'handed over as issued, without waiting for earlier answers');
    await clock.advance(50);
    await Promise.all(writes);
    assert.deepEqual(order, Array.from({ length: 200 }, (_, i) => i));
    assert.notDeepEqual(completed, order, 'completions did interleave, so the order check meant something');
    assert.equal(completed.length, 200);
  });

  it('holds the guest write until the sink answers (write-blocking)', async () => {
    const { clock, dc, vmId } = setup();
    const tap = dc.openTap(vmId);
    let answer!: () => void;
    tap.start(() => new Promise<void>((resolve) => { answer = resolve; }));
    const write = watch(dc.guestWrite(vmId, 'vol-1', 0, Buffer.alloc(512, 5)));
    await settle();
    await clock.advance(60_000);
    assert.equal(write.state, 'pending');
    // The data is on the volume already; only the completion is held.
    assert.deepEqual(await dc.guestRead(vmId, 'vol-1', 0, 512), Buffer.alloc(512, 5));
    answer();
    await settle();
    assert.equal(write.state, 'resolved');
  });

  it('fails the guest write when the sink rejects, with the data already on the volume', async () => {
    const { dc, vmId } = setup();
    const tap = dc.openTap(vmId);
    const boom = new Error('appliance buffer full');
    tap.start(async () => { throw boom; });
    await assert.rejects(dc.guestWrite(vmId, 'vol-1', 1024, Buffer.alloc(512, 9)), (e) => e === boom);
    assert.deepEqual(await dc.guestRead(vmId, 'vol-1', 1024, 512), Buffer.alloc(512, 9));

    const { dc: dc2, vmId: vm2 } = setup();
    const throwing = dc2.openTap(vm2);
    throwing.start(() => { throw boom; });
    await assert.rejects(dc2.guestWrite(vm2, 'vol-1', 0, Buffer.alloc(512)), (e) => e === boom);
  });

  it('gives every tap every write, each its own copy, and waits for all of them', async () => {
    const { dc, vmId } = setup();
    const first = dc.openTap(vmId);
    const second = dc.openTap(vmId);
    const a: GuestWrite[] = [];
    const b: GuestWrite[] = [];
    let releaseSecond!: () => void;
    first.start(async (w) => { a.push(w); w.data.fill(0xee); });
    second.start((w) => { b.push(w); return new Promise((r) => { releaseSecond = r; }); });
    const write = watch(dc.guestWrite(vmId, 'vol-2', 4096, Buffer.alloc(1024, 3)));
    await settle();
    assert.equal(write.state, 'pending', 'the second sink still holds it');
    releaseSecond();
    await settle();
    assert.equal(write.state, 'resolved');
    assert.equal(first.delivered, 1);
    assert.equal(second.delivered, 1);
    assert.deepEqual([b[0].volumeId, b[0].offset], ['vol-2', 4096]);
    assert.deepEqual(b[0].data, Buffer.alloc(1024, 3), "the first sink scribbling on its buffer does not reach the second's");
    assert.deepEqual(await dc.guestRead(vmId, 'vol-2', 4096, 1024), Buffer.alloc(1024, 3));
  });

  it('delivers nothing before start and nothing after close', async () => {
    const { dc, vmId } = setup();
    const tap = dc.openTap(vmId);
    await dc.guestWrite(vmId, 'vol-1', 0, tagged(1));
    const seen: number[] = [];
    tap.start(async (w) => { seen.push(w.data.readUInt32BE(0)); });
    await dc.guestWrite(vmId, 'vol-1', 0, tagged(2));
    const reasons: (Error | undefined)[] = [];
    tap.onClose((r) => reasons.push(r));
    await tap.close();
    await dc.guestWrite(vmId, 'vol-1', 0, tagged(3));
    assert.deepEqual(seen, [2]);
    assert.equal(tap.delivered, 1);
    assert.deepEqual(reasons, [undefined]);
    assert.throws(() => tap.start(async () => {}), ClosedError);
    const late: (Error | undefined)[] = [];
    tap.onClose((r) => late.push(r));
    await settle();
    assert.deepEqual(late, [undefined], 'a listener added after close still hears of it');
  });

  it('refuses a second start', () => {
    const { dc, vmId } = setup();
    const tap = dc.openTap(vmId);
    tap.start(async () => {});
    assert.throws(() => tap.start(async () => {}), ValidationError);
  });

  it('keeps issue order across a quiesce hold', async () => {
    const { dc, vmId } = setup();
    const tap = dc.openTap(vmId);
    const order: number[] = [];
    tap.start(async (w) => { order.push(w.data.readUInt32BE(0)); });
    const writes = [dc.guestWrite(vmId, 'vol-1', 0, tagged(0))];
    const release = dc.holdWrites(vmId);
    for (let i = 1; i <= 5; i++) writes.push(dc.guestWrite(vmId, 'vol-1', i * 512, tagged(i)));
    await settle();
    assert.deepEqual(order, [0]);
    assert.equal(dc.heldWrites(vmId), 5);
    release();
    writes.push(dc.guestWrite(vmId, 'vol-1', 6 * 512, tagged(6)));
    await Promise.all(writes);
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6]);
  });
});
