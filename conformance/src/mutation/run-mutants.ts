// Runs the suite against every mutant of the catalogue and scores it: a mutant is killed when at least one
// case fails against it. The cases expected to kill it run first (fast); when none does, the whole suite
// runs. Before that, the unmutated adapter must pass those same cases, or a kill would prove nothing.
import type { CapabilityTable, HarnessFactory } from '@opencdp/core';
import { probeHarness } from '../define-conformance.js';
import { runConformance } from '../run-conformance.js';
import type { ConformanceReport } from '../report.js';
import { MUTANTS, PLANNED_MUTANTS, type Mutant } from './mutants.js';

export interface MutantResult {
  id: string;
  breaks: string;
  port: string;
  /** killed, survived, or not applicable (the harness lacks what the mutant breaks). */
  outcome: 'killed' | 'survived' | 'not-applicable';
  /** The first case that failed against it, with its message. */
  killedBy?: { id: string; reason: string };
  /** `targeted`: one of its expected killers; `suite`: only the whole suite found it. */
  stage?: 'targeted' | 'suite';
  /** Why it does not apply. */
  reason?: string;
}

export interface MutationReport {
  adapter: string;
  killed: number;
  survived: number;
  notApplicable: number;
  /** killed ÷ (killed + survived), 0–100. */
  scorePercent: number;
  mutants: MutantResult[];
  planned: { id: string; breaks: string; killers: readonly string[]; waitsFor: string }[];
}

export interface RunMutantsOptions {
  name: string;
  createHarness: HarnessFactory;
  mutants?: readonly Mutant[];
  /** Called after each mutant (progress). */
  onResult?: (result: MutantResult) => void;
}

function firstFailure(report: ConformanceReport): { id: string; reason: string } | undefined {
  // A failed capability probe ('setup') would "kill" anything: only a failed case counts.
  const c = report.cases.find((x) => x.state === 'failed' && x.id !== 'setup');
  return c && { id: c.id, reason: c.reason ?? '' };
}

function grepOf(ids: readonly string[]): string {
  return `^(${ids.map((id) => id.replace(/\./g, '\\.')).join('|')}) `;
}

export async function runMutants(options: RunMutantsOptions): Promise<MutationReport> {
  const mutants = options.mutants ?? MUTANTS;
  const { capabilities } = await probeHarness(options.createHarness);
  const applicable = (m: Mutant): string | undefined => {
    const missing = m.needs.filter((c) => capabilities[c] !== true);
    return missing.length > 0 ? `the adapter does not support ${missing.map((c) => `${c} (${capabilities[c]})`).join(', ')}` : undefined;
  };
  // The control: the cases meant to kill must pass on the adapter as it is.
  const killers = [...new Set(mutants.filter((m) => !applicable(m)).flatMap((m) => m.killers))];
  if (killers.length > 0) {
    const control = await runConformance({ name: `${options.name} (unmutated)`, createHarness: options.createHarness, capabilities, grep: grepOf(killers), quiet: true });
    const bad = control.cases.filter((c) => c.state === 'failed');
    if (bad.length > 0) throw new Error(`the unmutated adapter already fails ${bad.map((c) => `${c.id} (${c.reason})`).join('; ')}: a mutation score would mean nothing`);
  }
  const results: MutantResult[] = [];
  for (const m of mutants) {
    const base = { id: m.id, breaks: m.breaks, port: m.port };
    const why = applicable(m);
    let result: MutantResult;
    if (why) {
      result = { ...base, outcome: 'not-applicable', reason: why };
    } else {
      const run = (grep?: string): Promise<ConformanceReport> => runConformance({
        name: `${options.name} mutant ${m.id}`, createHarness: m.mutate(options.createHarness), capabilities: capabilities as CapabilityTable,
        ...(grep ? { grep } : {}), bail: true, quiet: true,
      });
      const targeted = firstFailure(await run(grepOf(m.killers)));
      const found = targeted ?? firstFailure(await run());
      result = found ? { ...base, outcome: 'killed', killedBy: found, stage: targeted ? 'targeted' : 'suite' } : { ...base, outcome: 'survived' };
    }
    results.push(result);
    options.onResult?.(result);
  }
  const killed = results.filter((r) => r.outcome === 'killed').length;
  const survived = results.filter((r) => r.outcome === 'survived').length;
  return {
    adapter: options.name,
    killed,
    survived,
    notApplicable: results.length - killed - survived,
    scorePercent: killed + survived === 0 ? 0 : Math.round((killed / (killed + survived)) * 1000) / 10,
    mutants: results,
    planned: PLANNED_MUTANTS.map(({ id, breaks, killers: k, waitsFor }) => ({ id, breaks, killers: k, waitsFor })),
  };
}

/** The report as the Markdown table of the conformance README. */
export function mutationTable(report: MutationReport): string {
  const lines = [
    `Mutation score against \`${report.adapter}\`: **${report.scorePercent} %** (${report.killed} of ${report.killed + report.survived} mutants killed${report.notApplicable > 0 ? `, ${report.notApplicable} not applicable` : ''}).`,
    '',
    '| mutant | port | the promise it breaks | killed by |',
    '| --- | --- | --- | --- |',
    ...report.mutants.map((m) => `| \`${m.id}\` | ${m.port} | ${m.breaks} | ${m.outcome === 'killed' ? `${m.killedBy!.id}${m.stage === 'suite' ? ' (whole suite)' : ''}` : m.outcome === 'survived' ? '**survived**' : `n/a: ${m.reason}`} |`),
    '',
    'Planned (the change-tracking capture mode):',
    '',
    ...report.planned.map((p) => `- \`${p.id}\`: ${p.breaks} (to be killed by ${p.killers.join(', ')}; waits for ${p.waitsFor})`),
  ];
  return lines.join('\n');
}
