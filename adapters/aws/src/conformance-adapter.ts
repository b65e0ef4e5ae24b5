// What `opencdp-conformance --adapter aws` loads: the adapter's name and a harness factory honouring the
// capture mode the suite asks for (S3 recovery storage on a real s3rver, EBS/EC2 SIMULATED on loopback).
import type { HarnessFactory, HarnessOptions } from '@opencdp/core';
import { createAwsHarness } from './aws-harness.js';

export const name = 'aws';

export const createHarness: HarnessFactory = (options?: HarnessOptions) => createAwsHarness({ ...options });
