// The domain model shared by the kernel, adapters and tools: inventory objects, writes, checkpoints.
// Plain data only (JSON-serialisable except for write payloads), so it crosses processes unchanged.

export type SiteId = string;
export type HostId = string;
export type VmId = string;
export type VolumeId = string;
export type NetworkId = string;
export type DatastoreId = string;
export type GroupId = string;
export type CheckpointId = string;

export type PowerState = 'on' | 'off' | 'suspended';

export interface VolumeInfo {
  id: VolumeId;
  vmId: VmId;
  name: string;
  sizeBytes: number;
  /** Writes must be aligned to this; 512 or 4096 on real platforms. */
  sectorSize: number;
}

export interface NicInfo {
  id: string;
  networkId: NetworkId;
  mac: string;
  ipv4?: string;
}

export interface VmInfo {
  id: VmId;
  name: string;
  hostId: HostId;
  powerState: PowerState;
  volumes: VolumeInfo[];
  nics: NicInfo[];
}

export interface HostInfo {
  id: HostId;
  name: string;
  siteId: SiteId;
}

export interface NetworkInfo {
  id: NetworkId;
  name: string;
  /** A test network is isolated from production; failover tests attach recovered VMs to it. */
  isolated: boolean;
}

export interface DatastoreInfo {
  id: DatastoreId;
  name: string;
  capacityBytes: number;
  freeBytes: number;
}

/** A folder VMs are filed in, on platforms that have them (vSphere's VM folders); recovery can place VMs there. */
export interface FolderInfo {
  id: string;
  name: string;
  /** The VMs filed in this folder. */
  vmIds: VmId[];
}

export interface Inventory {
  hosts: HostInfo[];
  vms: VmInfo[];
  networks: NetworkInfo[];
  datastores: DatastoreInfo[];
  /** VM folders; absent or empty on platforms without them. */
  folders?: FolderInfo[];
  /** The platform kind (`fake`, `qemu`, `hyperv`, `vsphere`, …), filled in by the appliance that reports the inventory. */
  platform?: string;
}

/** One guest write as the splitter sees it. */
export interface GuestWrite {
  volumeId: VolumeId;
  offset: number;
  data: Buffer;
}

/** A guest write stamped with its group sequence number by the protected appliance. */
export interface SequencedWrite extends GuestWrite {
  seq: number;
}

export type CheckpointKind = 'auto' | 'tagged' | 'vss';

/**
 * A crash-consistent (or, for `vss`, application-consistent) point in a group's write stream:
 * the image at a checkpoint holds exactly the writes with sequence number ≤ `seq`.
 */
export interface Checkpoint {
  id: CheckpointId;
  groupId: GroupId;
  seq: number;
  /** Milliseconds since the epoch, from the manager's clock; one value for the whole group. */
  timestamp: number;
  kind: CheckpointKind;
  tag?: string;
}
