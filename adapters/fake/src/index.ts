// @opencdp/adapter-fake: an in-memory data centre on a virtual clock — the reference adapter, the
// demo's default platform and what the conformance suite runs against.
export * from './fake-errors.js';
export { CHUNK_SIZE } from './sparse-volume.js';
export * from './fake-write-tap.js';
export * from './fake-data-center.js';
export * from './fake-hypervisor.js';
export * from './workload.js';
export * from './faulty-storage.js';
export * from './fake-consistency-agent.js';
export * from './fake-harness.js';
export * from './fake-adapter-module.js';
export * from './fake-network.js';
export * from './fake-platform-provider.js';
