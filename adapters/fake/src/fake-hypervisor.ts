// The fake platform as the kernel sees it: one site of a FakeDataCenter behind the HypervisorAdapter
// port, with a true write-blocking splitter (`openTap`) and change tracking, so both kernel modes run.
import { inject, injectable } from 'inversify';
import { UnknownVmError } from '@opencdp/core';
import type {
  DirtyTracking, ChangedRegion, HypervisorAdapter, Inventory, RecoveryDiskPromotion, RecoveryVmSpec, SiteId, VmId, VmInfo, VolumeId,
} from '@opencdp/core';
import { FakeDataCenter } from './fake-data-center.js';
import type { FakeWriteTap } from './fake-write-tap.js';

/** The site a dependency-injected FakeHypervisor serves. */
export const FakeSiteId = Symbol('FakeSiteId');

@injectable()
export class FakeHypervisor implements HypervisorAdapter {
  readonly platform = 'fake';
  /** Token = the VM's change-tracking generation; regions at 64 KiB granularity, merged, no misses. */
  readonly dirtyTracking: DirtyTracking;
  /** Promotion (R7): copies a recovery disk's range from its image into the disk; detaching ends reads of the image. */
  readonly promotion: RecoveryDiskPromotion;

  constructor(
    @inject(FakeDataCenter) readonly dataCenter: FakeDataCenter,
    @inject(FakeSiteId) readonly siteId: SiteId,
  ) {
    dataCenter.getSite(siteId); // fails early on a wrong site id
    this.dirtyTracking = {
      mark: async (vmId: VmId): Promise<string> => {
        this.own(vmId);
        return dataCenter.markChanges(vmId);
      },
      changedSince: async (vmId: VmId, token: string): Promise<ChangedRegion[]> => {
        this.own(vmId);
        return dataCenter.changedSince(vmId, token);
      },
    };
    this.promotion = {
      promoteDisk: async (vmId: VmId, volumeId: VolumeId, offset: number, length: number): Promise<void> => {
        this.own(vmId);
        await dataCenter.promoteRecoveryDisk(vmId, volumeId, offset, length);
      },
      detachDiskSource: async (vmId: VmId, volumeId: VolumeId): Promise<void> => {
        this.own(vmId);
        dataCenter.detachRecoveryDiskSource(vmId, volumeId);
      },
    };
  }

  async inventory(): Promise<Inventory> {
    return this.dataCenter.inventory(this.siteId);
  }

  async getVm(vmId: VmId): Promise<VmInfo> {
    this.own(vmId);
    return this.dataCenter.getVm(vmId);
  }

  async openTap(vmId: VmId): Promise<FakeWriteTap> {
    this.own(vmId);
    return this.dataCenter.openTap(vmId);
  }

  async readVolume(vmId: VmId, volumeId: VolumeId, offset: number, length: number): Promise<Buffer> {
    this.own(vmId);
    return this.dataCenter.guestRead(vmId, volumeId, offset, length);
  }

  async createRecoveryVm(spec: RecoveryVmSpec): Promise<VmInfo> {
    return this.dataCenter.createRecoveryVm(this.siteId, spec);
  }

  async powerOn(vmId: VmId): Promise<void> {
    this.own(vmId);
    this.dataCenter.powerOn(vmId);
  }

  async shutdownGuest(vmId: VmId): Promise<void> {
    this.own(vmId);
    this.dataCenter.shutdownGuest(vmId);
  }

  async powerOff(vmId: VmId): Promise<void> {
    this.own(vmId);
    this.dataCenter.powerOff(vmId);
  }

  async deleteVm(vmId: VmId): Promise<void> {
    this.own(vmId);
    this.dataCenter.deleteVm(vmId);
  }

  /** VMs of other sites do not exist for this platform. */
  private own(vmId: VmId): void {
    if (this.dataCenter.siteOf(vmId) !== this.siteId) throw new UnknownVmError(vmId);
  }
}
