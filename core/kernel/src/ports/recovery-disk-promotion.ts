// Promotion (R7): a recovery VM's disks first read through a point-in-time image (replica + journal);
// promotion copies the image's data into the disks themselves while the VM runs, after which the disks no
// longer need the image and the journal can let its checkpoint go. A platform offers it as
// `HypervisorAdapter.promotion` and its harness declares the `recoveryPromotion` capability; without it
// recovered VMs keep reading through the journal and clones are refused.
import type { VmId, VolumeId } from '../model.js';

export const RecoveryDiskPromotion = Symbol('RecoveryDiskPromotion');

export interface RecoveryDiskPromotion {
  /**
   * Copies `[offset, offset + length)` of a recovery disk's source into the disk; the VM keeps running,
   * and its own writes (also those landing while the range is copied) win over the source's data.
   * Refuses (typed) a disk that is not a recovery disk or a range outside it.
   */
  promoteDisk(vmId: VmId, volumeId: VolumeId, offset: number, length: number): Promise<void>;
  /** Stops reading through the source; called once every range was promoted. The source is never read again. */
  detachDiskSource(vmId: VmId, volumeId: VolumeId): Promise<void>;
}
