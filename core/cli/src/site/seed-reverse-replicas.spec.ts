// The original site's half of reverse protection, over the control link: `seedReverseReplicas` copies the
// original disks into the replicas the reverse journals will open (locally), reports progress, refuses a
// group whose journals exist, checks the disk pairs before writing anything, and leaves nothing
// half-seeded behind when a read fails.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  ApplianceService, ConflictError, Journal, MemoryStorage, RecoveryAppliance, RemoteApplianceControl, serveControl, SystemClock, ValidationError,
  type ApplianceControl, type ControlServer, type SeedReverseReplicasRequest, type VmInfo,
} from '@opencdp/core';
import { FakeDataCenter, FakeHypervisor, FakeNetwork } from '@opencdp/adapter-fake';

const MiB = 1024 * 1024;
const TOKEN = 'control-token-for-tests-0123456789';

describe('seedReverseReplicas (the original site seeds the reverse journals)', () => {
  const clock = new SystemClock();
  let dc: FakeDataCenter;
  let hypervisor: FakeHypervisor;
  let storage: MemoryStorage;
  let service: ApplianceService;
  let vm: VmInfo;
  const servers: ControlServer[] = [];

  /** The original VM: two volumes, random data except a zero hole in the first MiB of the first one. */
  beforeEach(async () => {
    dc = new FakeDataCenter({ clock });
    const site = dc.addSite('site-a');
    const host = dc.addHost(site.id, 'host-1');
    vm = dc.createVm({ name: 'db', hostId: host.id, volumes: [{ name: 'd0', sizeBytes: 3 * MiB, sectorSize: 512 }, { name: 'd1', sizeBytes: 1 * MiB, sectorSize: 4096 }] });
    await dc.guestWrite(vm.id, vm.volumes[0].id, 1 * MiB, randomBytes(2 * MiB));
    await dc.guestWrite(vm.id, vm.volumes[1].id, 0, randomBytes(1 * MiB));
    hypervisor = new FakeHypervisor(dc, site.id);
    storage = new MemoryStorage();
    const recoveryAppliance = new RecoveryAppliance({ siteId: 'site-a', storage, clock, network: new FakeNetwork(clock).endpoint('site-a'), journalRoot: 'journals' });
    service = new ApplianceService({ siteId: 'site-a', clock, hypervisor, recoveryAppliance, recoveryStorage: { storage, journalRoot: 'journals' } });
  });
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
    dc.dispose();
  });

  async function remote(control: ApplianceControl = service): Promise<RemoteApplianceControl> {
    const server = await serveControl(control, { host: '127.0.0.1', port: 0 }, { token: TOKEN });
    servers.push(server);
    return new RemoteApplianceControl(control.siteId, server.url, TOKEN);
  }

  const request = (groupId = 'g-reverse'): SeedReverseReplicasRequest => ({
    groupId, originalGroupId: 'g',
    vms: [{ sourceVmId: vm.id, vmId: 'vm-recovered', volumes: vm.volumes.map((v, i) => ({ sourceVolumeId: v.id, volumeId: `rvol-${i}`, sizeBytes: v.sizeBytes })) }],
  });

  it('copies the original disks into the replicas a journal opened afterwards reads, with progress', async () => {
    const control = await remote();
    const seen: number[] = [];
    const result = await control.seedReverseReplicas(request(), (p) => seen.push(p));
    assert.equal(result.seededBytes, 3 * MiB, 'the all-zero first MiB was skipped');
    assert.equal(result.settings, undefined, 'this appliance never protected group g');
    assert.equal(seen[0], 0);
    assert.equal(seen.at(-1), 100);
    assert.ok(seen.every((p, i) => i === 0 || p > seen[i - 1]), `progress only goes up: ${seen.join(',')}`);
    const journal = await Journal.open({
      storage, clock, path: 'journals/g-reverse/vm-recovered', vmId: 'vm-recovered',
      volumes: vm.volumes.map((v, i) => ({ id: `rvol-${i}`, sizeBytes: v.sizeBytes, sectorSize: v.sectorSize })),
      historyMs: 3_600_000, hardLimitBytes: 64 * MiB, warningBytes: 32 * MiB,
    });
    try {
      for (const [i, v] of vm.volumes.entries()) {
        const original = await hypervisor.readVolume(vm.id, v.id, 0, v.sizeBytes);
        assert.ok((await journal.readAt(`rvol-${i}`, 0, v.sizeBytes, 0)).equals(original), `replica ${i} holds the original disk`);
      }
    } finally {
      await journal.close();
    }
  });

  it('refuses a group with a journal, and disk pairs that do not match, before writing anything', async () => {
    const control = await remote();
    await storage.replace('journals/g-old/vm-recovered/journal.json', Buffer.from('{}'));
    await assert.rejects(control.seedReverseReplicas(request('g-old')), ConflictError);
    const wrongSize = request();
    wrongSize.vms[0].volumes[1].sizeBytes = 2 * MiB;
    await assert.rejects(control.seedReverseReplicas(wrongSize), (e: unknown) => e instanceof ValidationError && /holds 1048576 bytes/.test(e.message));
    const unknown = request();
    unknown.vms[0].volumes[0].sourceVolumeId = 'no-such-volume';
    await assert.rejects(control.seedReverseReplicas(unknown), ValidationError);
    await assert.rejects(control.seedReverseReplicas({ groupId: '', vms: [] }), (e: unknown) => e instanceof ValidationError && e.field === 'groupId');
    assert.deepEqual(await storage.list('journals/g-reverse/'), []);
    assert.deepEqual(await storage.list('journals/g-old/'), ['journals/g-old/vm-recovered/journal.json']);
  });

  it('removes what it seeded when a read of the original fails', async () => {
    const control = await remote();
    const read = hypervisor.readVolume.bind(hypervisor);
    hypervisor.readVolume = async (vmId, volumeId, offset, length) => {
      if (volumeId === vm.volumes[1].id) throw new Error('disk read failed');
      return read(vmId, volumeId, offset, length);
    };
    await assert.rejects(control.seedReverseReplicas(request()), /disk read failed/);
    assert.deepEqual(await storage.list('journals/g-reverse/'), [], 'no half-seeded replica is left');
  });

  it('is unsupported without the recovery role, and on an appliance that does not offer it', async () => {
    const bare = new ApplianceService({ siteId: 'site-x', clock, hypervisor });
    await assert.rejects((await remote(bare)).seedReverseReplicas(request()), (e: unknown) => (e as { code?: string }).code === 'UNSUPPORTED');
    const without: ApplianceControl = { ...Object.fromEntries(['inventory', 'groupFacts'].map((m) => [m, async () => undefined])), siteId: 'site-y' } as unknown as ApplianceControl;
    await assert.rejects((await remote(without)).seedReverseReplicas(request()), (e: unknown) => (e as { code?: string }).code === 'UNSUPPORTED' && /does not offer 'seedReverseReplicas'/.test((e as Error).message));
  });
});
