// How EC2 resources appear as the kernel's VMs: an instance is a VM (its availability zone is the host,
// its subnets the networks, its EBS volumes the disks in device order: root first); a recovery VM is an
// AMI whose snapshots hold its disks until it is first powered on, then the instance launched from it,
// under the AMI's id throughout (AWS cannot create an instance without starting it).
import type { Image, Instance } from '@aws-sdk/client-ec2';
import type { NicInfo, PowerState, VmInfo, VolumeInfo } from '@opencdp/core';
import { GIB } from '../ebs/ebs-direct.js';
import { tagsOf } from './ec2-api.js';

/** Tag on every AMI, snapshot, instance and volume a recovery made. */
export const RECOVERY_TAG = 'opencdp:recovery-vm';
/** Tag on the instance (and its volumes) launched for a recovery VM: the VM's id (its AMI). */
export const VM_ID_TAG = 'opencdp:vm-id';
/** Tag on a recovery AMI: the protected volumes' sizes in bytes, in disk order. */
export const DISK_BYTES_TAG = 'opencdp:disk-bytes';
/** Tag on a recovery AMI: the NICs to launch with, as JSON `[{n: subnet, ip?}]`. */
export const NICS_TAG = 'opencdp:nics';
export const AZ_TAG = 'opencdp:az';
export const SOURCE_VM_TAG = 'opencdp:source-vm';

/** Device name of disk `i` of a recovery VM: the root, then /dev/sdb, /dev/sdc, … */
export function deviceNameOf(i: number): string {
  return i === 0 ? '/dev/xvda' : `/dev/sd${String.fromCharCode(98 + i)}`;
}

/** Root device first, then the others by name: the order a VM's disks keep. */
export function byDeviceOrder<T extends { DeviceName?: string }>(items: readonly T[], root: string | undefined): T[] {
  return [...items].sort((a, b) => (a.DeviceName === root ? -1 : b.DeviceName === root ? 1 : (a.DeviceName ?? '').localeCompare(b.DeviceName ?? '')));
}

export function powerStateOf(state: string | undefined): PowerState {
  return state === 'running' || state === 'pending' ? 'on' : 'off';
}

export function isGone(i: Instance): boolean {
  return i.State?.Name === 'terminated' || i.State?.Name === 'shutting-down';
}

/** An instance as a VmInfo; `diskBytes` (a recovery VM's protected sizes) win over the EBS sizes. */
export function instanceVmInfo(i: Instance, volumeGiB: ReadonlyMap<string, number>, id = i.InstanceId!, diskBytes?: readonly number[]): VmInfo {
  const tags = tagsOf(i);
  const devices = byDeviceOrder(i.BlockDeviceMappings ?? [], i.RootDeviceName);
  const volumes: VolumeInfo[] = devices.filter((d) => d.Ebs?.VolumeId).map((d, k) => ({
    id: d.Ebs!.VolumeId!, vmId: id, name: d.DeviceName ?? '', sizeBytes: diskBytes?.[k] ?? (volumeGiB.get(d.Ebs!.VolumeId!) ?? 0) * GIB, sectorSize: 512,
  }));
  const nics: NicInfo[] = [...(i.NetworkInterfaces ?? [])].sort((a, b) => (a.Attachment?.DeviceIndex ?? 0) - (b.Attachment?.DeviceIndex ?? 0)).map((n) => ({
    id: n.NetworkInterfaceId!, networkId: n.SubnetId!, mac: n.MacAddress ?? '', ...(n.PrivateIpAddress ? { ipv4: n.PrivateIpAddress } : {}),
  }));
  return { id, name: tags.Name ?? id, hostId: i.Placement?.AvailabilityZone ?? '', powerState: powerStateOf(i.State?.Name), volumes, nics };
}

/** The NICs a recovery AMI launches with. */
export function plannedNics(image: Image): { n: string; ip?: string }[] {
  try {
    const parsed = JSON.parse(tagsOf(image)[NICS_TAG] ?? '[]') as { n: string; ip?: string }[];
    return Array.isArray(parsed) ? parsed : [];
  } catch {
    return [];
  }
}

export function diskBytesOf(image: Image): number[] | undefined {
  const raw = tagsOf(image)[DISK_BYTES_TAG];
  return raw ? raw.split(',').map(Number) : undefined;
}

/** A recovery VM that was never powered on: its disks are the AMI's snapshots. */
export function plannedVmInfo(image: Image): VmInfo {
  const id = image.ImageId!;
  const tags = tagsOf(image);
  const sizes = diskBytesOf(image);
  const disks = byDeviceOrder(image.BlockDeviceMappings ?? [], image.RootDeviceName);
  return {
    id, name: tags.Name ?? id, hostId: tags[AZ_TAG] ?? '', powerState: 'off',
    volumes: disks.map((d, k) => ({ id: d.Ebs!.SnapshotId!, vmId: id, name: d.DeviceName ?? '', sizeBytes: sizes?.[k] ?? (d.Ebs?.VolumeSize ?? 0) * GIB, sectorSize: 512 })),
    nics: plannedNics(image).map((n, k) => ({ id: `${id}/nic-${k}`, networkId: n.n, mac: '', ...(n.ip ? { ipv4: n.ip } : {}) })),
  };
}
