import { strict as assert } from 'node:assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkImports, workspaceSources } from './dependency-check.js';
import { tempDirEach } from './spec-helpers.js';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

describe('import rules (dependency-cruiser over every package)', function () {
  this.timeout(300_000);
  const tmp = tempDirEach('opencdp-import-rules-');
  const write = (files: Record<string, string>): void => {
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(dirname(join(tmp.path, name)), { recursive: true });
      writeFileSync(join(tmp.path, name), text);
    }
  };

  it('finds a cycle made of a type-only import in NodeNext style, and nothing once it is broken', async () => {
    write({
      'src/a.ts': `import type { B } from './b.js';\nexport interface A { b?: B }\n`,
      'src/b.ts': `import { helper } from './a-helper.js';\nimport type { A } from './a.js';\nexport interface B { a?: A }\nexport const b = helper();\n`,
      'src/a-helper.ts': `export function helper(): number { return 1; }\n`,
      'src/c.ts': `import type { A } from './a.js';\nexport type C = A;\n`,
    });
    const cyclic = await checkImports(tmp.path, ['src']);
    assert.equal(cyclic.modules, 4);
    assert.ok(cyclic.violations.length > 0, 'the cycle is found');
    for (const v of cyclic.violations) {
      assert.equal(v.rule, 'no-circular');
      assert.deepEqual([...new Set(v.cycle!.concat(v.from))].sort(), ['src/a.ts', 'src/b.ts']);
    }
    write({ 'src/a.ts': `export interface A { b?: unknown }\n` });
    assert.deepEqual((await checkImports(tmp.path, ['src'])).violations, []);
  });

  it('refuses a part of the manager that imports its HTTP layer, and lets the composition root do so', async () => {
    write({
      'core/manager/src/api/server.ts': `import type { Groups } from '../groups/groups.js';\nexport type Server = Groups;\n`,
      'core/manager/src/groups/groups.ts': `export class Groups {}\n`,
      'core/manager/src/manager-module.ts': `import type { Server } from './api/server.js';\nexport type Root = Server;\n`,
    });
    assert.deepEqual((await checkImports(tmp.path, ['core'])).violations, []);
    write({ 'core/manager/src/groups/groups.ts': `import { SESSION } from '../api/session.js';\nexport class Groups { header = SESSION; }\n`, 'core/manager/src/api/session.ts': `export const SESSION = 'x';\n` });
    assert.deepEqual((await checkImports(tmp.path, ['core'])).violations.map((v) => [v.rule, v.from, v.to]), [
      ['manager-parts-below-http', 'core/manager/src/groups/groups.ts', 'core/manager/src/api/session.ts'],
    ]);
  });

  it('passes on this repository, whose imports it resolves', async () => {
    const sources = workspaceSources(repoRoot);
    assert.ok(sources.includes('core/kernel/src') && sources.includes('core/manager/src') && sources.some((s) => s.startsWith('adapters/')), sources.join(' '));
    const check = await checkImports(repoRoot, sources);
    assert.ok(check.modules > 200 && check.dependencies > 800, `${check.modules} modules, ${check.dependencies} imports`);
    assert.ok(check.importsOf('core/manager/src/manager-module.ts').includes('core/manager/src/api/server.ts'), 'a `.js` specifier resolves to its `.ts` source');
    assert.deepEqual(check.violations, []);
  });
});
