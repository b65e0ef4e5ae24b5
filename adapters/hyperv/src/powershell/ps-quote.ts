// The one escaping function: every value the adapter sends to PowerShell becomes a verbatim (single-quoted)
// string literal, in which nothing is interpreted — no `$`, no backtick, no subexpression. Inside such a
// literal PowerShell ends the string at any of five quote characters (' and the typographic ‘ ’ ‚ ‛), and
// reads a doubled one as one character; so each of them is doubled. NUL cannot be carried at all.
import { UnsafePowerShellValueError } from './powershell-errors.js';

/** The characters PowerShell's tokenizer treats as a single quote. */
export const PS_SINGLE_QUOTES = ['\u0027', '\u2018', '\u2019', '\u201A', '\u201B'] as const;
const QUOTE_RE = /['\u2018\u2019\u201A\u201B]/g;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** `value` as a PowerShell verbatim string literal. Throws UnsafePowerShellValueError for NUL or a lone surrogate. */
export function psQuote(value: string, field = 'value'): string {
  if (typeof value !== 'string') throw new UnsafePowerShellValueError(field, `expected a string, got ${typeof value}`);
  if (value.includes('\u0000')) throw new UnsafePowerShellValueError(field, 'it contains a NUL character');
  if (LONE_SURROGATE.test(value)) throw new UnsafePowerShellValueError(field, 'it contains a lone UTF-16 surrogate');
  return `'${value.replace(QUOTE_RE, (q) => q + q)}'`;
}

/**
 * The inverse of psQuote, by PowerShell's rules: the text of a verbatim literal (with its quotes) → its value.
 * Throws when the text is not exactly one literal (a quote that ends it early).
 */
export function psUnquote(literal: string): string {
  const quotes = new Set<string>(PS_SINGLE_QUOTES);
  if (literal.length < 2 || !quotes.has(literal[0]) || !quotes.has(literal[literal.length - 1])) throw new SyntaxError(`not a verbatim string literal: ${literal}`);
  let out = '';
  for (let i = 1; i < literal.length - 1; i++) {
    const c = literal[i];
    if (quotes.has(c)) {
      if (i + 1 < literal.length - 1 && quotes.has(literal[i + 1])) {
        out += c;
        i++;
        continue;
      }
      throw new SyntaxError(`the literal ends early at character ${i}: ${literal}`);
    }
    out += c;
  }
  return out;
}
