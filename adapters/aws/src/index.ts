// @opencdp/adapter-aws: journals and replica volumes in S3, recovery into EBS snapshots and EC2
// instances through the EBS direct APIs, EC2 protection by EBS changed blocks, and an in-repo
// SIMULATION of the EBS direct and EC2 APIs for tests (S3 tests run against a real s3rver).
export * from './aws-errors.js';
export * from './aws-clients.js';
export * from './s3/s3-transport.js';
export * from './s3/s3-stored-file.js';
export * from './s3/s3-storage.js';
export * from './s3/s3rver-process.js';
