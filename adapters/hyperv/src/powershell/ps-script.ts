// How the adapter's PowerShell is written: an operation is a fixed body (a template that reads its inputs
// from `$P_<name>` variables) plus parameters; rendering puts each parameter on its own prologue line as a
// literal made by `psQuote` (or as JSON decoded by ConvertFrom-Json), wraps the body so that every error
// becomes a JSON envelope on one marked output line, and encodes the whole script for node-powershell's
// line-by-line stdin (`-Command -` runs stdin statement by statement, so a multi-line script is sent as one
// line that decodes and runs it). `parseRenderedScript` is the exact inverse, for the simulated host.
import { psQuote, psUnquote, PS_SINGLE_QUOTES } from './ps-quote.js';
import { UnsafePowerShellValueError } from './powershell-errors.js';

/** A JSON Schema (ajv, draft 2020-12 subset) of an operation's result. */
export type JsonSchema = Record<string, unknown>;

export type PsParam = string | number | boolean | null | readonly unknown[] | { readonly [key: string]: unknown };

/** One kind of script the adapter runs. `T` is the validated result type. */
export interface PsOperation<T = unknown> {
  /** Stable name, e.g. `Get-OpenCdpInventory`; it heads the script as a comment. */
  readonly name: string;
  /** Parameter names the body reads as `$P_<name>`; rendering refuses others and missing ones. */
  readonly params: readonly string[];
  /** PowerShell run inside `& { }`; its pipeline output is the result. */
  readonly body: string;
  /** `list`: the output is collected into an array (also for 0 or 1 items); `object`: a single value; `none`: discarded. */
  readonly result: 'object' | 'list' | 'none';
  readonly schema: JsonSchema;
  /** Only for the type: never read. */
  readonly __type?: T;
}

export interface PsInvocation {
  readonly op: PsOperation;
  readonly params: Readonly<Record<string, PsParam>>;
}

/** The marker before the one JSON line a script prints (anything else on stdout is ignored). */
export const RESULT_MARKER = '@@opencdp ';
const PARAM_NAME = /^[A-Za-z][A-Za-z0-9]*$/;

const PREAMBLE = `$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$WarningPreference = 'SilentlyContinue'
$VerbosePreference = 'SilentlyContinue'
$InformationPreference = 'SilentlyContinue'
$script:OpenCdpFailure = $null`;

const HELPERS = `function Write-OpenCdpResult($Value) {
  '${RESULT_MARKER}' + (ConvertTo-Json -InputObject $Value -Depth 12 -Compress)
}
function Assert-OpenCdpCimResult($Result, [string]$Method) {
  $code = [int]$Result.ReturnValue
  if ($code -eq 4096) {
    $job = Get-CimInstance -InputObject $Result.Job
    while ([int]$job.JobState -lt 7) {
      Start-Sleep -Milliseconds 200
      $job = Get-CimInstance -InputObject $job
    }
    if ([int]$job.JobState -ne 7) {
      $script:OpenCdpFailure = [ordered]@{ cmdlet = $Method; returnValue = [int]$job.ErrorCode }
      throw ($Method + ' failed: ' + $job.ErrorDescription)
    }
    return
  }
  if ($code -ne 0) {
    $script:OpenCdpFailure = [ordered]@{ cmdlet = $Method; returnValue = $code }
    throw ($Method + ' failed with return value ' + $code)
  }
}`;

const CATCH = `  $e = $_
  $failure = $script:OpenCdpFailure
  $cmdlet = if ($failure) { $failure.cmdlet } elseif ($e.InvocationInfo -and $e.InvocationInfo.MyCommand) { $e.InvocationInfo.MyCommand.Name } else { [string]$e.CategoryInfo.Activity }
  $returnValue = if ($failure) { $failure.returnValue } else { $null }
  Write-OpenCdpResult ([ordered]@{ ok = $false; error = [ordered]@{ message = $e.Exception.Message; cmdlet = [string]$cmdlet; errorId = [string]$e.FullyQualifiedErrorId; category = [string]$e.CategoryInfo.Category; returnValue = $returnValue } })`;

/** The PowerShell text of one parameter's value: a psQuote literal, typed by a cast where it is a number. */
export function renderParamValue(name: string, value: PsParam): string {
  if (value === null) return '$null';
  if (value === true) return '$true';
  if (value === false) return '$false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new UnsafePowerShellValueError(name, `${value} is not a finite number`);
    return `${Number.isInteger(value) ? '[int64]' : '[double]'}${psQuote(String(value), name)}`;
  }
  if (typeof value === 'string') return psQuote(value, name);
  return `ConvertFrom-Json -InputObject ${psQuote(JSON.stringify(value), name)}`;
}

/** The full script of an invocation (what runs on the host). */
export function renderScript(inv: PsInvocation): string {
  const { op, params } = inv;
  for (const k of Object.keys(params)) if (!op.params.includes(k)) throw new TypeError(`${op.name} has no parameter '${k}'`);
  const lines = op.params.map((name) => {
    if (!PARAM_NAME.test(name)) throw new TypeError(`bad parameter name '${name}'`);
    if (!(name in params)) throw new TypeError(`${op.name} needs parameter '${name}'`);
    return `$P_${name} = ${renderParamValue(name, params[name])}`;
  });
  const body = op.body.trim().split('\n').map((l) => `    ${l}`).join('\n');
  const run = op.result === 'list' ? `  $result = @(& {\n${body}\n  })`
    : op.result === 'object' ? `  $result = & {\n${body}\n  }`
      : `  & {\n${body}\n  } | Out-Null\n  $result = $null`;
  return [`# ${op.name}`, PREAMBLE, ...lines, HELPERS, 'try {', run, '  Write-OpenCdpResult ([ordered]@{ ok = $true; result = $result })', '} catch {', CATCH, '}', ''].join('\n');
}

/** One line for node-powershell's stdin that runs `script` as a whole (base64 of its UTF-8 text). */
export function encodeCommandLine(script: string): string {
  const b64 = Buffer.from(script, 'utf8').toString('base64');
  return `& ([scriptblock]::Create([System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String(${psQuote(b64)}))))`;
}

const COMMAND_LINE = /^& \(\[scriptblock\]::Create\(\[System\.Text\.Encoding\]::UTF8\.GetString\(\[System\.Convert\]::FromBase64String\('([A-Za-z0-9+/=]*)'\)\)\)\)$/;

/** The script inside a line made by encodeCommandLine, or undefined when the line is something else. */
export function decodeCommandLine(line: string): string | undefined {
  const m = COMMAND_LINE.exec(line.trim());
  return m ? Buffer.from(m[1], 'base64').toString('utf8') : undefined;
}

/**
 * Wraps a script so that it runs in the remote PSSession `$global:OpenCdpRemote` (opened by the session
 * layer); a failure of the remoting itself (WinRM down, session broken) comes back as the same envelope.
 */
export function renderRemoteScript(script: string): string {
  const b64 = Buffer.from(script, 'utf8').toString('base64');
  return `# Invoke-OpenCdpRemote
try {
  $block = [scriptblock]::Create([System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String(${psQuote(b64)})))
  Invoke-Command -Session $global:OpenCdpRemote -ScriptBlock $block
} catch {
  '${RESULT_MARKER}' + (ConvertTo-Json -Compress -Depth 4 -InputObject ([ordered]@{ ok = $false; error = [ordered]@{ message = $_.Exception.Message; cmdlet = 'Invoke-Command'; errorId = [string]$_.FullyQualifiedErrorId; category = [string]$_.CategoryInfo.Category; returnValue = $null } }))
}
`;
}

/** The script inside a remote wrapper, or undefined when `script` is not one. */
export function unwrapRemoteScript(script: string): string | undefined {
  const m = /^# Invoke-OpenCdpRemote\ntry \{\n {2}\$block = \[scriptblock\]::Create\(\[System\.Text\.Encoding\]::UTF8\.GetString\(\[System\.Convert\]::FromBase64String\('([A-Za-z0-9+/=]*)'\)\)\)\n/.exec(script);
  if (!m) return undefined;
  const inner = Buffer.from(m[1], 'base64').toString('utf8');
  return renderRemoteScript(inner) === script ? inner : undefined;
}

/**
 * Reads an invocation back from its rendered script: the operation among `ops` and its parameter values.
 * Undefined unless the script is exactly what renderScript makes of them (so nothing else can pass for it).
 */
export function parseRenderedScript(script: string, ops: readonly PsOperation[]): PsInvocation | undefined {
  const head = /^# (\S+)\n/.exec(script);
  const op = head && ops.find((o) => o.name === head[1]);
  if (!op) return undefined;
  let at = script.indexOf(PREAMBLE);
  if (at < 0) return undefined;
  at += PREAMBLE.length;
  const params: Record<string, PsParam> = {};
  for (const name of op.params) {
    const prefix = `\n$P_${name} = `;
    if (!script.startsWith(prefix, at)) return undefined;
    at += prefix.length;
    const parsed = readValue(script, at);
    if (!parsed) return undefined;
    params[name] = parsed.value;
    at = parsed.end;
  }
  const inv = { op, params };
  try {
    return renderScript(inv) === script ? inv : undefined;
  } catch {
    return undefined;
  }
}

function readValue(s: string, at: number): { value: PsParam; end: number } | undefined {
  for (const [text, value] of [['$null', null], ['$true', true], ['$false', false]] as const) {
    if (s.startsWith(text, at)) return { value, end: at + text.length };
  }
  for (const cast of ['[int64]', '[double]']) {
    if (s.startsWith(cast, at)) {
      const lit = readLiteral(s, at + cast.length);
      return lit && { value: Number(lit.value), end: lit.end };
    }
  }
  const json = 'ConvertFrom-Json -InputObject ';
  if (s.startsWith(json, at)) {
    const lit = readLiteral(s, at + json.length);
    if (!lit) return undefined;
    try {
      return { value: JSON.parse(lit.value) as PsParam, end: lit.end };
    } catch {
      return undefined;
    }
  }
  return readLiteral(s, at);
}

/** A verbatim literal starting at `at`, scanned by PowerShell's rules. */
function readLiteral(s: string, at: number): { value: string; end: number } | undefined {
  const quotes = new Set<string>(PS_SINGLE_QUOTES);
  if (!quotes.has(s[at])) return undefined;
  let i = at + 1;
  while (i < s.length) {
    if (quotes.has(s[i])) {
      if (quotes.has(s[i + 1])) {
        i += 2;
        continue;
      }
      return { value: psUnquote(s.slice(at, i + 1)), end: i + 1 };
    }
    i++;
  }
  return undefined;
}
