// What the recovery orchestrator needs besides the RecoveryOperations contract: where the group
// definitions, the journals and reverse protection come from (promotion is a port of its own:
// ports/recovery-disk-promotion.ts). All small interfaces, so the embedded site, an appliance process
// and the conformance rig can each wire them from what they have.
import type { Journal } from '../journal/journal.js';
import type { GroupId, NicInfo, VmId, VolumeId } from '../model.js';
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
