// The manager's records as its parts and its REST views see them: one plain type per table row (users,
// sessions, sites, groups, drafts, tasks, events, alerts, checkpoints), with the enums they carry. The
// SQLite mapping is store.ts; keeping the shapes apart lets a part name its rows without the database.
import type { CheckpointKind, ProtectionGroupSettings, RecoveryPlan } from '@opencdp/core';

export type Role = 'viewer' | 'operator' | 'admin';
export const ROLES: readonly Role[] = ['viewer', 'operator', 'admin'];

export interface UserRow { name: string; hash: string; role: Role; createdAt: number }
/** A session as stored: only the SHA-256 of its token is kept (the token is shown once, at login). */
export interface SessionRow { id: string; tokenHash: string; user: string; role: Role; createdAt: number; expiresAt: number }
export interface SiteRow {
  id: string;
  name: string;
  role: 'local' | 'peer';
  address: string;
  pairedAt: number;
  /** Secret this manager presents to the peer manager (from pairing), sealed with the data dir's key (sites/secret-box.ts). */
  outboundSecretSealed?: string;
  /** SHA-256 of the secret the peer manager presents to this one. */
  inboundSecretHash?: string;
  /** SHA-256 fingerprint of the peer manager's HTTPS certificate, pinned at pairing. */
  tlsFingerprint?: string;
}
/** A pairing token as stored: its SHA-256 only. */
export interface PairingTokenRow { tokenHash: string; expiresAt: number; used: boolean }

export type GroupLifecycle = 'active' | 'deleting' | 'recovered';

/** The last evaluated state of a group, kept so that transitions are detected across restarts. */
export interface StoredGroupState {
  status: string;
  subStatus: string;
  statusCode: number;
  subStatusCode: number;
  health: string;
  reason: string;
  trigger?: string;
}

/**
 * Where a group runs: the protected appliances that split its VMs (one per host holding some of them) and
 * the one recovery appliance that keeps all of its journals (docs/control-plane.md says why one). Chosen
 * when the group is created and kept, because journals do not move.
 */
export interface GroupPlacement {
  members: { applianceId: string; vmIds: string[] }[];
  recovery?: { applianceId: string; linkAddress: string };
}

export interface GroupRow {
  id: string;
  name: string;
  settings: ProtectionGroupSettings;
  vmIds: string[];
  protectedSiteId: string;
  recoverySiteId: string;
  plan: RecoveryPlan;
  createdAt: number;
  lifecycle: GroupLifecycle;
  provisionedBytes: number;
  /** When the manager first saw the group past its initial sync (history SLA counts from here). */
  syncedAt?: number;
  lastTest?: { at: number; success: boolean; summary?: string };
  state?: StoredGroupState;
  /** Absent for groups made before placements existed: the site's first appliance serves them. */
  placement?: GroupPlacement;
}

export interface DraftRow { id: string; groupId?: string; body: DraftBody; createdAt: number }
export interface DraftBody {
  basic: Record<string, unknown>;
  journal: Record<string, unknown>;
  recovery: Record<string, unknown>;
  networks: Record<string, unknown>;
  bootgroup: Record<string, unknown>;
  /** Pre- and post-recovery scripts (absent in drafts an older version stored). */
  scripting: Record<string, unknown>;
  /** `{vmIdentifier, recoveryHostIdentifier?, recoveryDatastoreIdentifier?}` per VM. */
  vms: Array<Record<string, unknown>>;
}

/** Task state codes of the anchor's API. */
export const TaskState = { InProgress: 1, WaitingForUserInput: 2, Paused: 3, Failed: 4, Stopped: 5, Completed: 6, Cancelling: 7 } as const;
export type TaskStateCode = (typeof TaskState)[keyof typeof TaskState];

export interface TaskRow {
  id: string;
  type: string;
  groupId?: string;
  state: TaskStateCode;
  progress: number;
  step: string;
  startedAt: number;
  completedAt?: number;
  error?: string;
  user?: string;
  result?: unknown;
}

export interface EventRow { id: number; at: number; type: string; groupId?: string; description: string; user?: string }

export type AlertLevel = 'warning' | 'error';
export interface AlertRow {
  id: string;
  /** '' for an alert about a site (a paired manager not connected) rather than a group. */
  groupId: string;
  /** The site a site alert is about. */
  siteId?: string;
  type: string;
  level: AlertLevel;
  description: string;
  raisedAt: number;
  dismissed: boolean;
  clearedAt?: number;
}

export interface CheckpointRow { id: string; groupId: string; timestamp: number; kind: CheckpointKind; tag?: string; seq: number }
