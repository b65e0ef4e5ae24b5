// What `opencdp-conformance --adapter aws` loads: the adapter's name and a harness factory honouring the
// capture mode the suite asks for (S3 recovery storage on a real s3rver, EBS/EC2 SIMULATED on loopback).
// One s3rver serves every case of a run, each case under a prefix of its own: starting a server per case
// would cost a process start each time. The server and its folder go when the process exits.
import { rmSync } from 'node:fs';
import type { HarnessFactory, HarnessOptions } from '@opencdp/core';
import { createAwsHarness } from './aws-harness.js';
import { startS3rver, type S3rverHandle } from './s3/s3rver-process.js';

export const name = 'aws';

let shared: Promise<S3rverHandle> | undefined;
let cases = 0;

function sharedS3rver(): Promise<S3rverHandle> {
  shared ??= startS3rver({ buckets: ['opencdp-harness'] }).then((server) => {
    // The child exits by itself when this process closes its stdin; its folder has to be removed here.
    process.once('exit', () => rmSync(server.directory, { recursive: true, force: true }));
    return server;
  }, (error: unknown) => {
    shared = undefined;
    throw error;
  });
  return shared;
}

export const createHarness: HarnessFactory = async (options?: HarnessOptions) =>
  createAwsHarness({ ...options, s3rver: await sharedS3rver(), prefix: `case-${++cases}/` });
