// @opencdp/conformance: the suite every OpenCDP adapter runs, as a mocha library (`defineConformance`),
// a runner (`runConformance`, used by the `opencdp-conformance` CLI), a reporter producing the JSON and
// JUnit reports, the rules a run must meet (`judge`), the mutant catalogue, and the adapter scaffold.
export { defineConformance, probeHarness, selectCases, skipReasons, caseInfoOf, unsupported, SUITES } from './define-conformance.js';
export type { BddInterface, CaseInfo, ConformanceOptions, DefinedConformance } from './define-conformance.js';
export { SUITE_NAMES } from './conformance-case.js';
export type { ConformanceCase, SuiteName } from './conformance-case.js';
export { platformSuite } from './platform-suite.js';
export { journalSuite } from './journal-suite.js';
export { Oracle, assertImageEquals, ORACLE_BLOCK_BYTES } from './oracle.js';
export type { ImageReader, OracleRange, OracleSnapshot, VmSnapshot, VolumeSnapshot } from './oracle.js';
export { BufferSource } from './buffer-source.js';
export { CaseContext, GroupRig } from './case-context.js';
export type { GroupOptions, SeenCheckpoint } from './case-context.js';
export { ConformanceReporter, ReportBuilder, formatSummary } from './report.js';
export type { CaseReport, CaseState, ConformanceReport, ConformanceReporterOptions, SuiteCounts } from './report.js';
export { toJUnitXml } from './junit-report.js';
export { failureMessage } from './failure-message.js';
export { EXIT_FAILED, EXIT_PASSED, EXIT_UNPROVEN, EXIT_USAGE, judge, loadExpectedSkips, parseExpectedSkips } from './verdict.js';
export type { ExpectedSkips, Verdict } from './verdict.js';
export { runConformance } from './run-conformance.js';
export type { RunConformanceOptions } from './run-conformance.js';
export { MUTANTS, PLANNED_MUTANTS } from './mutation/mutants.js';
export type { Mutant, MutatedPort, PlannedMutant } from './mutation/mutants.js';
export { mutationTable, runMutants } from './mutation/run-mutants.js';
export type { MutantResult, MutationReport, RunMutantsOptions } from './mutation/run-mutants.js';
export { capabilityMatrix, withMatrix, CAPABILITY_MEANINGS } from './capability-matrix.js';
export { scaffoldAdapter } from './scaffold.js';
export type { ScaffoldOptions, ScaffoldResult } from './scaffold.js';
export * from './sync-suite.js';
export * from './pipeline-rig.js';
export * from './recovery-suite.js';
export * from './recovery-rig.js';
