// The recovery operations a manager drives (R1–R10): what the REST API, the CLI and the conformance
// suite call, whichever site's manager is up. Plain data in and out, so the same calls can cross a
// process or site boundary. Implemented by RecoveryOrchestrator (core/kernel/src/recovery).
import type { Checkpoint, CheckpointId, DatastoreId, GroupId, HostId, NetworkId, VmId, VolumeId } from '../model.js';
import type { Firmware } from '../ports/platform-limits.js';
import type { NicMapping, PlatformTranslation } from './platform-fit.js';

// NicMapping lives with the platform fit that checks it (one direction of import, no cycle); re-exported here as part of the recovery API.
export type { NicMapping };

export type RecoveryKind = 'FailoverTest' | 'Failover' | 'Move' | 'Clone';

/** REST enum: 0 None, 1 Shutdown, 2 ForceShutdown. */
export type ShutdownPolicy = 'none' | 'shutdown' | 'force';
/** REST enum: 0 Rollback, 1 Commit, 2 None (wait for the user). */
export type CommitPolicy = 'rollback' | 'commit' | 'none';

/** VMs of one boot group power on together; the next group waits `delaySeconds` after this one. */
export interface BootGroup {
  name: string;
  delaySeconds: number;
  vmIds: VmId[];
}

/** The recovery side of a group's settings: where and how its VMs come up. */
export interface RecoveryPlan {
  hostId?: HostId;
  datastoreId?: DatastoreId;
  /** VMs not in any boot group boot first, together. */
  bootGroups?: BootGroup[];
  /** NICs without a mapping go to the recovery site's production (live) or test network. */
  nics?: NicMapping[];
  /**
   * The platform this site recovers onto (`vsphere`, `hyperv`, `aws`, `qemu`, …): recovery is refused
   * when the site's platform is another one. Absent: whatever the site runs.
   */
  targetPlatform?: string;
  /** Boot firmware of the recovered VMs; refused early when the target lacks it. Absent: the target's default. */
  firmware?: Firmware;
  /** Per-VM placement that overrides `hostId` / `datastoreId` for that VM. */
  vms?: VmPlacement[];
  /** Scripts the recovery appliance runs before a failover test, failover or move, and after its VMs are powered on. */
  scripts?: { preRecovery?: RecoveryScript; postRecovery?: RecoveryScript };
}

export interface VmPlacement {
  vmId: VmId;
  hostId?: HostId;
  datastoreId?: DatastoreId;
}

/** A script in the recovery appliance's scripts folder (by file name), its parameters, and how long it may run. */
export interface RecoveryScript {
  command: string;
  parameters?: string[];
  timeoutSeconds: number;
}

/** Progress of a long operation, 0–100, and the step it is in (tasks show both). */
export type ProgressSink = (percent: number, step: string) => void;

export interface FailoverTestRequest {
  groupId: GroupId;
  /** The latest checkpoint when absent. */
  checkpointId?: CheckpointId;
  /** Every VM of the group when absent. */
  vmIds?: VmId[];
}

export interface FailoverTestStopRequest {
  groupId: GroupId;
  success: boolean;
  summary?: string;
}

export interface FailoverRequest {
  groupId: GroupId;
  checkpointId?: CheckpointId;
  vmIds?: VmId[];
  shutdownPolicy: ShutdownPolicy;
  timeToWaitBeforeShutdownSec: number;
  commitPolicy: CommitPolicy;
  /** Seconds in the before-commit phase before `commitPolicy` applies (ignored for 'none'). */
  commitPolicyTimeoutSec: number;
  reverseProtection: boolean;
}

export interface MoveRequest {
  groupId: GroupId;
  commitPolicy: CommitPolicy;
  commitPolicyTimeoutSec: number;
  forceShutdown: boolean;
  reverseProtection: boolean;
  keepSourceVms: boolean;
  /** Go on when the pre-recovery script fails (default: the move fails before anything is shut down). */
  continueOnPreScriptFailure?: boolean;
}

export interface CommitRequest {
  groupId: GroupId;
  /** Overrides the choice made when the operation started. */
  reverseProtection?: boolean;
  keepSourceVms?: boolean;
}

export interface CloneRequest {
  groupId: GroupId;
  checkpointId?: CheckpointId;
  datastoreId?: DatastoreId;
  vmIds?: VmId[];
}

export interface DeleteGroupRequest {
  groupId: GroupId;
  /** Keep the replica volumes (for preseeding a new group later). */
  keepRecoveryVolumes: boolean;
  /** Delete even when the protected site cannot be reached or an operation runs. */
  force: boolean;
}

export interface RecoveredVm {
  sourceVmId: VmId;
  recoveredVmId: VmId;
  name: string;
  networkIds: NetworkId[];
  bootGroup?: string;
  /** Milliseconds since the epoch; absent while the VM is still off. */
  poweredOnAt?: number;
}

export type RecoveryPhase = 'running' | 'before-commit' | 'committing' | 'rolling-back' | 'promoting' | 'done';

/** A recovery operation in progress on a group; at most one per group at a time. */
export interface ActiveRecovery {
  id: string;
  groupId: GroupId;
  kind: RecoveryKind;
  phase: RecoveryPhase;
  checkpoint: Checkpoint;
  startedAt: number;
  vms: RecoveredVm[];
  /** Promotion progress 0–100 while `phase` is 'promoting'. */
  promotionPercent?: number;
}

export interface RecoveryStep {
  name: string;
  startedAt: number;
  endedAt: number;
  result: 'Success' | 'Fail';
  detail?: string;
}

/** What every recovery operation ends in (R10); `GET /v1/reports/recovery` lists them. */
export interface RecoveryReport {
  id: string;
  groupId: GroupId;
  groupName: string;
  kind: RecoveryKind;
  checkpoint: Checkpoint;
  startedAt: number;
  endedAt: number;
  result: 'Success' | 'Fail';
  /** For failover tests: the user's verdict and summary. */
  summary?: string;
  steps: RecoveryStep[];
  vms: RecoveredVm[];
  /** How the operation ended: committed (failover, move), rolled-back, test-stopped, cloned, or aborted (failed while starting). */
  outcome?: RecoveryOutcome;
  /** Source → target platform: controller, firmware, drivers the guests need, disks and network mapping. */
  translation?: PlatformTranslation;
}

export type RecoveryOutcome = 'committed' | 'rolled-back' | 'test-stopped' | 'cloned' | 'aborted';

/** A checkpoint's volume opened read-only for file restore (R5). */
export interface FileRestoreSession {
  id: string;
  groupId: GroupId;
  checkpointId: CheckpointId;
  vmId: VmId;
  volumeId: VolumeId;
}

export interface RestoredFileEntry {
  /** Path inside the volume's file system, always absolute within it, e.g. `/etc/hosts`. */
  path: string;
  type: 'file' | 'directory' | 'symlink' | 'other';
  sizeBytes: number;
}

export interface RecoveryOperations {
  /** The group's checkpoints at the recovery site, oldest first. */
  listCheckpoints(groupId: GroupId): Promise<Checkpoint[]>;
  /** The operation running on the group, if any (async: the caller may be in another process). */
  active(groupId: GroupId): Promise<ActiveRecovery | undefined>;

  /** R1: VMs at the checkpoint on the test network; replication continues; writes go to scratch. */
  startFailoverTest(request: FailoverTestRequest, progress?: ProgressSink): Promise<ActiveRecovery>;
  /** R1: discards the test VMs and their scratch writes; records the verdict in the report. */
  stopFailoverTest(request: FailoverTestStopRequest, progress?: ProgressSink): Promise<RecoveryReport>;

  /** R2: resolves once the VMs run at the recovery site (phase 'before-commit'), or 'done' when the commit policy applies at once. */
  failover(request: FailoverRequest, progress?: ProgressSink): Promise<ActiveRecovery>;
  /** R3: planned: shut down the source, final sync, checkpoint, recover; resolves in 'before-commit'. */
  move(request: MoveRequest, progress?: ProgressSink): Promise<ActiveRecovery>;
  /** R2/R3: ends the before-commit phase of a failover or move. */
  commit(request: CommitRequest, progress?: ProgressSink): Promise<RecoveryReport>;
  /** R2/R3: removes the recovered VMs and returns the group to protecting. */
  rollback(groupId: GroupId, progress?: ProgressSink): Promise<RecoveryReport>;

  /** R4: a copy at a checkpoint on a chosen datastore; replication continues. */
  clone(request: CloneRequest, progress?: ProgressSink): Promise<RecoveryReport>;

  /** R5: opens a checkpoint's volume read-only. */
  openFileRestore(groupId: GroupId, checkpointId: CheckpointId, vmId: VmId, volumeId: VolumeId): Promise<FileRestoreSession>;
  /** R5: lists a directory of the volume's file system (ext4); rejects `..` and paths escaping the volume. */
  listFiles(sessionId: string, path: string): Promise<RestoredFileEntry[]>;
  extractFile(sessionId: string, path: string): Promise<Buffer>;
  closeFileRestore(sessionId: string): Promise<void>;

  /** R9: removes the group at the recovery site. */
  deleteGroup(request: DeleteGroupRequest, progress?: ProgressSink): Promise<void>;

  /** R10: reports of ended operations, oldest first (optionally of one group). Optional: RecoveryOrchestrator has it. */
  reports?(groupId?: GroupId): Promise<RecoveryReport[]>;
}

/** What the orchestrator needs from the protected site (in-process here; a peer manager's API across sites). */
export interface ProtectedSiteControl {
  /**
   * Powers the group's protected VMs off as the policy says; resolves when they are off. 'force' waits up
   * to `options.timeoutSec` (timeToWaitBeforeShutdownSec) for a clean shutdown, then powers off.
   */
  shutdownVms(groupId: GroupId, vmIds: VmId[], policy: ShutdownPolicy, options?: { timeoutSec?: number }): Promise<void>;
  /** Waits until everything written so far is acknowledged at the recovery site, then cuts a checkpoint (move). */
  finalCheckpoint(groupId: GroupId): Promise<Checkpoint>;
  /** Stops replicating the group (after a commit); keeps the protected VMs unless told to delete them. */
  stopProtection(groupId: GroupId, options: { deleteSourceVms: boolean }): Promise<void>;
  /** Starts replicating the group again (after a rollback). */
  resumeProtection(groupId: GroupId): Promise<void>;
  /** Powers protected VMs back on (rollback after a shutdown). */
  powerOnVms(groupId: GroupId, vmIds: VmId[]): Promise<void>;
}
