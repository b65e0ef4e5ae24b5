// Finding the host's command-line tools (qemu-img, e2fsprogs, …) on PATH, and the rule for tests that
// need them: skip with a loud reason locally, fail in CI (`CI=true`), where `.ci/run` installs them first.
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { OpenCdpError } from './errors.js';

/** Tool → Debian package that provides it (for hints). */
export const TOOL_PACKAGES: Readonly<Record<string, string>> = {
  'qemu-img': 'qemu-utils',
  'qemu-io': 'qemu-utils',
  'qemu-nbd': 'qemu-utils',
  'qemu-storage-daemon': 'qemu-system-common',
  'qemu-system-x86_64': 'qemu-system-x86',
};

/** Tools a feature or a test needs are not installed. */
export class ToolMissingError extends OpenCdpError {
  constructor(readonly tools: string[]) {
    super('TOOL_MISSING', `missing tools: ${tools.map((t) => `${t} (apt package ${TOOL_PACKAGES[t] ?? '?'})`).join(', ')}`,
      `apt-get install ${[...new Set(tools.map((t) => TOOL_PACKAGES[t] ?? t))].join(' ')}`);
  }
}

/** The executable `tool` on PATH, or undefined. */
export function findTool(tool: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, tool);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function missingTools(tools: readonly string[]): string[] {
  return tools.filter((t) => findTool(t) === undefined);
}

/**
 * For a mocha `before`: returns normally when the tools are there; otherwise fails under `CI=true` and
 * skips (with a loud line on stderr) elsewhere.
 */
export function requireHostToolsOrSkip(context: Mocha.Context, tools: readonly string[]): void {
  const missing = missingTools(tools);
  if (missing.length === 0) return;
  const error = new ToolMissingError(missing);
  if (process.env.CI === 'true') throw error;
  process.stderr.write(`\n!!! SKIPPING: ${error.message}\n\n`);
  context.skip();
}
