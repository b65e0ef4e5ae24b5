// The kill -9 suite's store on S3: the child and the parent each open an S3Storage on the same s3rver,
// bucket and prefix. Small chunks, so that the suite's 256 KiB segments span several chunk objects.
import type { StorageAdapter } from '@opencdp/core';
import { createS3Client } from '../aws-clients.js';
import { S3RVER_CREDENTIALS } from '../s3/s3rver-process.js';
import { S3Storage } from '../s3/s3-storage.js';

export interface S3CrashStoreArg {
  endpoint: string;
  bucket: string;
  prefix: string;
}

export function createCrashStorage(arg: unknown): StorageAdapter {
  const { endpoint, bucket, prefix } = arg as S3CrashStoreArg;
  const client = createS3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS, maxAttempts: 3 });
  return new S3Storage({ client, bucket, prefix, chunkBytes: 64 * 1024 });
}
