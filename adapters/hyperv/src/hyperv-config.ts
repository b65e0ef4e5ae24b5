// The Hyper-V adapter's configuration (the appliance's `platform.config` section): its JSON Schema, checked
// with ajv so errors name the field, defaults, and reading the remote host's password from an environment
// variable or a 0600 file — never from the configuration itself.
import { promises as fs } from 'node:fs';
import { Ajv } from 'ajv';
import { HypervConfigError } from './hyperv-errors.js';
import type { PathMapping } from './disk-transport.js';

export interface HypervConfig {
  /** `powershell` (Windows PowerShell 5.1), `pwsh` (PowerShell 7) or a path. */
  powershell?: { executable?: string; executableOptions?: Record<string, string | boolean> };
  /** A remote Hyper-V host reached through WinRM (a PSSession); absent: the local host. */
  remoteHost?: { computerName: string; userName?: string; passwordEnv?: string; passwordFile?: string };
  /** Folders on the host that serve as datastores (recovered disks go under the first unless told). */
  storagePaths: string[];
  /** Where recovered VMs and their disks go, per datastore: `<datastore>\<recoveryFolder>\<vm>` (default `OpenCDP`). */
  recoveryFolder?: string;
  /** The disk transport seam: SMB paths (host folder → the appliance's mount of it). */
  transport: { kind: 'smb'; mappings: PathMapping[] };
  /** Switches that count as isolated test networks (default: every Private switch). */
  testSwitches?: string[];
  /** `application` (VSS in the guest), `crash`, or `application-or-crash` (default: crash-consistent when VSS fails). */
  consistency?: 'application' | 'crash' | 'application-or-crash';
  /** Per-command timeout in ms (default 120000). */
  commandTimeoutMs?: number;
  /** Shortest change-tracking cycle in ms (default 30000: a checkpoint and its conversion take seconds). */
  minIntervalMs?: number;
  /** The granularity reported for RCT ranges in bytes (Hyper-V does not document it; default 65536). */
  rctGranularityBytes?: number;
  /** Reference points the adapter keeps per VM at most (older ones are destroyed; default 8). */
  maxReferencePointsPerVm?: number;
  /** New recovery VMs. */
  recoveryVm?: {
    generation?: 1 | 2; memoryBytes?: number; processorCount?: number; blockSizeBytes?: number;
    /** Logical sector size of recovered VHDX disks: the protected volume's (default) or a fixed one. */
    logicalSectorSize?: 'source' | 512 | 4096;
    subnetMask?: string; gateways?: string[]; dnsServers?: string[];
  };
}

const windowsPath = { type: 'string', minLength: 3, pattern: '^([A-Za-z]:\\\\|\\\\\\\\)' } as const;

export const HYPERV_CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['storagePaths', 'transport'],
  properties: {
    powershell: {
      type: 'object', additionalProperties: false,
      properties: {
        executable: { type: 'string', minLength: 1 },
        executableOptions: { type: 'object', additionalProperties: { type: ['string', 'boolean'] }, propertyNames: { pattern: '^-' } },
      },
    },
    remoteHost: {
      type: 'object', additionalProperties: false, required: ['computerName'],
      properties: {
        computerName: { type: 'string', minLength: 1, pattern: '^[A-Za-z0-9.-]+$' },
        userName: { type: 'string', minLength: 1 },
        passwordEnv: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
        passwordFile: { type: 'string', minLength: 1 },
      },
      // A password needs a user, and comes from one place (if/then: the same in draft-07 and 2020-12).
      allOf: [
        { if: { required: ['passwordEnv'] }, then: { required: ['userName'], not: { required: ['passwordFile'] } } },
        { if: { required: ['passwordFile'] }, then: { required: ['userName'] } },
      ],
    },
    storagePaths: { type: 'array', minItems: 1, items: windowsPath },
    recoveryFolder: { type: 'string', minLength: 1, pattern: '^[^\\\\/:*?"<>|]+$' },
    transport: {
      type: 'object', additionalProperties: false, required: ['kind', 'mappings'],
      properties: {
        kind: { const: 'smb' },
        mappings: {
          type: 'array', minItems: 1,
          items: { type: 'object', additionalProperties: false, required: ['hostPath', 'localPath'], properties: { hostPath: windowsPath, localPath: { type: 'string', pattern: '^/' } } },
        },
      },
    },
    testSwitches: { type: 'array', items: { type: 'string', minLength: 1 } },
    consistency: { enum: ['application', 'crash', 'application-or-crash'] },
    commandTimeoutMs: { type: 'integer', minimum: 1000 },
    minIntervalMs: { type: 'integer', minimum: 1 },
    rctGranularityBytes: { type: 'integer', minimum: 512 },
    maxReferencePointsPerVm: { type: 'integer', minimum: 2 },
    recoveryVm: {
      type: 'object', additionalProperties: false,
      properties: {
        generation: { enum: [1, 2] },
        memoryBytes: { type: 'integer', minimum: 33554432 },
        processorCount: { type: 'integer', minimum: 1 },
        logicalSectorSize: { enum: ['source', 512, 4096] },
        blockSizeBytes: { enum: [1048576, 2097152, 4194304, 8388608, 16777216, 33554432, 67108864, 134217728, 268435456] },
        subnetMask: { type: 'string', pattern: '^\\d{1,3}(\\.\\d{1,3}){3}$' },
        gateways: { type: 'array', items: { type: 'string' } },
        dnsServers: { type: 'array', items: { type: 'string' } },
      },
    },
  },
} as const;

const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile(HYPERV_CONFIG_SCHEMA);

/** Checks a configuration; HypervConfigError names the first bad field. */
export function parseHypervConfig(config: unknown): HypervConfig {
  if (!validate(config)) {
    const e = validate.errors![0];
    const field = e.instancePath.replace(/^\//, '').replace(/\//g, '.') || (e.params as { missingProperty?: string }).missingProperty || '(root)';
    throw new HypervConfigError(field, e.message ?? 'invalid');
  }
  return config as HypervConfig;
}

/** The remote host's password: from its environment variable, or from a file that only its owner can read. */
export async function readRemotePassword(remote: NonNullable<HypervConfig['remoteHost']>, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  if (remote.passwordEnv) {
    const value = env[remote.passwordEnv];
    if (!value) throw new HypervConfigError('remoteHost.passwordEnv', `the environment variable ${remote.passwordEnv} is not set`);
    return value;
  }
  if (remote.passwordFile) {
    const stat = await fs.stat(remote.passwordFile).catch(() => undefined);
    if (!stat) throw new HypervConfigError('remoteHost.passwordFile', `${remote.passwordFile} does not exist`);
    if ((stat.mode & 0o077) !== 0) throw new HypervConfigError('remoteHost.passwordFile', `${remote.passwordFile} is readable by others (mode ${(stat.mode & 0o777).toString(8)}); chmod 600 it`);
    return (await fs.readFile(remote.passwordFile, 'utf8')).replace(/\r?\n$/, '');
  }
  return undefined;
}
