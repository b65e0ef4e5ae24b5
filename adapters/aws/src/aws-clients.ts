// The AWS SDK clients the adapter uses, built in one place with the same settings: region, an optional
// endpoint override (a VPC endpoint, s3rver, or the EBS/EC2 simulation), credentials from the SDK's
// default provider chain unless a provider is given, and standard retries (throttling and 5xx answers
// are retried with backoff by the SDK before an error reaches the adapter).
import { EBSClient } from '@aws-sdk/client-ebs';
import { EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

export type AwsCredentials = AwsCredentialIdentity | AwsCredentialIdentityProvider;

export interface AwsClientOptions {
  region: string;
  /** Overrides the service endpoint (e.g. `http://127.0.0.1:4569`). */
  endpoint?: string;
  /** Absent: the SDK's default provider chain (environment, shared files, SSO, container or instance role). */
  credentials?: AwsCredentials;
  /** Attempts per call including the first (default 5). */
  maxAttempts?: number;
  /**
   * Fixed delay between attempts in ms instead of the SDK's exponential backoff with jitter (which
   * backs off further on throttling). Tests set it small; products leave it unset.
   */
  retryDelayMs?: number;
}

/** The retry settings every client gets: the SDK's standard strategy, or the same with a fixed delay. */
function retries(options: AwsClientOptions): { maxAttempts: number; retryMode: 'standard' } | { retryStrategy: ConfiguredRetryStrategy } {
  const attempts = options.maxAttempts ?? 5;
  if (options.retryDelayMs === undefined) return { maxAttempts: attempts, retryMode: 'standard' };
  // Only the backoff differs from the standard strategy; which errors are retried (throttling, 5xx) does not.
  return { retryStrategy: new ConfiguredRetryStrategy(attempts, options.retryDelayMs) };
}

export function createS3Client(options: AwsClientOptions & { forcePathStyle?: boolean }): S3Client {
  return new S3Client({
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    forcePathStyle: options.forcePathStyle ?? false,
    ...retries(options),
  });
}

export function createEbsClient(options: AwsClientOptions): EBSClient {
  return new EBSClient({
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    ...retries(options),
  });
}

export function createEc2Client(options: AwsClientOptions): EC2Client {
  return new EC2Client({
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    ...retries(options),
  });
}
