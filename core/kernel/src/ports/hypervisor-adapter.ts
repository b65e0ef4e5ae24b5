// What a platform offers the kernel: inventory, write splitting (or change tracking), volume reads for
// syncs, and recovery VMs. Capabilities say which parts are real on this platform.
import type { DatastoreId, GuestWrite, Inventory, NetworkId, VmId, VmInfo, VolumeId } from '../model.js';
import type { WriteTap } from './write-tap.js';
import type { ChangedRegion, ChangeTracking } from './change-tracking.js';
import type { RecoveryDiskPromotion } from './recovery-disk-promotion.js';

export const HypervisorAdapter = Symbol('HypervisorAdapter');

/**
 * Live dirty tracking of a VM's volumes (no frozen view): the fake and QEMU platforms offer it for their
 * own tests. Superseded by `ChangeTracking` (change-tracking capture mode); not used by the kernel.
 */
export interface DirtyTracking {
  /** Opaque token naming the current state; pass it back to `changedSince`. */
  mark(vmId: VmId): Promise<string>;
  changedSince(vmId: VmId, token: string): Promise<ChangedRegion[]>;
}

/** Something that serves a volume's bytes, e.g. a point-in-time image opened on the journal. */
export interface VolumeSource {
  sizeBytes(volumeId: VolumeId): number;
  read(volumeId: VolumeId, offset: number, length: number): Promise<Buffer>;
}

export interface RecoveryNicSpec {
  networkId: NetworkId;
  mac?: string;
  /** Re-IP: the address the recovered guest is given on this network. */
  ipv4?: string;
}

export interface RecoveryVmSpec {
  name: string;
  /** The protected VM this one recovers, for reports. */
  sourceVmId: VmId;
  hostId?: string;
  datastoreId?: DatastoreId;
  /**
   * One disk per protected volume, in this order (the recovered VM's `volumes` keep it), backed by a
   * point-in-time image (read) plus scratch or promoted space (write). Each disk is exactly
   * `source.sizeBytes(volumeId)` bytes with sectors of `sectorSize` bytes (512 when absent; the kernel
   * always gives the protected volume's).
   */
  disks: { volumeId: VolumeId; source: VolumeSource; sectorSize?: number }[];
  nics: RecoveryNicSpec[];
}

export interface HypervisorAdapter {
  /** Platform name for reports, e.g. `fake`, `qemu`, `vsphere`. */
  readonly platform: string;
  inventory(): Promise<Inventory>;
  getVm(vmId: VmId): Promise<VmInfo>;
  /** Attaches a splitter to the VM. Absent where the platform has none (see `changeTracking`). */
  openTap?(vmId: VmId): Promise<WriteTap>;
  /** Change tracking between frozen views, for the change-tracking capture mode (see `change-tracking.ts`). */
  readonly changeTracking?: ChangeTracking;
  /** Copies a recovery VM's disks off their point-in-time images (R7, clone); absent where the platform cannot. */
  readonly promotion?: RecoveryDiskPromotion;
  /** Reads a protected volume directly, for initial, delta and bitmap syncs. */
  readVolume(vmId: VmId, volumeId: VolumeId, offset: number, length: number): Promise<Buffer>;
  createRecoveryVm(spec: RecoveryVmSpec): Promise<VmInfo>;
  powerOn(vmId: VmId): Promise<void>;
  shutdownGuest(vmId: VmId): Promise<void>;
  powerOff(vmId: VmId): Promise<void>;
  deleteVm(vmId: VmId): Promise<void>;
}

export type { GuestWrite };
