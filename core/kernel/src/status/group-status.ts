// Protection-group status as operators and their automation know it: the anchor's status, sub-status and
// sync-trigger codes (so existing scripts port), a health colour, and an event with a reason for every
// transition. The mapping is a pure function of replication facts, so it is tested exhaustively.
import { EventEmitter } from 'node:events';

export const GroupStatusCode = {
  Initializing: 0, MeetingSLA: 1, NotMeetingSLA: 2, HistoryNotMeetingSLA: 3, RpoNotMeetingSLA: 4,
  FailingOver: 5, Moving: 6, Deleting: 7, Recovered: 8,
} as const;
export type GroupStatus = keyof typeof GroupStatusCode;

export const GroupSubStatusCode = {
  None: 0, InitialSync: 1, Creating: 2, VolumeInitialSync: 3, Sync: 4, RecoveryPossible: 5, DeltaSync: 6,
  NeedsConfiguration: 7, Error: 8, EmptyProtectionGroup: 9, DisconnectedFromPeerNoRecoveryPoints: 10, FullSync: 11,
  VolumeDeltaSync: 12, VolumeFullSync: 13, FailingOverCommitting: 14, FailingOverBeforeCommit: 15,
  FailingOverRollingBack: 16, Promoting: 17, MovingCommitting: 18, MovingBeforeCommit: 19, MovingRollingBack: 20,
  Deleting: 21, PendingRemove: 22, BitmapSync: 23, DisconnectedFromPeer: 24, ReplicationPausedUserInitiated: 25,
  ReplicationPausedSystemInitiated: 26, RecoveryStorageProfileError: 27, Backup: 28, RollingBack: 29,
  RecoveryStorageError: 30, JournalStorageError: 31, VmNotProtectedError: 32,
} as const;
export type GroupSubStatus = keyof typeof GroupSubStatusCode;

export const SYNC_TRIGGERS = [
  'ForceSync', 'NetworkCongestion', 'ProtectedStorageError', 'ProtectedApplianceCongestion', 'RecoveryOrJournalStorageError',
  'RecoveryStorageCongestion', 'RecoveryApplianceCommunicationProblem', 'ConfigurationChanged',
] as const;
export type SyncTrigger = (typeof SYNC_TRIGGERS)[number];

export type Health = 'green' | 'orange' | 'red';

/** What the replication machinery is doing for the group right now. */
export type ReplicationPhase =
  | 'creating'
  | 'initial-sync'
  | 'volume-initial-sync'
  | 'streaming'
  /** Link down or buffers overflowed: changes are recorded in the bitmap, nothing is sent. */
  | 'recording'
  | 'bitmap-sync'
  | 'delta-sync'
  | 'volume-delta-sync'
  | 'full-sync'
  | 'paused-user'
  | 'paused-system';

export interface ReplicationFacts {
  phase: ReplicationPhase;
  /** The protected and recovery appliances can talk. */
  connected: boolean;
  trigger?: SyncTrigger;
  /** Why the group syncs or records, in words, where the trigger alone does not say (e.g. a lost change-tracking token). */
  cause?: string;
  vmCount: number;
  /** At least one checkpoint is retained at the recovery site (recovery is possible). */
  hasCheckpoints: boolean;
  storageError?: 'journal' | 'recovery';
  /** Time since the last checkpoint reached the journal; undefined before the first one. */
  actualRpoMs?: number;
  rpoTargetMs: number;
  historyStatus: 'ok' | 'warning' | 'error';
}

export interface GroupState {
  status: GroupStatus;
  subStatus: GroupSubStatus;
  statusCode: number;
  subStatusCode: number;
  trigger?: SyncTrigger;
  health: Health;
  recoveryPossible: boolean;
  /** One sentence on why the group is in this state. */
  reason: string;
}

const SYNC_SUB_STATUS: Partial<Record<ReplicationPhase, GroupSubStatus>> = {
  'volume-initial-sync': 'VolumeInitialSync',
  'bitmap-sync': 'BitmapSync',
  'delta-sync': 'DeltaSync',
  'volume-delta-sync': 'VolumeDeltaSync',
  'full-sync': 'FullSync',
  'paused-user': 'ReplicationPausedUserInitiated',
  'paused-system': 'ReplicationPausedSystemInitiated',
};

/** Maps replication facts to the anchor's status model. */
export function evaluateGroupState(f: ReplicationFacts): GroupState {
  const make = (status: GroupStatus, subStatus: GroupSubStatus, health: Health, reason: string): GroupState => ({
    status, subStatus, statusCode: GroupStatusCode[status], subStatusCode: GroupSubStatusCode[subStatus],
    ...(f.trigger && subStatus !== 'None' ? { trigger: f.trigger } : {}),
    health, recoveryPossible: f.hasCheckpoints, reason,
  });
  if (f.vmCount === 0) return make('NotMeetingSLA', 'EmptyProtectionGroup', 'red', 'the group has no VMs');
  if (f.phase === 'creating') return make('Initializing', 'Creating', 'orange', 'the group is being created');
  if (f.phase === 'initial-sync') return make('Initializing', 'InitialSync', 'orange', 'copying the protected volumes to the recovery site');
  const rpoOk = f.actualRpoMs !== undefined && f.actualRpoMs <= f.rpoTargetMs;
  const historyOk = f.historyStatus === 'ok';
  const slaStatus: GroupStatus = rpoOk && historyOk ? 'MeetingSLA' : rpoOk ? 'HistoryNotMeetingSLA' : historyOk ? 'RpoNotMeetingSLA' : 'NotMeetingSLA';
  const slaHealth: Health = rpoOk && historyOk ? 'green' : 'orange';
  if (f.storageError) {
    const sub = f.storageError === 'journal' ? 'JournalStorageError' : 'RecoveryStorageError';
    return make('NotMeetingSLA', sub, 'red', `${f.storageError} storage at the recovery site failed; a sync follows once it is fixed`);
  }
  if (!f.connected && f.phase !== 'paused-user' && f.phase !== 'paused-system') {
    return f.hasCheckpoints
      ? make('NotMeetingSLA', 'DisconnectedFromPeer', 'red', 'the site link is down; changes are recorded in the bitmap; recovery to the last checkpoint is possible')
      : make('NotMeetingSLA', 'DisconnectedFromPeerNoRecoveryPoints', 'red', 'the site link is down and the recovery site holds no checkpoint');
  }
  const because = f.cause ? `: ${f.cause}` : '';
  if (f.phase === 'recording') return make(slaStatus === 'MeetingSLA' ? 'RpoNotMeetingSLA' : slaStatus, 'BitmapSync', 'orange', `changes are recorded in the bitmap (${f.trigger ?? 'congestion'}); a bitmap sync follows${because}`);
  const sync = SYNC_SUB_STATUS[f.phase];
  if (sync) {
    const paused = f.phase === 'paused-user' || f.phase === 'paused-system';
    const health: Health = paused ? 'red' : 'orange';
    const reason = paused ? `replication is paused (${f.phase === 'paused-user' ? 'by a user' : 'by the system to protect the journal'})` : `${sync} in progress${f.trigger ? ` (${f.trigger})` : ''}; no new checkpoints until it completes${because}`;
    return make(slaStatus, sync, health, reason);
  }
  const reason = rpoOk && historyOk ? 'replicating within the RPO and history targets'
    : !rpoOk ? (f.actualRpoMs === undefined ? 'no checkpoint yet' : `RPO ${Math.round(f.actualRpoMs / 1000)} s is above the ${Math.round(f.rpoTargetMs / 1000)} s target`)
      : 'journal history is below its target';
  return make(slaStatus, 'None', slaHealth, reason);
}

export interface StatusTransition {
  from?: GroupState;
  to: GroupState;
  at: number;
}

/** Keeps a group's state and emits `transition` (with the new state's reason) whenever status, sub-status or trigger changes. */
export class GroupStatusTracker extends EventEmitter<{ transition: [StatusTransition] }> {
  private current?: GroupState;
  readonly history: StatusTransition[] = [];

  get state(): GroupState | undefined {
    return this.current;
  }

  update(facts: ReplicationFacts, now: number): GroupState {
    const next = evaluateGroupState(facts);
    const prev = this.current;
    if (!prev || prev.status !== next.status || prev.subStatus !== next.subStatus || prev.trigger !== next.trigger) {
      const t: StatusTransition = { ...(prev ? { from: prev } : {}), to: next, at: now };
      this.history.push(t);
      this.current = next;
      this.emit('transition', t);
    } else {
      this.current = next;
    }
    return next;
  }

  /** The sub-statuses passed through, in order (what the conformance suite checks). */
  subStatuses(): GroupSubStatus[] {
    return this.history.map((t) => t.to.subStatus);
  }
}
