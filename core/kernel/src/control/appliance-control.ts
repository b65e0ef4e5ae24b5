// What a manager asks of its site's appliances: the control plane. The manager is never on the data
// path (seed 000): it tells appliances which groups to protect, cuts checkpoints through them, reads
// their figures and drives recovery; when it is down the appliances keep replicating. One interface,
// called in-process (embedded site) or over the control RPC (appliance in its own process).
import type { Checkpoint, CheckpointKind, GroupId, Inventory, VmId, VolumeId } from '../model.js';
import type { ProtectionGroupSettings } from '../settings.js';
import type { CaptureMode } from '../capture/capture-mode.js';
import type { ReplicationPhase, SyncTrigger } from '../status/group-status.js';
import type { Clock } from '../clock.js';
import type { ProgressSink, ProtectedSiteControl, RecoveryOperations, ShutdownPolicy } from '../recovery/recovery-api.js';
import type { RecoveryGroupDefinition } from '../recovery/recovery-platform.js';

export interface ProtectGroupSpec {
  groupId: GroupId;
  settings: ProtectionGroupSettings;
  vmIds: VmId[];
  /** The recovery appliance's site-link address. */
  recoveryAddress: string;
  /** The replica volumes already hold a copy (preseeded, or reverse protection): delta sync instead of a full copy. */
  preseeded?: boolean;
}

export interface CheckpointCutRequest {
  groupIds: GroupId[];
  kind: CheckpointKind;
  tag?: string;
  /** One timestamp for every group (the manager's clock). */
  timestamp: number;
  /** Checkpoint id per group, chosen by the manager so ids never repeat. */
  ids: Record<GroupId, string>;
}

/** Journal figures of one VM at the recovery site. */
export interface JournalFacts {
  vmId: VmId;
  usedBytes: number;
  hardLimitBytes: number;
  warningBytes: number;
  /** Span of retained checkpoints, ms. */
  historyMs: number;
  historyStatus: 'ok' | 'warning' | 'error';
  earliestCheckpointAt?: number;
}

/** What one appliance knows of a group right now; the manager merges both sites' facts. */
export interface GroupFacts {
  groupId: GroupId;
  /** Protected side. */
  phase?: ReplicationPhase;
  connected?: boolean;
  trigger?: SyncTrigger;
  /** Why the group syncs or records, where the trigger alone does not say (e.g. a lost change-tracking token). */
  cause?: string;
  /** How the protected appliance captures the group's changes. */
  captureMode?: CaptureMode;
  storageError?: 'journal' | 'recovery';
  vmIds?: VmId[];
  bufferedBytes?: number;
  bitmapBytes?: number;
  /** Totals since the group started, for rates and counters. */
  writes?: number;
  writtenBytes?: number;
  wireBytes?: number;
  lastCheckpoint?: Checkpoint;
  /** The kind of the last sync that ran to its end (e.g. 'delta-sync' for a preseeded or reverse-protected group). */
  lastSync?: ReplicationPhase;
  /** Recovery side. */
  journals?: JournalFacts[];
  latestCheckpointAt?: number;
}

/**
 * Reverse protection, first step, asked of the ORIGINAL site's appliance (R2/R3): copy each original VM's
 * disks, locally, into the replica volumes of the reverse group's journals, so that the recovered VMs'
 * sender starts with a delta sync and only differing blocks cross the site link.
 */
export interface SeedReverseReplicasRequest {
  /** The reverse group (journals are keyed by it); no journal of it may be open here yet. */
  groupId: GroupId;
  /** The group that was recovered, if this appliance protected it: its settings are returned. */
  originalGroupId?: GroupId;
  vms: {
    /** The original VM at this site, whose disks are read. */
    sourceVmId: VmId;
    /** The recovered VM (the reverse journal is keyed by it). */
    vmId: VmId;
    /** Disk pairs: the original VM's volume → the recovered VM's volume (the reverse replica's name), same size. */
    volumes: { sourceVolumeId: VolumeId; volumeId: VolumeId; sizeBytes: number }[];
  }[];
}

export interface SeedReverseReplicasResult {
  /** Bytes copied into the replicas (all-zero chunks are skipped). */
  seededBytes: number;
  /** The settings `originalGroupId` was last protected with by this appliance, when it knows them. */
  settings?: ProtectionGroupSettings;
}

export interface ApplianceControl {
  readonly siteId: string;
  /** The platform inventory of this appliance's site. */
  inventory(): Promise<Inventory>;

  // Protected role.
  protectGroup(spec: ProtectGroupSpec): Promise<void>;
  unprotectGroup(groupId: GroupId, options: { deleteSourceVms: boolean }): Promise<void>;
  pause(groupId: GroupId): Promise<void>;
  resume(groupId: GroupId): Promise<void>;
  forceSync(groupId: GroupId): Promise<void>;
  /** The barrier: holds every listed group's writes, marks each stream, releases. Undefined for a group that cannot be checkpointed now. */
  cutCheckpoints(request: CheckpointCutRequest): Promise<(Checkpoint | undefined)[]>;
  /**
   * For a planned move: waits until everything written so far is acknowledged at the recovery site, then
   * cuts a checkpoint (the VMs are off by now, so it holds their last write).
   */
  finalCheckpoint(groupId: GroupId, id: string, timestamp: number): Promise<Checkpoint>;
  shutdownVms(groupId: GroupId, vmIds: VmId[], policy: ShutdownPolicy): Promise<void>;
  powerOnVms(groupId: GroupId, vmIds: VmId[]): Promise<void>;

  // Both roles.
  groupFacts(groupId: GroupId): Promise<GroupFacts>;

  // Recovery role: absent on an appliance that recovers nothing.
  readonly recovery?: RecoveryOperations;
  /**
   * Tells the recovery role what a group is (name, VMs, recovery plan), so recovery needs no manager later
   * (R8). Without it the appliance recovers from what its journals know (VM ids, default plan).
   */
  defineRecoveryGroup?(definition: RecoveryGroupDefinition): Promise<void>;
  /**
   * Reverse protection at the original site: seeds the reverse group's replica volumes from the original
   * disks (a local copy, never across the link). Needs both roles here: this site's VMs and its journals.
   */
  seedReverseReplicas?(request: SeedReverseReplicasRequest, progress?: ProgressSink): Promise<SeedReverseReplicasResult>;
}

/** A protected site's appliance as the recovery orchestrator sees it (in-process or over the control link). */
export function protectedSiteOf(control: ApplianceControl, clock: Clock, newCheckpointId: () => string): ProtectedSiteControl {
  return {
    shutdownVms: (groupId, vmIds, policy) => control.shutdownVms(groupId, vmIds, policy),
    finalCheckpoint: (groupId) => control.finalCheckpoint(groupId, newCheckpointId(), clock.now()),
    stopProtection: (groupId, options) => control.unprotectGroup(groupId, options),
    resumeProtection: async (groupId) => {
      const facts = await control.groupFacts(groupId);
      if (facts.phase?.startsWith('paused')) await control.resume(groupId);
    },
    powerOnVms: (groupId, vmIds) => control.powerOnVms(groupId, vmIds),
  };
}
