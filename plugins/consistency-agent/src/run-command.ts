// Runs one hook or freeze command as a child process and says how it ended, with the tail of what it
// printed. Timeouts are wall-clock on purpose: a child process runs in real time whatever clock the
// agent was given.
import { spawn } from 'node:child_process';
import type { CommandSpec } from './config.js';

export interface CommandOptions {
  cwd?: string;
  /** Added to the agent's own environment. */
  env?: Record<string, string>;
  timeoutMs: number;
}

export interface CommandResult {
  ok: boolean;
  /** Why it failed: exit code or signal, timeout, or failure to start; with the end of its output. */
  reason?: string;
  durationMs: number;
}

const OUTPUT_TAIL = 1000;
/** After the process exits, how long to wait for its pipes: a background child it started may hold them. */
const PIPE_GRACE_MS = 200;

/** Describes a command for logs. */
export function describeCommand(spec: CommandSpec): string {
  return typeof spec === 'string' ? spec : spec.map((a) => (/[\s'"]/.test(a) ? JSON.stringify(a) : a)).join(' ');
}

/** Runs `spec` (a shell line, or an executable with arguments) and resolves when it ends; never rejects. */
export function runCommand(spec: CommandSpec, options: CommandOptions): Promise<CommandResult> {
  const started = Date.now();
  // A process group of its own (POSIX) so a timeout kills the shell and whatever it started.
  const detached = process.platform !== 'win32';
  return new Promise<CommandResult>((resolve) => {
    let output = '';
    let done = false;
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL);
    };
    const child = typeof spec === 'string'
      ? spawn(spec, { shell: true, cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'], detached })
      : spawn(spec[0]!, spec.slice(1), { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'], detached });
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (detached && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        // Already gone: the exit handler reports it.
      }
    }, options.timeoutMs);
    const finish = (reason: string | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.stdout?.destroy();
      child.stderr?.destroy();
      const tail = output.trim();
      resolve({
        ok: reason === undefined,
        ...(reason !== undefined ? { reason: tail ? `${reason}: ${tail}` : reason } : {}),
        durationMs: Date.now() - started,
      });
    };
    child.once('error', (error: NodeJS.ErrnoException) => finish(`could not start: ${error.code ?? error.message}`));
    child.once('exit', (code, signal) => {
      const reason = timedOut ? `killed after ${options.timeoutMs} ms`
        : code === 0 ? undefined
        : code !== null ? `exited with code ${code}` : `killed by ${signal}`;
      let closed = false;
      child.once('close', () => { closed = true; finish(reason); });
      setTimeout(() => { if (!closed) finish(reason); }, PIPE_GRACE_MS).unref();
    });
  });
}
