// The library entry's own contract: what it registers, and what it refuses before registering anything.
import assert from 'node:assert/strict';
import { CAPABILITIES, ValidationError } from '@opencdp/core';
import type { CapabilityTable, HarnessFactory } from '@opencdp/core';
import { createFakeHarness } from '@opencdp/adapter-fake';
import { defineConformance, SUITES, unsupported, type BddInterface } from './define-conformance.js';
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
    defineConformance({ name: 'acme', createHarness: never, bdd });
    assert.equal(titles[0], 'describe acme conformance');
    assert.equal(titles[1], 'describe journal');
    assert.ok(titles.includes('describe sync'));
    assert.ok(titles.includes('describe recovery'));
    assert.ok(titles.includes('describe change-tracking'));
    const all = [...SUITES.journal, ...SUITES.sync, ...SUITES.recovery, ...SUITES['change-tracking']];
    const cases = titles.filter((t) => t.startsWith('it '));
    assert.equal(cases.length, all.length);
    assert.deepEqual(cases.map((t) => t.split(' ')[1]), all.map((c) => c.id));
    assert.equal(new Set(all.map((c) => c.id)).size, all.length, 'ids are unique');
    for (const group of ['J1', 'J2', 'J3', 'J4', 'J5', 'J6', 'J7']) assert.ok(SUITES.journal.some((c) => c.id.startsWith(`${group}.`)), group);
    for (const group of ['C1', 'C2', 'C3', 'C4', 'C5']) assert.ok(SUITES['change-tracking'].some((c) => c.id.startsWith(`${group}.`)), group);
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
