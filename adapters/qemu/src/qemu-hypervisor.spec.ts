import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { AlignmentError, UnknownVmError, ValidationError, VolumeRangeError } from '@opencdp/core';
import type { GuestWrite, VolumeSource } from '@opencdp/core';
import { NbdClient, NbdRequestError } from '@opencdp/core/nbd';
import { QemuHypervisor } from './qemu-hypervisor.js';
import { HostDownError, VmPoweredOffError } from './qemu-errors.js';
import { requireToolsOrSkip } from './qemu-tools.js';
import { QemuWriteTap, TapLostError } from './qemu-write-tap.js';
import { run, sha256, tempDir, until, watch } from './spec-helpers.js';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('QemuHypervisor with real qemu-storage-daemon hosts', function () {
  this.timeout(60_000);
  let dir: string;
  let hv: QemuHypervisor;

  before(function () {
    requireToolsOrSkip(this);
  });

  beforeEach(async () => {
    dir = await tempDir();
    hv = await QemuHypervisor.create({ workDir: dir });
  });

  afterEach(async () => {
    await hv.dispose();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('creates VMs on two hosts; guest writes land on the disk; bad writes fail typed and change nothing', async () => {
    const a = await hv.createVm({ name: 'a', volumes: [{ sizeBytes: 4 * MiB }, { sizeBytes: 1 * MiB, sectorSize: 4096 }] });
    const b = await hv.createVm({ name: 'b', volumes: [{ sizeBytes: 1 * MiB }] });
    assert.notEqual(a.hostId, b.hostId);
    const data = Buffer.alloc(64 * KiB, 0x5c);
    await hv.guestWrite(a.id, a.volumes[0].id, 1 * MiB, data);
    assert.equal(sha256(await hv.readVolume(a.id, a.volumes[0].id, 1 * MiB, data.length)), sha256(data));
    const before = sha256(await hv.readVolume(a.id, a.volumes[1].id, 0, MiB));
    await assert.rejects(hv.guestWrite(a.id, a.volumes[1].id, 512, Buffer.alloc(4096)), AlignmentError);
    await assert.rejects(hv.guestWrite(a.id, a.volumes[1].id, MiB - 4096, Buffer.alloc(8192)), VolumeRangeError);
    await assert.rejects(hv.guestWrite('nope', 'x', 0, Buffer.alloc(512)), UnknownVmError);
    assert.equal(sha256(await hv.readVolume(a.id, a.volumes[1].id, 0, MiB)), before);
    // The real export refuses a past-the-end write too (the harness's check is not the only guard).
    const client = await NbdClient.connect({ path: hv.daemonOf(a.hostId)!.nbdPath, exportName: a.volumes[1].id });
    await assert.rejects(client.write(MiB, Buffer.alloc(4096)), NbdRequestError);
    await client.close();
  });

  it('the tap delivers every guest write (not the initial copy), in order, byte-exact, and qemu-io writes are split too', async () => {
    const vm = await hv.createVm({ name: 'tapped', volumes: [{ sizeBytes: 4 * MiB }, { sizeBytes: 2 * MiB }] });
    await hv.guestWrite(vm.id, vm.volumes[0].id, 0, Buffer.alloc(1 * MiB, 0x77)); // before the tap: initial sync's job
    const tap = await hv.attachTap(vm.id);
    const got: GuestWrite[] = [];
    tap.start(async (w) => { got.push(w); });
    const writes: GuestWrite[] = [];
    for (let i = 0; i < 40; i++) {
      const v = vm.volumes[i % 2];
      const w = { volumeId: v.id, offset: ((i * 37) % 64) * 16 * KiB, data: Buffer.alloc(((i % 4) + 1) * 4 * KiB, i + 1) };
      writes.push(w);
      await hv.guestWrite(vm.id, w.volumeId, w.offset, w.data);
    }
    assert.equal(tap.delivered, 40);
    assert.deepEqual(got.map((w) => [w.volumeId, w.offset, sha256(w.data)]), writes.map((w) => [w.volumeId, w.offset, sha256(w.data)]));
    // qemu-io as a second guest process on the same export.
    const uri = `nbd+unix:///${vm.volumes[1].id}?socket=${hv.daemonOf(vm.hostId)!.nbdPath}`;
    await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0xab 1M 64k', '-c', 'write -z 1536k 8k', uri]);
    const last = got.slice(40);
    assert.deepEqual(last.map((w) => [w.volumeId, w.offset, w.data.length]), [[vm.volumes[1].id, MiB, 64 * KiB], [vm.volumes[1].id, 1536 * KiB, 8 * KiB]]);
    assert.ok(last[0].data.every((x) => x === 0xab) && last[1].data.every((x) => x === 0));
    await tap.close();
    await hv.guestWrite(vm.id, vm.volumes[0].id, 0, Buffer.alloc(512, 1));
    assert.equal(got.length, 42, 'a closed tap delivers nothing');
  });

  it('a rogue NBD client on the tap\'s export: a write past the end is refused, closes only its connection and reaches no sink', async () => {
    const vm = await hv.createVm({ name: 'rogue', volumes: [{ sizeBytes: 1 * MiB }] });
    const tap = await hv.attachTap(vm.id) as QemuWriteTap;
    const got: GuestWrite[] = [];
    tap.start(async (w) => { got.push(w); });
    const rogue = await NbdClient.connect({ path: hv.tapServer.path, exportName: tap.exportNames[0] });
    await assert.rejects(rogue.write(1 * MiB - 512, Buffer.alloc(4096, 0xbb)), (e: unknown) => e instanceof NbdRequestError && e.errno === 28);
    await until(() => rogue.closed, 'the rogue connection to close');
    assert.equal(tap.delivered, 0, 'nothing from the refused request reached the sink');
    await hv.guestWrite(vm.id, vm.volumes[0].id, 0, Buffer.alloc(4096, 1));
    assert.deepEqual(got.map((w) => [w.offset, w.data.length]), [[0, 4096]], 'the mirror keeps delivering');
    assert.equal(tap.closed, false);
    await tap.close();
  });

  it('write-blocking: the guest write completes only when the sink answers', async () => {
    const vm = await hv.createVm({ name: 'held', volumes: [{ sizeBytes: 1 * MiB }] });
    const tap = await hv.attachTap(vm.id);
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    tap.start(() => gate);
    const w = watch(hv.guestWrite(vm.id, vm.volumes[0].id, 0, Buffer.alloc(4096, 9)));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(w.state, 'pending', 'the guest write waits for the appliance');
    release();
    await until(() => w.state === 'resolved', 'the guest write to complete');
    await tap.close();
  });

  it('closing a tap releases the writes its sink still holds, so the guest and the mirror\'s cancel do not wait on it', async () => {
    const vm = await hv.createVm({ name: 'release', volumes: [{ sizeBytes: 1 * MiB }] });
    const tap = await hv.attachTap(vm.id);
    tap.start(() => new Promise<void>(() => undefined)); // never answers
    const w = watch(hv.guestWrite(vm.id, vm.volumes[0].id, 0, Buffer.alloc(4096, 5)));
    await until(() => tap.delivered === 1, 'the write to reach the sink');
    assert.equal(w.state, 'pending');
    await tap.close();
    await until(() => w.state === 'resolved', 'the held guest write to complete once the tap closed');
  });

  it('the appliance\'s NBD server stops: the mirror errors, the tap closes with TapLostError; once it is back a new tap attaches', async () => {
    const vm = await hv.createVm({ name: 'restart', volumes: [{ sizeBytes: 1 * MiB }] });
    const tap = await hv.attachTap(vm.id) as QemuWriteTap;
    const got: GuestWrite[] = [];
    tap.start(async (w) => { got.push(w); });
    const closed = new Promise<Error | undefined>((r) => tap.onClose(r));
    await hv.stopTapServer();
    await hv.guestWrite(vm.id, vm.volumes[0].id, 0, Buffer.alloc(4096, 1)); // the source still takes it
    const reason = await closed;
    assert.ok(reason instanceof TapLostError, `closed with ${String(reason)}`);
    await assert.rejects(hv.attachTap(vm.id));
    await hv.startTapServer();
    const again = await hv.attachTap(vm.id);
    again.start(async (w) => { got.push(w); });
    await hv.guestWrite(vm.id, vm.volumes[0].id, 8192, Buffer.alloc(4096, 2));
    assert.deepEqual(got.map((w) => w.offset), [8192]);
    const jobs = await hv.daemonOf(vm.hostId)!.qmp.execute<{ device: string }[]>('query-block-jobs');
    assert.equal(jobs.length, 1, 'only the new mirror runs');
    await again.close();
    assert.deepEqual(await hv.daemonOf(vm.hostId)!.qmp.execute('query-block-jobs'), [], 'close cancels the mirror');
  });

  it('kill -9 of a host: its taps close, guest I/O fails with HostDownError; restarted, the disk kept its data', async () => {
    const vm = await hv.createVm({ name: 'killed', volumes: [{ sizeBytes: 2 * MiB }] });
    const data = Buffer.alloc(128 * KiB, 0x42);
    await hv.guestWrite(vm.id, vm.volumes[0].id, 64 * KiB, data);
    const tap = await hv.attachTap(vm.id);
    tap.start(async () => undefined);
    const closed = new Promise<Error | undefined>((r) => tap.onClose!(r));
    const pid = hv.daemonOf(vm.hostId)!.pid!;
    await hv.killHost(vm.hostId);
    assert.throws(() => process.kill(pid, 0), 'the daemon process is gone');
    assert.ok(await closed, 'the tap closed with a reason');
    await assert.rejects(hv.guestWrite(vm.id, vm.volumes[0].id, 0, Buffer.alloc(512)), HostDownError);
    await assert.rejects(hv.attachTap(vm.id), HostDownError);
    await hv.startHost(vm.hostId);
    assert.equal(sha256(await hv.readVolume(vm.id, vm.volumes[0].id, 64 * KiB, data.length)), sha256(data));
    const again = await hv.attachTap(vm.id);
    await again.close();
  });
});

describe('QemuHypervisor management faults and hot-add', function () {
  this.timeout(60_000);
  let dir: string;
  let hv: QemuHypervisor;

  before(function () {
    requireToolsOrSkip(this);
  });

  beforeEach(async () => {
    dir = await tempDir();
    hv = await QemuHypervisor.create({ workDir: dir, hosts: ['only-host'] });
  });

  afterEach(async () => {
    await hv.dispose();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('manager restart: taps close, guests keep writing unsplit, taps refuse to open until QMP is back', async () => {
    const vm = await hv.createVm({ name: 'm', volumes: [{ sizeBytes: 1 * MiB }] });
    const tap = await hv.attachTap(vm.id);
    const got: number[] = [];
    tap.start(async (w) => { got.push(w.offset); });
    const closed = new Promise<Error | undefined>((r) => tap.onClose!(r));
    await hv.restartManager();
    assert.ok((await closed) instanceof TapLostError);
    await hv.guestWrite(vm.id, vm.volumes[0].id, 4096, Buffer.alloc(4096, 1));
    assert.equal(got.length, 0, 'nobody splits writes while the manager is away');
    await assert.rejects(hv.attachTap(vm.id), /hypervisor manager is restarting/);
    await hv.reconnectManager();
    const again = await hv.attachTap(vm.id);
    again.start(async (w) => { got.push(w.offset); });
    await hv.guestWrite(vm.id, vm.volumes[0].id, 8192, Buffer.alloc(4096, 2));
    assert.deepEqual(got, [8192]);
    await again.close();
  });

  it('a QMP connection lost under a live tap: the next openTap reconnects and removes the orphaned mirror', async () => {
    const vm = await hv.createVm({ name: 'o', volumes: [{ sizeBytes: 1 * MiB }] });
    const tap = await hv.attachTap(vm.id);
    tap.start(async () => undefined);
    const closed = new Promise<Error | undefined>((r) => tap.onClose!(r));
    hv.daemonOf(vm.hostId)!.disconnect(); // the mirror keeps running inside the daemon
    assert.ok(await closed);
    const again = await hv.attachTap(vm.id);
    const jobs = await hv.daemonOf(vm.hostId)!.qmp.execute<{ device: string }[]>('query-block-jobs');
    assert.deepEqual(jobs.map((j) => j.device), (again as QemuWriteTap).jobIds, 'only the new tap\'s mirror runs');
    await again.close();
  });

  it('hot-added volume: an open tap mirrors it before addVolume resolves, so its writes are split', async () => {
    const vm = await hv.createVm({ name: 'h', volumes: [{ sizeBytes: 1 * MiB }] });
    const tap = await hv.attachTap(vm.id);
    const got: [string, number, string][] = [];
    tap.start(async (w) => { got.push([w.volumeId, w.offset, sha256(w.data)]); });
    const added = await hv.addVolume(vm.id, { sizeBytes: 2 * MiB, sectorSize: 4096 });
    assert.equal((await hv.getVm(vm.id)).volumes.length, 2);
    const data = Buffer.alloc(8192, 0x3c);
    await hv.guestWrite(vm.id, added.id, 4096, data);
    await hv.guestWrite(vm.id, vm.volumes[0].id, 0, data);
    assert.deepEqual(got, [[added.id, 4096, sha256(data)], [vm.volumes[0].id, 0, sha256(data)]]);
    await tap.close();
  });
});

describe('QemuHypervisor recovery VMs', function () {
  this.timeout(60_000);
  let dir: string;
  let hv: QemuHypervisor;

  before(function () {
    requireToolsOrSkip(this);
  });

  beforeEach(async () => {
    dir = await tempDir();
    hv = await QemuHypervisor.create({ workDir: dir, hosts: ['p1'], recoveryHost: 'r1' });
  });

  afterEach(async () => {
    await hv.dispose();
    await fs.rm(dir, { recursive: true, force: true });
  });

  function imageOf(bytes: Buffer): VolumeSource & { reads: number } {
    const s = { reads: 0, sizeBytes: () => bytes.length, read: async (_id: string, o: number, l: number) => { s.reads++; return Buffer.from(bytes.subarray(o, o + l)); } };
    return s;
  }

  it('a recovery VM reads through its point-in-time image, keeps its own writes, and promotion copies the rest without overwriting them', async () => {
    const protectedVm = await hv.createVm({ name: 'src', volumes: [{ sizeBytes: 1 * MiB, sectorSize: 4096 }] });
    assert.deepEqual(hv.hostIds(), ['qh1'], 'the recovery host takes no protected VMs');
    const image = Buffer.alloc(1 * MiB);
    for (let i = 0; i < 16; i++) image.fill(i + 1, i * 64 * KiB, i * 64 * KiB + 4096);
    const source = imageOf(image);
    const vm = await hv.createRecoveryVm({
      name: 'rec', sourceVmId: protectedVm.id, datastoreId: 'ds-recovery-2',
      disks: [{ volumeId: protectedVm.volumes[0].id, source }], nics: [{ networkId: 'net-test' }],
    });
    assert.equal(vm.powerState, 'off');
    assert.equal(vm.volumes[0].sectorSize, 4096, 'the disk keeps the protected volume\'s sector size');
    assert.equal(vm.nics[0].networkId, 'net-test');
    const ds = (await hv.inventory()).datastores.find((d) => d.id === 'ds-recovery-2')!;
    assert.equal(ds.capacityBytes - ds.freeBytes, 1 * MiB, 'the disk counts against its datastore');
    await assert.rejects(hv.guestWrite(vm.id, vm.volumes[0].id, 0, Buffer.alloc(4096)), VmPoweredOffError);
    await hv.powerOn(vm.id);
    assert.equal(sha256(await hv.readVolume(vm.id, vm.volumes[0].id, 0, MiB)), sha256(image), 'the VM starts as the image');
    const mine = Buffer.alloc(4096, 0xcd);
    await hv.guestWrite(vm.id, vm.volumes[0].id, 64 * KiB, mine); // over image data
    const expected = Buffer.from(image);
    mine.copy(expected, 64 * KiB);
    for (let at = 0; at < MiB; at += 256 * KiB) await hv.promoteDisk(vm.id, vm.volumes[0].id, at, 256 * KiB);
    await hv.detachDiskSource(vm.id, vm.volumes[0].id);
    const reads = source.reads;
    assert.equal(sha256(await hv.readVolume(vm.id, vm.volumes[0].id, 0, MiB)), sha256(expected), 'promoted: the image\'s data plus the VM\'s own write');
    assert.equal(source.reads, reads, 'after detaching, the image is not read any more');
    await assert.rejects(hv.deleteVm(vm.id), /powered on/);
    await hv.powerOff(vm.id);
    await hv.deleteVm(vm.id);
    assert.equal((await hv.inventory()).vms.some((v) => v.id === vm.id), false);
  });

  it('refuses bad recovery specs with typed errors and creates nothing', async () => {
    const src = imageOf(Buffer.alloc(MiB));
    await assert.rejects(hv.createRecoveryVm({ name: 'x', sourceVmId: 'v', disks: [], nics: [] }), ValidationError);
    await assert.rejects(hv.createRecoveryVm({ name: 'x', sourceVmId: 'v', datastoreId: 'ds-none', disks: [{ volumeId: 'a', source: src }], nics: [] }), /ds-none/);
    await assert.rejects(hv.createRecoveryVm({ name: 'x', sourceVmId: 'v', disks: [{ volumeId: 'a', source: src }], nics: [{ networkId: 'net-none' }] }), /net-none/);
    assert.deepEqual((await hv.inventory()).vms, []);
  });
});
