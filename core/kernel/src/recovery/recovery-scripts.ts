// Pre- and post-recovery scripts (the anchor's "scripting" settings): the recovery appliance runs a
// script before a failover test, failover or move starts and after its VMs are powered on, bounded by a
// timeout, and the output goes into the recovery report. What may run is decided at the appliance, not by
// whoever edits a group: only executables inside its configured scripts folder, by file name, owned by
// this user and writable by nobody else, started without a shell and with a minimal environment.
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { OpenCdpError, ValidationError } from '../errors.js';
import type { GroupId } from '../model.js';
import type { RecoveryKind, RecoveryScript } from './recovery-api.js';

export interface RecoveryScriptContext {
  operation: RecoveryKind;
  phase: 'pre' | 'post';
  groupId: GroupId;
  groupName: string;
  checkpointId: string;
}

export interface RecoveryScriptResult {
  /** Null when the script was killed (timeout) or ended by a signal. */
  exitCode: number | null;
  timedOut: boolean;
  /** stdout and stderr as they came, cut to the runner's limit. */
  output: string;
  durationMs: number;
}

/** Runs recovery scripts at the recovery site; the orchestrator records each run as a report step. */
export interface RecoveryScriptRunner {
  run(script: RecoveryScript, context: RecoveryScriptContext): Promise<RecoveryScriptResult>;
}

/** A script that ran and failed (non-zero exit, a signal, or its timeout); the message holds its output. */
export class RecoveryScriptError extends OpenCdpError {
  constructor(message: string) {
    super('RECOVERY_SCRIPT', message, 'fix the script or its parameters; the report step shows its output');
  }
}

export const SCRIPT_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$';
export const MAX_SCRIPT_TIMEOUT_SECONDS = 3600;

/** Checks a script definition's shape (also the manager's schema): a bare file name, string parameters, a timeout in range. */
export function checkRecoveryScript(script: RecoveryScript, field: string): void {
  if (typeof script?.command !== 'string' || !new RegExp(SCRIPT_NAME_PATTERN).test(script.command)) {
    throw new ValidationError(`${field}.command must be the file name of a script in the appliance's scripts folder (no path)`, `${field}.command`);
  }
  if (script.parameters !== undefined && (!Array.isArray(script.parameters) || script.parameters.length > 32 || script.parameters.some((p) => typeof p !== 'string' || p.length > 1024))) {
    throw new ValidationError(`${field}.parameters must be at most 32 strings of at most 1024 characters`, `${field}.parameters`);
  }
  if (!Number.isInteger(script.timeoutSeconds) || script.timeoutSeconds < 1 || script.timeoutSeconds > MAX_SCRIPT_TIMEOUT_SECONDS) {
    throw new ValidationError(`${field}.timeoutSeconds must be a whole number from 1 to ${MAX_SCRIPT_TIMEOUT_SECONDS}`, `${field}.timeoutSeconds`);
  }
}

export interface LocalScriptRunnerOptions {
  /** The only folder scripts are taken from. */
  scriptsDir: string;
  /** Output kept per run (default 64 KiB); the rest is dropped with a note. */
  maxOutputBytes?: number;
}

/** Runs scripts from one folder as child processes of the appliance (execFile: no shell). */
export class LocalScriptRunner implements RecoveryScriptRunner {
  private readonly maxOutput: number;

  constructor(private readonly options: LocalScriptRunnerOptions) {
    this.maxOutput = options.maxOutputBytes ?? 64 * 1024;
  }

  async run(script: RecoveryScript, context: RecoveryScriptContext): Promise<RecoveryScriptResult> {
    checkRecoveryScript(script, `${context.phase}RecoveryScript`);
    const file = await this.resolve(script.command);
    const started = Date.now();
    return new Promise<RecoveryScriptResult>((resolve) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      let dropped = 0;
      let timedOut = false;
      const child = spawn(file, script.parameters ?? [], {
        cwd: this.options.scriptsDir, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true,
        // Its own process group, so a timeout kills what the script started too (a shell's children hold its output open).
        detached: true,
        // The appliance's own environment (tokens, paths) is not the script's business.
        env: {
          PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', OPENCDP_OPERATION: context.operation, OPENCDP_SCRIPT_PHASE: context.phase,
          OPENCDP_GROUP_ID: context.groupId, OPENCDP_GROUP_NAME: context.groupName, OPENCDP_CHECKPOINT_ID: context.checkpointId,
        },
      });
      const kill = (): void => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      };
      const timer = setTimeout(() => {
        timedOut = true;
        kill();
      }, script.timeoutSeconds * 1000);
      const collect = (data: Buffer): void => {
        const room = Math.max(0, this.maxOutput - kept);
        if (room > 0) chunks.push(data.subarray(0, room));
        kept += Math.min(room, data.length);
        dropped += Math.max(0, data.length - room);
      };
      child.stdout.on('data', collect);
      child.stderr.on('data', collect);
      const done = (exitCode: number | null, note = ''): void => {
        clearTimeout(timer);
        const output = Buffer.concat(chunks).toString('utf8') + (dropped > 0 ? `\n[${dropped} more bytes of output dropped]` : '') + note;
        resolve({ exitCode, timedOut, output: output.trimEnd(), durationMs: Date.now() - started });
      };
      child.once('error', (e) => done(null, `\n${e.message}`));
      child.once('close', (code) => done(code));
    });
  }

  /** The script's path: a regular executable file directly in the scripts folder, not writable by group or others. */
  private async resolve(command: string): Promise<string> {
    const dir = await fs.realpath(this.options.scriptsDir).catch(() => {
      throw new RecoveryScriptError(`the scripts folder '${this.options.scriptsDir}' does not exist`);
    });
    const file = await fs.realpath(path.join(dir, command)).catch(() => {
      throw new RecoveryScriptError(`no script '${command}' in the scripts folder '${this.options.scriptsDir}'`);
    });
    if (path.dirname(file) !== dir) throw new RecoveryScriptError(`script '${command}' leads out of the scripts folder`);
    const st = await fs.stat(file);
    if (!st.isFile() || (st.mode & 0o111) === 0) throw new RecoveryScriptError(`script '${command}' is not an executable file`);
    if ((st.mode & 0o022) !== 0) throw new RecoveryScriptError(`script '${command}' is writable by its group or others; refusing to run it (chmod go-w)`);
    if (typeof process.getuid === 'function' && st.uid !== process.getuid() && st.uid !== 0) throw new RecoveryScriptError(`script '${command}' belongs to another user; refusing to run it`);
    return file;
  }
}
