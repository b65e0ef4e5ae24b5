// How a protected appliance is set up: its platform, its link, its clock, and the limits of its buffer,
// bitmaps, batches and send window. Shared by the appliance and the group senders it runs.
import type { Clock } from '../clock.js';
import type { HypervisorAdapter } from '../ports/hypervisor-adapter.js';
import type { NetworkAdapter } from '../ports/network-adapter.js';

export interface ProtectedApplianceOptions {
  siteId: string;
  hypervisor: HypervisorAdapter;
  network: NetworkAdapter;
  clock: Clock;
  /** Replication buffer shared by this appliance's groups (default 64 MiB); streaming may fill 90 % of it. */
  bufferBytes?: number;
  /** Memory budget of each group's dirty-region bitmap (default 1 MiB). */
  bitmapBudgetBytes?: number;
  /** Largest `writes` message (default 1 MiB of data). */
  maxBatchBytes?: number;
  /**
   * Bytes sent but not yet acknowledged that a group may have on the wire (default 16 MiB): flow control,
   * so a healthy receiver is never pushed past its own buffer limit.
   */
  sendWindowBytes?: number;
  /** How often a disconnected group retries the link or probes failed storage (default 1 s). */
  retryIntervalMs?: number;
  /** Link keep-alive: ping after this much silence (default 5 s); 0 turns it off. */
  keepAliveMs?: number;
  /** A link silent this long is closed as dead and the group falls back to its bitmap (default 3 × keepAliveMs). */
  deadPeerMs?: number;
  /**
   * The appliance's data folder: change-tracking groups keep their acknowledged tokens there (a 0600 file
   * per group under `change-tracking/`, folder 0700), so a restart resumes from them. Without it a
   * restarted appliance compares the volumes with the recovery site (delta sync).
   */
  stateDir?: string;
  log?: (event: string, fields: Record<string, unknown>) => void;
}
