import assert from 'node:assert/strict';
import { UnknownVmError, ValidationError, VirtualClock, seededRandom, settle } from '@opencdp/core';
import type { GuestWrite } from '@opencdp/core';
import { FakeDataCenter } from './fake-data-center.js';
import { volumeHash, watch } from './spec-helpers.js';
import { Workload } from './workload.js';

const MiB = 1024 * 1024;

function setup(): { clock: VirtualClock; dc: FakeDataCenter; vms: string[] } {
  const clock = new VirtualClock();
  const dc = new FakeDataCenter({ clock });
  const site = dc.addSite('prod');
  const host = dc.addHost(site.id, 'h1');
  const vms = [
    dc.createVm({ name: 'a', hostId: host.id, volumes: [{ sizeBytes: 4 * MiB }, { sizeBytes: 2 * MiB, sectorSize: 4096 }] }).id,
    dc.createVm({ name: 'b', hostId: host.id, volumes: [{ sizeBytes: 3 * MiB + 512 }] }).id,
  ];
  return { clock, dc, vms };
}

async function hashes(dc: FakeDataCenter): Promise<string[]> {
  const out: string[] = [];
  for (const vm of dc.inventory().vms) for (const v of vm.volumes) out.push(await volumeHash(dc, vm.id, v.id));
  return out;
}

/** Runs a seeded workload with a tap whose sink answers after seeded random delays. */
async function runOnce(seed: number, concurrency: number): Promise<{ hashes: string[]; writes: number; bytes: number }> {
  const { clock, dc, vms } = setup();
  const delays = seededRandom(99);
  for (const vmId of vms) dc.openTap(vmId).start(() => clock.sleep(delays.int(0, 20)));
  const run = new Workload(dc, { seed, vms, writeSizes: [512, 4096, 65536, 100_000] }).run({ writes: 300, concurrency });
  const state = watch(run);
  while (state.state === 'pending') {
    await clock.advance(10);
    if (clock.pending === 0) await settle();
    if (clock.now() > Date.UTC(2027, 0, 1)) throw new Error('the run never ended');
  }
  const result = await run;
  return { hashes: await hashes(dc), writes: result.writes, bytes: result.bytes };
}

describe('Workload', () => {
  it('is deterministic: the same seed gives the same volumes, another seed other volumes', async () => {
    const first = await runOnce(5, 4);
    const second = await runOnce(5, 4);
    const other = await runOnce(6, 4);
    assert.deepEqual(second, first);
    assert.equal(first.writes, 300);
    assert.notDeepEqual(other.hashes, first.hashes);
    // Concurrency changes timing, not the writes or their order on the volumes.
    assert.deepEqual((await runOnce(5, 1)).hashes, first.hashes);
  });

  it('issues sector-aligned writes inside each volume (and below maxOffset)', async () => {
    const { dc, vms } = setup();
    const sizes = new Map(dc.inventory().vms.flatMap((vm) => vm.volumes.map((v) => [v.id, v] as const)));
    const seen: GuestWrite[] = [];
    for (const vmId of vms) dc.openTap(vmId).start(async (w) => { seen.push(w); });
    const result = await new Workload(dc, { seed: 1, vms, writeSizes: [1000, 65536], maxOffset: 3 * MiB }).run({ writes: 500, concurrency: 8 });
    assert.equal(result.writes, 500);
    assert.equal(result.failed, 0);
    assert.equal(seen.length, 500);
    assert.equal(result.bytes, seen.reduce((n, w) => n + w.data.length, 0));
    assert.equal(result.perVm[vms[0]].writes + result.perVm[vms[1]].writes, 500);
    for (const w of seen) {
      const v = sizes.get(w.volumeId)!;
      assert.equal(w.offset % v.sectorSize, 0);
      assert.equal(w.data.length % v.sectorSize, 0);
      assert.ok(w.offset + w.data.length <= Math.min(v.sizeBytes, 3 * MiB));
    }
    assert.ok(seen.some((w) => w.data.length === 1024), '1000 rounds up to whole 512-byte sectors');
    assert.ok(seen.some((w) => w.data.length === 4096 && sizes.get(w.volumeId)!.sectorSize === 4096), 'and to whole 4 KiB sectors');
  });

  it('paces on the injected clock', async () => {
    const { clock, dc, vms } = setup();
    const times: number[] = [];
    dc.openTap(vms[0]).start(async () => { times.push(clock.now()); });
    dc.openTap(vms[1]).start(async () => { times.push(clock.now()); });
    const start = clock.now();
    const run = watch(new Workload(dc, { seed: 2, vms }).run({ ratePerSecond: 100, durationMs: 1000 }));
    await clock.advance(499);
    assert.equal(run.state, 'pending');
    assert.equal(times.length, 50, 'writes at 0, 10, … 490 ms');
    await clock.advance(501);
    assert.equal(run.state, 'resolved');
    assert.equal(run.value!.writes, 100);
    assert.deepEqual(times.map((t) => t - start), Array.from({ length: 100 }, (_, i) => i * 10));
    assert.equal(run.value!.elapsedMs, 990);
  });

  it('skews writes to the hot part of the space', async () => {
    const { dc, vms } = setup();
    const seen: GuestWrite[] = [];
    dc.openTap(vms[1]).start(async (w) => { seen.push(w); });
    await new Workload(dc, { seed: 4, vms: [vms[1]], writeSizes: [4096], hotFraction: 0.2 }).run({ writes: 1000 });
    const hotEnd = 0.2 * (3 * MiB + 512);
    const hot = seen.filter((w) => w.offset < hotEnd).length;
    assert.ok(hot >= 760 && hot <= 840, `80 % of writes to the hot 20 %: got ${hot} of 1000`);
  });

  it('counts failed guest writes and carries on', async () => {
    const { dc, vms } = setup();
    let n = 0;
    dc.openTap(vms[0]).start(async () => { if (++n % 2 === 0) throw new Error('sink refused'); });
    const result = await new Workload(dc, { seed: 3, vms: [vms[0]] }).run({ writes: 10 });
    assert.equal(result.writes, 5);
    assert.equal(result.failed, 5);
    assert.equal((result.firstError as Error).message, 'sink refused');
  });

  it('refuses bad options', async () => {
    const { dc, vms } = setup();
    assert.throws(() => new Workload(dc, { seed: 1, vms: [] }), ValidationError);
    assert.throws(() => new Workload(dc, { seed: 1, vms: ['vm-9'] }), UnknownVmError);
    assert.throws(() => new Workload(dc, { seed: 1, vms, writeSizes: [0] }), ValidationError);
    assert.throws(() => new Workload(dc, { seed: 1, vms, hotFraction: 1.5 }), ValidationError);
    const w = new Workload(dc, { seed: 1, vms });
    await assert.rejects(w.run({}), ValidationError);
    await assert.rejects(w.run({ writes: 1, concurrency: 0 }), ValidationError);
    await assert.rejects(w.run({ writes: 1, ratePerSecond: -1 }), ValidationError);
  });
});
