// The library entry's own contract: what it registers, and what it refuses before registering anything.
import assert from 'node:assert/strict';
import { CAPABILITIES, ValidationError } from '@opencdp/core';
import type { CapabilityTable, HarnessFactory } from '@opencdp/core';
import { createFakeHarness } from '@opencdp/adapter-fake';
import { defineConformance, selectCases, SUITES, unsupported, type BddInterface } from './define-conformance.js';
import { SUITE_NAMES } from './conformance-case.js';
import { runConformance } from './run-conformance.js';

const never: HarnessFactory = () => Promise.reject(new Error('not called'));

/** Records what would be registered, without a mocha run. */
function recorder(): { bdd: BddInterface; titles: string[] } {
  const titles: string[] = [];
  const stub = (kind: string) => (title: string, fn?: () => void): object => {
    titles.push(`${kind} ${title}`);
    if (kind === 'describe') fn?.();
    return {};
  };
  const bdd = { describe: stub('describe'), it: stub('it'), before: () => undefined } as unknown as BddInterface;
  return { bdd, titles };
}

describe('defineConformance', () => {
  it('registers one describe per adapter and suite, and one case per id with the id first in its title', () => {
    const { bdd, titles } = recorder();
    const defined = defineConformance({ name: 'acme', createHarness: never, bdd });
    assert.equal(titles[0], 'describe acme conformance');
    assert.deepEqual(titles.filter((t) => t.startsWith('describe ')).slice(1), SUITE_NAMES.map((s) => `describe ${s}`));
    const all = SUITE_NAMES.flatMap((s) => SUITES[s]);
    assert.deepEqual(defined.caseIds, all.map((c) => c.id));
    const cases = titles.filter((t) => t.startsWith('it '));
    assert.equal(cases.length, all.length);
    assert.deepEqual(cases.map((t) => t.split(' ')[1]), all.map((c) => c.id));
    assert.equal(new Set(all.map((c) => c.id)).size, all.length, 'ids are unique');
    for (const group of ['J1', 'J2', 'J3', 'J4', 'J5', 'J6', 'J7']) assert.ok(SUITES.journal.some((c) => c.id.startsWith(`${group}.`)), group);
    for (const group of ['P1', 'P2', 'P3', 'P4']) assert.ok(SUITES.platform.some((c) => c.id.startsWith(`${group}.`)), group);
    for (const group of ['C1', 'C2', 'C3', 'C4', 'C5']) assert.ok(SUITES['change-tracking'].some((c) => c.id.startsWith(`${group}.`)), group);
  });

  it('selects cases by suite and by a pattern on "<id> <title>" alone (never the adapter\'s or the suite\'s name)', () => {
    const { bdd, titles } = recorder();
    const defined = defineConformance({ name: 'journal-vendor', createHarness: never, bdd, suites: ['journal', 'recovery'], grep: '^J1\\.|^R1\\.' });
    assert.deepEqual(defined.caseIds, ['J1.1', 'J1.2', 'J1.3', 'R1.1', 'R1.2']);
    assert.deepEqual(titles.filter((t) => t.startsWith('describe ')), ['describe journal-vendor conformance', 'describe journal', 'describe recovery']);
    assert.deepEqual(selectCases(['sync'], /^J/).flatMap((s) => s.cases.map((c) => c.id)), ['J2.3', 'J8.1', 'J2.4']);
    assert.deepEqual(defineConformance({ name: 'x', createHarness: never, bdd: recorder().bdd, grep: 'journal' }).caseIds.every((id) => SUITE_NAMES.some((s) => SUITES[s].some((c) => c.id === id && /journal/.test(`${c.id} ${c.title}`)))), true);
  });

  it('in change-tracking mode on views of one VM each, J2 skips with the harness\'s reason for having no splitter; with views spanning VMs it runs', async function () {
    this.timeout(120_000);
    const run = (multiVmViews: boolean): ReturnType<typeof runConformance> => runConformance({
      name: 'views', capture: 'change-tracking', createHarness: (o) => createFakeHarness({ seed: 3, ...o, multiVmViews }), grep: 'J2\\.2', quiet: true,
    });
    const perVm = await run(false);
    assert.deepEqual(perVm.cases.map((c) => [c.id, c.state]), [['J2.2', 'skipped']]);
    assert.match(perVm.cases[0].reason ?? '', /^writeTap: this fake harness was built for the change-tracking capture mode/);
    const spanning = await run(true);
    assert.deepEqual(spanning.cases.map((c) => [c.id, c.state]), [['J2.2', 'passed']]);
  });

  it('names the change-tracking run in its title and refuses an unknown capture mode', () => {
    const { bdd, titles } = recorder();
    defineConformance({ name: 'acme', createHarness: never, bdd, capture: 'change-tracking' });
    assert.equal(titles[0], 'describe acme conformance (change-tracking)');
    assert.throws(() => defineConformance({ name: 'acme', createHarness: never, bdd, capture: 'psychic' as 'splitter' }), (e: unknown) => e instanceof ValidationError && e.field === 'capture');
  });

  it('refuses a missing name or factory, unknown suites and malformed capabilities before registering anything', () => {
    const bad: [Record<string, unknown>, string][] = [
      [{ name: '' }, 'name'],
      [{ createHarness: 'nope' }, 'createHarness'],
      [{ suites: ['journal', 'replication'] }, 'suites'],
      [{ grep: '(' }, 'grep'],
      [{ capabilities: { teleport: true } }, 'capabilities.teleport'],
      [{ capabilities: { faultStorageCrash: '' } }, 'capabilities.faultStorageCrash'],
      [{ capabilities: { faultStorageCrash: false } }, 'capabilities.faultStorageCrash'],
    ];
    for (const [change, field] of bad) {
      const { bdd, titles } = recorder();
      assert.throws(() => defineConformance({ name: 'acme', createHarness: never, bdd, ...change } as Parameters<typeof defineConformance>[0]),
        (e: unknown) => e instanceof ValidationError && e.field === field, JSON.stringify(change));
      assert.deepEqual(titles, [], 'nothing registered');
    }
  });

  it('needs mocha\'s globals or explicit bdd functions', () => {
    const g = globalThis as { describe?: unknown };
    const saved = g.describe;
    g.describe = undefined;
    try {
      assert.throws(() => defineConformance({ name: 'acme', createHarness: never }), /while mocha loads test files/);
    } finally {
      g.describe = saved;
    }
  });

  it('gives the reasons of every unsupported capability a case needs', () => {
    const table = Object.fromEntries(CAPABILITIES.map((c) => [c, true])) as CapabilityTable;
    assert.equal(unsupported(table, ['writeTap', 'faultStorageCrash']), undefined);
    table.faultStorageCrash = 'no power to cut';
    table.consistencyAgent = 'no agent';
    assert.equal(unsupported(table, ['writeTap', 'consistencyAgent', 'faultStorageCrash']), 'consistencyAgent: no agent; faultStorageCrash: no power to cut');
  });
});
