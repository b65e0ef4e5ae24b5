#!/usr/bin/env node
// `opencdp-guest-agent`: runs the guest agent service from a config file until SIGTERM or SIGINT, and
// thaws the guest before it exits (a stopped agent must not leave filesystems frozen). Logs are JSON
// lines on stderr. Exit codes: 0 stopped cleanly, 1 could not listen, 2 bad usage or config.
import { isEntryPoint } from '@opencdp/core';
import { Command, CommanderError } from 'commander';
import { DEFAULT_CONFIG_PATH, loadAgentConfig } from './config.js';
import { UsageError } from './errors.js';
import { createGuestAgent } from './guest-agent.js';
import type { GuestAgentServer } from './guest-agent.js';
import type { AgentLog } from './guest-freezer.js';

export interface RunningGuestAgent {
  server: GuestAgentServer;
  /** Resolves with the exit code once a stop signal was handled. */
  stopped: Promise<number>;
}

/** Structured log lines on stderr (one JSON object per event is all a guest service needs; no logger dependency). */
export const jsonLog: AgentLog = (level, message) => {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg: message })}\n`);
};

/** Parses argv, starts the agent and wires the stop signals. Returns an exit code when it cannot start. */
export async function startFromArgv(argv: readonly string[], log: AgentLog = jsonLog): Promise<RunningGuestAgent | number> {
  const program = new Command()
    .name('opencdp-guest-agent')
    .description('Guest agent service: freezes and thaws this guest (hooks + fsfreeze) for application-consistent checkpoints.')
    .option('--config <file>', 'the agent config file', DEFAULT_CONFIG_PATH)
    .option('--port <port>', 'listen on this port instead of the config\'s (0 = any free port)')
    .exitOverride();
  let opts: { config: string; port?: string };
  try {
    program.parse([...argv], { from: 'user' });
    opts = program.opts();
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    throw error;
  }
  let server: GuestAgentServer;
  try {
    if (opts.port !== undefined && (!/^\d+$/.test(opts.port) || Number(opts.port) > 65535)) throw new UsageError(`--port '${opts.port}' is not a port number`);
    const config = await loadAgentConfig(opts.config);
    server = createGuestAgent(config, { log, ...(opts.port !== undefined ? { port: Number(opts.port) } : {}) });
  } catch (error) {
    log('error', (error as Error).message);
    return 2;
  }
  try {
    const url = await server.listen();
    // Test harnesses and supervisors read the address from stdout.
    process.stdout.write(`${JSON.stringify({ listening: url })}\n`);
  } catch (error) {
    log('error', `could not listen: ${(error as Error).message}`);
    return 1;
  }
  const stopped = new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      log('info', `${signal}: thawing anything frozen, then stopping`);
      server.close().then(() => resolve(0), (error: unknown) => {
        log('error', `stopping: ${(error as Error).message}`);
        resolve(1);
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return { server, stopped };
}


if (isEntryPoint(import.meta.url)) {
  startFromArgv(process.argv.slice(2)).then(
    async (started) => {
      process.exitCode = typeof started === 'number' ? started : await started.stopped;
    },
    (error: unknown) => {
      jsonLog('error', (error as Error)?.stack ?? String(error));
      process.exitCode = 1;
    },
  );
}
