// @opencdp/adapter-aws: journals and replica volumes in S3, recovery into EBS snapshots and EC2
// instances through the EBS direct APIs, EC2 protection by EBS changed blocks, and an in-repo
// SIMULATION of the EBS direct and EC2 APIs for tests (S3 tests run against a real s3rver).
export * from './aws-errors.js';
export * from './aws-clients.js';
export * from './s3/s3-transport.js';
export * from './s3/s3-stored-file.js';
export * from './s3/s3-storage.js';
export * from './s3/s3rver-process.js';
export * from './ebs/ebs-direct.js';
export * from './ebs/snapshot-io.js';
export * from './ec2/ec2-api.js';
export * from './ec2/vm-info.js';
export * from './ec2/ebs-change-tracking.js';
export * from './standby/replica-tracking-storage.js';
export * from './standby/standby-chains.js';
export * from './aws-hypervisor.js';
export * from './simulation/simulated-block-store.js';
export * from './simulation/simulated-aws-state.js';
export * from './simulation/simulated-aws-server.js';
export * from './aws-harness.js';
export * from './testing/simulated-aws-rig.js';
export * from './aws-config.js';
export * from './aws-platform-provider.js';
export * from './aws-adapter-module.js';
