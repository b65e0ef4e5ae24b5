#!/usr/bin/env node
// `opencdp-vss-agent <localManager> <port> <remoteManager> <port> <checkpointName>`, after the anchor's
// VSS agent: run inside a guest (by hand or from a scheduler) to quiesce it and cut an application-
// consistent checkpoint. Exit codes: 0 taken, 1 request failed (guest thawed), 2 bad usage,
// 3 could not quiesce (undone), 4 the thaw itself reported errors (check the guest).
import { isEntryPoint } from '@opencdp/core';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { DEFAULT_CONFIG_PATH, loadAgentConfig } from './config.js';
import type { AgentConfig } from './config.js';
import type { AgentLog } from './guest-freezer.js';
import { managerUrl } from './manager-client.js';
import type { ManagerEndpoint } from './manager-client.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, EXIT_OK, EXIT_USAGE, takeVssCheckpoint } from './vss-checkpoint.js';
import type { ExitCode, VssCheckpointResult } from './vss-checkpoint.js';

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Aborted on SIGINT / SIGTERM by the entry point; the run then thaws and exits 1. */
  signal?: AbortSignal;
}

interface CliOptions {
  vm?: string;
  group?: string;
  config: string;
  timeoutMs: number;
  json?: boolean;
}

function port(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 65535) throw new InvalidArgumentError('expected a port number from 1 to 65535');
  return n;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number ≥ 1');
  return n;
}

function checkpointName(value: string): string {
  if (value.trim() === '') throw new InvalidArgumentError('the checkpoint name must not be empty');
  return value;
}

/** The CLI; returns the exit code instead of exiting so it can be driven in-process. */
export async function main(argv: readonly string[], io: CliIo = {
  out: (t) => { process.stdout.write(t); },
  err: (t) => { process.stderr.write(t); },
}): Promise<ExitCode> {
  const program = new Command()
    .name('opencdp-vss-agent')
    .description('Quiesces this guest (pre-freeze hooks, fsfreeze), asks a manager for an application-consistent (VSS) checkpoint, and thaws.')
    .argument('<localManager>', 'the manager of the protected site (host, IP or URL)')
    .argument('<localPort>', 'its HTTP port', port)
    .argument('<remoteManager>', 'the manager of the recovery site, asked when the local one is unreachable (may be the same)')
    .argument('<remotePort>', 'its HTTP port', port)
    .argument('<checkpointName>', 'the name of the checkpoint', checkpointName)
    .option('--vm <id>', 'this guest\'s VM id (default: vmId from the config)')
    .option('--group <id>', 'its protection group (default: groupId from the config, else asked of the manager)')
    .option('--config <file>', 'the guest agent config: hooks, mounts, maxFreezeMs', DEFAULT_CONFIG_PATH)
    .option('--timeout-ms <n>', 'budget for the checkpoint request, both managers included; capped to end inside maxFreezeMs', positiveInt, DEFAULT_REQUEST_TIMEOUT_MS)
    .option('--json', 'print a machine-readable result on stdout')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });
  let args: [string, number, string, number, string];
  let opts: CliOptions;
  try {
    program.parse([...argv], { from: 'user' });
    args = program.processedArgs as [string, number, string, number, string];
    opts = program.opts<CliOptions>();
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    throw error;
  }
  const [localHost, localPort, remoteHost, remotePort, name] = args;

  const usage = (message: string): ExitCode => {
    if (opts.json) io.out(`${JSON.stringify({ ok: false, exitCode: EXIT_USAGE, error: { code: 'USAGE', message } }, null, 2)}\n`);
    else io.err(`opencdp-vss-agent: ${message}\n`);
    return EXIT_USAGE;
  };
  let managers: ManagerEndpoint[];
  let config: AgentConfig;
  try {
    managers = [{ role: 'local', url: managerUrl(localHost, localPort) }, { role: 'remote', url: managerUrl(remoteHost, remotePort) }];
    config = await loadAgentConfig(opts.config);
  } catch (error) {
    return usage((error as Error).message);
  }
  const vmId = opts.vm ?? config.vmId;
  if (vmId === undefined) return usage('no VM id: pass --vm <id> or set vmId in the config');
  const groupId = opts.group ?? config.groupId;

  // Progress goes to stderr in both modes: with --json, stdout carries only the result.
  const log: AgentLog = (level, message) => io.err(`${level}: ${message}\n`);
  const result = await takeVssCheckpoint({
    config,
    checkpointName: name,
    vmId,
    ...(groupId !== undefined ? { groupId } : {}),
    managers,
    timeoutMs: opts.timeoutMs,
    log,
    ...(io.signal ? { signal: io.signal } : {}),
  });
  if (opts.json) io.out(`${JSON.stringify(result, null, 2)}\n`);
  else report(result, io);
  return result.exitCode;
}

function report(result: VssCheckpointResult, io: CliIo): void {
  const thaw = result.thaw ? `; guest frozen ${result.thaw.frozenMs ?? '?'} ms, thawed (${result.thaw.reason})` : '';
  if (result.ok) {
    const id = result.checkpoint?.checkpointId ? ` as ${result.checkpoint.checkpointId}` : '';
    io.out(`checkpoint '${result.checkpointName}' of VM '${result.vmId}' (group '${result.groupId}') taken by the ${result.manager} manager ${result.managerUrl}${id}${thaw}\n`);
    return;
  }
  io.err(`opencdp-vss-agent: ${result.error?.message ?? 'failed'}${thaw}\n`);
}


if (isEntryPoint(import.meta.url)) {
  // A scheduler stopping the run must not leave the guest frozen: the signal aborts the request, the run thaws.
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  process.once('SIGTERM', () => abort.abort());
  main(process.argv.slice(2), { out: (t) => { process.stdout.write(t); }, err: (t) => { process.stderr.write(t); }, signal: abort.signal }).then(
    (code) => { process.exitCode = code; },
    (error: unknown) => {
      process.stderr.write(`opencdp-vss-agent: ${(error as Error)?.stack ?? String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
