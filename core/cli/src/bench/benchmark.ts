// A tiny benchmark registry behind `opencdp bench <name>`: each benchmark measures something on this
// machine, compares it with a baseline tool run on the same disk in the same run, and reports a ratio
// against its targets. Results are printed as a readable summary and optionally written as JSON.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ebsFailoverBenchmark } from './ebs-failover-bench.js';
import { journalBenchmark } from './journal-bench.js';
import { replicationBenchmark } from './replication-bench.js';
import { s3JournalBenchmark } from './s3-journal-bench.js';

export interface BenchmarkResult {
  name: string;
  metrics: Record<string, number>;
  baseline: { tool: string; [k: string]: number | string };
  /** The headline metric divided by the baseline's. */
  ratio: number;
  /** Metric name (or `ratio`) → condition such as `>= 0.8` or `<= 200`. */
  targets?: Record<string, string>;
  notes?: string[];
}

export interface BenchmarkOptions {
  /** Write the result as JSON to this file. */
  json?: string;
  /** Multiplies every size (1 = the full run; 0.1 a quick one). */
  scale?: number;
  /** Folder to create the temporary working folder in (default: the OS temp folder); it decides the disk measured. */
  dir?: string;
  /** Where progress lines and the summary go (default: console.log). */
  log?: (line: string) => void;
}

/** What a benchmark gets: a fresh working folder (removed afterwards), the scale, and a logger. */
export interface BenchmarkContext {
  scale: number;
  workDir: string;
  log: (line: string) => void;
}

export interface BenchmarkDefinition {
  description: string;
  run(context: BenchmarkContext): Promise<BenchmarkResult>;
}

const registry = new Map<string, BenchmarkDefinition>();

export function registerBenchmark(name: string, definition: BenchmarkDefinition): void {
  if (!/^[a-z][a-z0-9-]*$/.test(name)) throw new Error(`benchmark name '${name}' must be lower-case letters, digits and dashes`);
  if (registry.has(name)) throw new Error(`benchmark '${name}' is already registered`);
  registry.set(name, definition);
}

/** Registered benchmarks, sorted by name. */
export function listBenchmarks(): { name: string; description: string }[] {
  return [...registry].map(([name, d]) => ({ name, description: d.description })).sort((a, b) => a.name.localeCompare(b.name));
}

/** Runs one benchmark in a temporary folder, prints a summary, writes the JSON file if asked, and returns the result. */
export async function runBenchmark(name: string, options: BenchmarkOptions = {}): Promise<BenchmarkResult> {
  const definition = registry.get(name);
  if (!definition) {
    const known = listBenchmarks().map((b) => `${b.name} (${b.description})`).join(', ');
    throw new Error(`unknown benchmark '${name}'; known benchmarks: ${known || 'none'}`);
  }
  const scale = options.scale ?? 1;
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0 || scale > 100) {
    throw new Error(`benchmark scale must be a number in (0, 100], got ${String(options.scale)}`);
  }
  const log = options.log ?? ((line: string) => console.log(line));
  const parent = path.resolve(options.dir ?? os.tmpdir());
  await fs.mkdir(parent, { recursive: true });
  const workDir = await fs.mkdtemp(path.join(parent, `opencdp-bench-${name}-`));
  let result: BenchmarkResult;
  try {
    log(`benchmark '${name}' at scale ${scale} in ${workDir}`);
    result = await definition.run({ scale, workDir, log });
  } finally {
    await fs.rm(workDir, { recursive: true, force: true });
  }
  for (const line of formatSummary(result).split('\n')) log(line);
  if (options.json) {
    const file = path.resolve(options.json);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
    log(`wrote ${file}`);
  }
  return result;
}

/** Checks a value against a target such as `>= 0.8`; undefined when the target cannot be parsed. */
export function meetsTarget(value: number, target: string): boolean | undefined {
  const m = /^\s*(>=|<=|>|<)\s*(-?[\d.]+(?:e[+-]?\d+)?)\s*$/i.exec(target);
  if (!m) return undefined;
  const limit = Number(m[2]);
  switch (m[1]) {
    case '>=': return value >= limit;
    case '<=': return value <= limit;
    case '>': return value > limit;
    default: return value < limit;
  }
}

/** Target values are looked up among the metrics, with `ratio` meaning the result's ratio. */
export function targetValue(result: BenchmarkResult, key: string): number | undefined {
  return key === 'ratio' ? result.ratio : result.metrics[key];
}

export function formatSummary(result: BenchmarkResult): string {
  const lines: string[] = [];
  const { tool, ...baseline } = result.baseline;
  lines.push(`== ${result.name} ==`);
  const width = Math.max(5, ...Object.keys(result.metrics).map((k) => k.length));
  for (const [key, value] of Object.entries(result.metrics)) lines.push(`  ${key.padEnd(width)}  ${formatNumber(value)}${verdict(result, key)}`);
  lines.push(`  baseline (${tool}): ${Object.entries(baseline).map(([k, v]) => `${k} ${typeof v === 'number' ? formatNumber(v) : v}`).join(', ')}`);
  lines.push(`  ${'ratio'.padEnd(width)}  ${formatNumber(result.ratio)}${verdict(result, 'ratio')}`);
  const targets = Object.entries(result.targets ?? {});
  if (targets.length > 0) {
    const met = targets.filter(([k, t]) => meetsTarget(targetValue(result, k) ?? Number.NaN, t) === true).length;
    lines.push(`  targets met: ${met}/${targets.length}`);
  }
  for (const note of result.notes ?? []) lines.push(`  note: ${note}`);
  return lines.join('\n');
}

function verdict(result: BenchmarkResult, key: string): string {
  const target = result.targets?.[key];
  if (target === undefined) return '';
  const ok = meetsTarget(targetValue(result, key) ?? Number.NaN, target);
  return `   target ${target}: ${ok === undefined ? '?' : ok ? 'met' : 'MISSED'}`;
}

function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 100) return n.toFixed(1);
  if (Math.abs(n) >= 1) return n.toFixed(2);
  return n.toPrecision(3);
}

registerBenchmark('journal', journalBenchmark);
registerBenchmark('replication', replicationBenchmark);
registerBenchmark('s3-journal', s3JournalBenchmark);
registerBenchmark('ebs-failover', ebsFailoverBenchmark);
