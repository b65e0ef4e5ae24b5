// VHDX (MS-VHDX) for OpenCDP: a validating reader with log replay, an in-place writer, and a streaming
// writer of new dynamic disks. Importable alone as `@opencdp/adapter-hyperv/vhdx`.
export * from './crc32c.js';
export * from './vhdx-format.js';
export * from './vhdx-log.js';
export * from './vhdx-file.js';
export * from './vhdx-writer.js';
export * from './vhdx-image-writer.js';
