// Recovery onto a platform that cannot host the source is refused before anything is made: the fake
// recovery site is narrowed through its limits (a small maximum disk, 4096-byte sectors only, UEFI only)
// and every refusal leaves no VM, no report, no claim on the group and the journal as it was; a fitting
// recovery records the cross-platform translation (controller, drivers, firmware, network mapping).
import assert from 'node:assert/strict';
import {
  Journal, MemoryStorage, RecoveryOrchestrator, StaticGroupDirectory, TargetPlatformMismatchError, UnknownTargetNetworkError,
  UnsupportedFirmwareError, UnsupportedSectorSizeError, VirtualClock, VolumeTooLargeError,
  type PlatformLimits, type ProtectedSiteControl, type RecoveryGroupDefinition, type RecoveryPlan,
} from '@opencdp/core';
import { FakeDataCenter } from './fake-data-center.js';
import { FAKE_LIMITS, FakeHypervisor } from './fake-hypervisor.js';
import { sha256 } from './spec-helpers.js';

const MiB = 1024 * 1024;

interface Rig {
  dc: FakeDataCenter;
  siteId: string;
  orchestrator: RecoveryOrchestrator;
  directory: StaticGroupDirectory;
  journals: Map<string, Journal>;
  calls: string[];
  group: (plan: RecoveryPlan) => RecoveryGroupDefinition;
}

/** Two protected VMs: 'small' (1 MiB, 512-byte sectors) and 'big' (4 MiB, 512) — journals with one checkpoint. */
async function rig(limits: PlatformLimits): Promise<Rig> {
  const clock = new VirtualClock();
  const dc = new FakeDataCenter({ clock, seed: 7 });
  const site = dc.addSite('recovery');
  dc.addHost(site.id, 'recovery-host');
  const storage = new MemoryStorage();
  const journals = new Map<string, Journal>();
  for (const [vmId, size] of [['small', MiB], ['big', 4 * MiB]] as const) {
    const journal = await Journal.open({
      storage, clock, path: `journals/g1/${vmId}`, vmId, volumes: [{ id: `${vmId}-vol`, sizeBytes: size, sectorSize: 512 }],
      historyMs: 3_600_000, hardLimitBytes: 64 * MiB, warningBytes: 48 * MiB,
    });
    await journal.append({ seq: 1, volumeId: `${vmId}-vol`, offset: 4096, data: Buffer.alloc(8192, vmId.length) });
    await journal.addCheckpoint({ id: 'cp-1', groupId: 'g1', seq: 1, timestamp: clock.now(), kind: 'auto' });
    journals.set(vmId, journal);
  }
  const group = (plan: RecoveryPlan): RecoveryGroupDefinition => ({
    groupId: 'g1', name: 'group one', plan,
    vms: ['small', 'big'].map((id) => ({ id, name: id, nics: [{ networkId: `vsphere-pg-${id}`, mac: '00:50:56:00:00:01' }], hardware: { platform: 'vsphere', firmware: 'bios', controller: 'pvscsi', networkKind: 'portgroup' } })),
  });
  const directory = new StaticGroupDirectory([group({})]);
  const calls: string[] = [];
  const protectedSite: ProtectedSiteControl = {
    shutdownVms: async (_g, ids, policy) => { calls.push(`shutdown:${policy}:${ids.join(',')}`); },
    finalCheckpoint: async () => { throw new Error('not in this test'); },
    stopProtection: async () => { calls.push('stop'); },
    resumeProtection: async () => { calls.push('resume'); },
    powerOnVms: async (_g, ids) => { calls.push(`power-on:${ids.join(',')}`); },
  };
  let ids = 0;
  const orchestrator = new RecoveryOrchestrator({
    clock, hypervisor: new FakeHypervisor(dc, site.id, { limits }), journals: { journal: (g, v) => (g === 'g1' ? journals.get(v) : undefined) },
    groups: directory, protectedSite, storage, newId: () => `op-${++ids}`,
  });
  return { dc, siteId: site.id, orchestrator, directory, journals, calls, group };
}

const failover = { groupId: 'g1', shutdownPolicy: 'shutdown', timeToWaitBeforeShutdownSec: 0, commitPolicy: 'none', commitPolicyTimeoutSec: 0, reverseProtection: false } as const;

/** Nothing was made or changed: no VM at the recovery site, no report, no operation, the protected site untouched, the journals as they were. */
async function assertNothingMade(r: Rig, label: string): Promise<void> {
  assert.deepEqual(r.dc.inventory(r.siteId).vms, [], `${label}: no VM was created`);
  assert.deepEqual(await r.orchestrator.reports('g1'), [], `${label}: no report (the operation never started)`);
  assert.equal(await r.orchestrator.active('g1'), undefined, `${label}: the group is not claimed`);
  assert.deepEqual(r.calls, [], `${label}: the protected site was not asked to shut anything down`);
  for (const [vmId, j] of r.journals) assert.deepEqual(j.checkpoints().map((c) => c.id), ['cp-1'], `${label}: journal of ${vmId} unchanged`);
}

describe('recovery onto a platform that cannot host the source (fake recovery site with narrowed limits)', () => {
  it('refuses a volume larger than the target allows, with a typed error naming the volume, and makes nothing', async () => {
    const r = await rig({ ...FAKE_LIMITS, maxVolumeBytes: 2 * MiB });
    const err = await r.orchestrator.failover(failover).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof VolumeTooLargeError, `VolumeTooLargeError, got ${String(err)}`);
    assert.equal(err.code, 'VOLUME_TOO_LARGE');
    assert.equal(err.volumeId, 'big-vol');
    assert.equal(err.maxBytes, 2 * MiB);
    assert.match(err.message, /at most 2097152 bytes/);
    await assertNothingMade(r, 'volume too large');
    await assert.rejects(r.orchestrator.startFailoverTest({ groupId: 'g1' }), VolumeTooLargeError);
    await assert.rejects(r.orchestrator.clone({ groupId: 'g1' }), VolumeTooLargeError);
    await assertNothingMade(r, 'test and clone too');
    // The VM that fits still recovers: the refusal held nothing.
    const test = await r.orchestrator.startFailoverTest({ groupId: 'g1', vmIds: ['small'] });
    assert.equal(test.vms.length, 1);
    const vm = r.dc.getVm(test.vms[0].recoveredVmId);
    assert.equal(sha256(await r.dc.guestRead(vm.id, vm.volumes[0].id, 4096, 8192)), sha256(Buffer.alloc(8192, 'small'.length)));
  });

  it('refuses a sector size the target cannot present (512-byte volumes on a 4096-only target) and makes nothing', async () => {
    const r = await rig({ ...FAKE_LIMITS, sectorSizes: [4096] });
    const err = await r.orchestrator.failover(failover).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof UnsupportedSectorSizeError, `UnsupportedSectorSizeError, got ${String(err)}`);
    assert.equal(err.code, 'SECTOR_SIZE_UNSUPPORTED');
    assert.equal(err.sectorSize, 512);
    assert.deepEqual(err.supported, [4096]);
    await assertNothingMade(r, 'sector size');
  });

  it('refuses a network mapping naming a network the target lacks, naming the field, and makes nothing', async () => {
    const r = await rig(FAKE_LIMITS);
    const inv = r.dc.inventory(r.siteId);
    const test = inv.networks.find((n) => n.isolated)!.id;
    r.directory.set(r.group({ nics: [{ vmId: 'big', nicIndex: 0, liveNetworkId: 'vsphere-pg-big', testNetworkId: test }] }));
    const err = await r.orchestrator.failover(failover).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof UnknownTargetNetworkError, `UnknownTargetNetworkError, got ${String(err)}`);
    assert.equal(err.code, 'UNKNOWN_TARGET_NETWORK');
    assert.equal(err.networkId, 'vsphere-pg-big');
    assert.equal(err.field, 'nics.0.liveNetworkId');
    assert.match(err.message, /map the NIC to one of/);
    await assertNothingMade(r, 'unknown network');
  });

  it('refuses firmware the target lacks and a plan naming another platform, and makes nothing', async () => {
    const r = await rig({ ...FAKE_LIMITS, firmware: ['uefi'] });
    r.directory.set(r.group({ firmware: 'bios' }));
    await assert.rejects(r.orchestrator.failover(failover), (e: unknown) => e instanceof UnsupportedFirmwareError && e.code === 'FIRMWARE_UNSUPPORTED');
    r.directory.set(r.group({ targetPlatform: 'hyperv' }));
    await assert.rejects(r.orchestrator.startFailoverTest({ groupId: 'g1' }), (e: unknown) => e instanceof TargetPlatformMismatchError && /runs 'fake'/.test(e.message));
    await assertNothingMade(r, 'firmware / platform');
  });

  it('records the translation in the report: controller change and its drivers, firmware change, new MACs, network mapping', async () => {
    const r = await rig({ ...FAKE_LIMITS, firmware: ['uefi', 'bios'], controllers: ['hyperv-scsi'], networkKinds: ['virtual-switch'] });
    const inv = r.dc.inventory(r.siteId);
    const live = inv.networks.find((n) => !n.isolated)!.id;
    const test = inv.networks.find((n) => n.isolated)!.id;
    r.directory.set(r.group({ targetPlatform: 'fake', nics: [{ vmId: 'small', nicIndex: 0, liveNetworkId: live, testNetworkId: test, liveIpv4: '10.1.0.5' }] }));
    await r.orchestrator.failover(failover);
    const report = await r.orchestrator.commit({ groupId: 'g1' });
    const t = report.translation;
    assert.ok(t, 'the report carries the translation');
    assert.equal(t.targetPlatform, 'fake');
    assert.equal(t.crossPlatform, true);
    const small = t.vms.find((v) => v.vmId === 'small')!;
    assert.deepEqual(small.source, { platform: 'vsphere', firmware: 'bios', controller: 'pvscsi', networkKind: 'portgroup' });
    assert.deepEqual(small.target, { platform: 'fake', firmware: 'uefi', controller: 'hyperv-scsi', networkKind: 'virtual-switch' });
    assert.deepEqual(small.drivers.linux, ['hv_storvsc', 'hv_vmbus']);
    assert.ok(small.notes.some((n) => /firmware changes from bios to uefi/.test(n)), small.notes.join('; '));
    assert.ok(small.notes.some((n) => /MAC addresses are assigned by 'fake'/.test(n)));
    assert.deepEqual(small.nics, [{ nicIndex: 0, sourceNetworkId: 'vsphere-pg-small', targetNetworkId: live, mappedBy: 'plan', mac: 'assigned-by-target', ipv4: '10.1.0.5' }]);
    assert.equal(t.vms.find((v) => v.vmId === 'big')!.nics[0].mappedBy, 'default');
    assert.deepEqual(small.disks, [{ volumeId: 'small-vol', sizeBytes: MiB, sectorSize: 512, targetSectorSize: 512 }]);
    const step = report.steps.find((s) => s.name === 'check-platform-fit');
    assert.match(step?.detail ?? '', /cross-platform recovery onto 'fake'; Linux guests need hv_storvsc, hv_vmbus/);
  });

  it('hosts a 4096-byte-sector volume on a 512-only target as 512e and warns about partition tables', async () => {
    const r = await rig({ ...FAKE_LIMITS, sectorSizes: [512] });
    const clock = new VirtualClock();
    const j = await Journal.open({
      storage: new MemoryStorage(), clock, path: 'journals/g1/small', vmId: 'small', volumes: [{ id: 'small-vol', sizeBytes: MiB, sectorSize: 4096 }],
      historyMs: 3_600_000, hardLimitBytes: 64 * MiB, warningBytes: 48 * MiB,
    });
    await j.addCheckpoint({ id: 'cp-1', groupId: 'g1', seq: 0, timestamp: clock.now(), kind: 'auto' });
    r.journals.set('small', j);
    const report = await r.orchestrator.clone({ groupId: 'g1', vmIds: ['small'] });
    const disk = report.translation!.vms[0].disks[0];
    assert.deepEqual([disk.sectorSize, disk.targetSectorSize], [4096, 512]);
    assert.ok(report.translation!.vms[0].notes.some((n) => /partition table written in 4096-byte LBAs is not found/.test(n)));
  });
});
