// `opencdp manager start --data-dir D --listen host:port [--config file]`: what the CLI calls. The config
// file (JSON) names the site, the first admin, and the appliances to drive over the control link; flags
// win over the file. The manager runs until SIGINT/SIGTERM, then stops cleanly (appliances keep replicating).
import { readFileSync } from 'node:fs';
import { RemoteApplianceControl, ValidationError } from '@opencdp/core';
import type { ApplianceControl } from '@opencdp/core';
import type { Manager } from './manager.js';
import { startManager } from './manager-module.js';
import { parseListen, type ManagerOptions } from './manager-options.js';

export interface ManagerConfigFile {
  siteId?: string;
  siteName?: string;
  admin?: { user: string; password: string };
  /** Appliances reached over the control RPC: `{siteId, url, token, id?}` (a site may run one per host; `id` names it). */
  appliances?: Array<{ siteId: string; url: string; token: string; id?: string }>;
  recoveryAddresses?: Record<string, string>;
  peer?: { siteId: string; name?: string; url?: string };
  sessionTtlMinutes?: number;
  pollIntervalMs?: number;
  /** The longest a protected appliance holds guest writes for one checkpoint round, ms. */
  barrierHoldMs?: number;
  peerHeartbeatMs?: number;
  peerDownAfterMs?: number;
}

export interface StartManagerCommandOptions {
  dataDir: string;
  listen: string;
  config?: string;
  siteId?: string;
}

export interface StartManagerCommandDeps {
  /** Makes the control client of one configured appliance (default: core's RemoteApplianceControl). */
  connectAppliance?: (spec: { siteId: string; url: string; token: string; id?: string }) => ApplianceControl;
  /** Extra appliances (in-process ones, tests). */
  appliances?: ApplianceControl[];
  overrides?: Partial<ManagerOptions>;
}

/** Reads and checks a manager config file; names the offending field on error. */
export function readManagerConfig(file: string): ManagerConfigFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ValidationError(`cannot read manager config '${file}': ${(e as Error).message}`, 'config');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ValidationError(`manager config '${file}' is not a JSON object`, 'config');
  const c = parsed as Record<string, unknown>;
  const known = ['siteId', 'siteName', 'admin', 'appliances', 'recoveryAddresses', 'peer', 'sessionTtlMinutes', 'pollIntervalMs', 'barrierHoldMs', 'peerHeartbeatMs', 'peerDownAfterMs'];
  for (const k of Object.keys(c)) if (!known.includes(k)) throw new ValidationError(`unknown field '${k}' in manager config '${file}'`, k);
  if (c.siteId !== undefined && typeof c.siteId !== 'string') throw new ValidationError('siteId must be a string', 'siteId');
  if (c.admin !== undefined) {
    const a = c.admin as Record<string, unknown>;
    if (typeof a?.user !== 'string' || typeof a?.password !== 'string') throw new ValidationError('admin must be {user, password}', 'admin');
  }
  if (c.appliances !== undefined) {
    if (!Array.isArray(c.appliances)) throw new ValidationError('appliances must be a list', 'appliances');
    c.appliances.forEach((a: unknown, i) => {
      const x = a as Record<string, unknown>;
      if (typeof x?.siteId !== 'string' || typeof x?.url !== 'string' || typeof x?.token !== 'string') throw new ValidationError(`appliances[${i}] must be {siteId, url, token}`, `appliances.${i}`);
      if (x.id !== undefined && (typeof x.id !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(x.id))) throw new ValidationError(`appliances[${i}].id must be a short name (letters, digits, . _ -)`, `appliances.${i}.id`);
    });
    const ids = c.appliances.map((a: { id?: string }) => a.id).filter((x: unknown) => x !== undefined);
    if (new Set(ids).size !== ids.length) throw new ValidationError('two appliances have the same id', 'appliances');
  }
  for (const k of ['barrierHoldMs', 'peerHeartbeatMs', 'peerDownAfterMs', 'pollIntervalMs'] as const) {
    const v = c[k];
    if (v !== undefined && (!Number.isSafeInteger(v) || (v as number) < 1 || (v as number) > 600_000)) throw new ValidationError(`${k} must be a whole number of ms from 1 to 600000`, k);
  }
  if (c.barrierHoldMs !== undefined && (c.barrierHoldMs as number) > 10_000) throw new ValidationError('barrierHoldMs must be at most 10000 (guests must never wait long on a checkpoint)', 'barrierHoldMs');
  return c as ManagerConfigFile;
}

function defaultConnect(spec: { siteId: string; url: string; token: string; id?: string }): ApplianceControl {
  const control = new RemoteApplianceControl(spec.siteId, spec.url, spec.token);
  if (spec.id) control.applianceId = spec.id;
  return control;
}

/** Starts a manager from command-line options; resolves once it listens. */
export async function startManagerCommand(options: StartManagerCommandOptions, deps: StartManagerCommandDeps = {}): Promise<Manager> {
  if (!options.dataDir) throw new ValidationError('--data-dir is required', 'dataDir');
  parseListen(options.listen);
  const config = options.config ? readManagerConfig(options.config) : {};
  const siteId = options.siteId ?? config.siteId ?? process.env.OPENCDP_SITE_ID;
  if (!siteId) throw new ValidationError('name the site: siteId in --config, --site-id, or OPENCDP_SITE_ID', 'siteId');
  const connect = deps.connectAppliance ?? defaultConnect;
  const appliances = [...(deps.appliances ?? []), ...(config.appliances ?? []).map(connect)];
  return startManager({
    dataDir: options.dataDir,
    listen: options.listen,
    siteId,
    appliances,
    ...(config.siteName ? { siteName: config.siteName } : {}),
    ...(config.admin ? { admin: config.admin } : {}),
    ...(config.recoveryAddresses ? { recoveryAddresses: config.recoveryAddresses } : {}),
    ...(config.peer ? { peer: config.peer } : {}),
    ...(config.sessionTtlMinutes ? { sessionTtlMs: config.sessionTtlMinutes * 60_000 } : {}),
    ...(config.pollIntervalMs ? { pollIntervalMs: config.pollIntervalMs } : {}),
    ...(config.barrierHoldMs ? { barrierHoldMs: config.barrierHoldMs } : {}),
    ...(config.peerHeartbeatMs ? { peerHeartbeatMs: config.peerHeartbeatMs } : {}),
    ...(config.peerDownAfterMs ? { peerDownAfterMs: config.peerDownAfterMs } : {}),
    ...deps.overrides,
  });
}
