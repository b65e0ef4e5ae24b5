// The import rules `npm test` holds every package to (dependency-check.spec.ts): no import cycle, type-only
// imports included (two modules whose types need each other cannot be understood apart either), and the
// manager's layering: its parts never import its HTTP layer (api/, metrics.ts), which depends on them.
// dependency-cruiser reads the TypeScript sources (NodeNext `./x.js` specifiers resolve to `./x.ts`);
// another package is reached through its built dist/, which is left out, so the rules look inside
// packages; project references already forbid cycles between packages.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cruise, type ICruiseResult, type IForbiddenRuleType } from 'dependency-cruiser';

export const IMPORT_RULES: IForbiddenRuleType[] = [
  { name: 'no-circular', severity: 'error', comment: 'modules that import each other, directly or around a loop', from: {}, to: { circular: true } },
  {
    name: 'manager-parts-below-http', severity: 'error',
    comment: 'the manager\'s parts are called by its REST layer, never the other way round; only the composition root and the package index know both',
    from: { path: '^core/manager/src/', pathNot: '^core/manager/src/(api/|testing/|metrics\\.ts$|manager-module\\.ts$|index\\.ts$|.+\\.spec\\.ts$)' },
    to: { path: '^core/manager/src/(api/|metrics\\.ts$)' },
  },
];

export interface ImportViolation {
  rule: string;
  from: string;
  to: string;
  /** The modules around the loop, for a cycle. */
  cycle?: string[];
}

export interface ImportCheck {
  modules: number;
  dependencies: number;
  violations: ImportViolation[];
  /** Resolved imports of one module (to show the check sees the repo's imports at all). */
  importsOf(module: string): string[];
}

/** The `src` folders of every workspace package named in the root package.json (`dir/*` patterns expanded). */
export function workspaceSources(repoRoot: string): string[] {
  const { workspaces } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { workspaces: string[] };
  const packages = workspaces.flatMap((w) => (w.endsWith('/*') ? readdirSync(join(repoRoot, w.slice(0, -2))).map((d) => `${w.slice(0, -2)}/${d}`) : [w]));
  return packages.map((p) => `${p}/src`).filter((src) => statSync(join(repoRoot, src), { throwIfNoEntry: false })?.isDirectory());
}

/** Checks the TypeScript sources under `roots` (relative to `baseDir`) against the rules. */
export async function checkImports(baseDir: string, roots: string[], rules: IForbiddenRuleType[] = IMPORT_RULES): Promise<ImportCheck> {
  const { output } = await cruise(roots, {
    baseDir, validate: true, ruleSet: { forbidden: rules }, tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' }, exclude: { path: '(^|/)(dist|node_modules)/' },
  });
  const result = output as ICruiseResult;
  return {
    modules: result.summary.totalCruised,
    dependencies: result.summary.totalDependenciesCruised ?? 0,
    violations: result.summary.violations.map((v) => ({ rule: v.rule.name, from: v.from, to: v.to, ...(v.cycle ? { cycle: v.cycle.map((c) => c.name) } : {}) })),
    importsOf: (module) => result.modules.find((m) => m.source === module)?.dependencies.map((d) => d.resolved) ?? [],
  };
}
