// Cross-platform recovery: the protected site is another platform's harness — the fake data centre by
// default, or QEMU — and the recovery site is vSphere on vcsim, so the recovery suite recovers groups
// protected on another platform as vSphere VMs (disks uploaded as flat extents, compared with the oracle
// by hash). The guest writes the suite makes into recovered VMs go through the vcsim fixture's simulated
// guest; the harness knows which VMs are vSphere's because it saw them created.
import os from 'node:os';
import { AlignmentError, ValidationError, VolumeRangeError } from '@opencdp/core';
import type { ConformanceHarness, VmId, VolumeId } from '@opencdp/core';
import { createFakeHarness } from '@opencdp/adapter-fake';
import { startVcsim, VSPHERE_LIVE_PORTGROUP, VSPHERE_TEST_PORTGROUP, type VcsimFixture, type VcsimModel } from './testing/vcsim-fixture.js';
import { deviceKeyOf } from './testing/test-vms.js';
import { VsphereHypervisor } from './vsphere-hypervisor.js';
import { VSPHERE_SECTOR_SIZES } from './vsphere-harness.js';

export interface CrossSiteHarnessOptions {
  seed?: number;
  tmpDir?: string;
  model?: VcsimModel;
  /** The protected site (default: a fake data centre with `seed`); its clock drives the kernel. */
  protectedSite?: () => Promise<ConformanceHarness>;
  /** Name for reports (default `<protected>-to-vsphere`). */
  name?: string;
}

export interface CrossSiteHarness extends ConformanceHarness {
  readonly protectedSite: ConformanceHarness;
  readonly recoveryHypervisor: VsphereHypervisor;
  readonly fixture: VcsimFixture;
  /** VMs created on vSphere through this harness (recovered VMs). */
  readonly vsphereVms: ReadonlySet<VmId>;
}

export const CROSS_SITE_UNSUPPORTED = {
  reverseProtection: 'reverse protection would protect the recovered vSphere VMs back to the fake site; vSphere has no write splitter, and the kernel does not run reverse protection in change-tracking capture (snapshot shipping) yet',
} as const;

export async function createCrossSiteHarness(options: CrossSiteHarnessOptions = {}): Promise<CrossSiteHarness> {
  const site = await (options.protectedSite?.() ?? createFakeHarness({ seed: options.seed ?? 1 }));
  let fixture: VcsimFixture | undefined;
  let vsphere: VsphereHypervisor;
  try {
    fixture = await startVcsim(options.model ?? {}, options.tmpDir ?? os.tmpdir());
    vsphere = await VsphereHypervisor.connect({
      url: fixture.url, user: fixture.user, password: fixture.password, trust: { kind: 'thumbprint', thumbprint: fixture.thumbprint },
      datacenter: 'DC0', siteId: 'recovery', clock: site.clock, livePortgroup: VSPHERE_LIVE_PORTGROUP, testPortgroups: [VSPHERE_TEST_PORTGROUP],
      taskTimeoutMs: 60_000,
    });
  } catch (error) {
    await fixture?.stop();
    await site.dispose();
    throw error;
  }
  const vcsim = fixture;
  const vsphereVms = new Set<VmId>();
  // The suite reaches recovered VMs only through ids createRecoveryVm answered: remember them.
  const createRecoveryVm = vsphere.createRecoveryVm.bind(vsphere);
  vsphere.createRecoveryVm = async (spec) => {
    const vm = await createRecoveryVm(spec);
    vsphereVms.add(vm.id);
    return vm;
  };
  return {
    name: options.name ?? `${site.name}-to-vsphere`,
    capabilities: { ...site.capabilities, recoveryVm: true, reverseProtection: CROSS_SITE_UNSUPPORTED.reverseProtection },
    ...(site.sectorSizes ? { sectorSizes: site.sectorSizes } : {}),
    recoverySectorSizes: VSPHERE_SECTOR_SIZES,
    clock: site.clock,
    hypervisor: site.hypervisor,
    recoveryHypervisor: vsphere,
    recoveryStorage: site.recoveryStorage,
    ...(site.consistencyAgent ? { consistencyAgent: site.consistencyAgent } : {}),
    protectedSite: site,
    fixture: vcsim,
    vsphereVms,
    createVm: (spec) => site.createVm(spec),
    ...(site.addVolume ? { addVolume: site.addVolume.bind(site) } : {}),

    async guestWrite(vmId: VmId, volumeId: VolumeId, offset: number, data: Buffer): Promise<void> {
      if (!vsphereVms.has(vmId)) return site.guestWrite(vmId, volumeId, offset, data);
      const vm = await vsphere.getVm(vmId);
      const volume = vm.volumes.find((v) => v.id === volumeId);
      if (!volume) throw new ValidationError(`volume '${volumeId}' is not a disk of VM '${vmId}'`, 'volumeId');
      if (offset % volume.sectorSize !== 0 || data.length % volume.sectorSize !== 0) throw new AlignmentError(volumeId, offset, data.length, volume.sectorSize);
      if (offset < 0 || offset + data.length > volume.sizeBytes) throw new VolumeRangeError(volumeId, offset, data.length, volume.sizeBytes);
      await vcsim.guestWrite(vmId, deviceKeyOf(volumeId), offset, data);
    },

    async advance(ms: number): Promise<void> {
      // Virtual time does not move while vCenter works: what a timer started on vSphere finishes first.
      await vsphere.settled();
      await site.advance(ms);
      await vsphere.settled();
    },

    injectFault: (fault) => site.injectFault(fault),
    clearFaults: () => site.clearFaults(),
    crashRecoveryStorage: (seed) => site.crashRecoveryStorage(seed),

    async dispose(): Promise<void> {
      try {
        await vsphere.dispose();
      } finally {
        await vcsim.stop();
        await site.dispose();
      }
    },
  };
}
