// The HypervisorAdapter on EC2 and EBS. Recovery: each disk's point-in-time image is written into an EBS
// snapshot with the EBS direct APIs (a child of the newest standby snapshot when there is one, so only
// changed blocks are written), the snapshots become an AMI (RegisterImage with block device mappings),
// and powerOn launches the instance (RunInstances with NICs on the mapped subnets, security groups and
// private IPs). Protection: `changeTracking` takes CreateSnapshots views of instances. A failed recovery
// removes the snapshots and AMI it made; deleteVm terminates, deregisters and deletes them all.
import { randomBytes } from 'node:crypto';
import type { EBSClient } from '@aws-sdk/client-ebs';
import type { EC2Client, Image, Instance, _InstanceType as InstanceType, VolumeType } from '@aws-sdk/client-ec2';
import {
  UnknownVmError, ValidationError, VolumeRangeError,
  type Clock, type HypervisorAdapter, type Inventory, type PointInTimeImage, type RecoveryDiskPromotion, type RecoveryVmSpec, type VmId, type VmInfo,
  type VolumeId, type VolumeSource,
} from '@opencdp/core';
import { EBS_BLOCK_SIZE, EbsDirect, GIB, gibFor } from './ebs/ebs-direct.js';
import { blocksOfExtents, readSnapshotRange, writeSnapshot } from './ebs/snapshot-io.js';
import { Ec2Api, tagSpec, tagsOf, type Ec2WaitOptions } from './ec2/ec2-api.js';
import { EbsChangeTracking, type EbsChangeTrackingOptions } from './ec2/ebs-change-tracking.js';
import {
  AZ_TAG, DISK_BYTES_TAG, NICS_TAG, RECOVERY_TAG, SOURCE_VM_TAG, VM_ID_TAG, deviceNameOf, diskBytesOf, instanceVmInfo, isGone, plannedNics, plannedVmInfo,
} from './ec2/vm-info.js';
import type { StandbyBaseSource } from './standby/standby-chains.js';

export interface AwsRecoveryOptions {
  /** Instance type of recovered VMs (default t3.medium). */
  instanceType?: string;
  /** Security groups of NICs on live subnets. */
  securityGroupIds?: string[];
  /** Security groups of NICs on isolated test subnets (default: the live ones). */
  testSecurityGroupIds?: string[];
  /** Subnets that count as isolated test networks besides those tagged `opencdp:isolated=true`. */
  testSubnetIds?: string[];
  architecture?: 'x86_64' | 'arm64';
  bootMode?: 'uefi' | 'legacy-bios' | 'uefi-preferred';
  /** EBS volume type when the plan names no datastore (default gp3). */
  volumeType?: string;
}

export interface AwsHypervisorOptions {
  ec2: EC2Client;
  ebs: EBSClient;
  clock: Clock;
  recovery?: AwsRecoveryOptions;
  /** Only instances with this tag are listed as VMs (besides recovery VMs); default: every instance. */
  instanceFilter?: { tagKey: string; tagValue?: string };
  /** EBS volume types offered as datastores (default gp3, gp2, io2, st1). */
  volumeTypes?: string[];
  /** The account's EBS storage quota per volume type: the datastores' capacity (default 50 TiB). */
  volumeQuotaBytes?: number;
  wait?: Ec2WaitOptions;
  /** EBS direct calls in flight at once (default 16). */
  concurrency?: number;
  standby?: StandbyBaseSource;
  /** Change tracking for protected instances; false leaves it out. */
  changeTracking?: EbsChangeTrackingOptions | false;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

/** What the last recovery disk write did (benchmarks and reports read it). */
export interface DiskWriteStats {
  vmName: string;
  volumeId: VolumeId;
  snapshotId: string;
  fromStandby: boolean;
  blocksRead: number;
  blocksWritten: number;
}

export class AwsHypervisor implements HypervisorAdapter, RecoveryDiskPromotion {
  readonly platform = 'aws';
  readonly ec2: Ec2Api;
  readonly ebs: EbsDirect;
  readonly changeTracking?: EbsChangeTracking;
  /** EBS volumes are filled before the instance exists, so promotion has nothing to copy (see `promoteDisk`). */
  readonly promotion: RecoveryDiskPromotion = this;
  readonly diskWrites: DiskWriteStats[] = [];
  private standby?: StandbyBaseSource;
  private readonly recovery: Required<Omit<AwsRecoveryOptions, 'bootMode' | 'testSecurityGroupIds'>> & Pick<AwsRecoveryOptions, 'bootMode' | 'testSecurityGroupIds'>;
  private readonly volumeTypes: string[];
  private readonly quota: number;

  constructor(private readonly o: AwsHypervisorOptions) {
    this.ec2 = new Ec2Api(o.ec2, o.clock, o.wait);
    this.ebs = new EbsDirect(o.ebs, { concurrency: o.concurrency ?? 16 });
    this.recovery = {
      instanceType: 't3.medium', securityGroupIds: [], testSubnetIds: [], architecture: 'x86_64', volumeType: 'gp3', ...o.recovery,
    };
    this.volumeTypes = o.volumeTypes ?? ['gp3', 'gp2', 'io2', 'st1'];
    this.quota = o.volumeQuotaBytes ?? 50 * 1024 * GIB;
    if (o.changeTracking !== false) this.changeTracking = new EbsChangeTracking(this.ec2, this.ebs, o.clock, o.changeTracking ?? {});
    this.standby = o.standby;
  }

  /** Failovers from now on build on these standby chains (they need this hypervisor's EBS and EC2 calls to exist first). */
  useStandby(chains: StandbyBaseSource | undefined): void {
    this.standby = chains;
  }

  // ---- inventory --------------------------------------------------------------------------------

  async inventory(): Promise<Inventory> {
    const [instances, images, subnets, volumes] = await Promise.all([
      this.ec2.describeInstances(), this.ec2.describeImages([{ Name: 'tag-key', Values: [RECOVERY_TAG] }]), this.ec2.describeSubnets(), this.ec2.describeVolumes(),
    ]);
    const gib = new Map(volumes.map((v) => [v.VolumeId!, v.Size ?? 0]));
    const launched = new Map(instances.filter((i) => !isGone(i) && tagsOf(i)[VM_ID_TAG]).map((i) => [tagsOf(i)[VM_ID_TAG], i]));
    const vms: VmInfo[] = instances.filter((i) => !isGone(i) && !tagsOf(i)[VM_ID_TAG] && this.listed(i)).map((i) => instanceVmInfo(i, gib));
    for (const image of images) vms.push(this.recoveryVmInfo(image, launched.get(image.ImageId!), gib));
    const used = new Map<string, number>();
    for (const v of volumes) used.set(v.VolumeType ?? 'gp3', (used.get(v.VolumeType ?? 'gp3') ?? 0) + (v.Size ?? 0) * GIB);
    // A recovery VM not launched yet holds its capacity already: its volumes appear when it is powered on.
    for (const image of images.filter((m) => !launched.has(m.ImageId!))) {
      for (const m of image.BlockDeviceMappings ?? []) used.set(m.Ebs?.VolumeType ?? 'gp3', (used.get(m.Ebs?.VolumeType ?? 'gp3') ?? 0) + (m.Ebs?.VolumeSize ?? 0) * GIB);
    }
    return {
      hosts: [...new Set(subnets.map((s) => s.AvailabilityZone!))].sort().map((az) => ({ id: az, name: az, siteId: az.slice(0, -1) })),
      vms,
      networks: subnets.map((s) => ({ id: s.SubnetId!, name: tagsOf(s).Name ?? s.SubnetId!, isolated: this.isIsolated(s.SubnetId!, tagsOf(s)) })),
      datastores: this.volumeTypes.map((t) => ({ id: t, name: `EBS ${t}`, capacityBytes: this.quota, freeBytes: Math.max(0, this.quota - (used.get(t) ?? 0)) })),
    };
  }

  async getVm(vmId: VmId): Promise<VmInfo> {
    if (vmId.startsWith('ami-')) {
      const image = await this.recoveryImage(vmId);
      const instance = await this.launchedInstance(vmId);
      const volumes = instance ? await this.ec2.describeVolumes(undefined, (instance.BlockDeviceMappings ?? []).map((d) => d.Ebs!.VolumeId!)) : [];
      return this.recoveryVmInfo(image, instance, new Map(volumes.map((v) => [v.VolumeId!, v.Size ?? 0])));
    }
    const instance = await this.plainInstance(vmId);
    const volumes = await this.ec2.describeVolumes(undefined, (instance.BlockDeviceMappings ?? []).map((d) => d.Ebs!.VolumeId!));
    return instanceVmInfo(instance, new Map(volumes.map((v) => [v.VolumeId!, v.Size ?? 0])));
  }

  /**
   * Reads a volume as it is now. EC2 has no live block reads: the volume is snapshotted, read through
   * the EBS direct APIs, and the snapshot deleted (slow on AWS; the change-tracking kernel reads views).
   * A recovery VM never powered on is read straight from its snapshots.
   */
  async readVolume(vmId: VmId, volumeId: VolumeId, offset: number, length: number): Promise<Buffer> {
    const vm = await this.getVm(vmId);
    let index = vm.volumes.findIndex((v) => v.id === volumeId);
    if (index < 0 && vmId.startsWith('ami-') && volumeId.startsWith('snap-')) {
      // A disk named by its snapshot after the VM was launched: the same device, now an EBS volume.
      const image = await this.recoveryImage(vmId);
      index = plannedVmInfo(image).volumes.findIndex((v) => v.id === volumeId);
    }
    const volume = vm.volumes[index];
    if (!volume) throw new ValidationError(`volume '${volumeId}' is not a disk of VM '${vmId}'`, 'volumeId');
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0 || offset + length > volume.sizeBytes) {
      throw new VolumeRangeError(volumeId, offset, length, volume.sizeBytes);
    }
    if (volume.id.startsWith('snap-')) return readSnapshotRange(this.ebs, volume.id, offset, length);
    const snapshotId = await this.ec2.createSnapshot(volume.id, { 'opencdp:purpose': 'read', [RECOVERY_TAG]: 'read' }, `OpenCDP read of ${volume.id}`);
    try {
      await this.ec2.waitSnapshots([snapshotId]);
      return await readSnapshotRange(this.ebs, snapshotId, offset, length);
    } finally {
      await this.ec2.deleteSnapshot(snapshotId);
    }
  }

  // ---- recovery VMs -----------------------------------------------------------------------------

  async createRecoveryVm(spec: RecoveryVmSpec): Promise<VmInfo> {
    if (spec.disks.length === 0 || spec.disks.length > 25) throw new ValidationError(`a recovery VM needs 1 to 25 disks, got ${spec.disks.length}`, 'disks');
    if (spec.nics.length === 0) throw new ValidationError('a recovery VM needs at least one NIC', 'nics');
    const subnets = new Map((await this.ec2.describeSubnets()).map((s) => [s.SubnetId!, s]));
    const zones = new Set<string>();
    for (const nic of spec.nics) {
      const subnet = subnets.get(nic.networkId);
      if (!subnet) throw new ValidationError(`network '${nic.networkId}' is not a subnet of this region`, 'nics', `use one of ${[...subnets.keys()].join(', ')}`);
      zones.add(subnet.AvailabilityZone!);
      if (nic.ipv4 !== undefined && !inCidr(nic.ipv4, subnet.CidrBlock!)) throw new ValidationError(`address ${nic.ipv4} is not inside subnet ${nic.networkId} (${subnet.CidrBlock})`, 'nics');
    }
    if (zones.size > 1) throw new ValidationError(`the NICs of '${spec.name}' span availability zones ${[...zones].join(', ')}; an instance lives in one`, 'nics');
    const az = [...zones][0];
    if (spec.hostId !== undefined && spec.hostId !== az) throw new ValidationError(`host '${spec.hostId}' is not the availability zone ${az} of the mapped subnets`, 'hostId');
    const volumeType = spec.datastoreId ?? this.recovery.volumeType;
    if (!this.volumeTypes.includes(volumeType)) throw new ValidationError(`datastore '${volumeType}' is not an EBS volume type offered here`, 'datastoreId', `use one of ${this.volumeTypes.join(', ')}`);

    const written = await Promise.allSettled(spec.disks.map((disk, i) => this.writeDisk(spec, disk.volumeId, disk.source, i)));
    const made = written.filter((r): r is PromiseFulfilledResult<{ snapshotId: string; sizeGiB: number; sizeBytes: number }> => r.status === 'fulfilled').map((r) => r.value);
    const failed = written.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    let imageId: string | undefined;
    try {
      if (failed) throw failed.reason;
      const tags = {
        [RECOVERY_TAG]: 'true', Name: spec.name.slice(0, 255), [SOURCE_VM_TAG]: spec.sourceVmId, [AZ_TAG]: az,
        [DISK_BYTES_TAG]: made.map((d) => d.sizeBytes).join(','), [NICS_TAG]: JSON.stringify(spec.nics.map((n) => ({ n: n.networkId, ...(n.ipv4 ? { ip: n.ipv4 } : {}) }))),
      };
      imageId = await this.ec2.registerImage({
        Name: `opencdp-${spec.name.replace(/[^\w ().'@/-]/g, '_').slice(0, 60)}-${this.o.clock.now()}-${randomBytes(4).toString('hex')}`,
        RootDeviceName: deviceNameOf(0), Architecture: this.recovery.architecture, VirtualizationType: 'hvm', EnaSupport: true,
        ...(this.recovery.bootMode ? { BootMode: this.recovery.bootMode } : {}),
        BlockDeviceMappings: made.map((d, i) => ({ DeviceName: deviceNameOf(i), Ebs: { SnapshotId: d.snapshotId, VolumeSize: d.sizeGiB, VolumeType: volumeType as VolumeType, DeleteOnTermination: true } })),
        TagSpecifications: [tagSpec('image', tags)],
      });
      this.o.log?.('recovery-vm-created', { name: spec.name, imageId, snapshots: made.map((d) => d.snapshotId) });
      return await this.getVm(imageId);
    } catch (error) {
      // Nothing half-made stays: the AMI and every snapshot written for it go.
      if (imageId) await this.ec2.deregisterImage(imageId).catch(() => undefined);
      for (const d of made) await this.ec2.deleteSnapshot(d.snapshotId).catch(() => undefined);
      throw error;
    }
  }

  async powerOn(vmId: VmId): Promise<void> {
    if (!vmId.startsWith('ami-')) {
      const i = await this.plainInstance(vmId);
      if (i.State?.Name !== 'running') await this.ec2.startInstance(vmId);
      await this.ec2.waitInstance(vmId, 'running');
      return;
    }
    const image = await this.recoveryImage(vmId);
    const existing = await this.launchedInstance(vmId);
    if (existing) {
      if (existing.State?.Name === 'stopping') await this.ec2.waitInstance(existing.InstanceId!, 'stopped');
      if (existing.State?.Name !== 'running' && existing.State?.Name !== 'pending') await this.ec2.startInstance(existing.InstanceId!);
      await this.ec2.waitInstance(existing.InstanceId!, 'running');
      return;
    }
    const subnets = new Map((await this.ec2.describeSubnets()).map((s) => [s.SubnetId!, s]));
    const tags = { Name: tagsOf(image).Name ?? vmId, [VM_ID_TAG]: vmId, [RECOVERY_TAG]: 'true' };
    const launched = await this.ec2.runInstance({
      ImageId: vmId, InstanceType: this.recovery.instanceType as InstanceType, ClientToken: `${vmId}-${this.o.clock.now()}`,
      NetworkInterfaces: plannedNics(image).map((n, k) => {
        const isolated = this.isIsolated(n.n, tagsOf(subnets.get(n.n) ?? {}));
        const groups = isolated ? (this.recovery.testSecurityGroupIds ?? this.recovery.securityGroupIds) : this.recovery.securityGroupIds;
        return { DeviceIndex: k, SubnetId: n.n, DeleteOnTermination: true, ...(groups.length > 0 ? { Groups: groups } : {}), ...(n.ip ? { PrivateIpAddress: n.ip } : {}) };
      }),
      TagSpecifications: [tagSpec('instance', tags), tagSpec('volume', { [VM_ID_TAG]: vmId, [RECOVERY_TAG]: 'true' })],
    });
    this.o.log?.('recovery-vm-launched', { vmId, instanceId: launched.InstanceId });
    // An instance that fails to start ends terminated; AWS deletes its volumes (DeleteOnTermination).
    await this.ec2.waitInstance(launched.InstanceId!, 'running');
  }

  async shutdownGuest(vmId: VmId): Promise<void> {
    await this.stop(vmId, false);
  }

  async powerOff(vmId: VmId): Promise<void> {
    await this.stop(vmId, true);
  }

  async deleteVm(vmId: VmId): Promise<void> {
    if (!vmId.startsWith('ami-')) {
      await this.plainInstance(vmId);
      await this.ec2.terminateInstance(vmId);
      await this.ec2.waitInstance(vmId, 'terminated');
      return;
    }
    const images = await this.ec2.describeImages(undefined, [vmId]).catch(() => [] as Image[]);
    const image = images[0];
    const instance = await this.launchedInstance(vmId);
    if (instance) {
      await this.ec2.terminateInstance(instance.InstanceId!);
      await this.ec2.waitInstance(instance.InstanceId!, 'terminated');
    }
    if (!image) return;
    await this.ec2.deregisterImage(vmId);
    for (const m of image.BlockDeviceMappings ?? []) if (m.Ebs?.SnapshotId) await this.ec2.deleteSnapshot(m.Ebs.SnapshotId);
    this.o.log?.('recovery-vm-deleted', { vmId });
  }

  /** Promotion has nothing to copy: the EBS volumes were filled from the image before the instance existed. */
  async promoteDisk(vmId: VmId): Promise<void> {
    await this.getVm(vmId);
  }

  async detachDiskSource(): Promise<void> {
    // The disks never read through the journal's image.
  }

  // ---- internals ----------------------------------------------------------------------------

  private async writeDisk(spec: RecoveryVmSpec, volumeId: VolumeId, source: VolumeSource, i: number): Promise<{ snapshotId: string; sizeGiB: number; sizeBytes: number }> {
    const sizeBytes = source.sizeBytes(volumeId);
    const blockCount = Math.ceil(sizeBytes / EBS_BLOCK_SIZE);
    const image = source as Partial<PointInTimeImage>;
    const groupId = image.checkpoint?.groupId;
    const base = this.standby && groupId !== undefined && typeof image.journaledExtents === 'function'
      ? this.standby.base({ groupId, vmId: spec.sourceVmId, volumeId })
      : undefined;
    let blocks: Iterable<number>;
    if (base) {
      // The standby holds the replica as of its snapshot: write what the replica changed since, and the image's journaled writes.
      const changed = new Set([...base.changed, ...blocksOfExtents(image.journaledExtents!(volumeId), sizeBytes)]);
      blocks = [...changed].filter((b) => b < blockCount).sort((a, b) => a - b);
    } else {
      blocks = indices(blockCount);
    }
    const sizeGiB = Math.max(gibFor(sizeBytes), base?.sizeGiB ?? 0);
    const result = await writeSnapshot({
      ebs: this.ebs, ec2: this.ec2, volumeSizeGiB: sizeGiB, ...(base ? { parentSnapshotId: base.snapshotId } : {}), blocks,
      read: (b) => source.read(volumeId, b * EBS_BLOCK_SIZE, Math.min(EBS_BLOCK_SIZE, sizeBytes - b * EBS_BLOCK_SIZE)),
      tags: { [RECOVERY_TAG]: 'true', Name: `${spec.name} disk ${i}`.slice(0, 255), [SOURCE_VM_TAG]: spec.sourceVmId, 'opencdp:source-volume': volumeId },
      description: `OpenCDP recovery of ${spec.sourceVmId} volume ${volumeId}`,
    });
    this.diskWrites.push({ vmName: spec.name, volumeId, snapshotId: result.snapshotId, fromStandby: base !== undefined, blocksRead: result.blocksRead, blocksWritten: result.blocksWritten });
    return { snapshotId: result.snapshotId, sizeGiB, sizeBytes };
  }

  private async stop(vmId: VmId, force: boolean): Promise<void> {
    const instance = vmId.startsWith('ami-') ? await this.launchedInstance(vmId) : await this.plainInstance(vmId);
    if (!instance) {
      await this.recoveryImage(vmId);
      return;
    }
    const state = instance.State?.Name;
    if (state === 'stopped') return;
    if (state !== 'stopping') await this.ec2.stopInstance(instance.InstanceId!, force);
    await this.ec2.waitInstance(instance.InstanceId!, 'stopped');
  }

  private recoveryVmInfo(image: Image, instance: Instance | undefined, gib: ReadonlyMap<string, number>): VmInfo {
    if (!instance) return plannedVmInfo(image);
    const info = instanceVmInfo(instance, gib, image.ImageId!, diskBytesOf(image));
    return { ...info, name: tagsOf(image).Name ?? info.name };
  }

  private async recoveryImage(vmId: VmId): Promise<Image> {
    const images = await this.ec2.describeImages(undefined, [vmId]).catch(() => [] as Image[]);
    const image = images[0];
    if (!image || tagsOf(image)[RECOVERY_TAG] !== 'true') throw new UnknownVmError(vmId);
    return image;
  }

  private async launchedInstance(vmId: VmId): Promise<Instance | undefined> {
    const found = await this.ec2.describeInstances(undefined, [{ Name: `tag:${VM_ID_TAG}`, Values: [vmId] }]);
    return found.find((i) => !isGone(i));
  }

  private async plainInstance(vmId: VmId): Promise<Instance> {
    const instance = /^i-[0-9a-f]+$/.test(vmId) ? await this.ec2.instance(vmId) : undefined;
    if (!instance || isGone(instance)) throw new UnknownVmError(vmId);
    return instance;
  }

  private listed(i: Instance): boolean {
    const f = this.o.instanceFilter;
    if (!f) return true;
    const value = tagsOf(i)[f.tagKey];
    return value !== undefined && (f.tagValue === undefined || value === f.tagValue);
  }

  private isIsolated(subnetId: string, tags: Record<string, string>): boolean {
    return tags['opencdp:isolated'] === 'true' || this.recovery.testSubnetIds.includes(subnetId);
  }
}

function* indices(n: number): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}

function inCidr(ip: string, cidr: string): boolean {
  const toInt = (a: string): number => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) return false;
  const [base, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  return Math.floor(toInt(ip) / size) === Math.floor(toInt(base) / size);
}
