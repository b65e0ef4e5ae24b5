// The journal's kill -9 suite on S3 (real s3rver): a child appends to a journal in a bucket and is
// SIGKILLed mid-stream; what it reported durable must be listed and equal the oracle after each kill.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describeJournalCrash } from '@opencdp/core/testing';
import { startS3rver, type S3rverHandle } from './s3rver-process.js';
import { createCrashStorage, type S3CrashStoreArg } from '../testing/s3-crash-storage.js';

const MODULE = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'testing', 's3-crash-storage.js')).href;

describeJournalCrash('S3 (s3rver)', {
  storageModule: MODULE,
  // Each kill starts a child that loads the AWS SDK (seconds on a busy machine): fewer, longer runs than
  // the local-file suite keep this bounded while each run still rotates, trims and promotes.
  kills: Number(process.env.OPENCDP_S3_CRASH_KILLS ?? 8),
  runMs: [100, 1200],
  async makeStore() {
    const server: S3rverHandle = await startS3rver({ buckets: ['crash'] });
    const arg: S3CrashStoreArg = { endpoint: server.endpoint, bucket: 'crash', prefix: 'site/' };
    return {
      arg,
      open: async () => createCrashStorage(arg),
      dispose: () => server.stop(),
    };
  },
});
