// The parts of one running manager, as managerModule wires them (docs/manager.md draws who uses whom).
// The facade (manager.ts) owns their lifecycle; the REST layer (api/, metrics.ts) calls them. Nothing
// here imports either, so neither can form a cycle with the parts.
import type { Clock } from '@opencdp/core';
import type { Logger } from 'pino';
import type { Accounts } from './accounts/accounts.js';
import type { ApplianceRegistry } from './appliances/appliance-registry.js';
import type { ProtectionGroups } from './groups/protection-groups.js';
import type { SettingsDrafts } from './groups/settings-drafts.js';
import type { ManagerLifecycle } from './lifecycle.js';
import type { Alerts } from './monitor/alerts.js';
import type { Monitor } from './monitor/monitor.js';
import type { FileRestores } from './recovery/file-restores.js';
import type { CheckpointImages } from './images/checkpoint-images.js';
import type { RecoveryReports } from './recovery/recovery-reports.js';
import type { RecoveryTasks } from './recovery/recovery-tasks.js';
import type { CheckpointScheduler } from './scheduler/checkpoint-scheduler.js';
import type { Peering } from './sites/peering.js';
import type { PeerWatch } from './sites/peer-watch.js';
import type { Sites } from './sites/sites.js';
import type { Store } from './store.js';
import type { EventLog } from './tasks/event-log.js';
import type { TaskRunner } from './tasks/task-runner.js';

export const ManagerParts = Symbol('ManagerParts');
export interface ManagerParts {
  store: Store;
  clock: Clock;
  log: Logger;
  lifecycle: ManagerLifecycle;
  /** Users, roles, sessions. */
  accounts: Accounts;
  /** This site and its paired sites. */
  sites: Sites;
  /** Pairing and sharing group definitions with paired managers. */
  peering: Peering;
  /** Whether each paired manager answers (the "not connected to site" alert). */
  peerWatch: PeerWatch;
  /** The appliances this manager drives, and which serves a group. */
  appliances: ApplianceRegistry;
  /** Group definitions and protection actions. */
  groups: ProtectionGroups;
  /** Settings drafts that create or change groups. */
  drafts: SettingsDrafts;
  /** Auto and tagged checkpoints. */
  scheduler: CheckpointScheduler;
  /** Failover test, failover, move, commit, rollback, clone. */
  recovery: RecoveryTasks;
  fileRestores: FileRestores;
  /** Checkpoint images: exports as disk files and live NBD sessions, on the recovery appliances. */
  images: CheckpointImages;
  reports: RecoveryReports;
  /** Polling, status and figures. */
  monitor: Monitor;
  alerts: Alerts;
  tasks: TaskRunner;
  events: EventLog;
}
