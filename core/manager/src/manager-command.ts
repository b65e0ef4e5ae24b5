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
  /** Appliances reached over the control RPC: `{siteId, url, token}`. */
  appliances?: Array<{ siteId: string; url: string; token: string }>;
  recoveryAddresses?: Record<string, string>;
  peer?: { siteId: string; name?: string; url?: string };
  sessionTtlMinutes?: number;
  pollIntervalMs?: number;
}

export interface StartManagerCommandOptions {
  dataDir: string;
  listen: string;
  config?: string;
  siteId?: string;
}

export interface StartManagerCommandDeps {
  /** Makes the control client of one configured appliance (default: core's RemoteApplianceControl). */
  connectAppliance?: (spec: { siteId: string; url: string; token: string }) => ApplianceControl;
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
  const known = ['siteId', 'siteName', 'admin', 'appliances', 'recoveryAddresses', 'peer', 'sessionTtlMinutes', 'pollIntervalMs'];
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
    });
  }
  return c as ManagerConfigFile;
}

function defaultConnect(spec: { siteId: string; url: string; token: string }): ApplianceControl {
  return new RemoteApplianceControl(spec.siteId, spec.url, spec.token);
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
    ...deps.overrides,
  });
}
