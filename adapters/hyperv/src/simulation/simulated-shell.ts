#!/usr/bin/env node
// SIMULATION: a stand-in for powershell.exe / pwsh that speaks node-powershell's protocol, for tests where no
// PowerShell runtime exists. Started like PowerShell (`-NoLogo -NoExit -Command -`), it reads stdin line by
// line as `-Command -` does: the delimiter lines node-powershell writes (`[Console]::Out.WriteLine("…")`,
// `[Console]::Error.WriteLine("…")`) are echoed to their stream, and a command line must be one of the
// adapter's encoded scripts — decoded, matched exactly against the operations it knows, and carried out on
// the simulated host named by OPENCDP_SIMULATED_HYPERV_ROOT. Anything else is answered the way PowerShell
// answers what it cannot run: an error on stderr.
import readline from 'node:readline';
import { ADAPTER_OPERATIONS } from '../hyperv-scripts.js';
import { HARNESS_OPERATIONS } from '../harness/harness-scripts.js';
import { decodeCommandLine, parseRenderedScript, RESULT_MARKER, unwrapRemoteScript, type PsOperation } from '../powershell/ps-script.js';
import { OPEN_REMOTE_SESSION } from '../powershell/session-scripts.js';
import { SIMULATED_ROOT_ENV, SimulatedCmdletError, SimulatedHost, type SimFault } from './simulated-host.js';
import { SIMULATED_OPERATIONS } from './simulated-operations.js';

const OPERATIONS: readonly PsOperation[] = [...ADAPTER_OPERATIONS, ...HARNESS_OPERATIONS, OPEN_REMOTE_SESSION as PsOperation];

const ECHO = /^\[Console\]::(Out|Error)\.WriteLine\("([0-9A-Za-z]*)"\)$/;

async function main(): Promise<void> {
  const root = process.env[SIMULATED_ROOT_ENV];
  if (!root) {
    process.stderr.write(`simulated PowerShell: ${SIMULATED_ROOT_ENV} is not set\n`);
    process.exit(2);
  }
  const host = new SimulatedHost(root);
  let remote: string | undefined;
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const raw of lines) {
    const line = raw.trim();
    if (line === '') continue;
    const echo = ECHO.exec(line);
    if (echo) {
      (echo[1] === 'Out' ? process.stdout : process.stderr).write(`${echo[2]}\n`);
      continue;
    }
    const decoded = decodeCommandLine(line);
    if (decoded === undefined) {
      process.stderr.write(`The simulated host runs only the adapter's encoded scripts; it cannot run: ${line.slice(0, 200)}\n`);
      continue;
    }
    let script = decoded;
    const inner = unwrapRemoteScript(decoded);
    if (inner !== undefined) {
      if (!remote) {
        reply({ ok: false, error: { message: "Cannot validate argument on parameter 'Session'. The argument is null.", cmdlet: 'Invoke-Command', errorId: 'ParameterArgumentValidationError,Microsoft.PowerShell.Commands.InvokeCommandCommand', category: 'InvalidData', returnValue: null } });
        continue;
      }
      script = inner;
    }
    const inv = parseRenderedScript(script, OPERATIONS);
    if (!inv) {
      process.stderr.write('The simulated host does not know this script (it is not an exact rendering of a known operation).\n');
      continue;
    }
    if (inv.op.name === OPEN_REMOTE_SESSION.name) remote = String(inv.params.computerName);
    await execute(host, inv.op.name, inv.params);
  }
}

async function execute(host: SimulatedHost, name: string, params: Parameters<(typeof SIMULATED_OPERATIONS)[string]>[2]): Promise<void> {
  const handler = SIMULATED_OPERATIONS[name];
  let fault: SimFault | undefined;
  let outcome: { ok: true; result: unknown } | { ok: false; error: Record<string, unknown> };
  try {
    outcome = await host.withState(async (state) => {
      state.commands++;
      const i = state.faults.findIndex((f) => f.op === name || f.op === '*');
      if (i >= 0) {
        fault = { ...state.faults[i] };
        const times = state.faults[i].times;
        if (times !== undefined) {
          if (times <= 1) state.faults.splice(i, 1);
          else state.faults[i].times = times - 1;
        }
        if (fault.kind === 'fail') {
          return { ok: false as const, error: { message: fault.message ?? 'simulated failure', cmdlet: fault.cmdlet ?? name, errorId: fault.errorId ?? 'SimulatedFailure', category: 'OperationStopped', returnValue: fault.returnValue ?? null } };
        }
        if (fault.kind !== 'bad-schema' && fault.kind !== 'garbage') return { ok: true as const, result: null };
      }
      if (!handler) throw new SimulatedCmdletError('', `no simulation for ${name}`, 'NotSimulated', 'NotImplemented');
      return { ok: true as const, result: await handler(host, state, params) };
    });
  } catch (error) {
    const e = error as SimulatedCmdletError;
    outcome = { ok: false, error: { message: e.message, cmdlet: e.cmdlet ?? '', errorId: e.errorId ?? 'System.Exception', category: e.category ?? 'NotSpecified', returnValue: e.returnValue ?? null } };
  }
  switch (fault?.kind) {
    case 'die':
      // The process is killed mid-command: nothing more is written.
      process.kill(process.pid, 'SIGKILL');
      return;
    case 'hang':
      await new Promise(() => undefined);
      return;
    case 'garbage':
      process.stdout.write(`${RESULT_MARKER}{"ok": tru\n`);
      return;
    case 'bad-schema':
      reply({ ok: true, result: { Unexpected: 'shape' } });
      return;
    default:
      reply(outcome);
  }
}

function reply(envelope: unknown): void {
  process.stdout.write(`${RESULT_MARKER}${JSON.stringify(envelope)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`simulated PowerShell failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
