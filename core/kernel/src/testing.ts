// @opencdp/core/testing: the shared test suites an adapter runs against its own implementations of the
// kernel's ports (mocha `describe` blocks), kept out of the main entry so products never load mocha code.
export { describeStorageContract, type StorageUnderTest } from './storage/storage-contract.js';
export { describeJournalCrash, type CrashStore, type JournalCrashOptions } from './journal/journal-crash-suite.js';
export type { CrashStorageModule } from './journal/testing/crash-workload.js';
