// The conformance harness for the fake adapter: a fresh in-memory data centre on a virtual clock per
// case, a protected site with two hosts and a recovery site whose storage is memory behind a fault
// injector. It is built for one capture mode (`HarnessOptions.capture`, the splitter by default) and
// supports every capability of that mode, so a run skips only the other mode's cases.
import { CAPABILITIES, MemoryStorage, UnsupportedError, ValidationError, VirtualClock } from '@opencdp/core';
import type {
  CapabilityTable, ConformanceHarness, HarnessOptions, Fault, ProtectedVmSpec, VmId, VmInfo, VolumeId, VolumeInfo,
} from '@opencdp/core';
import { FakeConsistencyAgent } from './fake-consistency-agent.js';
import { FakeDataCenter } from './fake-data-center.js';
import type { FakeSite } from './fake-data-center.js';
import { FakeHypervisor } from './fake-hypervisor.js';
import { FaultyStorage } from './faulty-storage.js';

export interface FakeHarnessOptions extends HarnessOptions {
  /** Seeds the data centre (MAC addresses); default 1. */
  seed?: number;
  /** How long an injected host restart keeps the host down, in clock time; default 1000 ms. */
  hostDownMs?: number;
  /** How long an injected hypervisor-manager restart keeps taps from re-opening, in clock time; default 1000 ms. */
  managerDownMs?: number;
  /** Change-tracking mode: one view may span several VMs (default true; false runs the per-VM path). */
  multiVmViews?: boolean;
}

/** The harness with its concrete parts exposed, for tests that need more than the port. */
export interface FakeHarness extends ConformanceHarness {
  readonly clock: VirtualClock;
  readonly dataCenter: FakeDataCenter;
  readonly protectedSite: FakeSite;
  readonly recoverySite: FakeSite;
  /** The protected site's platform. */
  readonly hypervisor: FakeHypervisor;
  /** The recovery site's platform (one host), where recovery VMs can also be brought up. */
  readonly recoveryHypervisor: FakeHypervisor;
  /** Fault injector over `memoryStorage`. */
  readonly recoveryStorage: FaultyStorage;
  readonly memoryStorage: MemoryStorage;
  readonly consistencyAgent: FakeConsistencyAgent;
}

export async function createFakeHarness(options: FakeHarnessOptions = {}): Promise<FakeHarness> {
  const clock = new VirtualClock();
  const dataCenter = new FakeDataCenter({ clock, seed: options.seed ?? 1 });
  const protectedSite = dataCenter.addSite('protected');
  const protectedHosts = [dataCenter.addHost(protectedSite.id, 'protected-host-1').id, dataCenter.addHost(protectedSite.id, 'protected-host-2').id];
  const recoverySite = dataCenter.addSite('recovery');
  dataCenter.addHost(recoverySite.id, 'recovery-host-1');
  const memoryStorage = new MemoryStorage();
  const recoveryStorage = new FaultyStorage(memoryStorage, clock);
  const hostDownMs = options.hostDownMs ?? 1000;
  let vmsCreated = 0;

  const capture = options.capture ?? 'splitter';
  if (capture !== 'splitter' && capture !== 'change-tracking') throw new ValidationError(`unknown capture mode '${String(capture)}'`, 'capture', 'use splitter or change-tracking');
  const platform = { capture, ...(options.multiVmViews !== undefined ? { multiVmViews: options.multiVmViews } : {}) };
  const hypervisor = new FakeHypervisor(dataCenter, protectedSite.id, platform);
  const capabilities = Object.fromEntries(CAPABILITIES.map((c) => [c, true])) as CapabilityTable;
  if (capture === 'splitter') {
    const why = 'this fake harness was built for the splitter capture mode (ask for capture: change-tracking)';
    capabilities.changeTracking = why;
    capabilities.faultChangeTracking = why;
  } else {
    capabilities.writeTap = 'this fake harness was built for the change-tracking capture mode: its platform has no openTap';
  }
  const tracking = (kind: string): NonNullable<FakeHypervisor['changeTracking']> => {
    if (!hypervisor.changeTracking) throw new UnsupportedError(`fault '${kind}' (${capabilities.changeTracking})`);
    return hypervisor.changeTracking;
  };

  const harness: FakeHarness = {
    name: 'fake',
    capabilities,
    clock,
    dataCenter,
    protectedSite,
    recoverySite,
    hypervisor,
    recoveryHypervisor: new FakeHypervisor(dataCenter, recoverySite.id, platform),
    recoveryStorage,
    memoryStorage,
    consistencyAgent: new FakeConsistencyAgent(dataCenter),

    async createVm(spec: ProtectedVmSpec): Promise<VmInfo> {
      // Round robin over the two hosts unless told: a group's VMs then span hosts, as J2 needs.
      const hostId = spec.hostId ?? protectedHosts[vmsCreated % protectedHosts.length];
      if (!protectedHosts.includes(hostId)) {
        throw new ValidationError(`host '${hostId}' is not at the protected site`, 'hostId', `use one of ${protectedHosts.join(', ')}`);
      }
      const vm = dataCenter.createVm({ name: spec.name, hostId, volumes: spec.volumes });
      vmsCreated++;
      return vm;
    },

    async addVolume(vmId: VmId, volume: ProtectedVmSpec['volumes'][number]): Promise<VolumeInfo> {
      return dataCenter.addVolumeToVm(vmId, volume);
    },

    guestWrite(vmId: VmId, volumeId: VolumeId, offset: number, data: Buffer): Promise<void> {
      return dataCenter.guestWrite(vmId, volumeId, offset, data);
    },

    advance(ms: number): Promise<void> {
      return clock.advance(ms);
    },

    async injectFault(fault: Fault): Promise<void> {
      switch (fault.kind) {
        case 'storage-error':
        case 'storage-full':
        case 'storage-slow':
          recoveryStorage.setFault(fault);
          return;
        case 'host-restart': {
          // Returns once the host is down; it comes back after `hostDownMs` of advanced time.
          const back = dataCenter.restartHost(fault.hostId, hostDownMs);
          if (dataCenter.isHostUp(fault.hostId)) await back; // refused: surface the reason
          return;
        }
        case 'hypervisor-manager-restart':
          // Returns at once: taps are closed, VMs keep writing unsplit, taps re-open after `managerDownMs`.
          dataCenter.restartHypervisorManager(protectedSite.id, options.managerDownMs ?? 1000);
          return;
        case 'view-open-fail':
          tracking(fault.kind).failOpens(true);
          return;
        case 'view-release-fail':
          tracking(fault.kind).failReleases(true);
          return;
        case 'token-reset':
          tracking(fault.kind).resetTokens(fault.vmId);
          return;
        case 'view-lost':
          tracking(fault.kind).loseViews();
          return;
        default:
          throw new ValidationError(`unknown fault '${(fault as { kind: string }).kind}'`, 'kind');
      }
    },

    async clearFaults(): Promise<void> {
      recoveryStorage.setFault(undefined);
      hypervisor.changeTracking?.failOpens(false);
      hypervisor.changeTracking?.failReleases(false);
      for (const host of dataCenter.inventory().hosts) dataCenter.bringHostUp(host.id);
    },

    async crashRecoveryStorage(seed: number): Promise<void> {
      memoryStorage.crash(seed);
    },

    async dispose(): Promise<void> {
      recoveryStorage.setFault(undefined);
      dataCenter.dispose();
    },
  };
  return harness;
}
