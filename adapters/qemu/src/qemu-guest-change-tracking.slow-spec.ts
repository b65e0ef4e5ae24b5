// Change tracking on adopted guests (slow: qemu-system-x86_64 processes). Each guest is a real
// qemu-system process with a virtio disk, held in prelaunch (-S: no OS, no CPU cost); its disk is written
// through the device's own block backend by the operator's monitor (HMP `qemu-io -d <device>`), the path a
// guest's virtio writes take, so the copy-before-write filter above the drive sees them. The platform adopts
// the process through its second monitor and tracks it: frozen views, exact changed blocks, a successor
// appliance's release of a killed one's view, the block graph as found afterwards, and a raw drive's
// bitmaps dying with its process.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { ChangeTokenLostError, VIEW_NAME_PREFIX, type ChangedRegion } from '@opencdp/core';
import { QemuPlatform } from './qemu-platform.js';
import { requireToolsOrSkip } from './qemu-tools.js';
import { QmpClient } from './qmp-client.js';
import { run, sha256, tempDir } from './spec-helpers.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const DISK = 8 * MiB;

/** A qemu-system process with one virtio disk, two monitors (ours and the operator's), never booted. */
class PausedGuest {
  private constructor(readonly dir: string, readonly child: ChildProcess, readonly ops: QmpClient) {}

  static async start(dir: string, format: 'qcow2' | 'raw'): Promise<PausedGuest> {
    await fs.mkdir(dir, { recursive: true });
    const disk = path.join(dir, `disk.${format}`);
    await run('qemu-img', ['create', '-q', '-f', format, disk, String(DISK)]);
    for (const s of ['ops.qmp', 'ocdp.qmp']) await fs.rm(path.join(dir, s), { force: true });
    const sock = (id: string, file: string): string[] => ['-chardev', `socket,id=${id},path=${path.join(dir, file)},server=on,wait=off`, '-mon', `chardev=${id},mode=control`];
    const child = spawn('qemu-system-x86_64', [
      '-machine', 'q35,accel=tcg', '-m', '64', '-nodefaults', '-no-user-config', '-display', 'none', '-S',
      ...sock('ops', 'ops.qmp'), ...sock('ocdp', 'ocdp.qmp'),
      '-blockdev', `driver=file,node-name=disk0-file,filename=${disk}`,
      '-blockdev', `driver=${format},node-name=disk0,file=disk0-file`,
      '-device', 'virtio-blk-pci,drive=disk0,id=vdisk0',
    ], { stdio: ['ignore', 'ignore', 'inherit'] });
    const deadline = Date.now() + 20_000;
    while (!existsSync(path.join(dir, 'ops.qmp')) || !existsSync(path.join(dir, 'ocdp.qmp'))) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error('the guest process opened no monitor');
      await new Promise((r) => setTimeout(r, 20));
    }
    return new PausedGuest(dir, child, await QmpClient.connect(path.join(dir, 'ops.qmp')));
  }

  get qmpSocket(): string {
    return path.join(this.dir, 'ocdp.qmp');
  }

  /** A write through the virtio device's block backend (what the guest's own writes go through). */
  async write(offset: number, length: number, pattern: number): Promise<void> {
    const out = await this.ops.execute<string>('human-monitor-command', { 'command-line': `qemu-io -d /machine/peripheral/vdisk0/virtio-backend "write -P ${pattern} ${offset} ${length}"` });
    // qemu-io prints its report on QEMU's stdout; the monitor answers only errors.
    if (/error|fail/i.test(out)) throw new Error(`qemu-io write failed: ${out}`);
  }

  async kill(): Promise<void> {
    this.ops.close();
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGKILL');
    await gone;
  }
}

const blocks = (regions: readonly ChangedRegion[]): number[] => regions.flatMap((r) => Array.from({ length: r.length / (4 * KiB) }, (_, i) => r.offset / (4 * KiB) + i));

describe('change tracking on adopted guests (slow, qemu-system-x86_64 processes)', function () {
  this.timeout(120_000);
  let dir = '';
  let guest: PausedGuest;
  const platforms: QemuPlatform[] = [];

  before(async function () {
    requireToolsOrSkip(this, ['qemu-img', 'qemu-storage-daemon', 'qemu-system-x86_64']);
    dir = await tempDir();
    guest = await PausedGuest.start(path.join(dir, 'g'), 'qcow2');
  });

  afterEach(async () => {
    for (const p of platforms.splice(0)) await p.dispose().catch(() => undefined);
  });

  after(async () => {
    await guest?.kill();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  const platform = async (name: string, qmp: string, granularity?: number): Promise<QemuPlatform> => {
    const p = await QemuPlatform.create({ workDir: path.join(dir, 'a'), siteId: 'site-a', guests: [{ name, qmp }], ...(granularity ? { changeTracking: { granularity } } : {}),
      // OPENCDP_SPEC_LOG=1 prints the platform's events.
      ...(process.env.OPENCDP_SPEC_LOG ? { log: (event: string, fields: Record<string, unknown>) => console.error(event, JSON.stringify(fields)) } : {}) });
    platforms.push(p);
    return p;
  };

  it('a view of a running guest\'s own process is frozen, lists exactly the written blocks, shares the NBD server with sync reads, and leaves the graph as found', async () => {
    const p = await platform('alpha', guest.qmpSocket, 4 * KiB);
    const vmId = 'site-a-alpha';
    const g = p.guest(vmId)!;
    const found = await g.blockState();
    const t = p.changeTracking;
    assert.equal(t.multiVmViews, false, 'each guest is its own QEMU process');
    const volume = (await p.getVm(vmId)).volumes[0];
    await guest.write(0, 64 * KiB, 0x11);
    await t.enable(vmId);
    const v1 = await t.openView([vmId], `${VIEW_NAME_PREFIX}g-1`);
    const frozen = await p.readVolume(vmId, volume.id, 0, DISK); // the live disk, read through the sync export
    await guest.write(32 * KiB, 8 * KiB, 0x22);
    await guest.write(3 * MiB, 4 * KiB, 0x33);
    assert.equal(sha256(await v1.read(volume.id, 0, DISK)), sha256(frozen), 'the view holds the disk as it was at the freeze');
    assert.notEqual(sha256(await p.readVolume(vmId, volume.id, 0, DISK)), sha256(frozen), 'while the live disk moved on');
    const token = v1.token(volume.id);
    await t.releaseView(v1.id);
    const v2 = await t.openView([vmId], `${VIEW_NAME_PREFIX}g-2`);
    assert.deepEqual(blocks(await v2.changedSince(volume.id, token)), [8, 9, 768]);
    assert.equal(sha256(await v2.read(volume.id, 0, DISK)), sha256(await p.readVolume(vmId, volume.id, 0, DISK)));
    await t.releaseView(v2.id);
    await g.settle();
    const after = await g.blockState();
    assert.deepEqual(after, found, 'no view node, job or export is left; the NBD server stopped with its last user');
    assert.ok(!existsSync(path.join(dir, 'a', 'g0', 'read.sock')), 'the NBD server the adapter started is gone');
  });

  it('a killed appliance\'s view is found by its successor and released; the guest keeps its bitmap and token', async () => {
    const p1 = await platform('alpha', guest.qmpSocket);
    const vmId = 'site-a-alpha';
    const volume = (await p1.getVm(vmId)).volumes[0];
    const found = await p1.guest(vmId)!.blockState();
    await p1.changeTracking.enable(vmId);
    const v = await p1.changeTracking.openView([vmId], `${VIEW_NAME_PREFIX}pg-1-5`);
    const token = v.token(volume.id);
    // kill -9 of the appliance: nothing it added is removed, its monitor connection just ends.
    await p1.guest(vmId)!.release();
    platforms.splice(platforms.indexOf(p1), 1);
    // The dead process's own sockets (its NBD tap server) went with it; close them, or they keep mocha alive.
    await p1.daemons.dispose();
    const p2 = await platform('alpha', guest.qmpSocket);
    const left = await p2.changeTracking.listViews(`${VIEW_NAME_PREFIX}pg-1-`);
    assert.deepEqual(left.map((r) => [r.name, r.vmIds]), [[`${VIEW_NAME_PREFIX}pg-1-5`, [vmId]]]);
    for (const r of left) await p2.changeTracking.releaseView(r.id);
    await guest.write(1 * MiB, 64 * KiB, 0x44);
    const next = await p2.changeTracking.openView([vmId], `${VIEW_NAME_PREFIX}pg-1-6`);
    const changed = blocks(await next.changedSince(volume.id, token));
    for (let b = 256; b < 272; b++) assert.ok(changed.includes(b), `block ${b} written after the killed appliance's view is listed`);
    await p2.changeTracking.releaseView(next.id);
    await p2.changeTracking.disable(vmId);
    await p2.guest(vmId)!.settle();
    assert.deepEqual(await p2.guest(vmId)!.blockState(), found);
  });

  it('a raw drive\'s bitmaps live as long as its process: a restarted guest\'s token is lost, named as such', async () => {
    const raw = await PausedGuest.start(path.join(dir, 'r'), 'raw');
    try {
      const p = await platform('beta', raw.qmpSocket);
      const vmId = 'site-a-beta';
      const volume = (await p.getVm(vmId)).volumes[0];
      await p.changeTracking.enable(vmId);
      const v = await p.changeTracking.openView([vmId], `${VIEW_NAME_PREFIX}r-1`);
      const token = v.token(volume.id);
      await p.changeTracking.releaseView(v.id);
      await raw.kill();
      const again = await PausedGuest.start(path.join(dir, 'r'), 'raw');
      try {
        const next = await p.changeTracking.openView([vmId], `${VIEW_NAME_PREFIX}r-2`);
        await assert.rejects(next.changedSince(volume.id, token), (e: unknown) => e instanceof ChangeTokenLostError && e.reason === 'reset' && /no bitmap of ours/.test(e.message));
        await p.changeTracking.releaseView(next.id);
      } finally {
        await again.kill();
      }
    } finally {
      await raw.kill();
    }
  });
});
