// What a host gives a manager: data dir, site, the appliances it drives, an optional HTTP address, and
// the seams tests use (clock, logger, transports, a cheap password hash). Nothing here knows any part.
import { ValidationError } from '@opencdp/core';
import type { ApplianceControl, Clock } from '@opencdp/core';
import type { Logger } from 'pino';
import type { LoginThrottleOptions } from './accounts/login-throttle.js';
import type { PairTransport, PeerHeartbeatTransport, PeerSyncTransport } from './sites/peer-transports.js';

export interface ManagerOptions {
  /** Folder of the manager's SQLite file (created when missing). */
  dataDir: string;
  /** `host:port` or `{host, port}` to serve the REST API on (port 0 picks one); omit to run without HTTP. */
  listen?: string | { host: string; port: number };
  /** HTTPS for the REST API (PEM). Without it the API is plain HTTP, which is refused beyond loopback unless `insecureHttp`. */
  tls?: { certPem: string; keyPem: string };
  /** Allows plain HTTP beyond loopback (REST API and paired managers); never the default. */
  insecureHttp?: boolean;
  /**
   * A long random token a Prometheus server presents (`Authorization: Bearer …`) to read `/metrics`; with it,
   * metrics need that token or a session. Without it `/metrics` is public (group names and figures).
   */
  metricsToken?: string;
  /** Backoff after failed logins (threshold, delays). */
  loginThrottle?: LoginThrottleOptions;
  /** This manager's site. */
  siteId: string;
  siteName?: string;
  clock?: Clock;
  /** The appliances this manager drives: its own site's, and any of the other site that the control link reaches. */
  appliances: ApplianceControl[];
  /** Site-link address of each site's recovery appliance (by site id), handed to protected appliances. Default `site:<id>`. */
  recoveryAddresses?: Record<string, string>;
  /** A peer site known without pairing (e.g. from the config file). */
  peer?: { siteId: string; name?: string; url?: string };
  /** The first administrator, created when the store has no user. Default: OPENCDP_ADMIN_USER / OPENCDP_ADMIN_PASSWORD. */
  admin?: { user: string; password: string };
  /** Session lifetime, ms (default 30 min). */
  sessionTtlMs?: number;
  /** Pairing token lifetime, ms (default 10 min). */
  pairingTokenTtlMs?: number;
  /** scrypt work factor N for new password hashes (default 16384); tests lower it. */
  passwordCost?: number;
  /** How often appliances' figures are read, ms (default 1000). */
  pollIntervalMs?: number;
  /** The longest a protected appliance holds guest writes for one checkpoint round across appliances, ms (default 500). */
  barrierHoldMs?: number;
  /** Groups due within this many ms share one checkpoint round (default 500, at most a tenth of a group's interval). */
  checkpointCoalesceMs?: number;
  logger?: Logger;
  /** Sends a pairing request to a peer manager; default an HTTP POST. Injected in tests so nothing leaves the machine. */
  pairTransport?: PairTransport;
  /** Sends group definitions to a paired manager; default an HTTP POST to its /v1/peersites/sync. */
  peerSyncTransport?: PeerSyncTransport;
  /** How often each paired manager is asked whether it is there, ms (default 1000). */
  peerHeartbeatMs?: number;
  /** Silence after which a paired manager counts as not connected, ms (default 3000). */
  peerDownAfterMs?: number;
  /** Asks a paired manager whether it is there; default an HTTP POST to its /v1/peersites/heartbeat. */
  peerHeartbeatTransport?: PeerHeartbeatTransport;
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen.trim());
  if (!m) throw new ValidationError(`--listen '${listen}' is not host:port`, 'listen');
  const port = Number(m[3]);
  if (port > 65535) throw new ValidationError(`port ${port} is out of range`, 'listen');
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}
