import assert from 'node:assert/strict';
import {
  AlignmentError, UnknownVmError, UnknownVolumeError, ValidationError, VirtualClock, VolumeRangeError, seededRandom,
} from '@opencdp/core';
import type { GuestWrite } from '@opencdp/core';
import { FakeDataCenter } from './fake-data-center.js';
import { HostDownError, VmPoweredOffError } from './fake-errors.js';
import { CHUNK_SIZE } from './sparse-volume.js';
import { sha256, volumeHash, watch } from './spec-helpers.js';

const MiB = 1024 * 1024;

function setup(seed = 1): { clock: VirtualClock; dc: FakeDataCenter; siteId: string; hosts: string[] } {
  const clock = new VirtualClock();
  const dc = new FakeDataCenter({ clock, seed });
  const site = dc.addSite('prod');
  const hosts = [dc.addHost(site.id, 'h1').id, dc.addHost(site.id, 'h2').id];
  return { clock, dc, siteId: site.id, hosts };
}

describe('FakeDataCenter', () => {
  it('files VMs in folders that only the sites having some report', () => {
    const { dc, siteId, hosts } = setup();
    const web = dc.createVm({ name: 'web', hostId: hosts[0], volumes: [{ sizeBytes: MiB }] });
    assert.equal(dc.inventory(siteId).folders, undefined);
    const folder = dc.addFolder(siteId, 'production-vms', [web.id]);
    assert.deepEqual(dc.inventory(siteId).folders, [{ id: folder.id, name: 'production-vms', vmIds: [web.id] }]);
    const other = dc.addSite('dr');
    assert.equal(dc.inventory(other.id).folders, undefined);
    assert.throws(() => dc.addFolder(other.id, 'x', [web.id]), /not at site/);
  });

  it('gives deterministic ids and a production plus an isolated test network per site', () => {
    const { dc, siteId, hosts } = setup();
    const vm = dc.createVm({ name: 'web', hostId: hosts[0], volumes: [{ sizeBytes: MiB }, { name: 'data', sizeBytes: 2 * MiB, sectorSize: 4096 }] });
    assert.equal(vm.id, 'vm-1');
    assert.deepEqual(vm.volumes.map((v) => [v.id, v.name, v.sizeBytes, v.sectorSize, v.vmId]),
      [['vol-1', 'disk-0', MiB, 512, 'vm-1'], ['vol-2', 'data', 2 * MiB, 4096, 'vm-1']]);
    assert.equal(vm.powerState, 'on');
    const inv = dc.inventory(siteId);
    assert.deepEqual(inv.networks, [
      { id: 'net-1', name: 'prod-production', isolated: false },
      { id: 'net-2', name: 'prod-test', isolated: true },
    ]);
    assert.deepEqual(inv.hosts.map((h) => h.id), ['host-1', 'host-2']);
    assert.deepEqual(vm.nics.map((n) => n.networkId), ['net-1']);
    assert.match(vm.nics[0].mac, /^02:00(:[0-9a-f]{2}){4}$/);

    // Same seed, same MACs; another seed, other MACs.
    const again = setup(1).dc;
    assert.equal(again.createVm({ name: 'web', hostId: 'host-1', volumes: [{ sizeBytes: MiB }] }).nics[0].mac, vm.nics[0].mac);
    const other = setup(2).dc;
    assert.notEqual(other.createVm({ name: 'web', hostId: 'host-1', volumes: [{ sizeBytes: MiB }] }).nics[0].mac, vm.nics[0].mac);
  });

  it('prefixes every id when told, so two data centres never share a VM or volume id', () => {
    const a = new FakeDataCenter({ clock: new VirtualClock(0), idPrefix: 'site-a' });
    const b = new FakeDataCenter({ clock: new VirtualClock(0), idPrefix: 'site-b' });
    const vmOf = (dc: FakeDataCenter) => {
      const site = dc.addSite('s');
      return dc.createVm({ name: 'web', hostId: dc.addHost(site.id, 'h').id, volumes: [{ sizeBytes: 4096 }] });
    };
    const [va, vb] = [vmOf(a), vmOf(b)];
    assert.equal(va.id, 'site-a.vm-1');
    assert.equal(vb.volumes[0].id, 'site-b.vol-1');
    assert.notEqual(va.volumes[0].id, vb.volumes[0].id);
  });

  it('scopes the inventory to a site', () => {
    const { dc, hosts } = setup();
    const dr = dc.addSite('dr');
    const drHost = dc.addHost(dr.id, 'dr1');
    dc.createVm({ name: 'a', hostId: hosts[0], volumes: [{ sizeBytes: MiB }] });
    dc.createVm({ name: 'b', hostId: drHost.id, volumes: [{ sizeBytes: MiB }] });
    assert.deepEqual(dc.inventory(dr.id).vms.map((v) => v.name), ['b']);
    assert.deepEqual(dc.inventory(dr.id).networks.map((n) => n.name), ['dr-production', 'dr-test']);
    assert.deepEqual(dc.inventory().vms.map((v) => v.name), ['a', 'b']);
    assert.throws(() => dc.inventory('site-9'), ValidationError);
  });

  it('reads back exactly what was written (sha256 against an oracle), for 512 and 4096-byte sectors', async () => {
    const { dc, hosts } = setup();
    const size = 3 * MiB + 8192; // not a whole number of chunks: the last chunk is partial
    const vm = dc.createVm({ name: 'db', hostId: hosts[0], volumes: [{ sizeBytes: size }, { sizeBytes: size, sectorSize: 4096 }] });
    const random = seededRandom(42);
    const oracles = vm.volumes.map((v) => Buffer.alloc(v.sizeBytes));
    for (let i = 0; i < 400; i++) {
      const k = random.int(0, 1);
      const volume = vm.volumes[k];
      const sectors = volume.sizeBytes / volume.sectorSize;
      const first = random.int(0, sectors - 1);
      const count = random.int(1, Math.min(300, sectors - first));
      const data = random.bytes(count * volume.sectorSize);
      await dc.guestWrite(vm.id, volume.id, first * volume.sectorSize, data);
      data.copy(oracles[k], first * volume.sectorSize);
    }
    for (const [k, volume] of vm.volumes.entries()) {
      assert.equal(await volumeHash(dc, vm.id, volume.id), sha256(oracles[k]));
      // Unaligned reads across chunk boundaries too.
      for (let j = 0; j < 50; j++) {
        const offset = random.int(0, size - 1);
        const length = random.int(0, Math.min(200_000, size - offset));
        assert.equal(sha256(await dc.guestRead(vm.id, volume.id, offset, length)), sha256(oracles[k].subarray(offset, offset + length)));
      }
    }
  });

  it('keeps a 1 TiB volume sparse: only written chunks take memory', async () => {
    const { dc, siteId, hosts } = setup();
    const TiB = 2 ** 40;
    const vm = dc.createVm({ name: 'big', hostId: hosts[0], volumes: [{ sizeBytes: TiB }] });
    const before = dc.inventory(siteId).datastores[0].freeBytes;
    const tail = Buffer.alloc(4096, 0xab);
    await dc.guestWrite(vm.id, 'vol-1', TiB - 4096, tail);
    await dc.guestWrite(vm.id, 'vol-1', 0, Buffer.alloc(512, 1));
    assert.equal(before - dc.inventory(siteId).datastores[0].freeBytes, 2 * CHUNK_SIZE);
    assert.deepEqual(await dc.guestRead(vm.id, 'vol-1', TiB - 8192, 8192), Buffer.concat([Buffer.alloc(4096), tail]));
    assert.deepEqual(await dc.guestRead(vm.id, 'vol-1', TiB / 2, 16), Buffer.alloc(16));
  });

  it('refuses bad input with typed errors and changes nothing', async () => {
    const { dc, hosts } = setup();
    const vm = dc.createVm({ name: 'x', hostId: hosts[0], volumes: [{ sizeBytes: MiB }, { sizeBytes: MiB, sectorSize: 4096 }] });
    const other = dc.createVm({ name: 'y', hostId: hosts[0], volumes: [{ sizeBytes: MiB }] });
    await dc.guestWrite(vm.id, 'vol-1', 0, Buffer.alloc(4096, 7));
    const { generation } = dc.freezeVm(vm.id);
    const tap = dc.openTap(vm.id);
    const seen: GuestWrite[] = [];
    tap.start(async (w) => { seen.push(w); });
    const hashes = async (): Promise<string[]> => [await volumeHash(dc, vm.id, 'vol-1'), await volumeHash(dc, vm.id, 'vol-2')];
    const before = await hashes();

    const cases: [Promise<void>, new (...args: never[]) => Error][] = [
      [dc.guestWrite('vm-99', 'vol-1', 0, Buffer.alloc(512)), UnknownVmError],
      [dc.guestWrite(vm.id, 'vol-99', 0, Buffer.alloc(512)), UnknownVolumeError],
      [dc.guestWrite(vm.id, 'vol-3', 0, Buffer.alloc(512)), UnknownVolumeError], // another VM's volume
      [dc.guestWrite(vm.id, 'vol-1', MiB - 512, Buffer.alloc(1024)), VolumeRangeError],
      [dc.guestWrite(vm.id, 'vol-1', MiB, Buffer.alloc(512)), VolumeRangeError],
      [dc.guestWrite(vm.id, 'vol-1', -512, Buffer.alloc(512)), VolumeRangeError],
      [dc.guestWrite(vm.id, 'vol-1', 100, Buffer.alloc(512)), AlignmentError],
      [dc.guestWrite(vm.id, 'vol-1', 0, Buffer.alloc(100)), AlignmentError],
      [dc.guestWrite(vm.id, 'vol-1', 0, Buffer.alloc(0)), AlignmentError],
      [dc.guestWrite(vm.id, 'vol-2', 512, Buffer.alloc(4096)), AlignmentError], // 4 KiB sectors
      [dc.guestWrite(vm.id, 'vol-1', 0, 'text' as unknown as Buffer), ValidationError],
    ];
    for (const [promise, type] of cases) await assert.rejects(promise, type);
    await assert.rejects(dc.guestRead(vm.id, 'vol-1', MiB - 10, 11), VolumeRangeError);
    await assert.rejects(dc.guestRead('vm-99', 'vol-1', 0, 1), UnknownVmError);

    assert.deepEqual(await hashes(), before);
    assert.equal(tap.delivered, 0);
    assert.equal(seen.length, 0);
    for (const frozen of dc.freezeVm(vm.id).volumes.values()) assert.deepEqual(frozen.changedSince(generation), [], 'no refused write is tracked as a change');
    assert.equal(other.volumes[0].id, 'vol-3');

    // Refused creations allocate no ids.
    assert.throws(() => dc.createVm({ name: 'z', hostId: 'host-9', volumes: [{ sizeBytes: MiB }] }), ValidationError);
    assert.throws(() => dc.createVm({ name: 'z', hostId: hosts[0], volumes: [{ sizeBytes: 1000 }] }), ValidationError);
    assert.throws(() => dc.createVm({ name: 'z', hostId: hosts[0], volumes: [{ sizeBytes: MiB, sectorSize: 1000 }] }), ValidationError);
    assert.throws(() => dc.createVm({ name: 'z', hostId: hosts[0], volumes: [] }), ValidationError);
    assert.throws(() => dc.createVm({ name: 'z', hostId: hosts[0], volumes: [{ sizeBytes: MiB }], nics: [{ networkId: 'net-9' }] }), ValidationError);
    assert.throws(() => dc.createVm({ name: '', hostId: hosts[0], volumes: [{ sizeBytes: MiB }] }), ValidationError);
    assert.equal(dc.createVm({ name: 'z', hostId: hosts[0], volumes: [{ sizeBytes: MiB }] }).id, 'vm-3');
  });

  it('copies the guest buffer: reusing it after the call changes neither the volume nor the sink', async () => {
    const { dc, hosts } = setup();
    const vm = dc.createVm({ name: 'x', hostId: hosts[0], volumes: [{ sizeBytes: MiB }] });
    const tap = dc.openTap(vm.id);
    let sunk: Buffer | undefined;
    let release!: () => void;
    tap.start((w) => { sunk = w.data; return new Promise((r) => { release = r; }); });
    const data = Buffer.alloc(4096, 1);
    const write = dc.guestWrite(vm.id, 'vol-1', 0, data);
    data.fill(9);
    release();
    await write;
    assert.deepEqual(sunk, Buffer.alloc(4096, 1));
    assert.deepEqual(await dc.guestRead(vm.id, 'vol-1', 0, 4096), Buffer.alloc(4096, 1));
  });

  it('rejects guest writes to a powered-off VM', async () => {
    const { dc, hosts } = setup();
    const vm = dc.createVm({ name: 'x', hostId: hosts[0], volumes: [{ sizeBytes: MiB }] });
    dc.powerOff(vm.id);
    await assert.rejects(dc.guestWrite(vm.id, 'vol-1', 0, Buffer.alloc(512, 1)), VmPoweredOffError);
    assert.deepEqual(await dc.guestRead(vm.id, 'vol-1', 0, 512), Buffer.alloc(512));
    dc.powerOn(vm.id);
    await dc.guestWrite(vm.id, 'vol-1', 0, Buffer.alloc(512, 1));
    assert.deepEqual(await dc.guestRead(vm.id, 'vol-1', 0, 512), Buffer.alloc(512, 1));
  });

  describe('host restart', () => {
    it('closes taps with a reason, rejects writes while down, and brings VMs back after downMs', async () => {
      const { clock, dc, hosts } = setup();
      const a = dc.createVm({ name: 'a', hostId: hosts[0], volumes: [{ sizeBytes: MiB }] });
      const b = dc.createVm({ name: 'b', hostId: hosts[1], volumes: [{ sizeBytes: MiB }] });
      const tapA = dc.openTap(a.id);
      const tapB = dc.openTap(b.id);
      tapA.start(async () => {});
      tapB.start(async () => {});
      const reasons: (Error | undefined)[] = [];
      tapA.onClose((r) => reasons.push(r));

      const back = watch(dc.restartHost(hosts[0], 5000));
      assert.equal(dc.isHostUp(hosts[0]), false);
      assert.equal(tapA.closed, true);
      assert.ok(tapA.closeReason instanceof HostDownError);
      assert.equal(reasons.length, 1);
      assert.ok(reasons[0] instanceof HostDownError);
      assert.equal(tapB.closed, false, 'a VM on another host keeps its tap');
      assert.equal(dc.getVm(a.id).powerState, 'off');
      await assert.rejects(dc.guestWrite(a.id, 'vol-1', 0, Buffer.alloc(512, 1)), HostDownError);
      assert.throws(() => dc.openTap(a.id), HostDownError);
      await assert.rejects(dc.restartHost(hosts[0]), ValidationError);
      await dc.guestWrite(b.id, 'vol-2', 0, Buffer.alloc(512, 2));
      assert.equal(tapB.delivered, 1);

      await clock.advance(4999);
      assert.equal(back.state, 'pending');
      await assert.rejects(dc.guestWrite(a.id, 'vol-1', 0, Buffer.alloc(512, 1)), HostDownError);
      await clock.advance(1);
      assert.equal(back.state, 'resolved');
      assert.equal(dc.getVm(a.id).powerState, 'on');
      assert.deepEqual(await dc.guestRead(a.id, 'vol-1', 0, 512), Buffer.alloc(512), 'refused writes left nothing');

      // The old tap stays closed; a new one must be opened.
      await dc.guestWrite(a.id, 'vol-1', 0, Buffer.alloc(512, 3));
      assert.equal(tapA.delivered, 0);
      const reopened = dc.openTap(a.id);
      const seen: number[] = [];
      reopened.start(async (w) => { seen.push(w.data[0]); });
      await dc.guestWrite(a.id, 'vol-1', 512, Buffer.alloc(512, 4));
      assert.deepEqual(seen, [4]);
    });

    it('fails writes held by a quiesce when the host goes down, applying none of them', async () => {
      const { clock, dc, hosts } = setup();
      const vm = dc.createVm({ name: 'a', hostId: hosts[0], volumes: [{ sizeBytes: MiB }] });
      const release = dc.holdWrites(vm.id);
      const held = dc.guestWrite(vm.id, 'vol-1', 0, Buffer.alloc(512, 1));
      const refused = assert.rejects(held, HostDownError);
      const back = dc.restartHost(hosts[0], 100);
      await refused;
      assert.equal(dc.heldWrites(vm.id), 0);
      release();
      await clock.advance(100);
      await back;
      assert.deepEqual(await dc.guestRead(vm.id, 'vol-1', 0, 512), Buffer.alloc(512));
      await assert.rejects(dc.restartHost('host-9'), ValidationError);
    });

    it('keeps a VM that was off before the restart off afterwards, and bringHostUp ends it early', async () => {
      const { clock, dc, hosts } = setup();
      const a = dc.createVm({ name: 'a', hostId: hosts[0], volumes: [{ sizeBytes: MiB }] });
      const off = dc.createVm({ name: 'off', hostId: hosts[0], volumes: [{ sizeBytes: MiB }], powerState: 'off' });
      const back = watch(dc.restartHost(hosts[0], 60_000));
      dc.bringHostUp(hosts[0]);
      await clock.advance(0);
      assert.equal(back.state, 'resolved');
      assert.equal(dc.getVm(a.id).powerState, 'on');
      assert.equal(dc.getVm(off.id).powerState, 'off');
      assert.equal(clock.pending, 0, 'the restart timer was cancelled');
    });
  });
});
