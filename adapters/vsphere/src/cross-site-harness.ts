// Cross-platform recovery: the protected site is the fake data centre (a true splitter on a virtual clock)
// and the recovery site is vSphere on vcsim, so the recovery suite recovers groups protected on another
// platform as vSphere VMs — disks uploaded as flat extents, compared with the oracle by hash. The guest
// writes the suite makes into recovered VMs go through the vcsim fixture's simulated guest.
import os from 'node:os';
import { AlignmentError, ValidationError, VolumeRangeError } from '@opencdp/core';
import type { ConformanceHarness, VmId, VolumeId } from '@opencdp/core';
import { createFakeHarness, type FakeHarness } from '@opencdp/adapter-fake';
import { startVcsim, type VcsimFixture, type VcsimModel } from './testing/vcsim-fixture.js';
import { deviceKeyOf } from './testing/test-vms.js';
import { VsphereHypervisor } from './vsphere-hypervisor.js';
import { VSPHERE_LIVE_PORTGROUP, VSPHERE_TEST_PORTGROUP } from './vsphere-harness.js';

export interface CrossSiteHarnessOptions {
  seed?: number;
  tmpDir?: string;
  model?: VcsimModel;
}

export interface CrossSiteHarness extends ConformanceHarness {
  readonly protectedSite: FakeHarness;
  readonly recoveryHypervisor: VsphereHypervisor;
  readonly fixture: VcsimFixture;
}

export const CROSS_SITE_UNSUPPORTED = {
  reverseProtection: 'reverse protection would protect the recovered vSphere VMs back to the fake site; vSphere has no write splitter, and the kernel does not run reverse protection in change-tracking capture (snapshot shipping) yet',
} as const;

export async function createCrossSiteHarness(options: CrossSiteHarnessOptions = {}): Promise<CrossSiteHarness> {
  const fake = await createFakeHarness({ seed: options.seed ?? 1 });
  const fixture = await startVcsim(options.model ?? {}, options.tmpDir ?? os.tmpdir());
  let vsphere: VsphereHypervisor;
  try {
    vsphere = await VsphereHypervisor.connect({
      url: fixture.url, user: fixture.user, password: fixture.password, trust: { kind: 'thumbprint', thumbprint: fixture.thumbprint },
      datacenter: 'DC0', siteId: 'recovery', clock: fake.clock, livePortgroup: VSPHERE_LIVE_PORTGROUP, testPortgroups: [VSPHERE_TEST_PORTGROUP],
      taskTimeoutMs: 60_000,
    });
  } catch (error) {
    await fixture.stop();
    await fake.dispose();
    throw error;
  }
  const onVsphere = async (vmId: VmId): Promise<boolean> => {
    try {
      await vsphere.site.vmRecord(vmId);
      return true;
    } catch {
      return false;
    }
  };
  return {
    name: 'fake-to-vsphere',
    capabilities: { ...fake.capabilities, recoveryVm: true, reverseProtection: CROSS_SITE_UNSUPPORTED.reverseProtection },
    clock: fake.clock,
    hypervisor: fake.hypervisor,
    recoveryHypervisor: vsphere,
    recoveryStorage: fake.recoveryStorage,
    consistencyAgent: fake.consistencyAgent,
    protectedSite: fake,
    fixture,
    createVm: (spec) => fake.createVm(spec),
    addVolume: (vmId, volume) => fake.addVolume!(vmId, volume),

    async guestWrite(vmId: VmId, volumeId: VolumeId, offset: number, data: Buffer): Promise<void> {
      // The fake's ids (`vm-1`) and vSphere's (`vm-53`) can look alike: the fake is asked first.
      if (fake.dataCenter.inventory().vms.some((v) => v.id === vmId) || !(await onVsphere(vmId))) return fake.guestWrite(vmId, volumeId, offset, data);
      const vm = await vsphere.getVm(vmId);
      const volume = vm.volumes.find((v) => v.id === volumeId);
      if (!volume) throw new ValidationError(`volume '${volumeId}' is not a disk of VM '${vmId}'`, 'volumeId');
      if (offset % volume.sectorSize !== 0 || data.length % volume.sectorSize !== 0) throw new AlignmentError(volumeId, offset, data.length, volume.sectorSize);
      if (offset < 0 || offset + data.length > volume.sizeBytes) throw new VolumeRangeError(volumeId, offset, data.length, volume.sizeBytes);
      await fixture.guestWrite(vmId, deviceKeyOf(volumeId), offset, data);
    },

    async advance(ms: number): Promise<void> {
      // Virtual time does not move while vCenter works: what a timer started on vSphere finishes first.
      await vsphere.settled();
      await fake.advance(ms);
      await vsphere.settled();
    },

    injectFault: (fault) => fake.injectFault(fault),
    clearFaults: () => fake.clearFaults(),
    crashRecoveryStorage: (seed) => fake.crashRecoveryStorage(seed),

    async dispose(): Promise<void> {
      try {
        await vsphere.dispose();
      } finally {
        await fixture.stop();
        await fake.dispose();
      }
    },
  };
}
