// @opencdp/conformance: the suite every OpenCDP adapter runs, as a mocha library (`defineConformance`),
// a runner (`runConformance`, used by the `opencdp-conformance` CLI) and a reporter producing the JSON report.
export { defineConformance, skipReasons, caseInfoOf, unsupported, SUITES } from './define-conformance.js';
export type { BddInterface, CaseInfo, ConformanceOptions } from './define-conformance.js';
export { SUITE_NAMES } from './conformance-case.js';
export type { ConformanceCase, SuiteName } from './conformance-case.js';
export { journalSuite } from './journal-suite.js';
export { Oracle, assertImageEquals, ORACLE_BLOCK_BYTES } from './oracle.js';
export type { ImageReader, OracleRange, OracleSnapshot, VmSnapshot, VolumeSnapshot } from './oracle.js';
export { CaseContext, GroupRig } from './case-context.js';
export type { GroupOptions, SeenCheckpoint } from './case-context.js';
export { ConformanceReporter, ReportBuilder, formatSummary } from './report.js';
export type { CaseReport, CaseState, ConformanceReport, ConformanceReporterOptions, SuiteCounts } from './report.js';
export { runConformance } from './run-conformance.js';
export type { RunConformanceOptions } from './run-conformance.js';
export * from './sync-suite.js';
export * from './pipeline-rig.js';
export * from './recovery-suite.js';
export * from './recovery-rig.js';
