// Adopting real running guests (slow): two Debian-kernel guests with a busybox initramfs built here boot
// under qemu-system-x86_64 (TCG when KVM is unusable), each mounting ext4 on its virtio disk and writing
// fsynced files. The QEMU platform adopts them through a QMP socket of their own, as an operator's KVM host
// would have them; an operator's second monitor stands in for libvirt (pause, migrate, a busy drive).
// Checked: the splitter is byte-exact on a live guest, unprotect leaves the block graph as found, bad input
// is refused typed with the guest untouched, file restore returns every file fsynced before each
// crash-consistent checkpoint with its bytes, and migration or a killed guest close the tap with a reason.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  ExtVolumeReader, LocalReplication, MemoryStorage, parseProtectionGroupSettings, seedReplicaVolume, startPlatform, SystemClock, ValidationError,
  type Checkpoint, type WriteTap,
} from '@opencdp/core';
import { buildGuestInitramfs, findGuestKernel, LinuxGuest, missingGuestParts, prepareGuestKernel, type FsyncedFile } from './linux-guest.js';
import { nbdVolumeFile } from './nbd-volume-file.js';
import { DriveBusyError, GuestGoneError, GuestMigratedError, GuestStateError, GuestUnreachableError, NotQemuMonitorError } from './qemu-errors.js';
import { QemuPlatform } from './qemu-platform.js';
import { QmpClient } from './qmp-client.js';
import { requireToolsOrSkip } from './qemu-tools.js';
import { tempDir } from './spec-helpers.js';

const MiB = 1024 * 1024;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('adopting running Linux guests (slow, qemu-system-x86_64)', function () {
  this.timeout(300_000);
  let dir = '';
  let alpha: LinuxGuest;
  let beta: LinuxGuest;
  let ops: QmpClient;
  let platforms: QemuPlatform[] = [];
  const clock = new SystemClock();
  const ctx = (name: string): Parameters<typeof startPlatform>[1] => ({ roles: ['protected'], siteId: 'site-a', clock, log: () => undefined, applianceDataDir: path.join(dir, name) });

  const platform = async (name: string, guests: { name: string; qmp: string; drives?: string[] }[]): Promise<QemuPlatform> => {
    const p = await QemuPlatform.create({ workDir: path.join(dir, name), siteId: 'site-a', guests });
    platforms.push(p);
    return p;
  };

  before(async function () {
    requireToolsOrSkip(this, ['qemu-img', 'qemu-storage-daemon', 'qemu-system-x86_64']);
    const missing = await missingGuestParts();
    if (missing.length > 0) {
      if (process.env.CI === 'true') throw new Error(`the guest cannot be built: missing ${missing.join(', ')}`);
      process.stderr.write(`\n!!! SKIPPING GUEST TESTS: missing ${missing.join(', ')}\n\n`);
      this.skip();
    }
    dir = await tempDir();
    const initrd = await buildGuestInitramfs(dir);
    const bootKernel = await prepareGuestKernel(dir, (await findGuestKernel())!);
    const started = Date.now();
    // beta only has to be a QEMU process to kill: it stays in prelaunch (-S) and costs no CPU.
    [alpha, beta] = await Promise.all([
      LinuxGuest.start({ dir: path.join(dir, 'alpha'), name: 'alpha', initrd, bootKernel, pace: 0.05 }),
      LinuxGuest.start({ dir: path.join(dir, 'beta'), name: 'beta', initrd, bootKernel, paused: true }),
    ]);
    await alpha.waitFor(/^booted/, 240_000);
    process.stderr.write(`      (the guest booted in ${((Date.now() - started) / 1000).toFixed(1)} s with ${alpha.accel}, kernel ${path.basename(bootKernel)})\n`);
    ops = await QmpClient.connect(alpha.operatorQmpSocket);
  });

  // A QEMU monitor serves one client at a time: each test's platform lets the guest go before the next adopts it.
  afterEach(async () => {
    for (const p of platforms) await p.dispose().catch(() => undefined);
    platforms = [];
  });

  after(async () => {
    ops?.close();
    await alpha?.kill();
    await beta?.kill();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('splits every write of a live guest byte-exactly, reads through its own export, and leaves the block graph as it found it', async () => {
    const p = await platform('p1', [{ name: 'alpha', qmp: alpha.qmpSocket }]);
    const guest = p.guest('site-a-alpha')!;
    const found = await guest.blockState();
    const inv = await p.inventory();
    const vm = inv.vms.find((v) => v.id === 'site-a-alpha')!;
    assert.deepEqual(vm.volumes.map((v) => [v.id, v.name, v.sizeBytes, v.sectorSize]), [['site-a-alpha-d0', 'vdisk0', 64 * MiB, 512]]);
    assert.equal(vm.powerState, 'on');

    await ops.execute('stop');
    assert.equal((await p.getVm(vm.id)).powerState, 'suspended', 'a paused guest is suspended, and may still be protected');
    const tap = await p.openTap(vm.id);
    const writes: { offset: number; data: Buffer }[] = [];
    tap.start(async (w) => {
      writes.push({ offset: w.offset, data: Buffer.from(w.data) });
    });
    const baseline = await p.readVolume(vm.id, 'site-a-alpha-d0', 0, 64 * MiB);
    const during = await guest.blockState();
    assert.deepEqual(during.jobs, ['opencdp-tap1-m0']);
    assert.deepEqual(during.exports, ['opencdp-read-site-a-alpha-d0']);
    const filesBefore = (await alpha.fsynced()).length;
    await ops.execute('cont');
    await alpha.waitFor(new RegExp(`^fsynced f${String(filesBefore + 8).padStart(5, '0')}`));
    await ops.execute('stop');
    const final = await p.readVolume(vm.id, 'site-a-alpha-d0', 0, 64 * MiB);
    await ops.execute('cont');
    const replayed = Buffer.from(baseline);
    for (const w of writes) w.data.copy(replayed, w.offset);
    assert.ok(writes.length > 8, `the guest's writes were split (${writes.length})`);
    assert.equal(sha(replayed), sha(final), 'the baseline plus the split writes, in order, is the disk');

    await tap.close();
    await guest.settle();
    assert.deepEqual(await guest.blockState(), found, 'after unprotect the guest has exactly the nodes, jobs and exports it had');
    assert.deepEqual((await fs.readdir(path.join(dir, 'p1', 'g0'))).filter((f) => f.endsWith('.sock')), [], 'the read server is gone');
  });

  it('refuses what is not a QEMU monitor, drives the guest does not have, and a drive busy with another job — typed, naming the field, the guest untouched', async () => {
    const p0 = await platform('p0', [{ name: 'alpha', qmp: alpha.qmpSocket }]);
    const found = await p0.guest('site-a-alpha')!.blockState();
    const bad = async (config: unknown, field: string, pattern: RegExp, type: new (...args: never[]) => Error = ValidationError): Promise<void> => {
      await assert.rejects(startPlatform({ name: 'qemu', config }, ctx('bad')), (e: unknown) => {
        assert.ok(e instanceof type, `${type.name} expected, got ${String(e)}`);
        assert.equal((e as ValidationError).field, field, (e as Error).message);
        assert.match((e as Error).message, pattern);
        return true;
      });
    };
    // Something that answers, but is not QEMU; a silent socket; a plain file.
    const chatty = net.createServer((s) => s.end('220 smtp.example ESMTP\r\n'));
    const silent = net.createServer(() => undefined);
    await new Promise<void>((r) => chatty.listen(path.join(dir, 'chatty.sock'), r));
    await new Promise<void>((r) => silent.listen(path.join(dir, 'silent.sock'), r));
    await fs.writeFile(path.join(dir, 'plain-file'), 'x');
    try {
      await bad({ guests: [{ name: 'x', qmp: path.join(dir, 'chatty.sock') }] }, 'platform.config.guests.0.qmp', /answered something that is not QMP/, NotQemuMonitorError);
      await bad({ guests: [{ name: 'x', qmp: path.join(dir, 'silent.sock') }] }, 'platform.config.guests.0.qmp', /no QMP greeting came: another client/, NotQemuMonitorError);
      // The monitor of a guest another platform holds (libvirtd would): the same error, saying why.
      await bad({ guests: [{ name: 'alpha', qmp: alpha.qmpSocket }] }, 'platform.config.guests.0.qmp', /another client .* holds this monitor/, NotQemuMonitorError);
      await bad({ guests: [{ name: 'x', qmp: path.join(dir, 'plain-file') }] }, 'platform.config.guests.0.qmp', /not a UNIX socket/, NotQemuMonitorError);
    } finally {
      chatty.close();
      silent.close();
    }
    await p0.dispose();
    await bad({ guests: [{ name: 'alpha', qmp: alpha.qmpSocket, drives: ['nope'] }] }, 'platform.config.guests.0.drives.0', /has no drive 'nope'.*'disk0' \(vdisk0\)/);
    await bad({ guests: [{ name: 'alpha', qmp: alpha.qmpSocket, drives: ['disk0-file'] }] }, 'platform.config.guests.0.drives.0', /not the top node of a guest disk/);
    await bad({ guests: [{ name: 'alpha', qmp: alpha.qmpSocket, drives: ['disk0', 'vdisk0'] }] }, 'platform.config.guests.0.drives.1', /a second time/);
    await bad({ guests: [{ name: 'a', qmp: 'relative.sock' }] }, 'platform.config.guests.0.qmp', /must match pattern/);
    await bad({ guests: [{ name: 'a', qmp: path.join(dir, 'none-1') }, { name: 'a', qmp: path.join(dir, 'none-2') }] }, 'platform.config.guests.1.name', /used twice/);

    // A guest whose process is not running is adopted powered off, and protecting it says why it cannot.
    const gone = await platform('p-gone', [{ name: 'ghost', qmp: path.join(dir, 'no-such.sock') }]);
    assert.equal((await gone.getVm('site-a-ghost')).powerState, 'off');
    await assert.rejects(gone.openTap('site-a-ghost'), GuestUnreachableError);

    // A drive that another block job holds (a storage migration): nothing of ours is left attached.
    const p1 = await platform('p1b', [{ name: 'alpha', qmp: alpha.qmpSocket }]);
    await ops.execute('blockdev-add', { driver: 'null-co', 'node-name': 'operator-target', size: 64 * MiB });
    await ops.execute('blockdev-mirror', { 'job-id': 'operator-migration', device: 'disk0', target: 'operator-target', sync: 'none' });
    try {
      await assert.rejects(p1.openTap('site-a-alpha'), (e: unknown) => e instanceof DriveBusyError && /drive 'vdisk0' .* busy .* filter node sits above it/.test(e.message));
      const state = await p1.guest('site-a-alpha')!.blockState();
      assert.deepEqual(state.jobs, ['operator-migration']);
      assert.deepEqual(state.exports, found.exports);
      assert.ok(!state.nodes.some((n) => n.startsWith('opencdp-')), `no node of ours is left: ${state.nodes.join(', ')}`);
    } finally {
      const done = ops.waitForEvent('JOB_STATUS_CHANGE', (e) => e.data?.id === 'operator-migration' && e.data?.status === 'null', 10_000);
      await ops.execute('block-job-cancel', { device: 'operator-migration', force: true });
      await done;
      await ops.execute('blockdev-del', { 'node-name': 'operator-target' });
    }
    assert.deepEqual(await p1.guest('site-a-alpha')!.blockState(), found);
  });

  it('returns every file the guest fsynced before each crash-consistent checkpoint, byte for byte, after replaying the ext4 journal', async () => {
    const p = await platform('p2', [{ name: 'alpha', qmp: alpha.qmpSocket }]);
    const vmId = 'site-a-alpha';
    const volumeId = 'site-a-alpha-d0';
    const storage = new MemoryStorage();
    const settings = parseProtectionGroupSettings({ name: 'fr', checkpointIntervalMs: 3_600_000, journal: { hardLimit: { mb: 512 }, warningThreshold: { mb: 400 } } });
    // The replica starts as a copy of the disk (the appliances' initial sync, done here by hand while the guest is paused).
    await ops.execute('stop');
    let rep: LocalReplication;
    try {
      await seedReplicaVolume({ storage, groupId: 'g', vmId, volumeId, sizeBytes: 64 * MiB, read: (o, l) => p.readVolume(vmId, volumeId, o, l) });
      rep = await LocalReplication.start({ groupId: 'g', settings, vmIds: [vmId], hypervisor: p, storage, clock, autoCheckpoints: false });
    } finally {
      await ops.execute('cont');
    }
    const cuts: { cp: Checkpoint; fsynced: FsyncedFile[] }[] = [];
    let replays = 0;
    let checked = 0;
    try {
      for (let i = 0; i < 6; i++) {
        await new Promise((r) => setTimeout(r, 700 + 300 * i));
        // Every file the guest said it fsynced before the cut: its writes completed, so the checkpoint holds them.
        const fsynced = await alpha.fsynced();
        cuts.push({ cp: await rep.checkpoint('auto'), fsynced });
      }
      // Restored while the guest goes on writing (J7: images stay readable while replication continues).
      for (const { cp, fsynced } of cuts) {
        const image = await rep.journal(vmId).openImage(cp.id);
        const reader = await ExtVolumeReader.open(image, volumeId, { opener: nbdVolumeFile });
        try {
          assert.equal(reader.viewKind, 'nbd');
          if (reader.journalReplayed) replays++;
          const listed = new Map((await reader.list('/data')).map((e) => [e.path, e.sizeBytes]));
          for (const f of fsynced) {
            assert.equal(listed.get(`/data/${f.name}`), f.size, `checkpoint ${cp.id}: ${f.name} is listed with its size`);
            assert.equal(sha(await reader.read(`/data/${f.name}`)), f.sha256, `checkpoint ${cp.id}: ${f.name} has the bytes the guest fsynced`);
            checked++;
          }
        } finally {
          await reader.close();
          image.close();
        }
      }
    } finally {
      await rep.stop();
    }
    assert.ok(cuts.at(-1)!.fsynced.length > cuts[0].fsynced.length, 'the guest kept writing between the cuts');
    assert.ok(replays > 0, 'at least one checkpoint caught the file system with transactions in its journal');
    process.stderr.write(`      (${cuts.length} checkpoints, ${checked} files checked by hash, ${replays} journal replays)\n`);
  });

  it('a guest migrated away while protected closes the tap with GuestMigratedError; it cannot be protected again there', async () => {
    const p = await platform('p3', [{ name: 'alpha', qmp: alpha.qmpSocket }]);
    const tap = await p.openTap('site-a-alpha');
    const closed = new Promise<Error | undefined>((resolve) => tap.onClose!(resolve));
    tap.start(async () => undefined);
    await ops.execute('migrate', { uri: 'exec:cat > /dev/null' });
    const reason = await closed;
    assert.ok(reason instanceof GuestMigratedError, `closed with ${String(reason)}`);
    assert.equal((await p.getVm('site-a-alpha')).powerState, 'off');
    await assert.rejects(p.openTap('site-a-alpha'), (e: unknown) => e instanceof GuestStateError && e.status === 'postmigrate');
    const state = await p.guest('site-a-alpha')!.blockState();
    assert.deepEqual(state.jobs, [], 'the mirror is gone');
  });

  it('a guest killed while protected closes the tap with GuestGoneError, shows powered off, and refuses a tap until it runs again', async () => {
    const p = await platform('p4', [{ name: 'beta', qmp: beta.qmpSocket }]);
    const tap: WriteTap = await p.openTap('site-a-beta');
    const closed = new Promise<Error | undefined>((resolve) => tap.onClose!(resolve));
    tap.start(async () => undefined);
    await beta.kill();
    const reason = await closed;
    assert.ok(reason instanceof GuestGoneError, `closed with ${String(reason)}`);
    assert.equal((await p.getVm('site-a-beta')).powerState, 'off');
    await assert.rejects(p.openTap('site-a-beta'), GuestUnreachableError);
    await assert.rejects(p.readVolume('site-a-beta', 'site-a-beta-d0', 0, 4096), GuestUnreachableError);
  });
});
