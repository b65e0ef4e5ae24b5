// Test-only helpers shared by this package's specs: a real s3rver per describe block (in a child
// process on an ephemeral port) with a fresh key prefix per test, and S3 clients pointed at it.
import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from './aws-clients.js';
import { S3RVER_CREDENTIALS, startS3rver, type S3rverHandle } from './s3/s3rver-process.js';
import { S3Storage, type S3StorageOptions } from './s3/s3-storage.js';

export const SPEC_BUCKET = 'opencdp-spec';

export interface S3Fixture {
  readonly server: S3rverHandle;
  readonly client: S3Client;
  /** A prefix no other test of this run uses. */
  freshPrefix(): string;
  /** A storage on a fresh prefix. */
  storage(options?: Partial<S3StorageOptions>): S3Storage;
}

/** Starts s3rver before the enclosing describe's tests and stops it after them; call the result inside tests. */
export function s3Fixture(): () => S3Fixture {
  let fixture: S3Fixture | undefined;
  let n = 0;
  before(async function () {
    this.timeout(30_000);
    const server = await startS3rver({ buckets: [SPEC_BUCKET] });
    const client = s3ClientFor(server.endpoint);
    fixture = {
      server,
      client,
      freshPrefix: () => `t${++n}/`,
      storage: (options = {}) => new S3Storage({ client, bucket: SPEC_BUCKET, prefix: `t${++n}/`, ...options }),
    };
  });
  after(async () => {
    fixture?.client.destroy();
    await fixture?.server.stop();
  });
  return () => {
    if (!fixture) throw new Error('s3Fixture used outside its describe block');
    return fixture;
  };
}

export function s3ClientFor(endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string } = S3RVER_CREDENTIALS, maxAttempts = 3): S3Client {
  return createS3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials, maxAttempts });
}
