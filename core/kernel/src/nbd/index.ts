// The kernel's NBD server and client (newstyle fixed, structured replies, `base:allocation`): point-in-time
// images are served through it, and the QEMU adapter uses it as its splitter and reader.
export * from './nbd-errors.js';
export * from './nbd-protocol.js';
export * from './nbd-server.js';
export * from './nbd-client.js';
export * from './volume-export.js';
