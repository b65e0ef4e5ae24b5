// QEMU change tracking against real qemu-storage-daemon processes: fleecing views are frozen while the
// guest writes, bitmaps list every changed block (checked against an oracle of the writes and against
// `qemu-img map` of the exported bitmap), tokens survive failed cycles, a clean restart (persistent
// bitmaps) and a successor process, and every fault leaves the daemon's block graph as it was.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  ChangeTokenLostError, ChangeViewError, UnknownVolumeError, VIEW_NAME_PREFIX, ValidationError, VirtualClock, VolumeRangeError,
  type ChangedRegion, type VmInfo,
} from '@opencdp/core';
import { QemuChangeTracking } from './qemu-change-tracking.js';
import { QemuHypervisor } from './qemu-hypervisor.js';
import { requireToolsOrSkip } from './qemu-tools.js';
import { run, sha256, tempDir } from './spec-helpers.js';
import type { StorageDaemon } from './storage-daemon.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** What the daemon holds besides the disks (nodes, jobs, exports, and the bitmaps per node). */
async function graph(daemon: StorageDaemon): Promise<{ nodes: string[]; jobs: string[]; exports: string[] }> {
  const nodes = await daemon.qmp.execute<{ 'node-name': string }[]>('query-named-block-nodes', { flat: true });
  const jobs = await daemon.qmp.execute<{ device: string }[]>('query-block-jobs');
  const exports = await daemon.qmp.execute<{ id: string }[]>('query-block-exports');
  return { nodes: nodes.map((n) => n['node-name']).sort(), jobs: jobs.map((j) => j.device).sort(), exports: exports.map((e) => e.id).sort() };
}

async function bitmapNames(daemon: StorageDaemon, node: string): Promise<string[]> {
  const nodes = await daemon.qmp.execute<{ 'node-name': string; 'dirty-bitmaps'?: { name: string }[] }[]>('query-named-block-nodes', { flat: true });
  // A running backup job lists an unnamed bitmap of its own.
  return (nodes.find((n) => n['node-name'] === node)?.['dirty-bitmaps'] ?? []).map((b) => b.name).filter(Boolean).sort();
}

/** The guest's writes, kept as a copy of each disk: the oracle every view is compared with. */
class Oracle {
  readonly disks = new Map<string, Buffer>();
  readonly dirty = new Map<string, Set<number>>();

  constructor(private readonly hv: QemuHypervisor, vms: VmInfo[]) {
    for (const vm of vms) for (const v of vm.volumes) this.disks.set(v.id, Buffer.alloc(v.sizeBytes));
  }

  async write(vm: VmInfo, k: number, offset: number, data: Buffer): Promise<void> {
    const v = vm.volumes[k];
    await this.hv.guestWrite(vm.id, v.id, offset, data);
    data.copy(this.disks.get(v.id)!, offset);
    const blocks = this.dirty.get(v.id) ?? new Set<number>();
    for (let b = Math.floor(offset / (4 * KiB)); b * 4 * KiB < offset + data.length; b++) blocks.add(b);
    this.dirty.set(v.id, blocks);
  }

  /** The 4 KiB blocks written since the last call, per volume. */
  take(volumeId: string): number[] {
    const blocks = [...(this.dirty.get(volumeId) ?? [])].sort((a, b) => a - b);
    this.dirty.delete(volumeId);
    return blocks;
  }

  snapshot(volumeId: string): Buffer {
    return Buffer.from(this.disks.get(volumeId)!);
  }
}

/** The 4 KiB blocks a region list covers. */
function blocksOf(regions: readonly ChangedRegion[]): number[] {
  const out: number[] = [];
  for (const r of regions) for (let b = r.offset / (4 * KiB); b < (r.offset + r.length) / (4 * KiB); b++) out.push(b);
  return out;
}

describe('QEMU change tracking: fleecing views over dirty bitmaps (real qemu-storage-daemon)', function () {
  this.timeout(90_000);
  let dir: string;
  let hv: QemuHypervisor;
  let ct: QemuChangeTracking;
  const clock = new VirtualClock(1_700_000_000_000);

  before(function () {
    requireToolsOrSkip(this);
  });

  beforeEach(async () => {
    dir = await tempDir();
    hv = await QemuHypervisor.create({ workDir: dir, hosts: ['h1'], diskFormat: 'qcow2', capture: 'change-tracking', bitmapGranularity: 4 * KiB, clock });
    ct = hv.changeTracking!;
  });

  afterEach(async () => {
    await hv.dispose();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('offers only change tracking when asked, with the granularity and the one-daemon cut it has', () => {
    assert.equal(hv.openTap, undefined);
    assert.equal(ct.granularityBytes, 4 * KiB);
    assert.equal(ct.multiVmViews, true, 'one daemon: one transaction is one cut across its VMs');
    assert.equal(ct.minIntervalMs, 1000);
  });

  it('a view is frozen while the guest writes; changes since a token are exactly the written blocks; allocated covers the data; the graph is as before once released', async () => {
    const vm = await hv.createVm({ name: 'ct', volumes: [{ sizeBytes: 8 * MiB }, { sizeBytes: 4 * MiB, sectorSize: 4096 }] });
    const daemon = hv.daemonOf(vm.hostId)!;
    const oracle = new Oracle(hv, [vm]);
    await oracle.write(vm, 0, 0, Buffer.alloc(64 * KiB, 1));
    await oracle.write(vm, 1, 1 * MiB, Buffer.alloc(8 * KiB, 2));
    const before = await graph(daemon);
    await ct.enable(vm.id);
    await ct.enable(vm.id); // idempotent
    const v1 = await ct.openView([vm.id], `${VIEW_NAME_PREFIX}spec-1`);
    assert.equal(v1.takenAt, clock.now());
    const frozen = vm.volumes.map((v) => oracle.snapshot(v.id));
    vm.volumes.forEach((v) => oracle.take(v.id));
    // Writes after the freeze, over data the view holds and over empty space: the view never shows them.
    await oracle.write(vm, 0, 32 * KiB, Buffer.alloc(64 * KiB, 3));
    await oracle.write(vm, 0, 5 * MiB + 512, Buffer.alloc(1024, 4));
    await oracle.write(vm, 1, 1 * MiB + 4 * KiB, Buffer.alloc(4 * KiB, 5));
    for (const [k, v] of vm.volumes.entries()) assert.equal(sha256(await v1.read(v.id, 0, v.sizeBytes)), sha256(frozen[k]), `volume ${k} reads as it was at the freeze`);
    const allocated = blocksOf(await v1.allocated(vm.volumes[0].id));
    for (let b = 0; b < 16; b++) assert.ok(allocated.includes(b), `allocated lists block ${b}, which holds data`);
    assert.ok(allocated.length * 4 * KiB <= 2 * MiB, `allocated stays near the data (${allocated.length} blocks listed)`);
    const tokens = vm.volumes.map((v) => v1.token(v.id));
    await ct.releaseView(v1.id);
    await ct.releaseView(v1.id); // idempotent
    await oracle.write(vm, 1, 3 * MiB, Buffer.alloc(12 * KiB, 6));

    const v2 = await ct.openView([vm.id], `${VIEW_NAME_PREFIX}spec-2`);
    for (const [k, v] of vm.volumes.entries()) {
      const listed = blocksOf(await v2.changedSince(v.id, tokens[k]));
      assert.deepEqual(listed, oracle.take(v.id), `volume ${k}: exactly the written 4 KiB blocks (no misses, no extras at 4 KiB granularity)`);
      assert.equal(sha256(await v2.read(v.id, 0, v.sizeBytes)), sha256(oracle.snapshot(v.id)));
      assert.deepEqual(await v2.changedSince(v.id, v2.token(v.id)), [], 'nothing changed since the view\'s own state');
    }
    // qemu-img map agrees: the bitmap exported by the view, read by QEMU's own client (dirty shows as "data: false").
    const node = vm.volumes[0].id;
    const names = await bitmapNames(daemon, node);
    assert.equal(names.length, 2, `the stopped bitmap and the recording one: ${names.join(', ')}`);
    await daemon.qmp.execute('block-export-add', { type: 'nbd', id: 'mapx', 'node-name': node, name: 'mapx', bitmaps: [names.find((n) => n.endsWith('-1-1'))!] });
    const { stdout } = await run('qemu-img', ['map', '--output=json', '--image-opts',
      `driver=nbd,export=mapx,server.type=unix,server.path=${daemon.nbdPath},x-dirty-bitmap=qemu:dirty-bitmap:${names.find((n) => n.endsWith('-1-1'))!}`]);
    const dirty = (JSON.parse(stdout) as { start: number; length: number; data: boolean }[]).filter((e) => !e.data).map((e) => [e.start, e.length]);
    assert.deepEqual(dirty, [[32 * KiB, 64 * KiB], [5 * MiB, 4 * KiB]]);
    await daemon.qmp.execute('block-export-del', { id: 'mapx' });
    await ct.releaseView(v2.id);
    assert.deepEqual(await graph(daemon), before, 'no node, job or export of a view is left');
    assert.deepEqual(await fs.readdir(path.join(dir, 'views')), [], 'no fleecing image or descriptor is left');
    assert.deepEqual(await ct.listViews(VIEW_NAME_PREFIX), []);
  });

  it('one view of two VMs in one daemon is one cut: a write issued after another completed is never in it without that one', async () => {
    const a = await hv.createVm({ name: 'a', volumes: [{ sizeBytes: 1 * MiB }] });
    const b = await hv.createVm({ name: 'b', volumes: [{ sizeBytes: 1 * MiB }] });
    await ct.enable(a.id);
    await ct.enable(b.id);
    let stop = false;
    let chains = 0;
    // Chain n writes generation g = n / 256 + 1 into slot n % 256 of A, then (once that completed) of B.
    const writer = (async () => {
      while (!stop && chains < 255 * 256) {
        const at = (chains % 256) * 4 * KiB;
        const gen = Math.floor(chains / 256) + 1;
        await hv.guestWrite(a.id, a.volumes[0].id, at, Buffer.alloc(4 * KiB, gen));
        await hv.guestWrite(b.id, b.volumes[0].id, at, Buffer.alloc(4 * KiB, gen));
        chains++;
      }
    })();
    const views = [];
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 30));
      views.push(await ct.openView([a.id, b.id], `${VIEW_NAME_PREFIX}cut-${i}`));
    }
    stop = true;
    await writer;
    let torn = 0;
    for (const view of views) {
      const da = await view.read(a.volumes[0].id, 0, MiB);
      const db = await view.read(b.volumes[0].id, 0, MiB);
      for (let i = 0; i < 256; i++) {
        const [genA, genB] = [da[i * 4 * KiB], db[i * 4 * KiB]];
        assert.ok(genB <= genA, `view '${view.name}' holds B's generation ${genB} of slot ${i} but A's ${genA}, written before it`);
        if (genA > genB) torn++;
      }
      await ct.releaseView(view.id);
    }
    process.stderr.write(`      (${chains} causal chains; ${torn} cut between their two writes)\n`);
    assert.ok(chains > 256, `the views were taken while chains were written (${chains})`);
  });

  it('tokens of failed cycles: the next view covers everything since the acknowledged one, bitmaps are merged and retired', async () => {
    const vm = await hv.createVm({ name: 'fail', volumes: [{ sizeBytes: 4 * MiB }] });
    const v = vm.volumes[0];
    const daemon = hv.daemonOf(vm.hostId)!;
    const oracle = new Oracle(hv, [vm]);
    await ct.enable(vm.id);
    const first = await ct.openView([vm.id], `${VIEW_NAME_PREFIX}ack`);
    const acked = first.token(v.id);
    await ct.releaseView(first.id);
    oracle.take(v.id);
    // Six cycles fail after their views were taken (the kernel never acknowledges them).
    for (let i = 0; i < 6; i++) {
      await oracle.write(vm, 0, (i * 7 + 3) * 4 * KiB, Buffer.alloc(4 * KiB, 10 + i));
      const failed = await ct.openView([vm.id], `${VIEW_NAME_PREFIX}fail-${i}`);
      if (i % 2 === 0) await failed.changedSince(v.id, acked); // some fail after listing, some before
      await ct.releaseView(failed.id);
      assert.ok((await bitmapNames(daemon, v.id)).length <= 7, `bitmaps stay few: ${(await bitmapNames(daemon, v.id)).join(', ')}`);
    }
    await oracle.write(vm, 0, 2 * MiB, Buffer.alloc(8 * KiB, 99));
    const next = await ct.openView([vm.id], `${VIEW_NAME_PREFIX}next`);
    assert.deepEqual(blocksOf(await next.changedSince(v.id, acked)), oracle.take(v.id), 'every write since the acknowledged view, none missed');
    assert.equal(sha256(await next.read(v.id, 0, v.sizeBytes)), sha256(oracle.snapshot(v.id)));
    assert.ok(ct.stats().bitmapsMerged > 0);
    const seq = next.token(v.id).split('-')[1];
    await ct.releaseView(next.id);
    await ct.retireToken(vm.id, v.id, acked);
    const left = await bitmapNames(daemon, v.id);
    assert.deepEqual(left.map((n) => n.replace(/^opencdp-ct-[0-9a-f]{8}-/, '')), [`${seq}-${seq}`], 'after retiring the old token: only the bitmap recording since the new token\'s view');
    await ct.retireToken(vm.id, v.id, 'not-a-token'); // ignored
    await ct.disable(vm.id);
    assert.deepEqual(await bitmapNames(daemon, v.id), [], 'disable removes every bitmap of ours');
  });

  it('a lost token is a typed error naming why: unknown, newer than the view, an unclean daemon shutdown, bitmaps removed; a clean restart keeps it', async () => {
    const vm = await hv.createVm({ name: 'lost', volumes: [{ sizeBytes: 2 * MiB }] });
    const v = vm.volumes[0];
    await ct.enable(vm.id);
    const token = async (): Promise<string> => {
      const view = await ct.openView([vm.id], `${VIEW_NAME_PREFIX}t`);
      try {
        return view.token(v.id);
      } finally {
        await ct.releaseView(view.id);
      }
    };
    const lost = async (t: string, reason: string, detail: RegExp): Promise<void> => {
      const view = await ct.openView([vm.id], `${VIEW_NAME_PREFIX}probe`);
      try {
        await assert.rejects(view.changedSince(v.id, t), (e: unknown) => e instanceof ChangeTokenLostError && e.reason === reason && detail.test(e.message) && e.volumeId === v.id);
      } finally {
        await ct.releaseView(view.id);
      }
    };
    await lost('nonsense', 'unknown', /not a token/);
    const t1 = await token();
    await lost(`${t1.split('-')[0]}-999`, 'unknown', /newer than view/);
    // A clean restart: the qcow2 stores the persistent bitmaps, the token still answers.
    await hv.guestWrite(vm.id, v.id, 64 * KiB, Buffer.alloc(4 * KiB, 1));
    await hv.stopHost(vm.hostId);
    await hv.startHost(vm.hostId);
    await hv.guestWrite(vm.id, v.id, 128 * KiB, Buffer.alloc(4 * KiB, 2));
    const after = await ct.openView([vm.id], `${VIEW_NAME_PREFIX}after-restart`);
    assert.deepEqual(blocksOf(await after.changedSince(v.id, t1)), [16, 32], 'writes before and after the clean restart');
    const t2 = after.token(v.id);
    await ct.releaseView(after.id);
    // kill -9 of a daemon that loaded persistent bitmaps: they load inconsistent; tracking restarts in a new epoch.
    await hv.stopHost(vm.hostId);
    await hv.startHost(vm.hostId);
    await hv.killHost(vm.hostId);
    await hv.startHost(vm.hostId);
    await lost(t2, 'reset', /restarted with view .*inconsistent.*not shut down cleanly/);
    // Bitmaps removed behind the adapter's back (a restart without them): lost, naming it.
    const t3 = await token();
    await ct.resetTokens(vm.id);
    await lost(t3, 'reset', /no bitmap of ours was on it/);
    const t4 = await token();
    const view = await ct.openView([vm.id], `${VIEW_NAME_PREFIX}gap`);
    await ct.resetTokens(vm.id); // while a view is open: its bitmap is gone when listed
    await assert.rejects(view.changedSince(v.id, t4), (e: unknown) => e instanceof ChangeTokenLostError && e.reason === 'reset' && /no longer has the bitmaps/.test(e.message));
    await ct.releaseView(view.id);
  });

  it('bad input is refused typed and changes nothing', async () => {
    const vm = await hv.createVm({ name: 'bad', volumes: [{ sizeBytes: 1 * MiB }] });
    const daemon = hv.daemonOf(vm.hostId)!;
    await ct.enable(vm.id);
    const before = await graph(daemon);
    assert.throws(() => ct.openView([], 'x'), ValidationError);
    assert.throws(() => ct.openView([vm.id, vm.id], 'x'), ValidationError);
    assert.throws(() => ct.openView([vm.id], ''), ValidationError);
    await assert.rejects(ct.openView(['nope'], `${VIEW_NAME_PREFIX}x`), /does not exist/);
    const view = await ct.openView([vm.id], `${VIEW_NAME_PREFIX}bad`);
    await assert.rejects(view.read(vm.volumes[0].id, MiB - 512, 1024), VolumeRangeError);
    await assert.rejects(view.read(vm.volumes[0].id, -1, 1), VolumeRangeError);
    await assert.rejects(view.read('other', 0, 512), UnknownVolumeError);
    assert.throws(() => view.token('other'), UnknownVolumeError);
    await ct.releaseView(view.id);
    await assert.rejects(view.read(vm.volumes[0].id, 0, 512), ChangeViewError, 'a released view cannot be read');
    await ct.releaseView('opencdp-v00000000');
    await ct.releaseView('../../etc');
    assert.deepEqual(await graph(daemon), before);
  });

  it('faults leave nothing behind: a transaction QEMU rejects, a release that fails, views lost, a killed appliance\'s views found by name, a daemon killed under a view', async () => {
    const vm = await hv.createVm({ name: 'faults', volumes: [{ sizeBytes: 1 * MiB }, { sizeBytes: 1 * MiB }] });
    const daemon = (): StorageDaemon => hv.daemonOf(vm.hostId)!;
    await ct.enable(vm.id);
    const before = await graph(daemon());
    const bitmapsBefore = await bitmapNames(daemon(), vm.volumes[0].id);
    const viewsDir = path.join(dir, 'views');

    ct.failOpens(true);
    await assert.rejects(ct.openView([vm.id], `${VIEW_NAME_PREFIX}refused`), (e: unknown) => e instanceof ChangeViewError && e.step === 'open' && /opencdp-fault-injected/.test(e.message));
    ct.failOpens(false);
    assert.deepEqual(await graph(daemon()), before, 'the rolled-back transaction left no target, filter, job or export');
    assert.deepEqual(await bitmapNames(daemon(), vm.volumes[0].id), bitmapsBefore, 'nor a bitmap change');
    assert.deepEqual(await fs.readdir(viewsDir), []);

    const stuck = await ct.openView([vm.id], `${VIEW_NAME_PREFIX}stuck`);
    ct.failReleases(true);
    await assert.rejects(ct.releaseView(stuck.id), (e: unknown) => e instanceof ChangeViewError && e.step === 'release');
    ct.failReleases(false);
    assert.deepEqual((await ct.listViews(VIEW_NAME_PREFIX)).map((r) => r.name), [`${VIEW_NAME_PREFIX}stuck`]);
    await ct.releaseView(stuck.id);

    const lost = await ct.openView([vm.id], `${VIEW_NAME_PREFIX}lost`);
    await ct.loseViews();
    await assert.rejects(lost.read(vm.volumes[0].id, 0, 4096), (e: unknown) => e instanceof ChangeViewError && e.step === 'read');
    assert.deepEqual(await ct.listViews(VIEW_NAME_PREFIX), []);
    await ct.releaseView(lost.id);

    // An appliance killed with -9 left a view; its successor (another tracking over the same daemon, sharing no memory) finds it by name.
    await ct.openView([vm.id], `${VIEW_NAME_PREFIX}g1-7`);
    const successor = new QemuChangeTracking({ host: { viewsDir, locate: (id) => hv.trackedDrives(id), sites: () => hv.viewSites() }, clock, multiVmViews: true });
    const found = await successor.listViews(`${VIEW_NAME_PREFIX}g1-`);
    assert.deepEqual(found.map((r) => [r.name, r.vmIds]), [[`${VIEW_NAME_PREFIX}g1-7`, [vm.id]]]);
    assert.deepEqual(await successor.listViews(`${VIEW_NAME_PREFIX}g2-`), [], 'another group\'s prefix does not list it');
    await successor.releaseView(found[0].id);
    assert.deepEqual(await graph(daemon()), before);

    // The daemon dies under an open view: reads fail typed; its files are listed until released.
    const dying = await ct.openView([vm.id], `${VIEW_NAME_PREFIX}dying`);
    await hv.killHost(vm.hostId);
    await assert.rejects(dying.read(vm.volumes[0].id, 0, 4096), ChangeViewError);
    await hv.startHost(vm.hostId);
    assert.deepEqual((await ct.listViews(VIEW_NAME_PREFIX)).map((r) => r.name), [`${VIEW_NAME_PREFIX}dying`], 'its fleecing files are still on the host');
    await ct.releaseView(dying.id);
    assert.deepEqual(await ct.listViews(VIEW_NAME_PREFIX), []);
    assert.deepEqual(await fs.readdir(viewsDir), []);
    assert.deepEqual(await graph(daemon()), before);
  });

  it('views of VMs on two daemons are never one cut: multiVmViews is false and such a view is refused', async () => {
    const two = await QemuHypervisor.create({ workDir: path.join(dir, 'two'), diskFormat: 'raw', capture: 'both' });
    try {
      const t = two.changeTracking!;
      assert.equal(t.multiVmViews, false);
      assert.ok(two.openTap, 'both capture modes offered');
      const a = await two.createVm({ name: 'a', volumes: [{ sizeBytes: 1 * MiB }] });
      const b = await two.createVm({ name: 'b', volumes: [{ sizeBytes: 1 * MiB }] });
      assert.notEqual(a.hostId, b.hostId);
      assert.throws(() => t.openView([a.id, b.id], `${VIEW_NAME_PREFIX}x`), ValidationError);
      // Raw disks: bitmaps are not persistent, a restart of the daemon loses them.
      await t.enable(a.id);
      const view = await t.openView([a.id], `${VIEW_NAME_PREFIX}raw`);
      const token = view.token(a.volumes[0].id);
      await t.releaseView(view.id);
      await two.stopHost(a.hostId);
      await two.startHost(a.hostId);
      const again = await t.openView([a.id], `${VIEW_NAME_PREFIX}raw-2`);
      await assert.rejects(again.changedSince(a.volumes[0].id, token), (e: unknown) => e instanceof ChangeTokenLostError && e.reason === 'reset');
      await t.releaseView(again.id);
      assert.equal(t.granularityBytes, 65536, 'QEMU\'s default granularity on a raw node, as reported');
    } finally {
      await two.dispose();
    }
  });
});
