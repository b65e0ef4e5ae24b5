// Files that hold secrets or copies of guest disks must be readable by their owner only: 0600 for files,
// 0700 for folders. Services check the files they are given at start (a config holding tokens, an
// identity holding private keys) and warn, or refuse with --strict, when others may read them.
import { statSync } from 'node:fs';
import { OpenCdpError } from '../errors.js';

/** A file or folder others may read or write; `strict` services refuse to start on one. */
export class FilePermissionError extends OpenCdpError {
  constructor(readonly problems: string[]) {
    super('FILE_PERMISSIONS', problems.join('; '), `make them owner-only: chmod 600 for files, chmod 700 for folders (${problems.length} found)`);
  }
}

/** Owner-only modes for what OpenCDP creates. */
export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;

/** A sentence saying why `file` is not private (group or others have any permission), or undefined when it is (or does not exist). */
export function permissionProblem(file: string): string | undefined {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch {
    return undefined;
  }
  const loose = mode & 0o077;
  if (loose === 0) return undefined;
  const who = [(loose & 0o070) !== 0 ? 'its group' : '', (loose & 0o007) !== 0 ? 'other users' : ''].filter(Boolean).join(' and ');
  return `'${file}' (mode ${(mode & 0o777).toString(8).padStart(3, '0')}) is open to ${who}`;
}

/**
 * Checks files a service reads secrets from: with `strict` any problem is a FilePermissionError (the
 * service does not start); otherwise each is passed to `warn` and the service goes on.
 */
export function checkPrivateFiles(files: Array<string | undefined>, options: { strict?: boolean; warn: (message: string) => void }): void {
  const problems = files.filter((f): f is string => typeof f === 'string').map(permissionProblem).filter((p): p is string => p !== undefined);
  if (problems.length === 0) return;
  if (options.strict) throw new FilePermissionError(problems);
  for (const p of problems) options.warn(`${p}: it holds secrets; chmod it to owner-only (start with --strict to refuse such files)`);
}
