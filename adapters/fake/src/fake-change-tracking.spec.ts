import assert from 'node:assert/strict';
import { ChangeTokenLostError, ChangeViewError, UnknownVmError, ValidationError, VIEW_NAME_PREFIX, VirtualClock, VolumeRangeError, seededRandom } from '@opencdp/core';
import type { ChangedRegion, ChangeView } from '@opencdp/core';
import { FakeDataCenter } from './fake-data-center.js';
import { FakeHypervisor, type FakePlatformOptions } from './fake-hypervisor.js';
import { TRACK_BLOCK } from './sparse-volume.js';

const MiB = 1024 * 1024;

function setup(options: FakePlatformOptions = { capture: 'change-tracking' }): { dc: FakeDataCenter; hv: FakeHypervisor; vmId: string; clock: VirtualClock } {
  const clock = new VirtualClock();
  const dc = new FakeDataCenter({ clock });
  const site = dc.addSite('prod');
  dc.addHost(site.id, 'p1');
  const vm = dc.createVm({ name: 'app', hostId: 'host-1', volumes: [{ sizeBytes: 2 * MiB }, { sizeBytes: MiB, sectorSize: 4096 }] });
  return { dc, hv: new FakeHypervisor(dc, site.id, options), vmId: vm.id, clock };
}

function blocksOf(regions: ChangedRegion[]): string[] {
  const out: string[] = [];
  for (const r of regions) for (let b = r.offset / TRACK_BLOCK; b * TRACK_BLOCK < r.offset + r.length; b++) out.push(`${r.volumeId}:${b}`);
  return out.sort();
}

describe('FakeChangeTracking (the fake platform\'s change-tracking capture mode)', () => {
  it('builds the platform with the splitter, change tracking or both', () => {
    assert.ok(setup({ capture: 'change-tracking' }).hv.changeTracking && !setup({ capture: 'change-tracking' }).hv.openTap);
    assert.ok(!setup({ capture: 'splitter' }).hv.changeTracking && setup({ capture: 'splitter' }).hv.openTap);
    const both = setup({}).hv;
    assert.ok(both.changeTracking && both.openTap);
    assert.equal(both.changeTracking.granularityBytes, TRACK_BLOCK);
    assert.throws(() => setup({ capture: 'psychic' as 'both' }), ValidationError);
  });

  it('lists every 4 KiB block written between a token\'s view and a later view, no more, no less', async () => {
    const { dc, hv, vmId } = setup();
    const ct = hv.changeTracking!;
    await ct.enable(vmId);
    const vm = await hv.getVm(vmId);
    const random = seededRandom(11);
    // Per token: the blocks written since its view (the exact expected answer, the fake being exact).
    const tokens: { token: Map<string, string>; blocks: Set<string> }[] = [];
    for (let round = 0; round < 25; round++) {
      const view = await ct.openView([vmId], `${VIEW_NAME_PREFIX}t-${round}`);
      for (const t of [tokens[0], tokens[Math.floor(tokens.length / 2)], tokens.at(-1)].filter((x) => x !== undefined)) {
        const listed: ChangedRegion[] = [];
        for (const v of vm.volumes) listed.push(...await view.changedSince(v.id, t.token.get(v.id)!));
        assert.deepEqual(blocksOf(listed), [...t.blocks].sort(), `round ${round}`);
      }
      tokens.push({ token: new Map(vm.volumes.map((v) => [v.id, view.token(v.id)])), blocks: new Set() });
      await ct.releaseView(view.id);
      for (let i = random.int(0, 20); i > 0; i--) {
        const volume = random.pick(vm.volumes);
        const sectors = random.int(1, (3 * TRACK_BLOCK) / volume.sectorSize + 2);
        const first = random.int(0, volume.sizeBytes / volume.sectorSize - sectors);
        await dc.guestWrite(vmId, volume.id, first * volume.sectorSize, random.bytes(sectors * volume.sectorSize));
        const from = Math.floor((first * volume.sectorSize) / TRACK_BLOCK);
        const to = Math.ceil(((first + sectors) * volume.sectorSize) / TRACK_BLOCK);
        for (const t of tokens) for (let b = from; b < to; b++) t.blocks.add(`${volume.id}:${b}`);
      }
    }
  });

  it('a view is frozen: later guest writes never show through it; allocated lists the written chunks', async () => {
    const { dc, hv, vmId } = setup();
    const ct = hv.changeTracking!;
    await ct.enable(vmId);
    await dc.guestWrite(vmId, 'vol-1', 70 * 1024, Buffer.alloc(4096, 1));
    const view = await ct.openView([vmId], `${VIEW_NAME_PREFIX}frozen`);
    await dc.guestWrite(vmId, 'vol-1', 70 * 1024, Buffer.alloc(4096, 2));
    await dc.guestWrite(vmId, 'vol-1', MiB, Buffer.alloc(4096, 3));
    assert.deepEqual(await view.read('vol-1', 70 * 1024, 4096), Buffer.alloc(4096, 1));
    assert.deepEqual(await view.read('vol-1', MiB, 4096), Buffer.alloc(4096));
    assert.deepEqual(await dc.guestRead(vmId, 'vol-1', 70 * 1024, 4096), Buffer.alloc(4096, 2));
    assert.deepEqual(await view.allocated('vol-1'), [{ volumeId: 'vol-1', offset: 64 * 1024, length: 64 * 1024 }]);
    assert.deepEqual(await view.allocated('vol-2'), []);
    await assert.rejects(view.read('vol-1', 2 * MiB - 512, 1024), VolumeRangeError);
    assert.equal(view.takenAt, dc.clock.now());
    assert.equal(hv.changeTracking!.stats().bytesRead, 2 * 4096);
  });

  it('one view spans several VMs only where the platform says so', async () => {
    const { dc, hv, vmId } = setup();
    const other = dc.createVm({ name: 'db', hostId: 'host-1', volumes: [{ sizeBytes: MiB }] });
    for (const id of [vmId, other.id]) await hv.changeTracking!.enable(id);
    const view = await hv.changeTracking!.openView([vmId, other.id], `${VIEW_NAME_PREFIX}both`);
    assert.deepEqual(view.vmIds, [vmId, other.id]);
    const single = new FakeHypervisor(dc, hv.siteId, { capture: 'change-tracking', multiVmViews: false });
    await assert.rejects(single.changeTracking!.openView([vmId, other.id], `${VIEW_NAME_PREFIX}x`), ValidationError);
    await assert.rejects(hv.changeTracking!.openView(['vm-99'], `${VIEW_NAME_PREFIX}x`), UnknownVmError);
    const untracked = dc.createVm({ name: 'cold', hostId: 'host-1', volumes: [{ sizeBytes: MiB }] });
    await assert.rejects(hv.changeTracking!.openView([untracked.id], `${VIEW_NAME_PREFIX}x`), ChangeViewError);
    assert.deepEqual((await hv.changeTracking!.listViews(VIEW_NAME_PREFIX)).map((v) => v.name), [`${VIEW_NAME_PREFIX}both`]);
  });

  it('tokens: a reset, a retired token, disable and a foreign token fail with ChangeTokenLostError and their reason', async () => {
    const { dc, hv, vmId } = setup();
    const ct = hv.changeTracking!;
    await ct.enable(vmId);
    const open = (n: string): Promise<ChangeView> => ct.openView([vmId], `${VIEW_NAME_PREFIX}${n}`);
    const first = await open('1');
    const t1 = first.token('vol-1');
    const later = await open('2');
    const reason = async (token: string, volumeId = 'vol-1'): Promise<string> => {
      try {
        await later.changedSince(volumeId, token);
        return 'none';
      } catch (e) {
        assert.ok(e instanceof ChangeTokenLostError, String(e));
        return e.reason;
      }
    };
    assert.equal(await reason(t1), 'none');
    assert.equal(await reason(t1, 'vol-2'), 'unknown');
    assert.equal(await reason('nonsense'), 'unknown');
    assert.equal(await reason(later.token('vol-1')), 'unknown', 'a token no older than the view');
    await ct.retireToken(vmId, 'vol-1', t1);
    assert.equal(await reason(t1), 'expired');
    const t2 = later.token('vol-1');
    const third = await open('3');
    assert.deepEqual(await third.changedSince('vol-1', t2), []);
    ct.resetTokens(vmId);
    await assert.rejects(third.changedSince('vol-1', t2), (e: unknown) => e instanceof ChangeTokenLostError && e.reason === 'reset');
    const fourth = await open('4');
    await ct.disable(vmId);
    await assert.rejects(fourth.changedSince('vol-1', fourth.token('vol-1').replace(/:\d+:/, ':0:')), ChangeTokenLostError);
    await assert.rejects(open('5'), ChangeViewError, 'no view of an untracked VM');
    await dc.guestWrite(vmId, 'vol-1', 0, Buffer.alloc(512, 1)); // the platform keeps running
  });

  it('faults: a failing open leaves nothing; a failing release keeps the view listed; lost views fail reads and vanish from the list', async () => {
    const { hv, vmId } = setup();
    const ct = hv.changeTracking!;
    await ct.enable(vmId);
    ct.failOpens(true);
    await assert.rejects(ct.openView([vmId], `${VIEW_NAME_PREFIX}a`), (e: unknown) => e instanceof ChangeViewError && e.step === 'open');
    assert.deepEqual(await ct.listViews(''), []);
    ct.failOpens(false);
    const a = await ct.openView([vmId], `${VIEW_NAME_PREFIX}a`);
    ct.failReleases(true);
    await assert.rejects(ct.releaseView(a.id), (e: unknown) => e instanceof ChangeViewError && e.step === 'release');
    assert.deepEqual((await ct.listViews(VIEW_NAME_PREFIX)).map((v) => v.id), [a.id]);
    ct.failReleases(false);
    await ct.releaseView(a.id);
    await ct.releaseView(a.id); // a no-op
    const b = await ct.openView([vmId], `${VIEW_NAME_PREFIX}b`);
    ct.loseViews();
    await assert.rejects(b.read('vol-1', 0, 512), (e: unknown) => e instanceof ChangeViewError && e.step === 'read');
    await assert.rejects(b.changedSince('vol-1', 'x'), ChangeViewError);
    assert.deepEqual(await ct.listViews(''), []);
    assert.deepEqual(ct.stats(), { viewsOpened: 2, viewsReleased: 1, openViews: 0, bytesRead: 0 });
  });
});
