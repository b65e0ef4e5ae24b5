// What the recovery orchestrator needs besides the RecoveryOperations contract: where the group
// definitions, the journals and reverse protection come from, and the optional platform support for
// promoting a recovery VM's disks off its point-in-time image. All small interfaces, so the embedded
// site, an appliance process and the conformance rig can each wire them from what they have.
import type { Journal } from '../journal/journal.js';
import type { GroupId, NicInfo, VmId, VolumeId } from '../model.js';
import type { HypervisorAdapter } from '../ports/hypervisor-adapter.js';
import type { RecoveryPlan } from './recovery-api.js';

/** A protected VM as recovery needs to know it (volumes come from its journal). */
export interface RecoveryVmDefinition {
  id: VmId;
  name: string;
  /** The protected VM's NICs, in order (NicMapping.nicIndex points into this); one NIC when absent. */
  nics?: Pick<NicInfo, 'networkId' | 'mac' | 'ipv4'>[];
}

/** A protection group as the recovery site knows it. */
export interface RecoveryGroupDefinition {
  groupId: GroupId;
  name: string;
  vms: RecoveryVmDefinition[];
  plan: RecoveryPlan;
}

/** Where the orchestrator looks groups up (the manager's store, or a map the appliance keeps). */
export interface RecoveryGroupDirectory {
  group(groupId: GroupId): RecoveryGroupDefinition | undefined;
  /** Forgets a deleted group. */
  remove?(groupId: GroupId): void;
}

/** A directory kept in memory: what an appliance without a manager, and the tests, use. */
export class StaticGroupDirectory implements RecoveryGroupDirectory {
  private readonly groups = new Map<GroupId, RecoveryGroupDefinition>();

  constructor(groups: readonly RecoveryGroupDefinition[] = []) {
    for (const g of groups) this.set(g);
  }

  set(group: RecoveryGroupDefinition): void {
    this.groups.set(group.groupId, group);
  }

  group(groupId: GroupId): RecoveryGroupDefinition | undefined {
    return this.groups.get(groupId);
  }

  remove(groupId: GroupId): void {
    this.groups.delete(groupId);
  }
}

/** The journals of the recovery site: a RecoveryAppliance (or LocalReplication) fits as is. */
export interface RecoveryJournalSource {
  journal(groupId: GroupId, vmId: VmId): Journal | undefined;
}

/** One recovered VM handed to reverse protection: the recovered VM protects back onto the original one. */
export interface ReverseProtectionVm {
  /** The original (protected) VM, whose disks become the preseeded targets. */
  sourceVmId: VmId;
  /** The recovered VM, now the one being protected. */
  recoveredVmId: VmId;
  volumes: { sourceVolumeId: VolumeId; recoveredVolumeId: VolumeId; sizeBytes: number }[];
}

export interface ReverseProtectionRequest {
  /** The group that was recovered. */
  groupId: GroupId;
  groupName: string;
  vms: ReverseProtectionVm[];
}

/**
 * Starts protecting the recovered VMs back to the original site with the original disks as preseeded
 * targets, so the first sync is a delta sync (only differing blocks cross). Resolves once protection
 * started (not when the delta sync has finished).
 */
export type ReverseProtectionStarter = (request: ReverseProtectionRequest) => Promise<void>;

/**
 * Optional platform support for promotion (R7): a recovery VM's disk first reads through its
 * point-in-time image; promotion copies the image's data into the disk itself (the VM's own writes
 * win), after which the disk no longer needs the image and the journal's checkpoint can be unpinned.
 */
export interface RecoveryDiskPromotion {
  /** Copies `[offset, offset + length)` of the disk's source into the disk; the VM keeps running. */
  promoteDisk(vmId: VmId, volumeId: VolumeId, offset: number, length: number): Promise<void>;
  /** Stops reading through the source; call once every range was promoted. */
  detachDiskSource(vmId: VmId, volumeId: VolumeId): Promise<void>;
}

/** True when the platform can promote recovery disks (see RecoveryDiskPromotion). */
export function supportsPromotion(h: HypervisorAdapter): h is HypervisorAdapter & RecoveryDiskPromotion {
  const x = h as Partial<RecoveryDiskPromotion>;
  return typeof x.promoteDisk === 'function' && typeof x.detachDiskSource === 'function';
}
