// Helpers shared by this package's specs (temp folders, hashing, watching a promise without awaiting it,
// running QEMU tools): the kernel's NBD spec fixtures.
export { run, sha256, tempDir, until, watch, type Watched } from '@opencdp/core/nbd/testing';
