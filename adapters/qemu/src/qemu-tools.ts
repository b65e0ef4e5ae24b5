// Finding the QEMU tools, and the rule for tests that need them: skip with a loud reason locally,
// fail in CI (`CI=true`), where `.ci/run` installs them first.
import { findTool, TOOL_PACKAGES } from '@opencdp/core';
import { QemuToolMissingError } from './qemu-errors.js';

export { findTool };

/** Tool → Debian package that provides it (the kernel's table). */
export const QEMU_TOOL_PACKAGES: Readonly<Record<string, string>> = TOOL_PACKAGES;

/** The tools the adapter and its tests need (VM processes are optional). */
export const REQUIRED_TOOLS = ['qemu-img', 'qemu-io', 'qemu-storage-daemon'];

export function missingTools(tools: readonly string[] = REQUIRED_TOOLS): string[] {
  return tools.filter((t) => findTool(t) === undefined);
}

/** Throws QemuToolMissingError naming the missing tools and their packages. */
export function assertTools(tools: readonly string[] = REQUIRED_TOOLS): void {
  const missing = missingTools(tools);
  if (missing.length > 0) throw new QemuToolMissingError(missing.map((t) => `${t} (apt package ${QEMU_TOOL_PACKAGES[t] ?? '?'})`));
}

/**
 * For a mocha `before`: returns normally when the tools are there; otherwise fails under `CI=true`
 * and skips (with a loud line on stderr) elsewhere.
 */
export function requireToolsOrSkip(context: Mocha.Context, tools: readonly string[] = REQUIRED_TOOLS): void {
  const missing = missingTools(tools);
  if (missing.length === 0) return;
  const error = new QemuToolMissingError(missing.map((t) => `${t} (apt package ${QEMU_TOOL_PACKAGES[t] ?? '?'})`));
  if (process.env.CI === 'true') throw error;
  process.stderr.write(`\n!!! SKIPPING QEMU TESTS: ${error.message}\n\n`);
  context.skip();
}
