// The capability matrix in docs/adapter-guide.md is generated from the cases' own `needs`: this fails as
// soon as a case, a suite or a capability changes without the guide being regenerated.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CAPABILITIES } from '@opencdp/core';
import { CAPABILITY_MEANINGS, MATRIX_END, MATRIX_START, capabilityMatrix, withMatrix } from './capability-matrix.js';
import { main } from './cli.js';
import { SUITE_NAMES } from './conformance-case.js';
import { SUITES } from './define-conformance.js';

const guide = fileURLToPath(new URL('../../docs/adapter-guide.md', import.meta.url));

describe('capability matrix', () => {
  it('is current in docs/adapter-guide.md', async () => {
    const doc = await readFile(guide, 'utf8');
    assert.ok(doc === withMatrix(doc), 'the capability matrix in docs/adapter-guide.md is stale: run `node conformance/dist/cli.js matrix --write docs/adapter-guide.md`');
  });

  it('describes every capability and lists every case with exactly the capabilities it needs', () => {
    for (const c of CAPABILITIES) assert.ok(CAPABILITY_MEANINGS[c], `capability '${c}' has a description in capability-matrix.ts`);
    const matrix = capabilityMatrix();
    for (const suite of SUITE_NAMES) {
      for (const c of SUITES[suite]) {
        const row = `| ${c.id} | ${suite} | ${c.needs.length === 0 ? '—' : c.needs.map((n) => `\`${n}\``).join(', ')} |`;
        assert.ok(matrix.includes(row), `the matrix has the row ${row}`);
      }
    }
  });

  it('matrix --check fails on a stale copy and --write fixes it; a document without markers is refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ocdp-matrix-'));
    try {
      const file = join(dir, 'guide.md');
      await writeFile(file, `# guide\n\n${MATRIX_START}\n| old |\n${MATRIX_END}\n\nafter\n`);
      const out: string[] = [];
      const io = { out: (t: string) => { out.push(t); }, err: (t: string) => { out.push(t); } };
      assert.equal(await main(['matrix', '--check', file], io), 1);
      assert.match(out.join(''), /is stale; run: opencdp-conformance matrix --write/);
      assert.equal(await main(['matrix', '--write', file], io), 0);
      assert.equal(await main(['matrix', '--check', file], io), 0);
      const text = await readFile(file, 'utf8');
      assert.ok(text.startsWith('# guide\n\n') && text.endsWith('\n\nafter\n') && text.includes('| P1.1 | platform | — |'));
      await writeFile(file, '# no markers\n');
      assert.equal(await main(['matrix', '--check', file], io), 2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
