// Checkpoint images as disks: exports in disk formats and live NBD sessions (see image-api.ts).
export * from './image-api.js';
export * from './image-formats.js';
export * from './image-writers.js';
export * from './image-targets.js';
export * from './image-exports.js';
export * from './image-sessions.js';
export * from './image-service.js';
