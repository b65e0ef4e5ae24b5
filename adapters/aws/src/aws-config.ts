// The AWS platform's section of an appliance config: region, optional endpoint overrides, the S3 bucket
// and prefix of the recovery site's journals and replicas, how recovered instances are launched, the
// standby chains and EC2 protection. No secret is ever in it: credentials come from the SDK's default
// provider chain, or from a shared-credentials file (mode 0600) and profile the section names.
import { promises as fs } from 'node:fs';
import { Ajv } from 'ajv';
import { ValidationError, schemaError } from '@opencdp/core';

export interface AwsPlatformConfig {
  region: string;
  credentials?: { profile?: string; file?: string };
  endpoints?: { s3?: string; ebs?: string; ec2?: string };
  s3?: { bucket: string; prefix?: string; forcePathStyle?: boolean; chunkBytes?: number; concurrency?: number };
  recovery?: {
    instanceType?: string;
    securityGroupIds?: string[];
    testSecurityGroupIds?: string[];
    testSubnetIds?: string[];
    architecture?: 'x86_64' | 'arm64';
    bootMode?: 'uefi' | 'legacy-bios' | 'uefi-preferred';
    volumeType?: string;
  };
  standby?: { enabled?: boolean; intervalSeconds?: number; keep?: number };
  protection?: { instanceTagKey?: string; instanceTagValue?: string; minIntervalSeconds?: number };
  /** Attempts per AWS call including the first (throttling and 5xx are retried); default 5. */
  maxAttempts?: number;
}

const url = { type: 'string', pattern: '^https?://[^\\s]+$' } as const;
const ids = (prefix: string) => ({ type: 'array', items: { type: 'string', pattern: `^${prefix}-[0-9a-f]+$` }, maxItems: 16 }) as const;

export const awsConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['region'],
  properties: {
    region: { type: 'string', pattern: '^[a-z]{2}(-[a-z]+)+-\\d+$' },
    credentials: {
      type: 'object', additionalProperties: false,
      properties: { profile: { type: 'string', minLength: 1, maxLength: 128 }, file: { type: 'string', minLength: 1 } },
    },
    endpoints: { type: 'object', additionalProperties: false, properties: { s3: url, ebs: url, ec2: url } },
    s3: {
      type: 'object', additionalProperties: false, required: ['bucket'],
      properties: {
        bucket: { type: 'string', pattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$' },
        prefix: { type: 'string', pattern: '^([^/\\\\][^\\\\]*/)?$', maxLength: 512 },
        forcePathStyle: { type: 'boolean' },
        chunkBytes: { type: 'integer', minimum: 65536, maximum: 536870912, multipleOf: 4096 },
        concurrency: { type: 'integer', minimum: 1, maximum: 64 },
      },
    },
    recovery: {
      type: 'object', additionalProperties: false,
      properties: {
        instanceType: { type: 'string', pattern: '^[a-z0-9-]+\\.[a-z0-9]+$' },
        securityGroupIds: ids('sg'),
        testSecurityGroupIds: ids('sg'),
        testSubnetIds: ids('subnet'),
        architecture: { enum: ['x86_64', 'arm64'] },
        bootMode: { enum: ['uefi', 'legacy-bios', 'uefi-preferred'] },
        volumeType: { enum: ['gp3', 'gp2', 'io1', 'io2', 'st1', 'sc1', 'standard'] },
      },
    },
    standby: {
      type: 'object', additionalProperties: false,
      properties: { enabled: { type: 'boolean' }, intervalSeconds: { type: 'integer', minimum: 60 }, keep: { type: 'integer', minimum: 1, maximum: 10 } },
    },
    protection: {
      type: 'object', additionalProperties: false,
      properties: { instanceTagKey: { type: 'string', minLength: 1, maxLength: 128 }, instanceTagValue: { type: 'string', maxLength: 256 }, minIntervalSeconds: { type: 'integer', minimum: 60 } },
    },
    maxAttempts: { type: 'integer', minimum: 1, maximum: 20 },
  },
} as const;

const ajv = new Ajv({ allErrors: true, strict: true, verbose: true });
const validate = ajv.compile(awsConfigSchema);

/** Validates the section; a ValidationError names the first offending field. */
export function parseAwsConfig(input: unknown): AwsPlatformConfig {
  const copy: unknown = structuredClone(input);
  if (!validate(copy)) throw schemaError('aws platform config', validate.errors ?? []);
  return copy as AwsPlatformConfig;
}

/** A shared-credentials file must be readable by its owner only (0600), as ssh keys must. */
export async function checkCredentialsFile(file: string): Promise<void> {
  let mode: number;
  try {
    mode = (await fs.stat(file)).mode;
  } catch (error) {
    throw new ValidationError(`credentials file '${file}' cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, 'credentials.file');
  }
  if ((mode & 0o077) !== 0) {
    throw new ValidationError(`credentials file '${file}' is readable by others (mode ${(mode & 0o777).toString(8)})`, 'credentials.file', `chmod 600 '${file}'`);
  }
}
