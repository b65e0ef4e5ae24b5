// What a manager asks of its site's appliances: the control plane. The manager is never on the data
// path (seed 000): it tells appliances which groups to protect, cuts checkpoints through them, reads
// their figures and drives recovery; when it is down the appliances keep replicating. One interface,
// called in-process (embedded site) or over the control RPC (appliance in its own process).
import type { Checkpoint, CheckpointKind, GroupId, Inventory, VmId, VolumeId } from '../model.js';
import type { ProtectionGroupSettings } from '../settings.js';
import type { CaptureMode } from '../capture/capture-mode.js';
import type { ReplicationPhase, SyncTrigger } from '../status/group-status.js';
import type { Clock } from '../clock.js';
import type { ActiveRecovery, ProgressSink, ProtectedSiteControl, RecoveryOperations, ShutdownPolicy } from '../recovery/recovery-api.js';
import type { RecoveryGroupDefinition } from '../recovery/recovery-platform.js';
import type { ImageOperations } from '../images/image-api.js';

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

/**
 * The barrier across appliances (J2 across hosts), first step: hold write completions of every listed
 * group this appliance protects and take each marker's place. The appliance holds for `holdMs` at most:
 * with no outcome by then it drops the round on its own, so no guest waits on a manager that went away.
 */
export interface BarrierHoldRequest {
  /** Unique per round (the manager's); a round id that ended here is refused. */
  roundId: string;
  groupIds: GroupId[];
  /** The longest this appliance may hold guest writes for this round, ms (1 to 10 000). */
  holdMs: number;
}

export interface BarrierHoldResult {
  roundId: string;
  /** Groups held now, with the sequence number their marker follows. */
  held: { groupId: GroupId; seq: number }[];
  /** Groups that cannot be held now, and why (syncing, paused, disconnected, not protected here). */
  refused: { groupId: GroupId; reason: string }[];
}

/**
 * The barrier's outcome for this appliance: every group held in the round is released; those named in
 * `ids` (every member of the group held it) get their marker, the others have it dropped.
 */
export interface BarrierReleaseRequest {
  roundId: string;
  ids: Record<GroupId, string>;
  kind: CheckpointKind;
  tag?: string;
  /** One timestamp for every group of the round (the manager's clock). */
  timestamp: number;
}

export interface BarrierReleaseResult {
  roundId: string;
  checkpoints: Checkpoint[];
  /** Groups named in `ids` whose marker was not placed here, and why (the hold bound passed first, the link dropped). */
  missed: { groupId: GroupId; reason: string }[];
}

/** What an appliance says about itself: the hosts it serves (one appliance per host), its roles and link address. */
export interface ApplianceDescription {
  siteId: string;
  /** Stable name of this appliance (its configuration's), unique within the site. */
  applianceId?: string;
  /** The hosts whose VMs this appliance protects; absent: every VM its inventory lists. */
  hostIds?: string[];
  protectedRole: boolean;
  recoveryRole: boolean;
  /** The site-link address protected appliances send to (recovery role). */
  linkAddress?: string;
}

/** One group's entry of `groupFactsMany`. */
export interface GroupFactsEntry {
  groupId: GroupId;
  /** What this appliance knows of the group; absent when it knows nothing (`error` says why, e.g. NOT_FOUND). */
  facts?: GroupFacts;
  error?: { code: string; message: string };
  /** Recovery role: the operation running on the group here, if any (asked even when `facts` is absent). */
  activeRecovery?: ActiveRecovery;
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
  /** This appliance's name within its site, when the host gave it one (a site may run one appliance per host). */
  readonly applianceId?: string;
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

  /**
   * The barrier across appliances (J2 across hosts), for groups whose VMs sit on several appliances:
   * hold and take the markers' places (bounded by `holdMs`), then release with the round's outcome.
   * Optional: an appliance without them serves only groups that live on it alone.
   */
  holdBarrier?(request: BarrierHoldRequest): Promise<BarrierHoldResult>;
  releaseBarrier?(request: BarrierReleaseRequest): Promise<BarrierReleaseResult>;
  /** Drops a round (held or not yet): releases what it holds with no marker; a later hold of it is refused. */
  abortBarrier?(roundId: string, reason: string): Promise<void>;

  // Both roles.
  groupFacts(groupId: GroupId): Promise<GroupFacts>;
  /** Facts of many groups in one call (a manager with hundreds of groups polls once per appliance). */
  groupFactsMany?(groupIds: GroupId[]): Promise<GroupFactsEntry[]>;
  /** The hosts this appliance serves, its roles and its link address (a site with one appliance per host). */
  describe?(): Promise<ApplianceDescription>;

  // Recovery role: absent on an appliance that recovers nothing.
  readonly recovery?: RecoveryOperations;
  /** Checkpoint images as disks (exports and live NBD sessions), beside the journals; absent without the recovery role. */
  readonly images?: ImageOperations;
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
