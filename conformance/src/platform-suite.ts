// The platform suite (P): the ports' own promises, checked directly before the suites that need the whole
// pipeline — the inventory a harness must offer, the splitter holding the guest's write until its sink
// answers (what the checkpoint barrier rests on), taps that say when they close, power and delete rules,
// recovered geometry and sector sizes, and promotion. A broken promise fails here with a message naming the
// port method, instead of as a timeout three layers up.
import assert from 'node:assert/strict';
import { OpenCdpError } from '@opencdp/core';
import type { ConformanceHarness, HypervisorAdapter, VmId, VmInfo, VolumeId, WriteTap } from '@opencdp/core';
import type { CaseContext } from './case-context.js';
import type { ConformanceCase } from './conformance-case.js';
import { BufferSource, sha256 } from './buffer-source.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Wall time a wait lasts at least before it fails: a real platform on a loaded machine is slow, not broken. */
const MIN_WALL_MS = 30_000;

/**
 * Moves the harness's clock in small steps until `predicate` holds; fails once `limitMs` of clock time
 * and at least MIN_WALL_MS of wall time have passed (a virtual clock races ahead of a platform's own
 * processes, which this waits for too).
 */
async function until(h: ConformanceHarness, what: string, predicate: () => boolean, limitMs = 10_000): Promise<void> {
  const started = Date.now();
  for (let waited = 0; !predicate(); waited += 50) {
    if (waited >= limitMs && Date.now() - started >= MIN_WALL_MS) assert.fail(`waited ${waited} ms of clock time (${Date.now() - started} ms of wall time) for ${what}`);
    await h.advance(50);
  }
}

/** Lets the platform work for `ms` of clock time (a write that should stay held gets every chance to complete). */
async function linger(h: ConformanceHarness, ms = 1000): Promise<void> {
  for (let t = 0; t < ms; t += 100) await h.advance(100);
}

/** A promise's state, read without awaiting it. */
function watch(p: Promise<unknown>): { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } {
  const w: { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } = { state: 'pending' };
  p.then(() => { w.state = 'resolved'; }, (error: unknown) => { w.state = 'rejected'; w.error = error; });
  return w;
}

interface Deferred {
  resolve(): void;
  reject(error: Error): void;
}

/** A sink that records every write and holds each answer until the case says. */
function holdingSink(): { sink: (w: { volumeId: VolumeId; offset: number; data: Buffer }) => Promise<void>; seen: { volumeId: VolumeId; offset: number; hash: string; answer: Deferred }[] } {
  const seen: { volumeId: VolumeId; offset: number; hash: string; answer: Deferred }[] = [];
  return {
    seen,
    sink: (w) => new Promise<void>((resolve, reject) => { seen.push({ volumeId: w.volumeId, offset: w.offset, hash: sha256(w.data), answer: { resolve, reject } }); }),
  };
}

async function protectedVm(ctx: CaseContext, name: string, volumes = [{ sizeBytes: 1 * MiB }]): Promise<VmInfo> {
  const vm = await ctx.harness.createVm({ name, volumes });
  return vm;
}

async function openTap(h: ConformanceHarness, vmId: VmId, ctx: CaseContext): Promise<WriteTap> {
  assert.ok(h.hypervisor.openTap, 'the harness declares writeTap, so HypervisorAdapter.openTap must exist');
  const tap = await h.hypervisor.openTap(vmId);
  ctx.onDispose(() => tap.close());
  return tap;
}

async function volumeHash(hv: HypervisorAdapter, vmId: VmId, volumeId: VolumeId, sizeBytes: number): Promise<string> {
  return sha256(await hv.readVolume(vmId, volumeId, 0, sizeBytes));
}

function isTyped(e: unknown): boolean {
  return e instanceof OpenCdpError;
}

function describeError(e: unknown): string {
  return e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e);
}

async function freeBytes(hv: HypervisorAdapter, datastoreId: string): Promise<number> {
  const ds = (await hv.inventory()).datastores.find((d) => d.id === datastoreId);
  assert.ok(ds, `datastore '${datastoreId}' is listed in the inventory`);
  return ds.freeBytes;
}

async function totalFreeBytes(hv: HypervisorAdapter): Promise<number> {
  return (await hv.inventory()).datastores.reduce((sum, d) => sum + d.freeBytes, 0);
}

/** 4096 when the platform hosts 4096-byte sectors, else 512 (the case then checks that 4096 is refused). */
function secondSector(sizes: readonly number[]): number {
  return sizes.includes(4096) ? 4096 : 512;
}

/**
 * On a platform that cannot host 4096-byte sectors, `make` (asking for them) must be refused with a typed
 * error and leave nothing behind: no VM in the inventory, no space taken on any datastore.
 */
async function refusesUnhostedSector(hv: HypervisorAdapter, sizes: readonly number[], what: string, make: () => Promise<VmInfo>): Promise<void> {
  const vmsBefore = (await hv.inventory()).vms.map((v) => v.id).sort();
  const freeBefore = await totalFreeBytes(hv);
  let made: VmInfo | undefined;
  let refused: unknown;
  await make().then((vm) => { made = vm; }, (e: unknown) => { refused = e; });
  assert.ok(made === undefined, `the harness declares the sector sizes [${sizes.join(', ')}] for ${what}, without 4096, yet a VM asking for a 4096-byte-sector disk was made (its disks have sectors of ${made?.volumes.map((v) => v.sectorSize).join(', ')}): refuse a sector size the platform cannot host with a typed error, or declare it`);
  assert.ok(isTyped(refused), `the refusal of a 4096-byte-sector disk for ${what} is a typed OpenCdpError (got ${describeError(refused)})`);
  assert.deepEqual((await hv.inventory()).vms.map((v) => v.id).sort(), vmsBefore, `the refused request for ${what} left a VM behind`);
  const freeAfter = await totalFreeBytes(hv);
  assert.ok(freeAfter >= freeBefore, `the refused request for ${what} left space taken on the datastores: ${freeBefore} bytes free before, ${freeAfter} after`);
}

/**
 * Recovery disks for P4: three geometries (the second with 4096-byte sectors where the recovery platform
 * hosts them), one odd size, ids the platform has never seen (a foreign site's volumes).
 */
function recoverySources(ctx: CaseContext, second = secondSector(ctx.recoverySectorSizes)): { source: BufferSource; disks: { volumeId: VolumeId; sectorSize: number; sizeBytes: number }[] } {
  const disks = [
    { volumeId: 'p4-foreign-vol-a', sectorSize: 512, sizeBytes: 1 * MiB },
    { volumeId: 'p4-foreign-vol-b', sectorSize: second, sizeBytes: 2 * MiB + 3 * 4096 },
    { volumeId: 'p4-foreign-vol-c', sectorSize: 512, sizeBytes: 512 * KiB + 7 * 512 },
  ];
  const source = new BufferSource(new Map(disks.map((d) => {
    const data = Buffer.alloc(d.sizeBytes);
    // Data in some blocks only, so thin platforms have holes to keep.
    for (let at = 0; at < d.sizeBytes; at += 64 * KiB) if (ctx.random.int(0, 2) > 0) ctx.random.bytes(Math.min(64 * KiB, d.sizeBytes - at)).copy(data, at);
    return [d.volumeId, data];
  })));
  return { source, disks };
}

export const platformSuite: readonly ConformanceCase[] = [
  {
    id: 'P1.1',
    title: 'the protected platform offers at least two hosts; a created VM is listed, running, on the host asked for, with its volumes in order at the sizes and sector sizes asked (a 4096-byte sector size the harness does not declare is refused typed, leaving nothing behind); guest writes read back',
    needs: [],
    async run(ctx) {
      const h = ctx.harness;
      const hosts = (await h.hypervisor.inventory()).hosts;
      assert.ok(hosts.length >= 2, `the protected platform lists ${hosts.length} host(s) (${hosts.map((x) => x.id).join(', ')}); the suite needs at least two: J2 spans hosts and S5 restarts one while the other runs — create two in the harness`);
      const second = secondSector(ctx.sectorSizes);
      if (second !== 4096) {
        await refusesUnhostedSector(h.hypervisor, ctx.sectorSizes, 'protected volumes (ConformanceHarness.sectorSizes)',
          () => h.createVm({ name: 'p1-vm-4k', hostId: hosts[1].id, volumes: [{ sizeBytes: 1 * MiB }, { sizeBytes: 1 * MiB, sectorSize: 4096 }] }));
      }
      const spec = [{ sizeBytes: 2 * MiB }, { sizeBytes: 1 * MiB + 4096, sectorSize: second }, { sizeBytes: 512 * KiB + 512, sectorSize: 512 }];
      const vm = await h.createVm({ name: 'p1-vm', hostId: hosts[1].id, volumes: spec });
      const listed = (await h.hypervisor.inventory()).vms.find((v) => v.id === vm.id);
      assert.ok(listed, `createVm returned '${vm.id}', and the inventory lists it`);
      assert.equal(vm.hostId, hosts[1].id, 'the VM runs on the host the spec asked for');
      assert.equal(vm.powerState, 'on', 'a created protected VM is running');
      assert.deepEqual(vm.volumes.map((v) => [v.sizeBytes, v.sectorSize]), spec.map((v) => [v.sizeBytes, v.sectorSize ?? 512]), 'volumes in spec order, [sizeBytes, sectorSize]');
      assert.deepEqual((await h.hypervisor.getVm(vm.id)).volumes.map((v) => v.id), vm.volumes.map((v) => v.id), 'getVm lists the same volumes');
      for (const v of vm.volumes) {
        const data = ctx.random.bytes(2 * v.sectorSize);
        const offset = v.sizeBytes - data.length;
        await h.guestWrite(vm.id, v.id, offset, data);
        assert.equal(sha256(await h.hypervisor.readVolume(vm.id, v.id, offset, data.length)), sha256(data), `readVolume returns the guest's write at the end of volume '${v.id}'`);
      }
    },
  },
  {
    id: 'P2.1',
    title: 'the splitter holds the guest\'s write until the sink answers (write-blocking): the sink gets every write in order with the guest\'s data, and the write completes only after the sink\'s promise resolves',
    needs: ['writeTap'],
    splitterOnly: 'the write-blocking promise of the splitter itself',
    async run(ctx) {
      const h = ctx.harness;
      const vm = await protectedVm(ctx, 'p2-vm');
      const volume = vm.volumes[0];
      const tap = await openTap(h, vm.id, ctx);
      const { sink, seen } = holdingSink();
      tap.start(sink);
      const a = ctx.random.bytes(8 * KiB);
      const b = ctx.random.bytes(4 * KiB);
      const first = watch(h.guestWrite(vm.id, volume.id, 64 * KiB, a));
      await until(h, 'the sink to receive the guest\'s first write', () => seen.length >= 1);
      const second = watch(h.guestWrite(vm.id, volume.id, 256 * KiB, b));
      await until(h, 'the sink to receive the guest\'s second write', () => seen.length >= 2);
      await linger(h);
      assert.equal(first.state, 'pending', `the guest's write ${first.state === 'resolved' ? 'completed' : 'failed'} while the sink had not answered it: a splitter must hold the guest's write until the sink's promise settles (write-blocking, WriteSink in write-tap.ts); the checkpoint barrier rests on it`);
      assert.equal(second.state, 'pending', 'a second write completed while the sink had not answered it (write-blocking)');
      assert.deepEqual(seen.map((s) => [s.volumeId, s.offset, s.hash]), [[volume.id, 64 * KiB, sha256(a)], [volume.id, 256 * KiB, sha256(b)]], 'the sink got both writes, in the order the guest issued them, with the guest\'s bytes');
      assert.ok(tap.delivered >= 2, `the tap counts what it delivered (delivered ${tap.delivered}, expected at least 2)`);
      // Answering the first may complete it (or, on splitters that complete in order, not yet): the second,
      // whose sink has not answered, must still be held either way.
      seen[0].answer.resolve();
      await linger(h);
      assert.equal(second.state, 'pending', 'the second write completed once the first was answered, though its own sink had not answered it (write-blocking)');
      seen[1].answer.resolve();
      await until(h, 'both writes to complete once the sink answered them', () => first.state !== 'pending' && second.state !== 'pending');
      assert.deepEqual([first.state, second.state], ['resolved', 'resolved'], `both writes completed once answered (${describeError(first.error ?? second.error)})`);
      assert.equal(sha256(await h.hypervisor.readVolume(vm.id, volume.id, 64 * KiB, a.length)), sha256(a), 'the write is on the protected volume');
    },
  },
  {
    id: 'P2.2',
    title: 'a tap closed by a host restart tells the kernel through onClose, with a reason',
    needs: ['writeTap', 'faultHostRestart'],
    splitterOnly: 'a tap closed by a host restart (in change-tracking mode a tracking reset is C3)',
    async run(ctx) {
      const h = ctx.harness;
      const vm = await protectedVm(ctx, 'p2-restart-vm');
      const tap = await openTap(h, vm.id, ctx);
      tap.start(async () => undefined);
      assert.equal(typeof tap.onClose, 'function', 'WriteTap.onClose is missing: a harness that declares faultHostRestart must let the kernel learn when a tap closes by itself (write-tap.ts); without it S5.4/S5.5 wait for writes that never come');
      const closed: (Error | undefined)[] = [];
      tap.onClose!((reason) => closed.push(reason));
      await h.injectFault({ kind: 'host-restart', hostId: vm.hostId });
      await until(h, `onClose after host '${vm.hostId}' restarted`, () => closed.length > 0);
      assert.equal(closed.length, 1, `onClose was called once (called ${closed.length} times)`);
      assert.ok(closed[0] instanceof Error, `onClose gives the reason the platform closed the tap (got ${String(closed[0])})`);
      await h.clearFaults();
    },
  },
  {
    id: 'P2.3',
    title: 'a hypervisor-manager restart closes every tap through onClose while the VMs keep running',
    needs: ['writeTap', 'faultHypervisorManagerRestart'],
    splitterOnly: 'taps closed by a hypervisor-manager restart',
    async run(ctx) {
      const h = ctx.harness;
      const vm = await protectedVm(ctx, 'p2-manager-vm');
      const tap = await openTap(h, vm.id, ctx);
      tap.start(async () => undefined);
      assert.equal(typeof tap.onClose, 'function', 'WriteTap.onClose is missing: a harness that declares faultHypervisorManagerRestart must let the kernel learn when a tap closes by itself (write-tap.ts)');
      const closed: (Error | undefined)[] = [];
      tap.onClose!((reason) => closed.push(reason));
      await h.injectFault({ kind: 'hypervisor-manager-restart' });
      await until(h, 'onClose after the hypervisor manager restarted', () => closed.length > 0);
      assert.ok(closed[0] instanceof Error, `onClose gives a reason (got ${String(closed[0])})`);
      assert.equal((await h.hypervisor.getVm(vm.id)).powerState, 'on', 'the VM keeps running while its hypervisor manager restarts');
      await h.guestWrite(vm.id, vm.volumes[0].id, 0, ctx.random.bytes(4 * KiB));
      await h.clearFaults();
    },
  },
  {
    id: 'P3.1',
    title: 'a powered-off VM refuses guest writes with a typed error and its volumes stay as they were; powered on again it takes writes',
    needs: [],
    async run(ctx) {
      const h = ctx.harness;
      const vm = await protectedVm(ctx, 'p3-vm');
      const v = vm.volumes[0];
      await h.guestWrite(vm.id, v.id, 0, ctx.random.bytes(8 * KiB));
      const before = await volumeHash(h.hypervisor, vm.id, v.id, v.sizeBytes);
      await h.hypervisor.powerOff(vm.id);
      assert.equal((await h.hypervisor.getVm(vm.id)).powerState, 'off', 'powerOff leaves the VM off');
      let refused: unknown;
      await h.guestWrite(vm.id, v.id, 4 * KiB, ctx.random.bytes(4 * KiB)).catch((e: unknown) => { refused = e; });
      assert.ok(refused !== undefined, 'a guest write to a powered-off VM succeeded: a VM that is off has no guest to write (refuse it with a typed error)');
      assert.ok(isTyped(refused), `the refusal is a typed OpenCdpError with a code and a hint (got ${describeError(refused)})`);
      assert.equal(await volumeHash(h.hypervisor, vm.id, v.id, v.sizeBytes), before, 'the refused write changed the volume');
      await h.hypervisor.powerOn(vm.id);
      assert.equal((await h.hypervisor.getVm(vm.id)).powerState, 'on', 'powerOn runs it again');
      const data = ctx.random.bytes(4 * KiB);
      await h.guestWrite(vm.id, v.id, 4 * KiB, data);
      assert.equal(sha256(await h.hypervisor.readVolume(vm.id, v.id, 4 * KiB, data.length)), sha256(data), 'a write after powerOn reads back');
    },
  },
  {
    id: 'P3.2',
    title: 'deleting a running VM is refused (typed) and changes nothing; once off, deleteVm removes it from the inventory and getVm fails typed',
    needs: [],
    async run(ctx) {
      const h = ctx.harness;
      const vm = await protectedVm(ctx, 'p3-delete-vm');
      const v = vm.volumes[0];
      await h.guestWrite(vm.id, v.id, 0, ctx.random.bytes(8 * KiB));
      const before = await volumeHash(h.hypervisor, vm.id, v.id, v.sizeBytes);
      let refused: unknown;
      await h.hypervisor.deleteVm(vm.id).catch((e: unknown) => { refused = e; });
      assert.ok(refused !== undefined, 'deleteVm removed a running VM: a running VM must be powered off first (refuse with a typed error)');
      assert.ok(isTyped(refused), `the refusal is a typed OpenCdpError (got ${describeError(refused)})`);
      const still = await h.hypervisor.getVm(vm.id);
      assert.equal(still.powerState, 'on', 'the refused delete left the VM running');
      assert.equal(await volumeHash(h.hypervisor, vm.id, v.id, v.sizeBytes), before, 'the refused delete left the data as it was');
      await h.hypervisor.powerOff(vm.id);
      await h.hypervisor.deleteVm(vm.id);
      const listed = (await h.hypervisor.inventory()).vms.map((x) => x.id);
      assert.ok(!listed.includes(vm.id), `deleteVm left '${vm.id}' in the inventory (${listed.join(', ')})`);
      let gone: unknown;
      await h.hypervisor.getVm(vm.id).catch((e: unknown) => { gone = e; });
      assert.ok(gone !== undefined && isTyped(gone), `getVm of a deleted VM fails typed (got ${gone === undefined ? 'the VM' : describeError(gone)})`);
    },
  },
  {
    id: 'P4.1',
    title: 'a recovery VM has one disk per spec disk, in spec order, each of the source\'s size and the spec\'s sector size (a 4096-byte sector size the harness does not declare is refused typed, leaving nothing behind), reading the source byte for byte; it starts off, allocates from its datastore, enforces its sectors, and deleting it gives everything back',
    needs: ['recoveryVm'],
    async run(ctx) {
      const h = ctx.harness;
      const hv = h.recoveryHypervisor ?? h.hypervisor;
      const datastore = (await hv.inventory()).datastores[0];
      assert.ok(datastore, 'the recovery platform lists a datastore');
      const freeBefore = await freeBytes(hv, datastore.id);
      const vmsBefore = (await hv.inventory()).vms.length;
      const { source, disks } = recoverySources(ctx);
      if (disks[1].sectorSize !== 4096) {
        await refusesUnhostedSector(hv, ctx.recoverySectorSizes, 'recovery VM disks (ConformanceHarness.recoverySectorSizes)', () => hv.createRecoveryVm({
          name: 'p4-recovered-4k', sourceVmId: 'p4-foreign-vm', datastoreId: datastore.id,
          disks: disks.map((d, i) => ({ volumeId: d.volumeId, source, sectorSize: i === 1 ? 4096 : d.sectorSize })), nics: [],
        }));
      }
      const vm = await hv.createRecoveryVm({
        name: 'p4-recovered', sourceVmId: 'p4-foreign-vm', datastoreId: datastore.id,
        disks: disks.map((d) => ({ volumeId: d.volumeId, source, sectorSize: d.sectorSize })), nics: [],
      });
      assert.deepEqual(vm.volumes.map((v) => [v.sizeBytes, v.sectorSize]), disks.map((d) => [d.sizeBytes, d.sectorSize]),
        'recovered disks, in spec.disks order, as [sizeBytes, sectorSize] (RecoveryVmSpec.disks: the source\'s size, the spec\'s sector size)');
      assert.equal(vm.powerState, 'off', 'a recovery VM is created powered off (the kernel powers it on by boot group)');
      for (const [i, d] of disks.entries()) {
        assert.equal(await volumeHash(hv, vm.id, vm.volumes[i].id, d.sizeBytes), sha256(source.volumes.get(d.volumeId)!), `disk ${i} ('${vm.volumes[i].id}') reads its source '${d.volumeId}' byte for byte`);
      }
      await hv.powerOn(vm.id);
      // Write every block: whatever the platform's provisioning, the datastore must now hold the data.
      for (const [i, d] of disks.entries()) {
        for (let at = 0; at < d.sizeBytes; at += 256 * KiB) await h.guestWrite(vm.id, vm.volumes[i].id, at, ctx.random.bytes(Math.min(256 * KiB, d.sizeBytes - at)));
      }
      const freeAfter = await freeBytes(hv, datastore.id);
      assert.ok(freeAfter < freeBefore, `datastore '${datastore.id}' free bytes fall as recovery VMs allocate: expected fewer than ${freeBefore} free, observed ${freeAfter}`);
      // On a 4096-byte-sector disk a write aligned to 512 only must fail; on a 512-byte one, a write at 256.
      const sector = disks[1].sectorSize;
      const at = sector === 4096 ? 512 : 256;
      let misaligned: unknown;
      await h.guestWrite(vm.id, vm.volumes[1].id, at, Buffer.alloc(512)).catch((e: unknown) => { misaligned = e; });
      assert.ok(misaligned !== undefined && isTyped(misaligned), `a 512-byte write at offset ${at} to the ${sector}-byte-sector disk is refused typed (got ${misaligned === undefined ? 'success' : describeError(misaligned)})`);
      await hv.powerOff(vm.id);
      await hv.deleteVm(vm.id);
      assert.equal((await hv.inventory()).vms.length, vmsBefore, 'deleting the recovery VM left no VM behind');
      const freeEnd = await freeBytes(hv, datastore.id);
      assert.ok(freeEnd >= freeBefore, `deleting the recovery VM gives its space back: expected at least ${freeBefore} free, observed ${freeEnd}`);
    },
  },
  {
    id: 'P4.2',
    title: 'promotion (HypervisorAdapter.promotion): a promoted, detached recovery disk holds the source\'s data and the VM\'s own writes, and never reads its source again',
    needs: ['recoveryVm', 'recoveryPromotion'],
    async run(ctx) {
      const h = ctx.harness;
      const hv = h.recoveryHypervisor ?? h.hypervisor;
      const promotion = hv.promotion;
      assert.ok(promotion, 'the harness declares recoveryPromotion, but HypervisorAdapter.promotion is missing (ports/recovery-disk-promotion.ts): promotion and clone would be off');
      const { source, disks } = recoverySources(ctx);
      const vm = await hv.createRecoveryVm({ name: 'p4-promoted', sourceVmId: 'p4-foreign-vm', disks: disks.map((d) => ({ volumeId: d.volumeId, source, sectorSize: d.sectorSize })), nics: [] });
      ctx.onDispose(async () => {
        await hv.powerOff(vm.id).catch(() => undefined);
        await hv.deleteVm(vm.id).catch(() => undefined);
      });
      await hv.powerOn(vm.id);
      const expected = disks.map((d) => Buffer.from(source.volumes.get(d.volumeId)!));
      const own = ctx.random.bytes(8 * KiB);
      await h.guestWrite(vm.id, vm.volumes[0].id, 128 * KiB, own);
      own.copy(expected[0], 128 * KiB);
      for (const [i, d] of disks.entries()) {
        for (let at = 0; at < d.sizeBytes; at += 256 * KiB) await promotion.promoteDisk(vm.id, vm.volumes[i].id, at, Math.min(256 * KiB, d.sizeBytes - at));
        await promotion.detachDiskSource(vm.id, vm.volumes[i].id);
      }
      const reads = source.reads;
      for (const buffer of source.volumes.values()) buffer.fill(0x5a); // the journal's image goes away
      for (const [i, d] of disks.entries()) {
        assert.equal(await volumeHash(hv, vm.id, vm.volumes[i].id, d.sizeBytes), sha256(expected[i]), `promoted disk ${i} ('${vm.volumes[i].id}') holds the source's data with the VM's own writes on top`);
      }
      assert.equal(source.reads, reads, `a detached disk read its source ${source.reads - reads} more times`);
      let outside: unknown;
      await promotion.promoteDisk(vm.id, vm.volumes[2].id, disks[2].sizeBytes, 512).catch((e: unknown) => { outside = e; });
      assert.ok(outside !== undefined && isTyped(outside), `promoting a range past the end of a disk is refused typed (got ${outside === undefined ? 'success' : describeError(outside)})`);
    },
  },
];
