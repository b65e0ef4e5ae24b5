// The library entry a vendor's own test file calls: registers the conformance suites as mocha `describe`
// blocks in the caller's run, gates every case on the adapter's capability table, and remembers why a
// case was skipped (mocha's `this.skip()` carries no reason) so the report can list it.
import { CAPABILITIES, CAPTURE_MODES, ValidationError } from '@opencdp/core';
import type { Capability, CapabilityTable, CaptureMode, HarnessFactory, HarnessOptions } from '@opencdp/core';
import { CaseContext } from './case-context.js';
import { SUITE_NAMES, type ConformanceCase, type SuiteName } from './conformance-case.js';
import { journalSuite } from './journal-suite.js';
import { syncSuite } from './sync-suite.js';
import { recoverySuite } from './recovery-suite.js';
import { platformSuite } from './platform-suite.js';
import { changeTrackingSuite } from './change-tracking-suite.js';

/** The cases of every suite, by name (a new suite is one entry here and one name in SUITE_NAMES). */
export const SUITES: Readonly<Record<SuiteName, readonly ConformanceCase[]>> = {
  platform: platformSuite, journal: journalSuite, sync: syncSuite, recovery: recoverySuite, 'change-tracking': changeTrackingSuite,
};

/** The BDD functions to register with; mocha's globals unless given (the CLI passes a private set). */
export interface BddInterface {
  describe: Mocha.SuiteFunction;
  it: Mocha.TestFunction;
  before: Mocha.HookFunction;
}

export interface ConformanceOptions {
  /** The adapter's name, for titles and the report. */
  name: string;
  /** Called once per case (and once up front to read capabilities unless they are all given). */
  createHarness: HarnessFactory;
  /** Capabilities known up front; any left out are read from a probe harness. Given ones win. */
  capabilities?: Partial<CapabilityTable>;
  /** Suites to register (default: all). */
  suites?: readonly SuiteName[];
  /**
   * Only cases whose `<id> <title>` matches (a RegExp, or its source): `^J1\.`, `^R`, `promotion`.
   * Matched against the case alone, never the adapter's or the suite's name.
   */
  grep?: string | RegExp;
  /** Seeds every case's randomness (default 1); a failure replays with the same seed. */
  seed?: number;
  /** Title of the outer `describe` (default `<name> conformance`); the CLI numbers repeated runs. */
  title?: string;
  bdd?: BddInterface;
  /** Per-case timeout when the harness has a virtual clock (default 60 s; ten times that otherwise). */
  timeoutMs?: number;
  /**
   * The capture mode to run in; passed to `createHarness` as `HarnessOptions.capture`. Default: the
   * splitter when the harness has `writeTap`, else change tracking when it has `changeTracking`.
   */
  capture?: CaptureMode;
}

/** What the run learnt up front: the capability table, the capture mode, and whether views span VMs. */
interface RunFacts {
  table: CapabilityTable;
  capture: CaptureMode;
  /** Change-tracking mode: one view holds several VMs as one consistent cut (J2 holds), or why not. */
  multiVmViews: true | string;
}

/** What the report needs to know about a registered case. */
export interface CaseInfo {
  adapter: string;
  suite: SuiteName;
  id: string;
  title: string;
}

/** Why each skipped case was skipped, keyed by the test's full title. */
export const skipReasons = new Map<string, string>();

// Keyed by mocha's own Test / Suite objects, which `it` and `describe` return, so a reporter can map
// what it sees back to case ids without parsing titles.
const caseInfos = new WeakMap<object, CaseInfo>();
const suiteInfos = new WeakMap<object, { adapter: string; suite?: SuiteName }>();

export function caseInfoOf(test: Mocha.Runnable): CaseInfo | undefined {
  return caseInfos.get(test);
}

/** The conformance run (adapter, and suite when inside one) a test or hook belongs to, if any. */
export function conformanceScopeOf(runnable: Mocha.Runnable): { adapter: string; suite?: SuiteName } | undefined {
  let suiteName: SuiteName | undefined;
  for (let s: Mocha.Suite | undefined = runnable.parent; s; s = s.parent) {
    const info = suiteInfos.get(s);
    if (info?.suite) suiteName ??= info.suite;
    if (info && !info.suite) return { adapter: info.adapter, ...(suiteName ? { suite: suiteName } : {}) };
  }
  return undefined;
}

/** Registered suites below a root (for a reporter to list suites even when every case was filtered out). */
export function conformanceSuitesUnder(root: Mocha.Suite): { adapter: string; suite: SuiteName }[] {
  const found: { adapter: string; suite: SuiteName }[] = [];
  const walk = (s: Mocha.Suite, adapter: string | undefined): void => {
    const info = suiteInfos.get(s);
    const here = info && !info.suite ? info.adapter : adapter;
    if (info?.suite && here) found.push({ adapter: here, suite: info.suite });
    for (const child of s.suites) walk(child, here);
  };
  walk(root, undefined);
  return found;
}

/** What `defineConformance` registered. */
export interface DefinedConformance {
  /** Ids of the registered cases, in run order (empty when `grep` or `suites` left none). */
  caseIds: string[];
}

/** The cases `suites` and `grep` select, by suite, in run order. */
export function selectCases(suites: readonly SuiteName[] = SUITE_NAMES, grep?: string | RegExp): { suite: SuiteName; cases: ConformanceCase[] }[] {
  const pattern = grep === undefined ? undefined : typeof grep === 'string' ? new RegExp(grep) : grep;
  return suites.map((suite) => ({ suite, cases: SUITES[suite].filter((c) => !pattern || pattern.test(`${c.id} ${c.title}`)) }));
}

/** Registers the conformance suites for one adapter in the current mocha run. */
export function defineConformance(options: ConformanceOptions): DefinedConformance {
  const { name, createHarness } = options;
  if (typeof name !== 'string' || name.trim() === '') throw new ValidationError('defineConformance needs the adapter\'s name', 'name');
  if (typeof createHarness !== 'function') throw new ValidationError('defineConformance needs createHarness, a function returning a ConformanceHarness', 'createHarness');
  const suites = options.suites ?? SUITE_NAMES;
  for (const s of suites) {
    if (!(SUITE_NAMES as readonly string[]).includes(s)) throw new ValidationError(`unknown conformance suite '${s}'`, 'suites', `use one of ${SUITE_NAMES.join(', ')}`);
  }
  for (const [c, v] of Object.entries(options.capabilities ?? {})) {
    if (!(CAPABILITIES as readonly string[]).includes(c)) throw new ValidationError(`unknown capability '${c}'`, `capabilities.${c}`, `use ${CAPABILITIES.join(', ')}`);
    if (v !== true && (typeof v !== 'string' || v.trim() === '')) throw new ValidationError(`capability '${c}' must be true or a reason why it is unsupported`, `capabilities.${c}`);
  }
  if (options.grep !== undefined && !(options.grep instanceof RegExp)) {
    try {
      new RegExp(options.grep);
    } catch (error) {
      throw new ValidationError(`grep is not a regular expression: ${(error as Error).message}`, 'grep');
    }
  }
  const selected = selectCases(suites, options.grep).filter((s) => s.cases.length > 0 || options.grep === undefined);
  if (options.capture !== undefined && !CAPTURE_MODES.includes(options.capture)) {
    throw new ValidationError(`unknown capture mode '${String(options.capture)}'`, 'capture', `use ${CAPTURE_MODES.join(' or ')}`);
  }
  const bdd = options.bdd ?? globalBdd();
  const seed = options.seed ?? 1;
  const timeoutMs = options.timeoutMs ?? 60_000;
  let facts: RunFacts | undefined;

  const root = bdd.describe(options.title ?? `${name} conformance${options.capture === 'change-tracking' ? ' (change-tracking)' : ''}`, function () {
    bdd.before(async function () {
      this.timeout(timeoutMs);
      facts = await resolveFacts(createHarness, options.capabilities, options.capture);
    });
    for (const { suite: suiteName, cases } of selected) {
      const suite = bdd.describe(suiteName, function () {
        for (const c of cases) {
          const test = bdd.it(`${c.id} ${c.title}`, async function () {
            const { table: capabilities, capture } = facts!;
            const reason = skipReason(c, facts!);
            if (reason !== undefined) {
              skipReasons.set(this.test!.fullTitle(), reason);
              this.skip();
            }
            this.timeout(capabilities.virtualClock === true ? timeoutMs : timeoutMs * 10);
            await runCase(c, () => createHarness({ capture }), capabilities, caseSeed(seed, c.id));
          });
          caseInfos.set(test, { adapter: name, suite: suiteName, id: c.id, title: c.title });
        }
      });
      suiteInfos.set(suite, { adapter: name, suite: suiteName });
    }
  });
  suiteInfos.set(root, { adapter: name });
  return { caseIds: selected.flatMap((s) => s.cases.map((c) => c.id)) };
}

/** Runs one case on a fresh harness; the case's own failure wins over a failure to clean up after it. */
async function runCase(c: ConformanceCase, createHarness: () => ReturnType<HarnessFactory>, capabilities: CapabilityTable, seed: number): Promise<void> {
  const harness = await createHarness();
  const ctx = new CaseContext(harness, capabilities, seed);
  let failed = false;
  try {
    await c.run(ctx);
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    try {
      await ctx.dispose();
    } catch (error) {
      if (!failed) throw error;
    }
  }
}

/**
 * The capability table (what the options declare, the rest from a probe harness, then disposed), the
 * capture mode (asked for, or the one the table supports, the splitter first) and whether the
 * platform's views span VMs.
 */
async function resolveFacts(createHarness: HarnessFactory, declared: Partial<CapabilityTable> | undefined, capture: CaptureMode | undefined): Promise<RunFacts> {
  const complete = declared && CAPABILITIES.every((c) => declared[c] !== undefined);
  if (complete && (capture ?? 'splitter') === 'splitter' && (declared.writeTap === true || declared.changeTracking !== true)) {
    return { table: { ...(declared as CapabilityTable) }, capture: 'splitter', multiVmViews: 'not needed in splitter mode' };
  }
  const probed = await probeHarness(createHarness, declared, capture ? { capture } : undefined);
  const table = probed.capabilities;
  const mode = capture ?? (table.writeTap !== true && table.changeTracking === true ? 'change-tracking' : 'splitter');
  const multiVmViews = probed.multiVmViews ? true
    : `the platform's views hold one VM each (changeTracking.multiVmViews is false): no consistent cut across VMs in change-tracking mode`;
  return { table, capture: mode, multiVmViews };
}

/**
 * Creates one harness to read its name, capabilities and whether its change-tracking views span VMs, and
 * disposes it: declared capabilities win, and a capability neither declares nor the harness mentions is
 * unsupported, with a reason saying so.
 */
export async function probeHarness(createHarness: HarnessFactory, declared?: Partial<CapabilityTable>, options?: HarnessOptions): Promise<{ name: string; capabilities: CapabilityTable; multiVmViews: boolean }> {
  const probe = await createHarness(options);
  try {
    const probed = probe.capabilities;
    const table = {} as CapabilityTable;
    for (const c of CAPABILITIES) {
      const value = declared?.[c] ?? probed?.[c];
      // A harness that does not mention a capability does not have it; say so rather than guess.
      table[c] = value === true || (typeof value === 'string' && value.trim() !== '') ? value : `the harness's capability table does not declare '${c}'`;
    }
    return { name: typeof probe.name === 'string' ? probe.name : '', capabilities: table, multiVmViews: probe.hypervisor?.changeTracking?.multiVmViews === true };
  } finally {
    await probe.dispose();
  }
}

/**
 * Why a case skips in this run, or undefined when it runs. Every reason comes from the capability table
 * (`capability: why`), so a vendor can check each skip against its own table: in change-tracking mode a
 * splitter-only case, and a J2 case on views that hold one VM each, keep needing `writeTap` (the
 * splitter's barrier is the other way to a cut across VMs). Only a harness that has a splitter but runs
 * in change-tracking mode gets the case's own words instead.
 */
function skipReason(c: ConformanceCase, facts: RunFacts): string | undefined {
  if (facts.capture === 'change-tracking') {
    const needsSplitter = c.splitterOnly !== undefined || (c.crossVm === true && facts.multiVmViews !== true);
    if (!needsSplitter) return unsupported(facts.table, c.needs.map((n) => (n === 'writeTap' ? 'changeTracking' : n)));
    const reason = unsupported(facts.table, c.needs.includes('writeTap') ? c.needs : ['writeTap', ...c.needs]);
    if (reason !== undefined && facts.table.writeTap !== true) return reason;
    return c.splitterOnly !== undefined ? `splitter only: ${c.splitterOnly}` : `cross-VM consistency (J2): ${String(facts.multiVmViews)}`;
  }
  return unsupported(facts.table, c.needs);
}

/** The skip reason for a case, or undefined when every capability it needs is supported. */
export function unsupported(table: CapabilityTable, needs: readonly Capability[]): string | undefined {
  const missing = needs.filter((c) => table[c] !== true).map((c) => `${c}: ${table[c]}`);
  return missing.length > 0 ? missing.join('; ') : undefined;
}

function caseSeed(seed: number, id: string): number {
  // Distinct per case but fixed for a seed, so one case can be rerun alone with `--grep` and behave the same.
  let h = seed >>> 0;
  for (const ch of id) h = (Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0);
  return (h % 0x7ffffffe) + 1;
}

function globalBdd(): BddInterface {
  const g = globalThis as unknown as Partial<BddInterface>;
  if (typeof g.describe !== 'function' || typeof g.it !== 'function' || typeof g.before !== 'function') {
    throw new ValidationError('defineConformance must be called while mocha loads test files (no global describe/it)', 'bdd',
      'call it from a spec file run by mocha, or pass the bdd functions, or use runConformance');
  }
  return { describe: g.describe, it: g.it, before: g.before };
}
