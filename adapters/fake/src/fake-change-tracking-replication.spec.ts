// The kernel's change-tracking capture mode on the fake platform, through the real appliances and the
// in-process site link on a virtual clock: the token file across a kill -9, refusals that change nothing
// (an interval below the platform's minimum, a mode the platform lacks, a group mixing modes), and a
// platform region list past the end of a volume.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CaptureModeError, CheckpointScheduler, MemoryStorage, ProtectedAppliance, RecoveryAppliance, ValidationError, VIEW_NAME_PREFIX, VirtualClock,
  parseProtectionGroupSettings,
} from '@opencdp/core';
import type { CaptureNotice, ChangeTracking, ChangeView, Checkpoint, GroupSender, HypervisorAdapter, VmInfo } from '@opencdp/core';
import { FakeDataCenter } from './fake-data-center.js';
import { FakeHypervisor } from './fake-hypervisor.js';
import { FakeNetwork } from './fake-network.js';

const MiB = 1024 * 1024;

interface Site {
  clock: VirtualClock;
  dc: FakeDataCenter;
  hv: FakeHypervisor;
  vm: VmInfo;
  network: FakeNetwork;
  receiver: RecoveryAppliance;
  address: string;
}

async function site(): Promise<Site> {
  const clock = new VirtualClock();
  const dc = new FakeDataCenter({ clock });
  const s = dc.addSite('protected');
  const host = dc.addHost(s.id, 'h1');
  const vm = dc.createVm({ name: 'db', hostId: host.id, volumes: [{ sizeBytes: 2 * MiB }, { sizeBytes: MiB, sectorSize: 4096 }] });
  const network = new FakeNetwork(clock, 3);
  const receiver = new RecoveryAppliance({ siteId: 'recovery', storage: new MemoryStorage(), clock, network: network.endpoint('recovery') });
  const address = await receiver.listen('recovery:0');
  return { clock, dc, hv: new FakeHypervisor(dc, s.id, { capture: 'change-tracking' }), vm, network, receiver, address };
}

const settings = parseProtectionGroupSettings({ name: 'ct', checkpointIntervalMs: 1000 });

async function protect(s: Site, hypervisor: HypervisorAdapter = s.hv, stateDir?: string): Promise<{ appliance: ProtectedAppliance; sender: GroupSender; notices: CaptureNotice[]; phases: string[] }> {
  const appliance = new ProtectedAppliance({ siteId: 'protected', hypervisor, network: s.network.endpoint('protected'), clock: s.clock, ...(stateDir ? { stateDir } : {}) });
  const sender = await appliance.protect({ groupId: 'g/1', settings, vmIds: [s.vm.id], recoveryAddress: s.address });
  const notices: CaptureNotice[] = [];
  const phases: string[] = [];
  sender.on('notice', (n) => notices.push(n));
  sender.on('state', (st) => { if (phases.at(-1) !== st.phase) phases.push(st.phase); });
  return { appliance, sender, notices, phases };
}

async function until(s: Site, what: string, predicate: () => boolean): Promise<void> {
  for (let waited = 0; !predicate(); waited += 20) {
    if (waited > 60_000) assert.fail(`waited a minute of clock time for ${what}`);
    await s.clock.advance(20);
    // The token file is written on the real file system: give its I/O real time, however loaded the machine.
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Cuts a checkpoint through the scheduler and waits until the receiver lists it. */
async function cut(s: Site, sender: GroupSender, tag: string): Promise<Checkpoint> {
  await until(s, 'the group to stream', () => sender.canCheckpoint);
  const scheduler = new CheckpointScheduler({ clock: s.clock, senders: [sender], intervalMs: 1000, newId: () => `${tag}-id` });
  const cp = scheduler.cut('tagged', tag)!;
  await until(s, `checkpoint '${tag}' to be listed`, () => s.receiver.journal('g/1', s.vm.id)?.checkpoints().some((c) => c.id === cp.id) ?? false);
  return s.receiver.journal('g/1', s.vm.id)!.getCheckpoint(cp.id);
}

/** SHA-256 of every volume as the guest sees it now, and as the journal's image at `cpId` holds it. */
async function hashes(s: Site, cpId: string): Promise<{ guest: string[]; image: string[] }> {
  const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
  const image = await s.receiver.journal('g/1', s.vm.id)!.openImage(cpId);
  try {
    const guest: string[] = [];
    const held: string[] = [];
    for (const v of s.vm.volumes) {
      guest.push(sha(await s.dc.guestRead(s.vm.id, v.id, 0, v.sizeBytes)));
      held.push(sha(await image.read(v.id, 0, v.sizeBytes)));
    }
    return { guest, image: held };
  } finally {
    image.close();
  }
}

/** The image at `cpId` equals the guest's volumes now; then everything stops. */
async function verifyAndStop(s: Site, cpId: string, appliance: ProtectedAppliance): Promise<void> {
  const h = await hashes(s, cpId);
  assert.deepEqual(h.image, h.guest);
  await appliance.stop();
  await s.receiver.stop();
}

async function write(s: Site, n: number, seed: number): Promise<number> {
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const v = s.vm.volumes[i % 2];
    await s.dc.guestWrite(s.vm.id, v.id, ((seed * 7919 + i * 104_729) % (v.sizeBytes / 4096)) * 4096, Buffer.alloc(4096, (seed + i) % 251 + 1));
    bytes += 4096;
  }
  return bytes;
}

describe('change-tracking capture mode of the appliances on the fake platform', () => {
  let dir: string;
  beforeEach(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'opencdp-ct-')); });
  afterEach(async () => { await fs.rm(dir, { recursive: true, force: true }); });

  it('a protected appliance killed -9 resumes from the tokens in its state folder: no delta sync, only the changes cross, the leftover view is released', async () => {
    const s = await site();
    const first = await protect(s, s.hv, dir);
    await write(s, 20, 1);
    await cut(s, first.sender, 'one');
    await first.sender.whenDrained(); // the cycle's tokens are acknowledged and saved
    const file = path.join(dir, 'change-tracking', 'g_1.json');
    assert.equal((await fs.stat(file)).mode & 0o777, 0o600, 'the token file is owner-only');
    await write(s, 40, 2);
    // Killed while a view of the group is on the platform: nothing is released on the way out.
    const view = await s.hv.changeTracking!.openView([s.vm.id], `${VIEW_NAME_PREFIX}g_1-leftover`);
    await first.appliance.kill();
    const changed = 40 * 4096 + (await write(s, 8, 3));
    const second = await protect(s, s.hv, dir);
    assert.ok(!(await s.hv.changeTracking!.listViews(VIEW_NAME_PREFIX)).some((v) => v.id === view.id), 'the leftover view was found by name and released when the group started');
    const cp = await cut(s, second.sender, 'two');
    assert.ok(!second.phases.includes('delta-sync') && !second.phases.includes('initial-sync'), `resumed from the tokens, no comparison (phases ${second.phases.join(' → ')})`);
    const sent = second.sender.currentStats().syncBytesSent;
    assert.ok(sent > 0 && sent <= changed, `only what changed since the acknowledged tokens crossed (${sent} bytes for ${changed} written)`);
    const h = await hashes(s, cp.id);
    assert.deepEqual(h.image, h.guest);
    await second.sender.whenDrained(); // the cycle released its view on the way out
    assert.deepEqual(await s.hv.changeTracking!.listViews(VIEW_NAME_PREFIX), []);
    await second.appliance.stop();
    await s.receiver.stop();
  });

  it('without a state folder a restarted appliance compares by delta sync', async () => {
    const s = await site();
    const first = await protect(s);
    await write(s, 20, 1);
    await cut(s, first.sender, 'one');
    await first.appliance.stop();
    await write(s, 8, 2);
    const second = await protect(s);
    const cp = await cut(s, second.sender, 'two');
    assert.ok(second.phases.includes('delta-sync'), `a delta sync (phases ${second.phases.join(' → ')})`);
    await verifyAndStop(s, cp.id, second.appliance);
  });

  it('refuses, changing nothing: an interval below the platform\'s minimum (naming it), a splitter on a platform without one, a group mixing modes', async () => {
    const s = await site();
    const slow = new FakeHypervisor(s.dc, s.hv.siteId, { capture: 'change-tracking', minIntervalMs: 300_000 });
    const appliance = new ProtectedAppliance({ siteId: 'protected', hypervisor: slow, network: s.network.endpoint('protected'), clock: s.clock });
    await assert.rejects(appliance.protect({ groupId: 'g', settings, vmIds: [s.vm.id], recoveryAddress: s.address }),
      (e: unknown) => e instanceof ValidationError && e.field === 'checkpointIntervalMs' && /300000 ms minimum/.test(e.message));
    await assert.rejects(appliance.protect({ groupId: 'g', settings, vmIds: [s.vm.id], recoveryAddress: s.address, capture: 'splitter' }), CaptureModeError);
    assert.equal(appliance.group('g'), undefined);
    assert.deepEqual(await slow.changeTracking!.listViews(''), []);
    assert.equal(slow.changeTracking!.stats().viewsOpened, 0);

    const host2 = s.dc.addHost(s.hv.siteId, 'h2');
    const other = s.dc.createVm({ name: 'web', hostId: host2.id, volumes: [{ sizeBytes: MiB }] });
    const splitter = new ProtectedAppliance({ siteId: 'protected', hypervisor: new FakeHypervisor(s.dc, s.hv.siteId, { capture: 'splitter' }), network: s.network.endpoint('protected'), clock: s.clock });
    const ct = await protect(s);
    const sp = await splitter.protect({ groupId: 'g/1', settings, vmIds: [other.id], recoveryAddress: s.address });
    assert.throws(() => new CheckpointScheduler({ clock: s.clock, senders: [ct.sender, sp], intervalMs: 1000 }), (e: unknown) => e instanceof CaptureModeError && /mixes capture modes/.test(e.message));
    await splitter.stop();
    await ct.appliance.stop();
    await s.receiver.stop();
  });

  it('a region list past the end of a volume: typed error and event, nothing listed, then a delta sync of that volume converges', async () => {
    const s = await site();
    const real = s.hv.changeTracking!;
    let lie = false;
    // The platform's own change tracking, but its next list reaches past the end of the volume.
    const lying: ChangeTracking = Object.assign(Object.create(real) as ChangeTracking, {
      openView: async (vmIds: readonly string[], name: string): Promise<ChangeView> => {
        const view = await real.openView(vmIds, name);
        return {
          ...view, changedSince: async (volumeId: string, token: string) => {
            const regions = await view.changedSince(volumeId, token);
            if (!lie) return regions;
            lie = false;
            return [...regions, { volumeId, offset: 2 * MiB - 4096, length: 8192 }];
          },
        };
      },
    });
    const platform: HypervisorAdapter = Object.assign(Object.create(s.hv) as HypervisorAdapter, { changeTracking: lying });
    const p = await protect(s, platform);
    await write(s, 10, 1);
    await cut(s, p.sender, 'before');
    await write(s, 10, 2);
    lie = true;
    const scheduler = new CheckpointScheduler({ clock: s.clock, senders: [p.sender], intervalMs: 1000, newId: () => 'refused' });
    scheduler.cut('tagged', 'refused');
    await until(s, 'the refused list to be reported', () => p.notices.some((n) => n.kind === 'region-list-refused'));
    assert.ok(!s.receiver.journal('g/1', s.vm.id)!.checkpoints().some((c) => c.id === 'refused'), 'nothing of that cycle is listed');
    assert.match(p.notices.find((n) => n.kind === 'region-list-refused')!.message, /past the end/);
    const cp = await cut(s, p.sender, 'after');
    assert.ok(p.phases.includes('volume-delta-sync'), `the volume is compared instead (phases ${p.phases.join(' → ')})`);
    await verifyAndStop(s, cp.id, p.appliance);
  });

  it('cycles share the appliance\'s buffer by priority: on a slow link the low-priority group falls back first, and both converge', async () => {
    const s = await site();
    s.network.setProfile({ bytesPerSecond: 512 * 1024 });
    const host = s.dc.inventory(s.hv.siteId).hosts[0];
    const low = s.dc.createVm({ name: 'low', hostId: host.id, volumes: [{ sizeBytes: 4 * MiB }] });
    const appliance = new ProtectedAppliance({ siteId: 'protected', hypervisor: s.hv, network: s.network.endpoint('protected'), clock: s.clock, bufferBytes: 2 * MiB });
    const high = await appliance.protect({ groupId: 'high', settings: parseProtectionGroupSettings({ name: 'high', priority: 'High', checkpointIntervalMs: 1000 }), vmIds: [s.vm.id], recoveryAddress: s.address });
    const lowSender = await appliance.protect({ groupId: 'low', settings: parseProtectionGroupSettings({ name: 'low', priority: 'Low', checkpointIntervalMs: 1000 }), vmIds: [low.id], recoveryAddress: s.address });
    const triggers = new Map<string, Set<string>>([['high', new Set()], ['low', new Set()]]);
    high.on('state', (st) => { if (st.trigger) triggers.get('high')!.add(st.trigger); });
    lowSender.on('state', (st) => { if (st.trigger) triggers.get('low')!.add(st.trigger); });
    await until(s, 'both groups to stream', () => high.canCheckpoint && lowSender.canCheckpoint);
    for (let i = 0; i < 48; i++) {
      await s.dc.guestWrite(s.vm.id, s.vm.volumes[0].id, i * 40 * 1024 - ((i * 40 * 1024) % 4096), Buffer.alloc(32 * 1024, i + 1));
      await s.dc.guestWrite(low.id, low.volumes[0].id, i * 80 * 1024 - ((i * 80 * 1024) % 4096), Buffer.alloc(64 * 1024, i + 2));
    }
    new CheckpointScheduler({ clock: s.clock, senders: [high], intervalMs: 1000, newId: () => 'h' }).cut('tagged');
    new CheckpointScheduler({ clock: s.clock, senders: [lowSender], intervalMs: 1000, newId: () => 'l' }).cut('tagged');
    await until(s, 'both to converge', () => high.canCheckpoint && lowSender.canCheckpoint && high.bufferedBytes === 0 && lowSender.bufferedBytes === 0
      && (s.receiver.journal('high', s.vm.id)?.checkpoints().length ?? 0) > 0);
    assert.ok([...triggers.get('low')!].some((t) => t.endsWith('Congestion')), `the low-priority group fell back (${[...triggers.get('low')!].join(', ')})`);
    assert.ok(![...triggers.get('high')!].some((t) => t.endsWith('Congestion')), `the high-priority group did not (${[...triggers.get('high')!].join(', ')})`);
    await appliance.stop();
    await s.receiver.stop();
  });
});
