export const changeTrackingSuite: readonly import('./conformance-case.js').ConformanceCase[] = [];
