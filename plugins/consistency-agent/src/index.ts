// @opencdp/plugin-consistency-agent: application-consistent (VSS-style) checkpoints — the guest agent
// service and its freeze engine, the kernel's HTTP ConsistencyAgent, and the opencdp-vss-agent flow.
export * from './errors.js';
export * from './protocol.js';
export * from './config.js';
export * from './filesystem-freezer.js';
export * from './guest-freezer.js';
export * from './guest-agent.js';
export * from './http-consistency-agent.js';
export * from './manager-client.js';
export * from './vss-checkpoint.js';
export * from './consistency-agent-module.js';
