// The conformance harness for the vSphere adapter in change-tracking mode: a fresh vcsim per case (the
// fixture in fixture/vcsim; its CBT and snapshot disk data are the project's SIMULATION), protected VMs
// made with CreateVM_Task, the simulated guest writing into their disk files through the fixture, and
// faults injected through the real API where vSphere has one (a CBT reset is change tracking turned off
// and on; a lost view is its snapshot removed behind the kernel's back) and through the fixture otherwise.
// The kernel's clock is virtual by default and I/O-aware: vcsim never reads it, and after every timer it
// waits for the vCenter calls (SOAP, datastore HTTP) that timer started, so no cycle ever misses its slot.
import os from 'node:os';
import { AlignmentError, CAPABILITIES, IoAwareVirtualClock, MemoryStorage, SystemClock, ValidationError, VIEW_NAME_PREFIX, VolumeRangeError } from '@opencdp/core';
import type {
  CapabilityTable, Clock, ConformanceHarness, Fault, HarnessOptions, ProtectedVmSpec, VmId, VmInfo, VolumeId, VolumeInfo,
} from '@opencdp/core';
import { FaultyStorage } from '@opencdp/adapter-fake';
import { startVcsim, VSPHERE_LIVE_PORTGROUP, VSPHERE_TEST_PORTGROUP, type VcsimFixture, type VcsimModel } from './testing/vcsim-fixture.js';
import { createTestVm, deviceKeyOf } from './testing/test-vms.js';
import { MoRef, typed } from './vim-types.js';
import { SectorSizeUnsupportedError } from './vsphere-errors.js';
import { VsphereHypervisor } from './vsphere-hypervisor.js';

export interface VsphereHarnessOptions extends HarnessOptions {
  clock?: 'virtual' | 'real';
  /** Parent folder of the fixture's folder (default: the OS temp folder). */
  tmpDir?: string;
  model?: VcsimModel;
  /** The platform's shortest cycle (default: VSPHERE_HARNESS_MIN_INTERVAL_MS for the clock in use). */
  minIntervalMs?: number;
}

/**
 * The shortest cycle the harness's vSphere really keeps, by clock. Virtual: the clock waits for every
 * vCenter call a cycle makes, so a cycle costs no virtual time and keeps any interval the kernel allows
 * (100 ms; J3.2 checks 50 of them). Real: a cycle of the suites' small disks on vcsim (snapshot, property
 * read, CBT query, ranged reads, removal) takes tens of milliseconds on a quiet machine and a few hundred on
 * a loaded one, so 1 s leaves room (J3.2 keeps ten 1 s intervals at load average 30). A production vCenter's default stays 60 s (VsphereChangeTracking): there a snapshot and its
 * consolidation take seconds.
 */
export const VSPHERE_HARNESS_MIN_INTERVAL_MS = { virtual: 100, real: 1000 } as const;

/** Granularity of the harness's SIMULATED CBT (see createVsphereHarness). */
export const VSPHERE_HARNESS_CBT_BLOCK_BYTES = 4096;

export interface VsphereHarness extends ConformanceHarness {
  readonly hypervisor: VsphereHypervisor;
  readonly recoveryStorage: FaultyStorage;
  readonly fixture: VcsimFixture;
}

/** vSphere virtual disks present 512-byte logical sectors to guests (4Kn only from vSphere API 9.0). */
export const VSPHERE_SECTOR_SIZES: readonly number[] = [512];

export const VSPHERE_UNSUPPORTED = {
  writeTap: 'vSphere has no write splitter without a VAIO I/O filter inside ESXi; the adapter offers CBT change tracking (capture: change-tracking)',
  hostRestart: 'vcsim has no host agent to restart; an ESXi reboot is not simulated',
  managerRestart: 'vcsim keeps its whole inventory in memory: restarting it loses every VM, which is not what a vCenter restart does',
  consistencyAgent: 'application consistency on vSphere is VMware Tools quiescing inside the snapshot (openView quiesce); vcsim runs no guest to quiesce',
  virtualReal: 'the harness runs the kernel on the wall clock (clock: real)',
} as const;

let harnessesStarted = 0;

/** A fresh vcsim with two hosts in a cluster and a standalone one, two datastores, a live and a test portgroup. */
export async function createVsphereHarness(options: VsphereHarnessOptions = {}): Promise<VsphereHarness> {
  if (options.capture === 'splitter') throw new ValidationError(VSPHERE_UNSUPPORTED.writeTap, 'capture');
  const mode = options.clock ?? 'virtual';
  // The bound is generous: a cycle is a dozen HTTPS round trips to vcsim on a shared 2-core machine.
  const ioClock = mode === 'virtual' ? new IoAwareVirtualClock({ startMs: Date.now(), settleTimeoutMs: 120_000 }) : undefined;
  const clock: Clock = ioClock ?? new SystemClock();
  // The SIMULATED CBT records changes in 4 KiB blocks here (the fixture's default is 64 KiB, as the adapter
  // assumes for vSphere, which publishes no figure): the journal-size cases (J5) then measure the journal,
  // not the platform's amplification of 16 KiB writes into 64 KiB blocks; 64 KiB stays covered by the
  // adapter's own specs. The adapter reports the same granularity the fixture uses.
  // Each harness's vCenter numbers its objects from an offset of its own: two harnesses composed into a
  // cross pair (vSphere protecting, vSphere recovering: two vCenters) never hand out the same VM id.
  const model: VcsimModel = { cbtBlockBytes: VSPHERE_HARNESS_CBT_BLOCK_BYTES, refOffset: ++harnessesStarted * 100_000, ...options.model };
  const fixture = await startVcsim(model, options.tmpDir ?? os.tmpdir());
  let hypervisor: VsphereHypervisor;
  try {
    hypervisor = await VsphereHypervisor.connect({
      url: fixture.url, user: fixture.user, password: fixture.password, trust: { kind: 'thumbprint', thumbprint: fixture.thumbprint },
      datacenter: 'DC0', siteId: 'vsphere', clock, livePortgroup: VSPHERE_LIVE_PORTGROUP, testPortgroups: [VSPHERE_TEST_PORTGROUP],
      minIntervalMs: options.minIntervalMs ?? VSPHERE_HARNESS_MIN_INTERVAL_MS[mode], granularityBytes: model.cbtBlockBytes, taskTimeoutMs: 60_000,
      // Every call the kernel makes (a cycle's snapshot, CBT query, reads, removal) holds the virtual clock.
      ...(ioClock ? { track: <T>(work: Promise<T>): Promise<T> => ioClock.track(work) } : {}),
    });
  } catch (error) {
    await fixture.stop();
    throw error;
  }
  const memory = new MemoryStorage();
  const recoveryStorage = new FaultyStorage(memory, clock);
  const allHosts = await hypervisor.site.hosts();
  // VMs go round robin over the cluster's hosts; a case may name any host of the inventory (the suite's
  // protectedHosts() takes the first two listed, and vcsim lists the standalone host first).
  const protectedHosts = allHosts.filter((h) => h.parent?.type === 'ClusterComputeResource').map((h) => h.id);
  const hostIds = allHosts.map((h) => h.id);
  let created = 0;

  const harness: VsphereHarness = {
    name: 'vsphere',
    capabilities: vsphereCapabilities(mode),
    sectorSizes: VSPHERE_SECTOR_SIZES,
    recoverySectorSizes: VSPHERE_SECTOR_SIZES,
    clock,
    hypervisor,
    recoveryStorage,
    fixture,

    async createVm(spec: ProtectedVmSpec): Promise<VmInfo> {
      const hostId = spec.hostId ?? protectedHosts[created % protectedHosts.length];
      if (!hostIds.includes(hostId)) throw new ValidationError(`host '${hostId}' is not in the inventory`, 'hostId', `use one of ${hostIds.join(', ')}`);
      spec.volumes.forEach((v, i) => checkSectorSize(v, `volumes[${i}].sectorSize`));
      created++;
      return createTestVm(hypervisor, { name: spec.name, disks: spec.volumes.map((v) => v.sizeBytes), hostId, portgroup: VSPHERE_LIVE_PORTGROUP });
    },

    async addVolume(vmId: VmId, volume: ProtectedVmSpec['volumes'][number]): Promise<VolumeInfo> {
      checkSectorSize(volume, 'sectorSize');
      return addDisk(hypervisor, vmId, volume.sizeBytes);
    },

    async guestWrite(vmId: VmId, volumeId: VolumeId, offset: number, data: Buffer): Promise<void> {
      const vm = await hypervisor.getVm(vmId);
      const volume = vm.volumes.find((v) => v.id === volumeId);
      if (!volume) throw new ValidationError(`volume '${volumeId}' is not a disk of VM '${vmId}'`, 'volumeId');
      if (offset % volume.sectorSize !== 0 || data.length % volume.sectorSize !== 0) throw new AlignmentError(volumeId, offset, data.length, volume.sectorSize);
      if (offset < 0 || offset + data.length > volume.sizeBytes) throw new VolumeRangeError(volumeId, offset, data.length, volume.sizeBytes);
      await fixture.guestWrite(vmId, deviceKeyOf(volumeId), offset, data);
    },

    async advance(ms: number): Promise<void> {
      if (ioClock) {
        // After each timer it fires, the clock waits for the vCenter calls that timer started (see `track`).
        await ioClock.advance(ms);
      } else {
        await clock.sleep(ms);
      }
    },

    async injectFault(fault: Fault): Promise<void> {
      switch (fault.kind) {
        case 'storage-error':
        case 'storage-full':
        case 'storage-slow':
          recoveryStorage.setFault(fault);
          return;
        case 'view-open-fail':
          await fixture.armFault({ method: 'CreateSnapshot_Task', kind: 'task-error', fault: 'InvalidState', count: -1 });
          return;
        case 'view-release-fail':
          await fixture.armFault({ method: 'RemoveSnapshot_Task', kind: 'task-error', fault: 'TaskInProgress', count: -1 });
          return;
        case 'token-reset': {
          // What vSphere does after a storage migration: change tracking off and on forgets every changeId.
          const ref = new MoRef('VirtualMachine', fault.vmId);
          await hypervisor.client.runTask('ReconfigVM_Task', { _this: ref, spec: { changeTrackingEnabled: false } });
          await hypervisor.client.runTask('ReconfigVM_Task', { _this: ref, spec: { changeTrackingEnabled: true } });
          return;
        }
        case 'view-lost':
          for (const v of await hypervisor.changeTracking.listViews(VIEW_NAME_PREFIX)) {
            await hypervisor.client.runTask('RemoveSnapshot_Task', { _this: new MoRef('VirtualMachineSnapshot', v.id), removeChildren: false });
          }
          return;
        case 'host-restart':
          throw new ValidationError(VSPHERE_UNSUPPORTED.hostRestart, 'kind');
        case 'hypervisor-manager-restart':
          throw new ValidationError(VSPHERE_UNSUPPORTED.managerRestart, 'kind');
        default:
          throw new ValidationError(`unknown fault '${(fault as { kind: string }).kind}'`, 'kind');
      }
    },

    async clearFaults(): Promise<void> {
      recoveryStorage.setFault(undefined);
      await fixture.clearFaults();
    },

    async crashRecoveryStorage(seed: number): Promise<void> {
      memory.crash(seed);
    },

    async dispose(): Promise<void> {
      recoveryStorage.setFault(undefined);
      try {
        await hypervisor.dispose();
      } finally {
        await fixture.stop();
      }
    },
  };
  return harness;
}

/** A volume asking for sectors vSphere cannot give (anything but 512 bytes) is refused before anything is made. */
function checkSectorSize(volume: ProtectedVmSpec['volumes'][number], field: string): void {
  if (volume.sectorSize !== undefined && !VSPHERE_SECTOR_SIZES.includes(volume.sectorSize)) {
    throw new SectorSizeUnsupportedError(volume.name ?? '(new volume)', volume.sectorSize, field);
  }
}

/** Hot-adds a new empty disk (ReconfigVM_Task, fileOperation create) on the VM's first SCSI controller. */
export async function addDisk(hypervisor: VsphereHypervisor, vmId: VmId, sizeBytes: number): Promise<VolumeInfo> {
  const before = await hypervisor.site.vmRecord(vmId);
  const controller = before.disks[0]?.controllerKey;
  if (controller === undefined) throw new ValidationError(`VM '${vmId}' has no disk controller to add a disk to`, 'vmId');
  const used = new Set(before.disks.filter((d) => d.controllerKey === controller).map((d) => d.unitNumber));
  const unit = [0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15].find((u) => !used.has(u));
  if (unit === undefined) throw new ValidationError(`the controller of VM '${vmId}' has no free slot`, 'vmId');
  const ds = /^\[([^\]]+)\]/.exec(before.disks[0].fileName)?.[1] ?? '';
  await hypervisor.client.runTask('ReconfigVM_Task', {
    _this: before.ref,
    spec: {
      deviceChange: [{
        operation: 'add', fileOperation: 'create',
        device: typed('VirtualDisk', {
          key: -1, backing: typed('VirtualDiskFlatVer2BackingInfo', { fileName: `[${ds}]`, diskMode: 'persistent', thinProvisioned: true }),
          controllerKey: controller, unitNumber: unit, capacityInKB: Math.floor(sizeBytes / 1024), capacityInBytes: sizeBytes,
        }),
      }],
    },
  });
  const after = await hypervisor.getVm(vmId);
  const added = after.volumes.find((v) => !before.disks.some((d) => v.id.endsWith(`-disk-${d.key}`)));
  if (!added) throw new ValidationError(`the new disk of VM '${vmId}' did not appear`, 'vmId');
  return added;
}

export function vsphereCapabilities(mode: 'virtual' | 'real'): CapabilityTable {
  const known: Partial<Record<(typeof CAPABILITIES)[number], true | string>> = {
    writeTap: VSPHERE_UNSUPPORTED.writeTap,
    changeTracking: true,
    virtualClock: mode === 'virtual' ? true : VSPHERE_UNSUPPORTED.virtualReal,
    faultStorageError: true,
    faultStorageFull: true,
    faultStorageSlow: true,
    faultStorageCrash: true,
    faultHostRestart: VSPHERE_UNSUPPORTED.hostRestart,
    faultHypervisorManagerRestart: VSPHERE_UNSUPPORTED.managerRestart,
    volumeHotAdd: true,
    consistencyAgent: VSPHERE_UNSUPPORTED.consistencyAgent,
    recoveryVm: true,
    recoveryPromotion: true,
    faultChangeTracking: true,
    // Protecting recovered vSphere VMs back uses the same capture (CBT) as protecting them at first.
    reverseProtection: true,
    // J2.4 holds the guests' writes on each appliance's taps; CBT has no write splitter to hold.
    multiHost: VSPHERE_UNSUPPORTED.writeTap,
  };
  return Object.fromEntries(CAPABILITIES.map((c) => [c, known[c] ?? `the vsphere harness does not implement '${c}' yet`])) as CapabilityTable;
}
