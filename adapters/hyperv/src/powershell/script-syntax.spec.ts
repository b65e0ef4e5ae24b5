// Every script the adapter (and the harness) can emit, parsed with tree-sitter's PowerShell grammar (WASM,
// no PowerShell needed): no ERROR node anywhere; and a property test with hostile VM, switch and path names
// (quotes of every kind PowerShell knows, `$()`, backticks, `;`, newlines, here-string openers, unicode)
// proving from the syntax tree that each value is exactly one string literal on its own prologue line and
// that the code around it has the same tree as with harmless values.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { Language, Parser, type Node } from 'web-tree-sitter';
import { ADAPTER_OPERATIONS } from '../hyperv-scripts.js';
import { HARNESS_OPERATIONS } from '../harness/harness-scripts.js';
import { psQuote, psUnquote } from './ps-quote.js';
import { encodeCommandLine, parseRenderedScript, renderParamValue, renderRemoteScript, renderScript, type PsOperation, type PsParam } from './ps-script.js';
import { OPEN_REMOTE_SESSION } from './session-scripts.js';

const require = createRequire(import.meta.url);
const OPERATIONS: readonly PsOperation[] = [...ADAPTER_OPERATIONS, ...HARNESS_OPERATIONS, OPEN_REMOTE_SESSION as PsOperation];

interface Values {
  name: string;
  path: string;
  switchName: string;
  id: string;
}

/** Parameters for every operation, built from a few values (hostile or not). */
function paramsFor(op: PsOperation, v: Values): Record<string, PsParam> {
  const all: Record<string, PsParam> = {
    storagePaths: [v.path, 'C:\\ClusterStorage\\Volume1'], vmId: v.id, name: v.name, consistencyLevel: 1, prefix: v.name, checkpointId: v.id,
    instanceId: v.id, path: v.path, limitId: v.id, byteOffset: 0, byteLength: 4 * 1024 ** 3, generation: 2, memoryBytes: 2 * 1024 ** 3,
    processorCount: 2, vmPath: v.path, notes: v.name, disks: [{ Path: v.path, SizeBytes: 1024 ** 3, LogicalSectorSize: 512 }],
    nics: [{ Name: v.name, SwitchName: v.switchName, MacAddress: '00155D010203' }], nicName: v.name, ipAddress: '10.1.0.10', subnet: '255.255.255.0',
    gateways: ['10.1.0.1'], dnsServers: [], mode: 'shutdown', folder: v.path, switchName: v.switchName, sizeBytes: 1024 ** 3, logicalSectorSize: 512,
    destination: v.path, computerName: v.name, userName: v.name, passwordVariable: 'OPENCDP_HYPERV_PASSWORD',
  };
  return Object.fromEntries(op.params.map((p) => {
    assert.ok(p in all, `the test has a sample value for parameter '${p}' of ${op.name}`);
    return [p, all[p]];
  }));
}

const BENIGN: Values = { name: 'web01', path: 'C:\\Hyper-V\\web01.vhdx', switchName: 'LAN', id: '6f1c2b7e-3f1a-4c55-9a57-2a1d5c6b7e80' };

describe('generated PowerShell (parsed with tree-sitter-powershell)', function () {
  this.timeout(120_000);
  let parser: Parser;

  before(async () => {
    await Parser.init();
    const language = await Language.load(require.resolve('tree-sitter-powershell/tree-sitter-powershell.wasm'));
    parser = new Parser();
    parser.setLanguage(language);
  });

  function parse(text: string): Node {
    const tree = parser.parse(text);
    assert.ok(tree, 'the parser returned a tree');
    return tree.rootNode;
  }

  function errors(root: Node): string[] {
    const out: string[] = [];
    const walk = (n: Node): void => {
      if (n.type === 'ERROR' || n.isMissing) out.push(`${n.isMissing ? 'MISSING ' : ''}${n.type} at ${n.startPosition.row + 1}:${n.startPosition.column + 1}: ${JSON.stringify(n.text.slice(0, 60))}`);
      for (const c of n.children) if (c) walk(c);
    };
    walk(root);
    return out;
  }

  function statements(root: Node): Node[] {
    const list = root.children.find((c) => c?.type === 'statement_list');
    assert.ok(list, 'the script has a statement list');
    return list.namedChildren.filter((c): c is Node => c !== null && c.type !== 'comment');
  }

  function stringLiterals(n: Node): Node[] {
    const out: Node[] = [];
    const walk = (x: Node): void => {
      if (x.type === 'string_literal') out.push(x);
      else for (const c of x.children) if (c) walk(c);
    };
    walk(n);
    return out;
  }

  it('the grammar flags broken PowerShell (the checks below can fail)', () => {
    assert.notDeepEqual(errors(parse("$a = 'unterminated")), []);
    assert.notDeepEqual(errors(parse('$r = @($vm | Select-Object Name, @{ n = 1 })')), [], 'a construct this grammar cannot read is reported');
    assert.notDeepEqual(errors(parse("$a = 'x\u0000y'")), []);
  });

  for (const op of OPERATIONS) {
    it(`${op.name}: the script, its remote form and its encoded line parse without errors`, () => {
      const script = renderScript({ op, params: paramsFor(op, BENIGN) });
      assert.deepEqual(errors(parse(script)), [], script);
      assert.deepEqual(errors(parse(renderRemoteScript(script))), []);
      assert.deepEqual(errors(parse(encodeCommandLine(script))), []);
      assert.deepEqual(parseRenderedScript(script, OPERATIONS)?.params, paramsFor(op, BENIGN), 'the script reads back to its parameters');
    });
  }

  it('hostile names and paths appear only as string literals, each on its own line, never as code (property test)', () => {
    const hostileChar = fc.constantFrom("'", '\u2018', '\u2019', '\u201A', '\u201B', '"', '\u201C', '\u201D', '`', '$', '$(', ')', '{', '}', '@', "@'", "'@", '@"',
      ';', '|', '&', '#', '<#', '#>', '\n', '\r\n', '\t', ' ', '\\', 'é', '名', '😀', '\u2028', '\u00A0', '-', '--%');
    const hostile = fc.array(fc.oneof(hostileChar, fc.string({ minLength: 1, maxLength: 3 })), { minLength: 1, maxLength: 12 }).map((parts) => parts.join(''));
    fc.assert(fc.property(hostile, hostile, hostile, hostile, (name, winPath, switchName, id) => {
      const v: Values = { name, path: `C:\\VMs\\${winPath}.vhdx`, switchName, id };
      for (const op of OPERATIONS) {
        const params = paramsFor(op, v);
        const script = renderScript({ op, params });
        const root = parse(script);
        assert.deepEqual(errors(root), [], `${op.name} with ${JSON.stringify(v)}`);
        const benign = statements(parse(renderScript({ op, params: paramsFor(op, BENIGN) })));
        const got = statements(root);
        assert.equal(got.length, benign.length, `${op.name}: hostile values add or remove no statement`);
        // The first six statements are the fixed preferences, then one statement per parameter.
        op.params.forEach((name, i) => {
          const s = got[6 + i];
          const literal = renderParamValue(name, params[name]);
          assert.equal(s.text, `$P_${name} = ${literal}`, `${op.name}: parameter ${name} is its own statement`);
          const literals = stringLiterals(s);
          if (typeof params[name] === 'string' || typeof params[name] === 'object' || typeof params[name] === 'number') {
            assert.equal(literals.length, 1, `${op.name}.${name}: exactly one string literal`);
            const text = literals[0].text;
            // PowerShell's own tokenizer rule (five quote characters) agrees that the literal ends where the grammar says.
            const value = psUnquote(text);
            const expected = typeof params[name] === 'string' ? params[name] : typeof params[name] === 'number' ? String(params[name]) : JSON.stringify(params[name]);
            assert.equal(value, expected, `${op.name}.${name}: the literal holds the value exactly`);
            assert.equal(text, psQuote(expected as string));
          }
        });
        // Everything after the parameters is the same code as with harmless values.
        for (let i = 6 + op.params.length; i < got.length; i++) {
          assert.equal(got[i].toString(), benign[i].toString(), `${op.name}: statement ${i} has the same tree as with harmless values`);
        }
      }
    }), { numRuns: 20, seed: 11 });
  });
});
