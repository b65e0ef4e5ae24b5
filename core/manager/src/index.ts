// @opencdp/manager: the manager of a site (groups, pairing, checkpoints, status/SLA, tasks, events, alerts,
// recovery) and its /v1 REST API.
export * from './errors.js';
export * from './store.js';
export * from './passwords.js';
export * from './manager.js';
export * from './metrics.js';
export * from './manager-command.js';
export * from './manager-module.js';
export { buildServer, SESSION_HEADER } from './api/server.js';
