// What a failed case says in the report: the assertion's own words plus the expected and observed
// values (node's assert keeps them on the error but prints them on later lines, which one-line summaries
// and CI annotations drop), or the error's type and where in the suite it was thrown.
import { AssertionError } from 'node:assert';
import { inspect } from 'node:util';
import { OpenCdpError } from '@opencdp/core';

/** Longest rendering of one value: a failure names the value, it does not dump it. */
const VALUE_CHARS = 400;

function render(value: unknown): string {
  const text = value instanceof RegExp ? String(value) : inspect(value, { depth: 3, breakLength: Infinity, maxArrayLength: 20, maxStringLength: 200, compact: true });
  return text.length > VALUE_CHARS ? `${text.slice(0, VALUE_CHARS)}… (${text.length} characters)` : text;
}

/** Operators whose expected and observed values say nothing beyond the message (`assert.ok`, `assert.fail`). */
function valuesSayNothing(e: AssertionError, head: string): boolean {
  if (e.operator === 'fail' || e.operator === undefined) return true;
  if (e.operator === '==' && e.expected === true) return true;
  // A message that already states both sides (the oracle's) needs no second copy.
  return /\bexpected\b.*\b(observed|got|saw)\b/i.test(head);
}

function comparison(e: AssertionError): string {
  switch (e.operator) {
    case 'match': return `expected to match ${render(e.expected)}, observed ${render(e.actual)}`;
    case 'doesNotMatch': return `expected not to match ${render(e.expected)}, observed ${render(e.actual)}`;
    case 'notStrictEqual':
    case 'notDeepStrictEqual': return `expected anything but ${render(e.expected)}, observed it`;
    case 'rejects':
    case 'throws': return `expected it to fail, observed ${render(e.actual)}`;
    default: return `expected ${render(e.expected)}, observed ${render(e.actual)}`;
  }
}

/** The first line of the stack inside the conformance package (which case step failed), if any. */
function whereThrown(error: Error): string | undefined {
  for (const line of (error.stack ?? '').split('\n').slice(1)) {
    // `at fn (file:///…/conformance/dist/x.js:1:2)` or, for anonymous frames, `at file:///…/x.js:1:2`.
    const m = /\(([^()]*\/conformance\/(?:dist|src)\/[^)]+)\)\s*$/.exec(line) ?? /at ([^()\s]*\/conformance\/(?:dist|src)\/\S+)\s*$/.exec(line);
    if (m) return m[1].replace(/^file:\/\//, '').replace(/^.*\/conformance\//, 'conformance/');
  }
  return undefined;
}

/**
 * One failure as the report states it. Assertions: the message's first paragraph, then `expected …,
 * observed …` unless the message already is exactly that (node's own). Typed errors keep their message
 * (it carries the hint); other errors get their type and the suite line that met them.
 */
export function failureMessage(error: unknown): string {
  if (error instanceof AssertionError) {
    const head = error.generatedMessage ? '' : error.message.split('\n')[0].trim();
    if (valuesSayNothing(error, head)) return head || error.message;
    const values = comparison(error);
    return head ? `${head} — ${values}` : values;
  }
  if (error instanceof OpenCdpError) return `${error.name} (${error.code}): ${error.message}`;
  if (error instanceof Error) {
    const where = whereThrown(error);
    return `${error.name}: ${error.message}${where ? ` (at ${where})` : ''}`;
  }
  return String(error);
}
