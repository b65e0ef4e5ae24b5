// One long-lived PowerShell per Hyper-V host, through node-powershell: commands run one at a time, each
// with a timeout; a command that times out ends the process, and a process that died (mid-command or
// between commands) is replaced by a new one on the next command. For a remote host the process first opens
// a PSSession (credentials reach it through its environment, never through script text) and every script
// runs inside it. The one marked output line is parsed as JSON and validated with ajv before anyone uses it.
import { Ajv, type ValidateFunction } from 'ajv';
import { PowerShell } from 'node-powershell';
import { PowerShellCommandError, PowerShellOutputError, PowerShellSessionError, PowerShellTimeoutError } from './powershell-errors.js';
import { encodeCommandLine, renderRemoteScript, renderScript, RESULT_MARKER, type PsOperation, type PsParam } from './ps-script.js';
import { OPEN_REMOTE_SESSION } from './session-scripts.js';

export interface RemoteHostOptions {
  computerName: string;
  /** `DOMAIN\user`; absent: the identity the local PowerShell runs as (Kerberos). */
  userName?: string;
  /** The password, already read from its environment variable or 0600 file. */
  password?: string;
}

export interface PowerShellSessionOptions {
  /** `powershell` (Windows PowerShell 5.1), `pwsh` (PowerShell 7) or a path to an executable speaking the same protocol. */
  executable: string;
  /** Extra switches for the executable (node-powershell adds `-NoLogo -NoExit -Command -`). */
  executableOptions?: Record<string, string | boolean>;
  /** Extra environment of the PowerShell process. */
  env?: Record<string, string>;
  remote?: RemoteHostOptions;
  /** Per-command timeout (default 120 s; a Hyper-V job such as a checkpoint merge can take a while). */
  timeoutMs?: number;
  /** How long a new PowerShell process may take to answer its first (empty) command (default 60 s). */
  startTimeoutMs?: number;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

/** The envelope every script prints. */
interface Envelope {
  ok: boolean;
  result?: unknown;
  error?: { message: string; cmdlet: string; errorId: string; category: string; returnValue: number | null };
}

const ENVELOPE_SCHEMA = {
  type: 'object',
  required: ['ok'],
  properties: {
    ok: { type: 'boolean' },
    result: {},
    error: {
      type: 'object',
      required: ['message', 'cmdlet', 'errorId', 'category'],
      properties: {
        message: { type: 'string' }, cmdlet: { type: 'string' }, errorId: { type: 'string' }, category: { type: 'string' },
        returnValue: { type: ['integer', 'null'] },
      },
    },
  },
} as const;

const PASSWORD_ENV = 'OPENCDP_HYPERV_PASSWORD';

interface Shell {
  ps: PowerShell;
  exited: boolean;
}

export class PowerShellSession {
  private shell: Shell | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;
  private readonly ajv = new Ajv({ allErrors: true, strict: false });
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly envelope = this.ajv.compile(ENVELOPE_SCHEMA);
  /** Processes started so far (a restart after a death or timeout counts). */
  starts = 0;
  /** Commands queued so far (a harness compares it before and after waiting to know that work has stopped). */
  issued = 0;

  constructor(private readonly options: PowerShellSessionOptions) {}

  /** Runs one operation and returns its validated result; typed errors for every way it can fail. */
  run<T>(op: PsOperation<T>, params: Readonly<Record<string, PsParam>>, options: { timeoutMs?: number } = {}): Promise<T> {
    // Rendering first: a value that cannot be quoted fails here, before anything runs.
    let line: string;
    try {
      line = encodeCommandLine(this.options.remote ? renderRemoteScript(renderScript({ op, params })) : renderScript({ op, params }));
    } catch (error) {
      return Promise.reject(error);
    }
    this.issued++;
    const next = this.queue.then(() => this.invoke(op, line, options.timeoutMs ?? this.options.timeoutMs ?? 120_000));
    this.queue = next.catch(() => undefined);
    return next as Promise<T>;
  }

  /** Resolves once every command queued so far has finished (a virtual-clock harness waits for real work). */
  async idle(): Promise<void> {
    let tail: Promise<unknown>;
    do {
      tail = this.queue;
      await tail;
    } while (tail !== this.queue);
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    await this.queue;
    await this.stop();
  }

  private async invoke<T>(op: PsOperation<T>, line: string, timeoutMs: number): Promise<T> {
    if (this.disposed) throw new PowerShellSessionError('the session was disposed', op.name);
    const shell = await this.ensureShell(op.name);
    const raw = await this.send(shell, op.name, line, timeoutMs);
    return this.parse(op, raw);
  }

  private async send(shell: Shell, operation: string, line: string, timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new PowerShellTimeoutError(operation, timeoutMs)), timeoutMs);
    });
    const started = Date.now();
    try {
      const record = await Promise.race([shell.ps.invoke(line), timeout]);
      if (shell.exited) throw new PowerShellSessionError('the PowerShell process exited before the command finished', operation);
      this.options.log?.('powershell-command', { operation, ms: Date.now() - started });
      return { stdout: record.stdout?.toString('utf8') ?? '', stderr: record.stderr?.toString('utf8') ?? '' };
    } catch (error) {
      // A timed-out or dead process cannot be trusted with the next command: end it, start afresh later.
      await this.stop();
      if (error instanceof PowerShellTimeoutError || error instanceof PowerShellSessionError) throw error;
      throw new PowerShellSessionError(`the PowerShell process failed: ${(error as Error).message.trim()}`, operation);
    } finally {
      clearTimeout(timer);
    }
  }

  private parse<T>(op: PsOperation<T>, raw: { stdout: string; stderr: string }): T {
    const line = raw.stdout.split(/\r?\n/).reverse().find((l) => l.startsWith(RESULT_MARKER));
    if (line === undefined) {
      throw new PowerShellOutputError(op.name, raw.stderr.trim() ? `no result; PowerShell wrote to its error stream: ${raw.stderr.trim().slice(0, 500)}` : 'no result line', raw.stdout.slice(0, 2000));
    }
    let envelope: unknown;
    try {
      envelope = JSON.parse(line.slice(RESULT_MARKER.length));
    } catch (error) {
      throw new PowerShellOutputError(op.name, `the result is not JSON (${(error as Error).message})`, line.slice(0, 2000));
    }
    if (!this.envelope(envelope)) throw new PowerShellOutputError(op.name, `the result envelope fails its schema: ${this.ajv.errorsText(this.envelope.errors)}`, line.slice(0, 2000));
    const e = envelope as Envelope;
    if (!e.ok) {
      const err = e.error;
      if (!err) throw new PowerShellOutputError(op.name, 'a failure without an error', line.slice(0, 2000));
      throw new PowerShellCommandError(op.name, err.cmdlet, err.message, err.errorId, err.category, err.returnValue ?? undefined);
    }
    const validate = this.validator(op);
    const result = op.result === 'none' ? null : e.result;
    if (op.result !== 'none' && !validate(result)) {
      throw new PowerShellOutputError(op.name, `the result fails the schema of ${op.name}: ${this.ajv.errorsText(validate.errors)}`, line.slice(0, 2000));
    }
    return result as T;
  }

  private validator(op: PsOperation): ValidateFunction {
    let v = this.validators.get(op.name);
    if (!v) {
      v = this.ajv.compile(op.schema);
      this.validators.set(op.name, v);
    }
    return v;
  }

  private async ensureShell(operation: string): Promise<Shell> {
    if (this.shell && !this.shell.exited) return this.shell;
    this.shell = undefined;
    const { remote } = this.options;
    const env: Record<string, string> = { ...(process.env as Record<string, string>), ...this.options.env };
    if (remote?.password !== undefined) env[PASSWORD_ENV] = remote.password;
    let ps: PowerShell;
    try {
      ps = new PowerShell({
        executable: this.options.executable,
        executableOptions: { '-NoProfile': true, '-NonInteractive': true, ...this.options.executableOptions },
        spawnOptions: { env },
        throwOnInvocationError: false,
      });
    } catch (error) {
      throw new PowerShellSessionError(`cannot start ${this.options.executable}: ${(error as Error).message}`, operation);
    }
    const shell: Shell = { ps, exited: false };
    ps.streams.stdout.once('close', () => { shell.exited = true; });
    this.starts++;
    // Starting PowerShell (and loading modules) takes seconds: an empty command waits for it, so that the
    // first real command's timeout measures the command only.
    try {
      await this.send(shell, 'start PowerShell', '', this.options.startTimeoutMs ?? 60_000);
    } catch (error) {
      await this.stopShell(shell);
      throw error;
    }
    this.options.log?.('powershell-start', { executable: this.options.executable, remote: remote?.computerName ?? null, starts: this.starts });
    if (remote) {
      const raw = await this.send(shell, OPEN_REMOTE_SESSION.name, encodeCommandLine(renderScript({
        op: OPEN_REMOTE_SESSION,
        params: { computerName: remote.computerName, userName: remote.userName ?? null, passwordVariable: remote.password !== undefined ? PASSWORD_ENV : null },
      })), this.options.timeoutMs ?? 120_000);
      try {
        this.parse(OPEN_REMOTE_SESSION, raw);
      } catch (error) {
        await this.stopShell(shell);
        throw error;
      }
    }
    this.shell = shell;
    return shell;
  }

  private async stop(): Promise<void> {
    const shell = this.shell;
    this.shell = undefined;
    if (shell) await this.stopShell(shell);
  }

  private async stopShell(shell: Shell): Promise<void> {
    shell.exited = true;
    // SIGKILL: a PowerShell stuck in a Hyper-V call does not answer SIGTERM promptly.
    await shell.ps.dispose('SIGKILL').catch(() => undefined);
  }
}
