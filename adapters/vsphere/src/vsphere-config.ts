// The vSphere adapter's config section: its JSON Schema (validated with ajv; errors name the field), the
// defaults, and reading the password — from an environment variable or a file only the appliance's user
// can read (0600), never from the command line or the config file itself.
import { promises as fs } from 'node:fs';
import { Ajv } from 'ajv';
import { ValidationError, schemaError } from '@opencdp/core';
import { normalizeThumbprint } from './vim-http.js';

export interface VsphereConfig {
  /** The SDK endpoint, `https://vcenter.example.com/sdk`. */
  url: string;
  user: string;
  /** Name of the environment variable holding the password (one of passwordEnv / passwordFile). */
  passwordEnv?: string;
  /** Path of a file (mode 0600) holding the password. */
  passwordFile?: string;
  /** SHA-1 or SHA-256 thumbprint of vCenter's certificate (pinned; usual for self-signed certificates). */
  thumbprint?: string;
  /** PEM file of the CA that signed vCenter's certificate (instead of a thumbprint). Neither: the system's CAs. */
  caFile?: string;
  /** Datacenter name or inventory path. */
  datacenter: string;
  /** Default datastore of recovered VMs. */
  datastore?: string;
  /** VM folder (name, below the datacenter's VM folder) for recovered VMs. */
  folder?: string;
  /** Cluster (name) whose root resource pool takes recovered VMs when a plan names no host. */
  cluster?: string;
  /** The live network recovered VMs join by default (listed first among live networks). */
  livePortgroup?: string;
  /** Isolated test networks (failover tests attach recovered VMs there). */
  testPortgroups?: string[];
  /** Quiesce guests (VMware Tools) for change-tracking views (default false). */
  quiesce?: boolean;
  minIntervalSeconds?: number;
  cbtGranularityBytes?: number;
  taskTimeoutSeconds?: number;
  requestTimeoutSeconds?: number;
  macPolicy?: 'keep' | 'generate';
  guestId?: string;
  memoryMB?: number;
  subnetMask?: string;
}

const name = { type: 'string', minLength: 1, maxLength: 255 };

export const vsphereConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['url', 'user', 'datacenter'],
  properties: {
    url: { type: 'string', pattern: '^https://[^\\s/]+(/\\S*)?$', description: 'https URL of the vCenter SDK endpoint' },
    user: name,
    passwordEnv: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
    passwordFile: { type: 'string', minLength: 1 },
    thumbprint: { type: 'string', pattern: '^([0-9A-Fa-f]{2}[:]?){19}[0-9A-Fa-f]{2}$|^([0-9A-Fa-f]{2}[:]?){31}[0-9A-Fa-f]{2}$' },
    caFile: { type: 'string', minLength: 1 },
    datacenter: name,
    datastore: name,
    folder: name,
    cluster: name,
    livePortgroup: name,
    testPortgroups: { type: 'array', items: name, uniqueItems: true },
    quiesce: { type: 'boolean' },
    minIntervalSeconds: { type: 'integer', minimum: 1, maximum: 86_400 },
    cbtGranularityBytes: { type: 'integer', minimum: 512, maximum: 64 * 1024 * 1024 },
    taskTimeoutSeconds: { type: 'integer', minimum: 1, maximum: 86_400 },
    requestTimeoutSeconds: { type: 'integer', minimum: 1, maximum: 3_600 },
    macPolicy: { enum: ['keep', 'generate'] },
    guestId: name,
    memoryMB: { type: 'integer', minimum: 4, maximum: 24 * 1024 * 1024 },
    subnetMask: { type: 'string', pattern: '^\\d{1,3}(\\.\\d{1,3}){3}$' },
  },
  oneOf: [
    { properties: { passwordEnv: { type: 'string' } }, required: ['passwordEnv'], not: { properties: { passwordFile: { type: 'string' } }, required: ['passwordFile'] } },
    { properties: { passwordFile: { type: 'string' } }, required: ['passwordFile'], not: { properties: { passwordEnv: { type: 'string' } }, required: ['passwordEnv'] } },
  ],
  description: 'a vsphere config with exactly one of passwordEnv or passwordFile',
} as const;

const ajv = new Ajv({ allErrors: true, strict: true });
const validate = ajv.compile(vsphereConfigSchema);

/** Validates a config section; ValidationError naming the field otherwise. Nothing is read or contacted. */
export function parseVsphereConfig(input: unknown): VsphereConfig {
  if (!validate(input)) {
    const errors = validate.errors ?? [];
    // Say which password source is wrong in words, not as a failed oneOf.
    if (errors.some((e) => e.keyword === 'oneOf') && typeof input === 'object' && input !== null) {
      const o = input as Record<string, unknown>;
      const both = o.passwordEnv !== undefined && o.passwordFile !== undefined;
      const rest = errors.filter((e) => e.instancePath !== '' || (e.keyword !== 'oneOf' && e.keyword !== 'required' && e.keyword !== 'not'));
      if (rest.length === 0) {
        throw new ValidationError(`invalid vsphere config: ${both ? 'give passwordEnv or passwordFile, not both' : 'missing field \'passwordEnv\' (or \'passwordFile\')'}`,
          'passwordEnv', 'the password comes from an environment variable or a 0600 file, never from the config or the command line');
      }
    }
    throw schemaError('vsphere config', errors);
  }
  const config = input as unknown as VsphereConfig;
  if (config.thumbprint !== undefined && config.caFile !== undefined) throw new ValidationError('invalid vsphere config: give thumbprint or caFile, not both', 'thumbprint');
  if (config.thumbprint !== undefined && !normalizeThumbprint(config.thumbprint)) throw new ValidationError(`invalid vsphere config: 'thumbprint' is not a SHA-1 or SHA-256 thumbprint`, 'thumbprint');
  return config;
}

/** Reads the password; ValidationError naming the field when the variable is unset or the file is readable by others. */
export async function readVspherePassword(config: VsphereConfig, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (config.passwordEnv !== undefined) {
    const value = env[config.passwordEnv];
    if (value === undefined || value === '') throw new ValidationError(`environment variable '${config.passwordEnv}' (vsphere passwordEnv) is not set`, 'passwordEnv');
    return value;
  }
  const file = config.passwordFile!;
  let stat;
  try {
    stat = await fs.stat(file);
  } catch {
    throw new ValidationError(`password file '${file}' (vsphere passwordFile) cannot be read`, 'passwordFile');
  }
  if ((stat.mode & 0o077) !== 0) {
    throw new ValidationError(`password file '${file}' is readable by others (mode ${(stat.mode & 0o777).toString(8)})`, 'passwordFile', `chmod 600 ${file}`);
  }
  const value = (await fs.readFile(file, 'utf8')).replace(/\r?\n$/, '');
  if (value === '') throw new ValidationError(`password file '${file}' is empty`, 'passwordFile');
  return value;
}
