// @opencdp/adapter-fake: an in-memory data centre on a virtual clock — the reference adapter, the
// demo's default platform and what the conformance suite runs against.
export * from './fake-errors.js';
export { CHUNK_SIZE } from './sparse-volume.js';
export * from './fake-write-tap.js';
export * from './fake-data-center.js';
export * from './fake-hypervisor.js';
export * from './workload.js';
// FaultyStorage moved to @opencdp/core (any harness uses it); re-exported here for existing imports.
export { FaultyStorage, type StorageFault } from '@opencdp/core';
export * from './fake-consistency-agent.js';
export * from './fake-harness.js';
export * from './fake-adapter-module.js';
export * from './fake-network.js';
export * from './fake-platform-provider.js';
