// Conformance harnesses on the SIMULATED Hyper-V host. `createHypervHarness`: Hyper-V is both sites —
// protected VMs tracked with RCT (the change-tracking capture mode; Hyper-V has no splitter), recovery VMs
// on VHDX — with the change-tracking faults done as an administrator would (storage migration, deleted
// checkpoints) or by the simulation (failing CIM methods). `createHypervRecoveryHarness`: the protected site
// is the fake data centre (a splitter), the recovery site is Hyper-V: cross-platform recovery, which the
// recovery suite can run before the kernel's change-tracking mode exists.
import { CAPABILITIES, MemoryStorage, ValidationError, VirtualClock } from '@opencdp/core';
import type { Capability, CapabilityTable, ConformanceHarness, Fault, HarnessOptions, ProtectedVmSpec, VmId, VmInfo, VolumeId, VolumeInfo } from '@opencdp/core';
import { createFakeHarness, FaultyStorage, type FakeHarness } from '@opencdp/adapter-fake';
import type { HypervHypervisor } from '../hyperv-hypervisor.js';
import { MOVE_VM_STORAGE, REMOVE_CHECKPOINTS_BY_NAME } from './harness-scripts.js';
import { startSimulatedHyperv, type SimulatedHyperv, type SimulatedHypervOptions } from './simulated-hyperv.js';

export const HYPERV_UNSUPPORTED = {
  writeTap: 'Hyper-V has no write splitter for third parties: it offers resilient change tracking (the change-tracking capture mode)',
  consistencyAgent: 'no guest agent runs in the simulated host\'s VMs (production checkpoints ask the guest\'s VSS instead)',
  hostRestart: 'the simulated Hyper-V platform is one host; a host restart is not simulated',
  managerRestart: 'Hyper-V has no hypervisor manager between the adapter and the host (the session is re-created when it dies, tested in the adapter\'s own specs)',
} as const;

export interface HypervHarness extends ConformanceHarness {
  readonly clock: VirtualClock;
  readonly hypervisor: HypervHypervisor;
  readonly recoveryStorage: FaultyStorage;
  readonly sim: SimulatedHyperv;
}

export interface HypervHarnessOptions extends HarnessOptions, Pick<SimulatedHypervOptions, 'tmpDir' | 'host' | 'config'> {}

/** Hyper-V at both sites (change tracking); `capture: 'splitter'` is answered truthfully: not supported. */
export async function createHypervHarness(options: HypervHarnessOptions = {}): Promise<HypervHarness> {
  const clock = new VirtualClock(Date.now());
  const sim = await startSimulatedHyperv({ clock, ...(options.tmpDir ? { tmpDir: options.tmpDir } : {}), ...(options.host ? { host: options.host } : {}), ...(options.config ? { config: options.config } : {}) });
  const memory = new MemoryStorage();
  const recoveryStorage = new FaultyStorage(memory, clock);
  const known: Partial<CapabilityTable> = {
    writeTap: HYPERV_UNSUPPORTED.writeTap,
    changeTracking: true,
    virtualClock: true,
    faultStorageError: true,
    faultStorageFull: true,
    faultStorageSlow: true,
    faultStorageCrash: true,
    faultHostRestart: HYPERV_UNSUPPORTED.hostRestart,
    faultHypervisorManagerRestart: HYPERV_UNSUPPORTED.managerRestart,
    volumeHotAdd: true,
    consistencyAgent: HYPERV_UNSUPPORTED.consistencyAgent,
    recoveryVm: true,
    recoveryPromotion: true,
    faultChangeTracking: true,
  };
  const harness: HypervHarness = {
    name: 'hyperv',
    capabilities: table(known, 'the hyperv harness'),
    clock,
    hypervisor: sim.hypervisor,
    recoveryStorage,
    sim,
    createVm: (spec: ProtectedVmSpec) => sim.createVm(spec),
    addVolume: (vmId: VmId, volume: ProtectedVmSpec['volumes'][number]) => sim.addVolume(vmId, volume),
    guestWrite: (vmId: VmId, volumeId: VolumeId, offset: number, data: Buffer) => sim.guestWrite(vmId, volumeId, offset, data),
    async advance(ms: number): Promise<void> {
      await sim.settled();
      await clock.advance(ms);
      await sim.settled();
    },
    async injectFault(fault: Fault): Promise<void> {
      switch (fault.kind) {
        case 'storage-error':
        case 'storage-full':
        case 'storage-slow':
          recoveryStorage.setFault(fault);
          return;
        case 'view-open-fail':
          await sim.host.addFault({ op: 'New-OpenCdpRecoveryCheckpoint', kind: 'fail', cmdlet: 'CreateSnapshot', message: 'could not initiate a checkpoint operation (SIMULATED)', returnValue: 32768 });
          return;
        case 'view-release-fail':
          await sim.host.addFault({ op: 'ConvertTo-OpenCdpReferencePoint', kind: 'fail', cmdlet: 'ConvertToReferencePoint', message: 'the operation failed (SIMULATED)', returnValue: 2 });
          await sim.host.addFault({ op: 'Remove-OpenCdpRecoveryCheckpoint', kind: 'fail', cmdlet: 'Remove-VMSnapshot', message: 'the operation failed (SIMULATED)' });
          return;
        case 'token-reset': {
          // What resets RCT in the field: a storage migration of the VM's disks.
          const vm = await sim.hypervisor.getVm(fault.vmId);
          await sim.adminRun(MOVE_VM_STORAGE, { vmId: vm.id, destination: `C:\\ClusterStorage\\Volume1\\moved-${Date.now()}-${vm.id}` });
          return;
        }
        case 'view-lost':
          await sim.adminRun(REMOVE_CHECKPOINTS_BY_NAME, { prefix: 'opencdp-' });
          return;
        default:
          throw new ValidationError(`fault '${fault.kind}' is not supported by the hyperv harness`, 'kind');
      }
    },
    async clearFaults(): Promise<void> {
      recoveryStorage.setFault(undefined);
      await sim.host.clearFaults();
    },
    async crashRecoveryStorage(seed: number): Promise<void> {
      memory.crash(seed);
    },
    async dispose(): Promise<void> {
      recoveryStorage.setFault(undefined);
      await sim.dispose();
    },
  };
  return harness;
}

export interface HypervRecoveryHarness extends ConformanceHarness {
  readonly fake: FakeHarness;
  readonly recoveryHypervisor: HypervHypervisor;
  readonly sim: SimulatedHyperv;
}

/**
 * The fake data centre protects (true splitter), Hyper-V recovers: every capability of the fake harness,
 * with recovery VMs made on the simulated Hyper-V host (written as VHDX, checked by the suite by hash).
 */
export async function createHypervRecoveryHarness(options: Pick<SimulatedHypervOptions, 'tmpDir' | 'host' | 'config'> = {}): Promise<HypervRecoveryHarness> {
  const fake = await createFakeHarness({ seed: 1 });
  let sim: SimulatedHyperv;
  try {
    // 512-byte logical sectors on every recovered disk, so qemu-img (which refuses 4 KiB-sector VHDX) can judge them all.
    sim = await startSimulatedHyperv({
      clock: fake.clock, ...(options.tmpDir ? { tmpDir: options.tmpDir } : {}), ...(options.host ? { host: options.host } : {}),
      config: { recoveryVm: { blockSizeBytes: 1024 * 1024, logicalSectorSize: 512 }, ...options.config },
    });
  } catch (error) {
    await fake.dispose();
    throw error;
  }
  const onHyperv = (vmId: VmId): boolean => {
    try {
      fake.dataCenter.siteOf(vmId);
      return false;
    } catch {
      return true;
    }
  };
  const capabilities: CapabilityTable = {
    ...fake.capabilities,
    recoveryVm: true,
  };
  const harness: HypervRecoveryHarness = {
    name: 'fake→hyperv',
    capabilities,
    clock: fake.clock,
    hypervisor: fake.hypervisor,
    recoveryHypervisor: sim.hypervisor,
    recoveryStorage: fake.recoveryStorage,
    consistencyAgent: fake.consistencyAgent,
    fake,
    sim,
    createVm: (spec: ProtectedVmSpec): Promise<VmInfo> => fake.createVm(spec),
    addVolume: (vmId: VmId, volume: ProtectedVmSpec['volumes'][number]): Promise<VolumeInfo> => fake.addVolume!(vmId, volume),
    async guestWrite(vmId: VmId, volumeId: VolumeId, offset: number, data: Buffer): Promise<void> {
      if (onHyperv(vmId)) return sim.guestWrite(vmId, volumeId, offset, data);
      return fake.guestWrite(vmId, volumeId, offset, data);
    },
    async advance(ms: number): Promise<void> {
      // Hyper-V's work is real (PowerShell, VHDX files): it finishes before virtual time moves on.
      await sim.settled();
      await fake.advance(ms);
      await sim.settled();
    },
    injectFault: (fault: Fault) => fake.injectFault(fault),
    clearFaults: () => fake.clearFaults(),
    crashRecoveryStorage: (seed: number) => fake.crashRecoveryStorage(seed),
    async dispose(): Promise<void> {
      await Promise.allSettled([sim.dispose(), fake.dispose()]);
    },
  };
  return harness;
}

function table(known: Partial<CapabilityTable>, who: string): CapabilityTable {
  return Object.fromEntries(CAPABILITIES.map((c: Capability) => [c, known[c] ?? `${who} does not implement '${c}' yet`])) as CapabilityTable;
}
