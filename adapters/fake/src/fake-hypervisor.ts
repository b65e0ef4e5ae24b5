// The fake platform as the kernel sees it: one site of a FakeDataCenter behind the HypervisorAdapter
// port, with a true write-blocking splitter (`openTap`), change tracking between frozen views
// (`changeTracking`), or both — so either capture mode of the kernel runs on it.
import { inject, injectable, optional } from 'inversify';
import { UnknownVmError, ValidationError } from '@opencdp/core';
import type { HypervisorAdapter, Inventory, RecoveryDiskPromotion, RecoveryVmSpec, SiteId, VmId, VmInfo, VolumeId } from '@opencdp/core';
import { FakeChangeTracking, type FakeChangeTrackingOptions } from './fake-change-tracking.js';
import { FakeDataCenter } from './fake-data-center.js';
import type { FakeWriteTap } from './fake-write-tap.js';

/** The site a dependency-injected FakeHypervisor serves. */
export const FakeSiteId = Symbol('FakeSiteId');
/** What a dependency-injected FakeHypervisor offers (`FakePlatformOptions`); both when unbound. */
export const FakePlatformOptions = Symbol('FakePlatformOptions');

export interface FakePlatformOptions extends FakeChangeTrackingOptions {
  /**
   * `splitter`: only `openTap`; `change-tracking`: only `changeTracking` (a platform without a splitter,
   * like vSphere, Hyper-V or EBS); `both` (default): the kernel then splits.
   */
  capture?: 'splitter' | 'change-tracking' | 'both';
}

@injectable()
export class FakeHypervisor implements HypervisorAdapter, RecoveryDiskPromotion {
  readonly platform = 'fake';
  /** The splitter; absent when the platform was built for change tracking only. */
  readonly openTap?: (vmId: VmId) => Promise<FakeWriteTap>;
  /** Change tracking between frozen views; absent when the platform was built for the splitter only. */
  readonly changeTracking?: FakeChangeTracking;
  /** Promotion (R7): copies a recovery disk's range from its image into the disk; detaching ends reads of the image. */
  readonly promotion: RecoveryDiskPromotion = this;

  constructor(
    @inject(FakeDataCenter) readonly dataCenter: FakeDataCenter,
    @inject(FakeSiteId) readonly siteId: SiteId,
    @inject(FakePlatformOptions) @optional() options: FakePlatformOptions = {},
  ) {
    dataCenter.getSite(siteId); // fails early on a wrong site id
    const capture = options.capture ?? 'both';
    if (!['splitter', 'change-tracking', 'both'].includes(capture)) throw new ValidationError(`unknown capture mode '${capture}'`, 'capture', 'use splitter, change-tracking or both');
    if (capture !== 'change-tracking') {
      this.openTap = async (vmId: VmId): Promise<FakeWriteTap> => {
        this.own(vmId);
        return this.dataCenter.openTap(vmId);
      };
    }
    if (capture !== 'splitter') this.changeTracking = new FakeChangeTracking(dataCenter, siteId, options);
  }

  async inventory(): Promise<Inventory> {
    return this.dataCenter.inventory(this.siteId);
  }

  async getVm(vmId: VmId): Promise<VmInfo> {
    this.own(vmId);
    return this.dataCenter.getVm(vmId);
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

  /** Promotion (RecoveryDiskPromotion): copies a recovery disk's range from its image into the disk. */
  async promoteDisk(vmId: VmId, volumeId: VolumeId, offset: number, length: number): Promise<void> {
    this.own(vmId);
    await this.dataCenter.promoteRecoveryDisk(vmId, volumeId, offset, length);
  }

  async detachDiskSource(vmId: VmId, volumeId: VolumeId): Promise<void> {
    this.own(vmId);
    this.dataCenter.detachRecoveryDiskSource(vmId, volumeId);
  }

  /** VMs of other sites do not exist for this platform. */
  private own(vmId: VmId): void {
    if (this.dataCenter.siteOf(vmId) !== this.siteId) throw new UnknownVmError(vmId);
  }
}
