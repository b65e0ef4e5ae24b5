// Cross-platform composition: one adapter's harness protects, another's recovers. The composed harness
// is an ordinary ConformanceHarness, so every recovery case runs unchanged with A's protected VMs, A's
// clock driving the kernel, and B's platform and storage at the recovery site. Any two harnesses
// compose — a vendor's harness can be either side — because only the port's own members are used:
// A's `hypervisor`, `createVm`, `guestWrite`; B's `recoveryHypervisor ?? hypervisor`, `recoveryStorage`,
// `guestWrite` (for the VMs B's platform created), faults split by the side they belong to.
import { InvalidStateError, type CapabilityTable, type ConformanceHarness, type Fault, type HarnessFactory, type HarnessOptions, type HypervisorAdapter, type VmId, type VolumeId } from '@opencdp/core';

export interface CrossHarness extends ConformanceHarness {
  readonly protectedSide: ConformanceHarness;
  readonly recoverySide: ConformanceHarness;
  readonly recoveryHypervisor: HypervisorAdapter;
  /** VMs the recovery platform created through this harness: guest writes to them go to the recovery side. */
  readonly recoveredVms: ReadonlySet<VmId>;
}

/** Capabilities that belong to the recovery site (its storage and platform); the rest are the protected side's. */
const RECOVERY_SIDE: readonly (keyof CapabilityTable)[] = [
  'faultStorageError', 'faultStorageFull', 'faultStorageSlow', 'faultStorageCrash', 'recoveryVm', 'recoveryPromotion',
];
const STORAGE_FAULTS: readonly Fault['kind'][] = ['storage-error', 'storage-full', 'storage-slow'];

/**
 * Composes A (protected side) and B (recovery side). Both keep their own clocks: A's drives the kernel,
 * `advance` moves both, so work either platform waits for on its clock completes. Takes ownership of
 * both harnesses (dispose disposes them).
 */
export function composeCrossHarness(protectedSide: ConformanceHarness, recoverySide: ConformanceHarness, name?: string): CrossHarness {
  const a = protectedSide;
  const b = recoverySide;
  const rh = b.recoveryHypervisor ?? b.hypervisor;
  const recoveredVms = new Set<VmId>();
  // The suite reaches recovered VMs only through ids createRecoveryVm answered: remember them.
  const create = rh.createRecoveryVm.bind(rh);
  rh.createRecoveryVm = async (spec) => {
    const vm = await create(spec);
    // Ids are only unique per platform; the suite's oracle and this router key on them across both sites.
    if (await a.hypervisor.getVm(vm.id).then(() => true, () => false)) {
      await rh.deleteVm(vm.id).catch(() => undefined);
      throw new InvalidStateError(`the recovery platform handed out VM id '${vm.id}', which the protected platform also uses`, 'give one side an id prefix (the fake harness: idPrefix)');
    }
    recoveredVms.add(vm.id);
    return vm;
  };
  const capabilities = { ...a.capabilities } as CapabilityTable;
  for (const c of RECOVERY_SIDE) capabilities[c] = b.capabilities[c];
  // Reverse protection captures writes of the recovered VMs on B's platform and sends them back to A's.
  const reverse = b.capabilities.reverseProtection;
  capabilities.reverseProtection = reverse === true ? true : `the recovery platform '${rh.platform}' cannot protect recovered VMs back: ${reverse}`;
  return {
    name: name ?? `${a.name}→${b.name}`,
    capabilities,
    clock: a.clock,
    hypervisor: a.hypervisor,
    recoveryHypervisor: rh,
    recoveryStorage: b.recoveryStorage,
    // Geometry: what A can protect, what B can recover (the recovery rig's 4 KiB-sector volume needs both).
    ...(a.sectorSizes ? { sectorSizes: a.sectorSizes } : {}),
    ...(b.recoverySectorSizes ? { recoverySectorSizes: b.recoverySectorSizes } : {}),
    ...(a.consistencyAgent ? { consistencyAgent: a.consistencyAgent } : {}),
    protectedSide: a,
    recoverySide: b,
    recoveredVms,
    createVm: (spec) => a.createVm(spec),
    ...(a.addVolume ? { addVolume: a.addVolume.bind(a) } : {}),
    guestWrite(vmId: VmId, volumeId: VolumeId, offset: number, data: Buffer): Promise<void> {
      return recoveredVms.has(vmId) ? b.guestWrite(vmId, volumeId, offset, data) : a.guestWrite(vmId, volumeId, offset, data);
    },
    async advance(ms: number): Promise<void> {
      await a.advance(ms);
      await b.advance(ms);
    },
    injectFault: (fault) => (STORAGE_FAULTS.includes(fault.kind) ? b.injectFault(fault) : a.injectFault(fault)),
    async clearFaults(): Promise<void> {
      await b.clearFaults();
      await a.clearFaults();
    },
    crashRecoveryStorage: (seed) => b.crashRecoveryStorage(seed),
    ...(b.recoveredDiskFile ? { recoveredDiskFile: b.recoveredDiskFile.bind(b) } : {}),
    async dispose(): Promise<void> {
      try {
        await b.dispose();
      } finally {
        await a.dispose();
      }
    },
  };
}

/**
 * A HarnessFactory for the pair: the suite's options (the capture mode) go to the protected side; the
 * recovery side is built with its defaults. A recovery side that fails to start disposes the protected one.
 */
export function crossHarnessFactory(protectedFactory: HarnessFactory, recoveryFactory: HarnessFactory, name?: string): HarnessFactory {
  return async (options?: HarnessOptions) => {
    const a = await protectedFactory(options);
    let b: ConformanceHarness;
    try {
      b = await recoveryFactory();
    } catch (error) {
      await a.dispose();
      throw error;
    }
    return composeCrossHarness(a, b, name);
  };
}
