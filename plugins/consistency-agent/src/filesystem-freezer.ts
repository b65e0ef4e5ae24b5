// Freezing a filesystem: an interface so tests and other platforms can swap it, and the default that
// runs Linux's `fsfreeze --freeze|--unfreeze <mount>`. Freezing needs root on Linux; where it cannot
// work the freezer says why, and the agent skips the mounts with that reason instead of failing.
import { access, constants } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import { describeCommand, runCommand } from './run-command.js';

export interface FilesystemFreezer {
  /** Undefined when freezing can work here; otherwise why not (the mounts are skipped with this reason). */
  unavailableReason(): Promise<string | undefined>;
  /** Rejects with the reason when the mount could not be frozen. */
  freeze(mount: string): Promise<void>;
  unfreeze(mount: string): Promise<void>;
}

export interface FsfreezeCommandOptions {
  /** Executable and leading arguments; `--freeze <mount>` is appended. Default `['fsfreeze']`. */
  command?: string[];
  /** How long one freeze or unfreeze may take. */
  timeoutMs?: number;
  /** Seen platform and user id; injectable so the checks can be tested without root. */
  platform?: NodeJS.Platform;
  uid?: number;
  /** PATH to search for a bare executable name. */
  path?: string;
}

/**
 * Runs a freeze command. With the default `fsfreeze` it checks Linux, root and the binary first. A
 * configured command is trusted to have what it needs (it may be a sudo wrapper, or another platform's
 * tool), so only its executable is looked for.
 */
export class FsfreezeCommand implements FilesystemFreezer {
  private readonly command: string[];
  private readonly custom: boolean;
  private readonly timeoutMs: number;

  constructor(private readonly options: FsfreezeCommandOptions = {}) {
    this.custom = options.command !== undefined;
    this.command = options.command ?? ['fsfreeze'];
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  async unavailableReason(): Promise<string | undefined> {
    if (!this.custom) {
      const platform = this.options.platform ?? process.platform;
      if (platform !== 'linux') return `fsfreeze needs Linux (this is ${platform})`;
      const uid = this.options.uid ?? process.getuid?.();
      if (uid !== 0) return `fsfreeze needs root (running as uid ${uid ?? 'unknown'})`;
    }
    const exe = this.command[0]!;
    if (!(await findExecutable(exe, this.options.path ?? process.env.PATH ?? ''))) {
      return this.custom ? `freeze command '${exe}' was not found` : 'no fsfreeze binary on PATH (install util-linux)';
    }
    return undefined;
  }

  freeze(mount: string): Promise<void> {
    return this.run('--freeze', mount);
  }

  unfreeze(mount: string): Promise<void> {
    return this.run('--unfreeze', mount);
  }

  private async run(flag: string, mount: string): Promise<void> {
    const argv = [...this.command, flag, mount];
    const result = await runCommand(argv, { timeoutMs: this.timeoutMs });
    if (!result.ok) throw new Error(`${describeCommand(argv)} ${result.reason}`);
  }
}

/** True when `exe` (a path, or a bare name searched on `path`) is an executable file. */
async function findExecutable(exe: string, path: string): Promise<boolean> {
  const candidates = isAbsolute(exe) || exe.includes('/') ? [exe] : path.split(delimiter).filter(Boolean).map((dir) => join(dir, exe));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return true;
    } catch {
      // Not here: try the next folder.
    }
  }
  return false;
}
