// What a platform can host, so that recovery onto another platform is refused before anything is made
// when the target cannot take the source (a volume too large, a sector size it cannot present, firmware
// it lacks), and so the recovery report can say what the guest meets there (controller, firmware).
// Kept small on purpose: the orchestrator checks these, and the report names the rest.

/** Boot firmware of a VM. */
export type Firmware = 'bios' | 'uefi';

/**
 * A disk controller as a guest sees it. Well-known names (the report knows their drivers): `virtio-blk`,
 * `virtio-scsi`, `ide`, `sata`, `pvscsi`, `lsilogic`, `nvme`, `hyperv-scsi`, `hyperv-ide`, `fake-disk`.
 * A vendor may use another name; the report then lists no drivers for it.
 */
export type DiskController = string;

/**
 * The kind of network a NIC attaches to: `bridge` (a Linux bridge or QEMU netdev), `portgroup` (vSphere),
 * `virtual-switch` (Hyper-V), `subnet` (an AWS VPC subnet), `fake` (the fake data centre). Free text for
 * other platforms; recorded in the report's network mapping.
 */
export type NetworkKind = string;

export interface PlatformLimits {
  /** The largest disk a recovered VM can have, in bytes. */
  maxVolumeBytes: number;
  /**
   * Logical sector sizes a recovered disk can present. A source volume whose sector size is a multiple
   * of one of them is hosted (emulated: 4096 on 512 is "512e"; the report warns that partition tables
   * addressed in 4096-byte LBAs are not found); any other is refused.
   */
  sectorSizes: readonly number[];
  /** Firmware a recovered VM can boot with; the first is what the platform picks when the plan names none. */
  firmware: readonly Firmware[];
  /** Disk controllers of recovered VMs; the first is the one recovered disks are attached to. */
  controllers: readonly DiskController[];
  /** The kinds of network recovered NICs attach to here. */
  networkKinds: readonly NetworkKind[];
}
