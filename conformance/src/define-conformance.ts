// The library entry a vendor's own test file calls: registers the conformance suites as mocha `describe`
// blocks in the caller's run, gates every case on the adapter's capability table, and remembers why a
// case was skipped (mocha's `this.skip()` carries no reason) so the report can list it.
import { CAPABILITIES, ValidationError } from '@opencdp/core';
import type { Capability, CapabilityTable, HarnessFactory } from '@opencdp/core';
import { CaseContext } from './case-context.js';
import { SUITE_NAMES, type ConformanceCase, type SuiteName } from './conformance-case.js';
import { journalSuite } from './journal-suite.js';
import { syncSuite } from './sync-suite.js';
import { recoverySuite } from './recovery-suite.js';

/** The cases of every suite, by name. */
export const SUITES: Readonly<Record<SuiteName, readonly ConformanceCase[]>> = { journal: journalSuite, sync: syncSuite, recovery: recoverySuite };

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
  /** Seeds every case's randomness (default 1); a failure replays with the same seed. */
  seed?: number;
  /** Title of the outer `describe` (default `<name> conformance`); the CLI numbers repeated runs. */
  title?: string;
  bdd?: BddInterface;
  /** Per-case timeout when the harness has a virtual clock (default 60 s; ten times that otherwise). */
  timeoutMs?: number;
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

/** Registers the conformance suites for one adapter in the current mocha run. */
export function defineConformance(options: ConformanceOptions): void {
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
  const bdd = options.bdd ?? globalBdd();
  const seed = options.seed ?? 1;
  const timeoutMs = options.timeoutMs ?? 60_000;
  let table: CapabilityTable | undefined;

  const root = bdd.describe(options.title ?? `${name} conformance`, function () {
    bdd.before(async function () {
      this.timeout(timeoutMs);
      table = await resolveCapabilities(createHarness, options.capabilities);
    });
    for (const suiteName of suites) {
      const suite = bdd.describe(suiteName, function () {
        for (const c of SUITES[suiteName]) {
          const test = bdd.it(`${c.id} ${c.title}`, async function () {
            const capabilities = table!;
            const reason = unsupported(capabilities, c.needs);
            if (reason !== undefined) {
              skipReasons.set(this.test!.fullTitle(), reason);
              this.skip();
            }
            this.timeout(capabilities.virtualClock === true ? timeoutMs : timeoutMs * 10);
            await runCase(c, createHarness, capabilities, caseSeed(seed, c.id));
          });
          caseInfos.set(test, { adapter: name, suite: suiteName, id: c.id, title: c.title });
        }
      });
      suiteInfos.set(suite, { adapter: name, suite: suiteName });
    }
  });
  suiteInfos.set(root, { adapter: name });
}

/** Runs one case on a fresh harness; the case's own failure wins over a failure to clean up after it. */
async function runCase(c: ConformanceCase, createHarness: HarnessFactory, capabilities: CapabilityTable, seed: number): Promise<void> {
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

/** The capability table: what the options declare, the rest from a probe harness (then disposed). */
async function resolveCapabilities(createHarness: HarnessFactory, declared: Partial<CapabilityTable> | undefined): Promise<CapabilityTable> {
  const complete = declared && CAPABILITIES.every((c) => declared[c] !== undefined);
  if (complete) return { ...(declared as CapabilityTable) };
  const probe = await createHarness();
  try {
    const probed = probe.capabilities;
    const table = {} as CapabilityTable;
    for (const c of CAPABILITIES) {
      const value = declared?.[c] ?? probed?.[c];
      // A harness that does not mention a capability does not have it; say so rather than guess.
      table[c] = value === true || (typeof value === 'string' && value.trim() !== '') ? value : `the harness's capability table does not declare '${c}'`;
    }
    return table;
  } finally {
    await probe.dispose();
  }
}

/** The skip reason for a case, or undefined when every capability it needs is supported. */
export function unsupported(table: CapabilityTable, needs: readonly Capability[]): string | undefined {
  const missing = needs.filter((c) => table[c] !== true).map((c) => `${c}: ${table[c] ?? 'not declared by the harness'}`);
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
