// @opencdp/core: the kernel every adapter, plugin and tool builds on.
export * from './errors.js';
export * from './clock.js';
export * from './random.js';
export * from './model.js';
export * from './volume-geometry.js';
export * from './settings.js';
export * from './ports/storage-adapter.js';
export * from './ports/write-tap.js';
export * from './ports/hypervisor-adapter.js';
export * from './ports/network-adapter.js';
export * from './ports/consistency-agent.js';
export * from './ports/conformance-harness.js';
export * from './storage/local-file-storage.js';
export * from './storage/memory-storage.js';
export * from './journal/journal.js';
export * from './journal/point-in-time-image.js';
export * from './replication/local-replication.js';
