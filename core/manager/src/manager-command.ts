// `opencdp manager start --data-dir D --listen host:port [--config file]`: what the CLI calls. The config
// file (JSON) names the site, the first admin, the site identity (for the control link's mutual TLS) and
// the appliances to drive over the control link; flags win over the file. The REST API is HTTPS: with a
// certificate and key from files, or a self-signed one made on first start and kept in the data dir,
// whose fingerprint is printed for clients to pin. Plain HTTP only on loopback (--http) or when insisted
// on (--insecure-http). Files holding secrets that others may read are warned about, or refused with
// --strict. The manager runs until SIGINT/SIGTERM, then stops cleanly (appliances keep replicating).
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import {
  certificateFingerprint, checkPrivateFiles, createSelfSignedCertificate, isLoopbackHost, readIdentityFile, readTrustedPeersFile, RemoteApplianceControl, ValidationError,
  type ControlTls,
} from '@opencdp/core';
import type { ApplianceControl } from '@opencdp/core';
import type { Manager } from './manager.js';
import { startManager } from './manager-module.js';
import { parseListen, type ManagerOptions } from './manager-options.js';

export interface ManagerConfigFile {
  siteId?: string;
  siteName?: string;
  /** The first administrator, created when the data dir has no user (the password policy applies). */
  admin?: { user: string; password: string };
  /** This site's identity (CA and leaf): the manager's certificate on the control link. Relative to the config file. */
  identityFile?: string;
  /** The paired sites' CAs, whose appliances this manager may drive. Relative to the config file. */
  trustedPeersFile?: string;
  /** Appliances reached over the control link: `{siteId, url, token}` (https:// needs identityFile). */
  appliances?: Array<{ siteId: string; url: string; token: string }>;
  recoveryAddresses?: Record<string, string>;
  peer?: { siteId: string; name?: string; url?: string };
  /** Session lifetime in minutes (default 30). */
  sessionTtlMinutes?: number;
  /** How often appliances' figures are read, ms (default 1000). */
  pollIntervalMs?: number;
  /** The longest a protected appliance holds guest writes for one checkpoint round, ms. */
  barrierHoldMs?: number;
  peerHeartbeatMs?: number;
  peerDownAfterMs?: number;
  /** A long random token Prometheus presents as a Bearer token to read /metrics (without it /metrics is public). */
  metricsToken?: string;
}

export interface StartManagerCommandOptions {
  dataDir: string;
  listen: string;
  config?: string;
  siteId?: string;
  /** HTTPS with this certificate and key (PEM files). */
  tlsCert?: string;
  tlsKey?: string;
  /** Plain HTTP, on a loopback address only. */
  http?: boolean;
  /** Plain HTTP on any address (an isolated network only). */
  insecureHttp?: boolean;
  /** Refuse to start when a file holding secrets is readable by others (instead of warning). */
  strict?: boolean;
}

export interface StartManagerCommandDeps {
  /** Makes the control client of one configured appliance (default: core's RemoteApplianceControl, with mutual TLS for https). */
  connectAppliance?: (spec: { siteId: string; url: string; token: string; id?: string }, tls: ControlTls | undefined) => ApplianceControl;
  /** Extra appliances (in-process ones, tests). */
  appliances?: ApplianceControl[];
  overrides?: Partial<ManagerOptions>;
  /** Where warnings go (default stderr). */
  warn?: (message: string) => void;
}

const KNOWN_FIELDS = ['siteId', 'siteName', 'admin', 'identityFile', 'trustedPeersFile', 'appliances', 'recoveryAddresses', 'peer', 'sessionTtlMinutes', 'pollIntervalMs', 'metricsToken', 'barrierHoldMs', 'peerHeartbeatMs', 'peerDownAfterMs'];

/** Reads and checks a manager config file; names the offending field on error. Relative paths resolve against the file. */
export function readManagerConfig(file: string): ManagerConfigFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ValidationError(`cannot read manager config '${file}': ${(e as Error).message}`, 'config');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ValidationError(`manager config '${file}' is not a JSON object`, 'config');
  const c = parsed as Record<string, unknown>;
  for (const k of Object.keys(c)) if (!KNOWN_FIELDS.includes(k)) throw new ValidationError(`unknown field '${k}' in manager config '${file}'`, k);
  for (const k of ['siteId', 'siteName', 'identityFile', 'trustedPeersFile']) if (c[k] !== undefined && typeof c[k] !== 'string') throw new ValidationError(`${k} must be a string`, k);
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
      if (!URL.canParse(x.url) || !/^https?:$/.test(new URL(x.url).protocol)) throw new ValidationError(`appliances[${i}].url must be an http(s) URL`, `appliances.${i}.url`);
    });
    const ids = c.appliances.map((a: { id?: string }) => a.id).filter((x: unknown) => x !== undefined);
    if (new Set(ids).size !== ids.length) throw new ValidationError('two appliances have the same id', 'appliances');
  }
  for (const k of ['barrierHoldMs', 'peerHeartbeatMs', 'peerDownAfterMs', 'pollIntervalMs'] as const) {
    const v = c[k];
    if (v !== undefined && (!Number.isSafeInteger(v) || (v as number) < 1 || (v as number) > 600_000)) throw new ValidationError(`${k} must be a whole number of ms from 1 to 600000`, k);
  }
  if (c.barrierHoldMs !== undefined && (c.barrierHoldMs as number) > 10_000) throw new ValidationError('barrierHoldMs must be at most 10000 (guests must never wait long on a checkpoint)', 'barrierHoldMs');
  if (c.metricsToken !== undefined && (typeof c.metricsToken !== 'string' || c.metricsToken.length < 24 || c.metricsToken.length > 200)) {
    throw new ValidationError('metricsToken must be a string of 24 to 200 characters', 'metricsToken', 'e.g. the output of `openssl rand -hex 24`');
  }
  for (const k of ['sessionTtlMinutes'] as const) {
    if (c[k] !== undefined && (typeof c[k] !== 'number' || !Number.isFinite(c[k]) || (c[k] as number) <= 0)) throw new ValidationError(`${k} must be a positive number`, k);
  }
  const base = dirname(resolve(file));
  for (const k of ['identityFile', 'trustedPeersFile'] as const) if (typeof c[k] === 'string') c[k] = resolve(base, c[k] as string);
  return c as ManagerConfigFile;
}

/**
 * The REST API's certificate when none is given: made on first start (RSA-2048, self-signed, for the
 * listen address, loopback and this host's names and addresses), kept 0600 in `<dataDir>/tls/`, so its
 * fingerprint stays the same across restarts.
 */
export function loadOrCreateSelfSigned(dataDir: string, listenHost: string, siteId: string): { certPem: string; keyPem: string; created: boolean } {
  const dir = join(dataDir, 'tls');
  const certFile = join(dir, 'manager.crt');
  const keyFile = join(dir, 'manager.key');
  if (existsSync(certFile) && existsSync(keyFile)) return { certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8'), created: false };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
  const wildcard = listenHost === '0.0.0.0' || listenHost === '::' || listenHost === '';
  const addresses = wildcard ? Object.values(networkInterfaces()).flat().filter((a) => a !== undefined).map((a) => a.address.replace(/%.*$/, '')) : [listenHost];
  const cert = createSelfSignedCertificate({ commonName: `OpenCDP manager ${siteId}`, hosts: [...addresses, 'localhost', '127.0.0.1', '::1', hostname()] });
  writeFileSync(keyFile, cert.keyPem, { mode: 0o600 });
  writeFileSync(certFile, cert.certPem, { mode: 0o600 });
  return { certPem: cert.certPem, keyPem: cert.keyPem, created: true };
}

function readPem(file: string, field: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new ValidationError(`cannot read ${file}: ${(e as Error).message}`, field);
  }
}

/** Starts a manager from command-line options; resolves once it listens. */
export async function startManagerCommand(options: StartManagerCommandOptions, deps: StartManagerCommandDeps = {}): Promise<Manager> {
  const warn = deps.warn ?? ((m: string) => process.stderr.write(`opencdp: warning: ${m}\n`));
  if (!options.dataDir) throw new ValidationError('--data-dir is required', 'dataDir');
  const listen = parseListen(options.listen);
  const config = options.config ? readManagerConfig(options.config) : {};
  const siteId = options.siteId ?? config.siteId ?? process.env.OPENCDP_SITE_ID;
  if (!siteId) throw new ValidationError('name the site: siteId in --config, --site-id, or OPENCDP_SITE_ID', 'siteId');
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) throw new ValidationError('give --tls-cert and --tls-key together', options.tlsCert ? 'tlsKey' : 'tlsCert');
  if (options.http && !options.insecureHttp && !isLoopbackHost(listen.host)) {
    throw new ValidationError(`--http serves plain HTTP, which is allowed on loopback only, not on ${listen.host}`, 'listen', 'drop --http (HTTPS is the default), or insist with --insecure-http on an isolated network');
  }
  // Files that hold secrets: the config (admin password, control tokens), the TLS key, the site identity (private keys).
  checkPrivateFiles([options.config, options.tlsKey, config.identityFile], { strict: options.strict === true, warn });
  // The first admin's password only seeds a new data dir; left in the config afterwards it is a password kept in clear.
  if (config.admin && existsSync(join(options.dataDir, 'manager.db'))) {
    warn(`${options.config} still holds the first administrator's password in clear, which only a new data dir uses: remove "admin" from it (or seed with OPENCDP_ADMIN_USER/OPENCDP_ADMIN_PASSWORD instead)`);
  }

  let tls: ManagerOptions['tls'];
  if (options.tlsCert !== undefined && options.tlsKey !== undefined) {
    tls = { certPem: readPem(options.tlsCert, 'tlsCert'), keyPem: readPem(options.tlsKey, 'tlsKey') };
    try {
      certificateFingerprint(tls.certPem);
    } catch (e) {
      throw new ValidationError(`${options.tlsCert} is not a PEM certificate: ${(e as Error).message}`, 'tlsCert');
    }
  } else if (!options.http && !options.insecureHttp) {
    const made = loadOrCreateSelfSigned(options.dataDir, listen.host, siteId);
    tls = { certPem: made.certPem, keyPem: made.keyPem };
  }
  if (!config.metricsToken && !isLoopbackHost(listen.host)) warn(`/metrics is public at ${listen.host}:${listen.port} (group names and figures): set metricsToken in the config for Prometheus to present`);
  if (!tls) warn(`the REST API at ${listen.host}:${listen.port} is plain HTTP${isLoopbackHost(listen.host) ? ' (loopback only)' : ': passwords and tokens cross the network in clear'}`);

  const identity = config.identityFile ? await readIdentityFile(config.identityFile) : undefined;
  if (identity && identity.siteId !== siteId) throw new ValidationError(`the identity file is site '${identity.siteId}', this manager is '${siteId}'`, 'identityFile');
  const controlTls: ControlTls | undefined = identity
    ? { identity, ...(config.trustedPeersFile ? { trustedPeers: await readTrustedPeersFile(config.trustedPeersFile) } : {}) } : undefined;
  (config.appliances ?? []).forEach((a, i) => {
    const url = new URL(a.url);
    if (url.protocol === 'https:' && !controlTls) throw new ValidationError(`appliance ${a.siteId} is https, which needs this site's identity for mutual TLS`, 'identityFile', 'add identityFile (and trustedPeersFile) to the config');
    if (url.protocol === 'http:' && !isLoopbackHost(url.hostname) && !options.insecureHttp) {
      throw new ValidationError(`appliance ${a.siteId} at ${url.host} is plain HTTP: its token and recovery orders would cross the network in clear`, `appliances.${i}.url`, 'use https:// with identityFile (mutual TLS)');
    }
  });
  const connect = deps.connectAppliance ?? ((spec: { siteId: string; url: string; token: string; id?: string }, t: ControlTls | undefined) => {
    const control = new RemoteApplianceControl(spec.siteId, spec.url, spec.token, { ...(t ? { tls: t } : {}), ...(options.insecureHttp ? { insecureHttp: true } : {}) });
    if (spec.id) control.applianceId = spec.id;
    return control;
  });
  const appliances = [...(deps.appliances ?? []), ...(config.appliances ?? []).map((spec) => connect(spec, controlTls))];
  return startManager({
    dataDir: options.dataDir,
    listen: options.listen,
    siteId,
    appliances,
    ...(tls ? { tls } : {}),
    ...(options.insecureHttp ? { insecureHttp: true } : {}),
    ...(config.siteName ? { siteName: config.siteName } : {}),
    ...(config.admin ? { admin: config.admin } : {}),
    ...(config.recoveryAddresses ? { recoveryAddresses: config.recoveryAddresses } : {}),
    ...(config.peer ? { peer: config.peer } : {}),
    ...(config.sessionTtlMinutes ? { sessionTtlMs: config.sessionTtlMinutes * 60_000 } : {}),
    ...(config.pollIntervalMs ? { pollIntervalMs: config.pollIntervalMs } : {}),
    ...(config.barrierHoldMs ? { barrierHoldMs: config.barrierHoldMs } : {}),
    ...(config.peerHeartbeatMs ? { peerHeartbeatMs: config.peerHeartbeatMs } : {}),
    ...(config.peerDownAfterMs ? { peerDownAfterMs: config.peerDownAfterMs } : {}),
    ...(config.metricsToken ? { metricsToken: config.metricsToken } : {}),
    ...deps.overrides,
  });
}
