// Configuration files of `opencdp appliance start`: one JSON document per process, validated with ajv
// against a schema per role, so a typo fails at start with a ValidationError that names the field
// instead of surfacing later as a confusing link or journal error. Relative paths resolve against the file.
import { promises as fs } from 'node:fs';
import type { SiteApplianceConfig } from '../site/site-appliance.js';
import path from 'node:path';
import { Ajv } from 'ajv';
import {
  PLATFORM_SELECTION_SCHEMA, SITE_ID_PATTERN, ValidationError, parseLinkAddress, parseProtectionGroupSettings, schemaError,
  type PlatformSelection, type ProtectionGroupSettings,
} from '@opencdp/core';

export type ApplianceRole = 'recovery' | 'protected';

export interface RecoveryConfig {
  role: 'recovery';
  siteId: string;
  /** Root of the recovery storage; journals live under `journals/<groupId>/<vmId>`. */
  dataDir: string;
  /** `host:port` to listen on (port 0 picks a free one; the `listening` line says which). */
  listen: string;
  identityFile: string;
  trustedPeersFile: string;
  /** Receive buffer (default 64 MiB). */
  bufferBytes?: number;
  /** A platform whose recovery storage keeps the journals (e.g. S3); absent: local files under `dataDir`. */
  platform?: PlatformSelection;
}

export interface ProtectedVmConfig {
  name: string;
  volumes: { sizeBytes: number; sectorSize?: number }[];
}

export interface WorkloadConfig {
  seed: number;
  ratePerSecond: number;
  writeSizes: number[];
  hotFraction?: number;
}

export interface ProtectedConfig {
  role: 'protected';
  siteId: string;
  identityFile: string;
  trustedPeersFile: string;
  recoveryAddress: string;
  group: { groupId: string; settings: ProtectionGroupSettings; preseeded?: boolean };
  /**
   * The platform whose VMs are protected. Absent: the embedded fake data centre, whose simulated guests
   * `vms` and `workload` describe (and `volumeDir`, `verifyEveryMs`). Present: `vmNames` names existing VMs.
   */
  platform?: PlatformSelection;
  /** With `platform`: the VMs to protect, by name as the platform's inventory lists them. */
  vmNames?: string[];
  /** With `platform`: its private folder goes under here (default: the status file's folder). */
  dataDir?: string;
  /** The fake data centre's VMs (without `platform`). */
  vms?: ProtectedVmConfig[];
  /** The fake guests' seeded writes (without `platform`). */
  workload?: WorkloadConfig;
  /** Where the verified-checkpoint status is written (atomically). */
  statusFile: string;
  /** Keeps the fake VMs' volumes in files here, so a restarted process finds its disks (optional). */
  volumeDir?: string;
  /** How often the workload pauses for a verified (hashed) tagged checkpoint (default 3000 ms). */
  verifyEveryMs?: number;
  bufferBytes?: number;
  bitmapBudgetBytes?: number;
}

export type ApplianceConfig = RecoveryConfig | ProtectedConfig;

/** Group ids become folder names at the recovery site (`journals/<groupId>/…`): keep them path-safe. */
export const GROUP_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
const siteId = { type: 'string', pattern: SITE_ID_PATTERN } as const;
const file = { type: 'string', minLength: 1 } as const;
const address = { type: 'string', minLength: 3, maxLength: 300 } as const;
const positiveInt = { type: 'integer', minimum: 1 } as const;

const recoverySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['role', 'siteId', 'dataDir', 'listen', 'identityFile', 'trustedPeersFile'],
  properties: {
    role: { const: 'recovery' },
    siteId,
    dataDir: file,
    listen: address,
    identityFile: file,
    trustedPeersFile: file,
    bufferBytes: { type: 'integer', minimum: 1024 * 1024 },
    platform: PLATFORM_SELECTION_SCHEMA,
  },
} as const;

const protectedSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['role', 'siteId', 'identityFile', 'trustedPeersFile', 'recoveryAddress', 'group', 'statusFile'],
  properties: {
    role: { const: 'protected' },
    siteId,
    identityFile: file,
    trustedPeersFile: file,
    recoveryAddress: address,
    group: {
      type: 'object',
      additionalProperties: false,
      required: ['groupId', 'settings'],
      properties: {
        groupId: { type: 'string', pattern: GROUP_ID_PATTERN },
        // Checked by the kernel's own settings schema below (one contract for REST, CLI and kernel).
        settings: { type: 'object' },
        preseeded: { type: 'boolean' },
      },
    },
    vms: {
      type: 'array',
      minItems: 1,
      maxItems: 64,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'volumes'],
        properties: {
          // Names also name the volume files in `volumeDir`.
          name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' },
          volumes: {
            type: 'array',
            minItems: 1,
            maxItems: 16,
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['sizeBytes'],
              properties: { sizeBytes: positiveInt, sectorSize: { enum: [512, 1024, 2048, 4096, 8192, 16384, 32768, 65536] } },
            },
          },
        },
      },
    },
    workload: {
      type: 'object',
      additionalProperties: false,
      required: ['seed', 'ratePerSecond', 'writeSizes'],
      properties: {
        seed: { type: 'integer' },
        ratePerSecond: { type: 'number', exclusiveMinimum: 0, maximum: 100_000 },
        writeSizes: { type: 'array', minItems: 1, items: { type: 'integer', minimum: 512, maximum: 16 * 1024 * 1024 } },
        hotFraction: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
      },
    },
    platform: PLATFORM_SELECTION_SCHEMA,
    vmNames: { type: 'array', minItems: 1, maxItems: 64, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 200 } },
    dataDir: file,
    statusFile: file,
    volumeDir: file,
    verifyEveryMs: { type: 'integer', minimum: 200, maximum: 3_600_000 },
    bufferBytes: { type: 'integer', minimum: 1024 * 1024 },
    bitmapBudgetBytes: { type: 'integer', minimum: 1024 },
  },
} as const;

/** `opencdp appliance serve`: an appliance a manager drives over the control link (see site/site-appliance.ts). */
const siteApplianceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['siteId', 'identityFile', 'trustedPeersFile', 'dataDir', 'control'],
  properties: {
    siteId,
    identityFile: file,
    trustedPeersFile: file,
    dataDir: file,
    control: {
      type: 'object', additionalProperties: false, required: ['listen', 'token'],
      properties: { listen: address, token: { type: 'string', minLength: 16, maxLength: 200 } },
    },
    linkListen: address,
    scriptsDir: file,
    protectedPeer: {
      type: 'object', additionalProperties: false, required: ['siteId', 'controlUrl', 'token'],
      properties: {
        siteId, controlUrl: { type: 'string', pattern: '^https://', description: 'the protected site appliance\'s control link (mutual TLS)' }, token: { type: 'string', minLength: 16, maxLength: 200 },
        // The protected site's own site-link listener (it has the recovery role too): reverse protection sends there.
        linkAddress: address,
      },
    },
    // Lower case: it prefixes the fake data centre's ids (see the fake platform's idPrefix).
    applianceId: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,47}$' },
    hostName: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' },
    volumeDir: file,
    recoveryStorage: { enum: ['files', 'memory'] },
    /** The platform of this site's VMs (default: the fake data centre with `vms`). */
    platform: PLATFORM_SELECTION_SCHEMA,
    vms: { ...protectedSchema.properties.vms, maxItems: 4096 },
    workload: protectedSchema.properties.workload,
    bufferBytes: protectedSchema.properties.bufferBytes,
    bitmapBudgetBytes: protectedSchema.properties.bitmapBudgetBytes,
    /** Checkpoint images: the export folder, the live sessions' socket folder, their default idle timeout. */
    images: {
      type: 'object', additionalProperties: false,
      properties: { exportDir: file, socketDir: file, idleTimeoutSec: { type: 'integer', minimum: 1, maximum: 86_400 } },
    },
    capture: { enum: ['splitter', 'change-tracking'] },
  },
} as const;

const ajv = new Ajv({ allErrors: true, strict: true, verbose: true });
const validateSiteAppliance = ajv.compile(siteApplianceSchema);

/** Validates a `serve` configuration, resolving its paths against `baseDir`. Throws ValidationError. */
export function parseSiteApplianceConfig(input: unknown, baseDir = process.cwd()): SiteApplianceConfig {
  const copy: unknown = structuredClone(input);
  if (!validateSiteAppliance(copy)) throw schemaError('appliance configuration', validateSiteAppliance.errors ?? []);
  const c = copy as SiteApplianceConfig;
  checkAddress(c.control.listen, 'control.listen');
  if (c.linkListen) checkAddress(c.linkListen, 'linkListen');
  if (c.platform && c.vms) {
    throw new ValidationError('top-level vms describe the embedded fake data centre; with a platform section they go in its config', 'vms',
      'move them to platform.config.vms (platform fake), or remove them: other platforms list their own VMs');
  }
  for (const field of ['hostName', 'volumeDir'] as const) {
    if (c.platform && c[field] !== undefined) {
      throw new ValidationError(`${field} applies to the embedded fake data centre only, not to a platform section`, field, 'remove it, or remove the platform section');
    }
  }
  const resolve = (p: string): string => path.resolve(baseDir, p);
  return {
    ...c, identityFile: resolve(c.identityFile), trustedPeersFile: resolve(c.trustedPeersFile), dataDir: resolve(c.dataDir),
    ...(c.images ? { images: { ...c.images, ...(c.images.exportDir ? { exportDir: resolve(c.images.exportDir) } : {}), ...(c.images.socketDir ? { socketDir: resolve(c.images.socketDir) } : {}) } } : {}),
    ...(c.volumeDir !== undefined ? { volumeDir: resolve(c.volumeDir) } : {}),
    ...(c.scriptsDir ? { scriptsDir: resolve(c.scriptsDir) } : {}),
    ...(c.platform ? { platform: resolvePlatformPath(c.platform, baseDir) } : {}),
  };
}
const validateRecovery = ajv.compile(recoverySchema);
const validateProtected = ajv.compile(protectedSchema);

/**
 * Validates a parsed configuration for `role` and returns it typed, with relative paths resolved
 * against `baseDir` and the group's settings filled with their defaults. Throws ValidationError.
 */
export function parseApplianceConfig(input: unknown, role: ApplianceRole, baseDir = process.cwd()): ApplianceConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new ValidationError('an appliance configuration must be a JSON object', '(root)');
  const declared = (input as { role?: unknown }).role;
  if (declared !== role) {
    throw new ValidationError(`the configuration is for role ${JSON.stringify(declared)}, but --role is '${role}'`, 'role', 'make --role and the file\'s "role" agree');
  }
  const copy: unknown = structuredClone(input);
  const resolve = (p: string): string => path.resolve(baseDir, p);
  if (role === 'recovery') {
    if (!validateRecovery(copy)) throw schemaError('recovery appliance configuration', validateRecovery.errors ?? []);
    const c = copy as RecoveryConfig;
    checkAddress(c.listen, 'listen');
    return {
      ...c, dataDir: resolve(c.dataDir), identityFile: resolve(c.identityFile), trustedPeersFile: resolve(c.trustedPeersFile),
      ...(c.platform ? { platform: resolvePlatformPath(c.platform, baseDir) } : {}),
    };
  }
  if (!validateProtected(copy)) throw schemaError('protected appliance configuration', validateProtected.errors ?? []);
  const c = copy as ProtectedConfig;
  checkAddress(c.recoveryAddress, 'recoveryAddress');
  let settings: ProtectionGroupSettings;
  try {
    settings = parseProtectionGroupSettings(c.group.settings);
  } catch (e) {
    if (!(e instanceof ValidationError)) throw e;
    throw new ValidationError(e.message, e.field ? `group.settings.${e.field}` : 'group.settings');
  }
  if (c.platform) {
    for (const field of ['vms', 'workload', 'volumeDir', 'verifyEveryMs'] as const) {
      if (c[field] !== undefined) {
        throw new ValidationError(`'${field}' describes the embedded fake data centre's simulated guests; with a platform section, name the VMs to protect in vmNames`, field);
      }
    }
    if (!c.vmNames) throw new ValidationError('a protected appliance on a platform needs vmNames: the VMs to protect, by name', 'vmNames');
  } else {
    if (!c.vms) throw new ValidationError("missing field 'vms': the embedded fake data centre's VMs (or give a platform section and vmNames)", 'vms');
    if (!c.workload) throw new ValidationError("missing field 'workload': the fake guests' writes (or give a platform section and vmNames)", 'workload');
    if (c.vmNames) throw new ValidationError('vmNames needs a platform section (the embedded fake data centre creates the VMs listed in vms)', 'vmNames');
  }
  const names = new Set<string>();
  (c.vms ?? []).forEach((vm, i) => {
    if (names.has(vm.name)) throw new ValidationError(`VM name '${vm.name}' is used twice`, `vms.${i}.name`, 'VM names name their volume files; make them unique');
    names.add(vm.name);
    vm.volumes.forEach((v, j) => {
      const sector = v.sectorSize ?? 512;
      if (v.sizeBytes % sector !== 0) throw new ValidationError(`volume size ${v.sizeBytes} is not a multiple of its ${sector}-byte sector`, `vms.${i}.volumes.${j}.sizeBytes`);
    });
  });
  return {
    ...c,
    group: { ...c.group, settings },
    identityFile: resolve(c.identityFile),
    trustedPeersFile: resolve(c.trustedPeersFile),
    statusFile: resolve(c.statusFile),
    ...(c.volumeDir !== undefined ? { volumeDir: resolve(c.volumeDir) } : {}),
    ...(c.dataDir !== undefined ? { dataDir: resolve(c.dataDir) } : {}),
    ...(c.platform ? { platform: resolvePlatformPath(c.platform, baseDir) } : {}),
  };
}

/** A `platform.package` that is a path resolves against the config file's folder, like every other path. */
function resolvePlatformPath(platform: PlatformSelection, baseDir: string): PlatformSelection {
  const p = platform.package;
  if (p === undefined || !(p.startsWith('.') || path.isAbsolute(p))) return platform;
  return { ...platform, package: path.resolve(baseDir, p) };
}

/** Reads and validates a configuration file (see parseApplianceConfig). */
export async function loadApplianceConfig(file: string, role: ApplianceRole): Promise<ApplianceConfig> {
  return parseApplianceConfig(await readJsonFile(file), role, path.dirname(path.resolve(file)));
}

export async function loadSiteApplianceConfig(file: string): Promise<SiteApplianceConfig> {
  return parseSiteApplianceConfig(await readJsonFile(file), path.dirname(path.resolve(file)));
}

async function readJsonFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    throw new ValidationError(`cannot read configuration file '${file}': ${(e as Error).message}`, 'config');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new ValidationError(`configuration file '${file}' is not JSON: ${(e as Error).message}`, 'config');
  }
}

function checkAddress(value: string, field: string): void {
  try {
    parseLinkAddress(value);
  } catch (e) {
    throw new ValidationError((e as Error).message, field, "write it as host:port, e.g. '127.0.0.1:7400'");
  }
}
