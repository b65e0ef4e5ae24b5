// The conformance harness for the fake adapter: a fresh in-memory data centre on a virtual clock per
// case, a protected site with two hosts and a recovery site whose storage is memory (or real files, with
// an I/O-aware clock and power-cut simulation) behind a fault injector. It is built for one capture mode
// (`HarnessOptions.capture`, the splitter by default) and supports every capability of that mode, so a
// run skips only the other mode's cases. It is the model a vendor's harness follows (docs/adapter-guide.md).
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CAPABILITIES, FaultyStorage, IoAwareVirtualClock, LocalFileStorage, MemoryStorage, PowerCutStorage, UnsupportedError, ValidationError, VirtualClock,
} from '@opencdp/core';
import type {
  CapabilityTable, ConformanceHarness, HarnessOptions, Fault, ProtectedVmSpec, VmId, VmInfo, VolumeId, VolumeInfo,
} from '@opencdp/core';
import { FakeConsistencyAgent } from './fake-consistency-agent.js';
import { FakeDataCenter } from './fake-data-center.js';
import type { FakeSite } from './fake-data-center.js';
import { FakeHypervisor } from './fake-hypervisor.js';

export interface FakeHarnessOptions extends HarnessOptions {
  /** Seeds the data centre (MAC addresses); default 1. */
  seed?: number;
  /** How long an injected host restart keeps the host down, in clock time; default 1000 ms. */
  hostDownMs?: number;
  /** How long an injected hypervisor-manager restart keeps taps from re-opening, in clock time; default 1000 ms. */
  managerDownMs?: number;
  /**
   * Where the recovery site's journals and replicas live: `memory` (default; MemoryStorage, which
   * simulates power cuts itself) or `files` (core's LocalFileStorage in a fresh temporary folder behind
   * PowerCutStorage; dispose removes the folder).
   */
  recoveryStorage?: 'memory' | 'files';
  /**
   * With files: put PowerCutStorage in front of them (default true). Without it the files are written
   * straight through, as by a vendor's own store, and `faultStorageCrash` is reported unsupported.
   */
  powerCut?: boolean;
  /**
   * `io-aware` (the default with files: advance waits for the file I/O its timers start) or `plain`
   * (the default with memory, where every operation is a promise chain). `plain` with files is the
   * mistake the I/O-aware clock exists for: time runs ahead of the disk and cases time out.
   */
  clock?: 'plain' | 'io-aware';
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
  /** Fault injector over `memoryStorage` or `powerCutStorage`. */
  readonly recoveryStorage: FaultyStorage;
  /** The recovery storage with `recoveryStorage: 'memory'`. */
  readonly memoryStorage?: MemoryStorage;
  /** The recovery storage with `recoveryStorage: 'files'` (over LocalFileStorage in `workDir`). */
  readonly powerCutStorage?: PowerCutStorage;
  /** The temporary folder of a file-backed harness. */
  readonly workDir?: string;
  readonly consistencyAgent: FakeConsistencyAgent;
}

export async function createFakeHarness(options: FakeHarnessOptions = {}): Promise<FakeHarness> {
  const files = options.recoveryStorage === 'files';
  if (options.recoveryStorage !== undefined && !['memory', 'files'].includes(options.recoveryStorage)) {
    throw new ValidationError(`recoveryStorage must be 'memory' or 'files', not '${String(options.recoveryStorage)}'`, 'recoveryStorage');
  }
  const clock = (options.clock ?? (files ? 'io-aware' : 'plain')) === 'io-aware' ? new IoAwareVirtualClock() : new VirtualClock();
  const dataCenter = new FakeDataCenter({ clock, seed: options.seed ?? 1 });
  const protectedSite = dataCenter.addSite('protected');
  const protectedHosts = [dataCenter.addHost(protectedSite.id, 'protected-host-1').id, dataCenter.addHost(protectedSite.id, 'protected-host-2').id];
  const recoverySite = dataCenter.addSite('recovery');
  dataCenter.addHost(recoverySite.id, 'recovery-host-1');
  const workDir = files ? await fs.mkdtemp(path.join(os.tmpdir(), 'ocdp-fake-')) : undefined;
  const memoryStorage = files ? undefined : new MemoryStorage();
  const fileStorage = workDir ? new LocalFileStorage(path.join(workDir, 'recovery')) : undefined;
  const powerCutStorage = fileStorage && options.powerCut !== false ? new PowerCutStorage(fileStorage) : undefined;
  const recoveryStorage = new FaultyStorage((memoryStorage ?? powerCutStorage ?? fileStorage)!, clock);
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
  if (!memoryStorage && !powerCutStorage) capabilities.faultStorageCrash = 'journals are plain files written straight through (powerCut: false): unflushed writes cannot be dropped on demand';
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
    ...(memoryStorage ? { memoryStorage } : {}),
    ...(powerCutStorage ? { powerCutStorage } : {}),
    ...(workDir ? { workDir } : {}),
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
      if (memoryStorage) memoryStorage.crash(seed);
      else if (powerCutStorage) await powerCutStorage.crash(seed);
      else throw new ValidationError(capabilities.faultStorageCrash as string, 'powerCut');
    },

    async dispose(): Promise<void> {
      recoveryStorage.setFault(undefined);
      dataCenter.dispose();
      if (workDir) await fs.rm(workDir, { recursive: true, force: true });
    },
  };
  return harness;
}
