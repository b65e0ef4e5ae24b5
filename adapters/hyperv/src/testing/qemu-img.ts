// qemu-img as the independent judge of VHDX files in tests and in the harness: `check` for structure,
// `compare` for guest-visible bytes, `convert` for reference copies. A missing tool skips loudly locally and
// fails under CI=true (where .ci/run installs qemu-utils).
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { OpenCdpError } from '@opencdp/core';

const run = promisify(execFile);

export const QEMU_IMG_TOOLS = ['qemu-img', 'qemu-io'] as const;

export class QemuImgMissingError extends OpenCdpError {
  constructor(tools: string[]) {
    super('QEMU_IMG_MISSING', `missing tools: ${tools.join(', ')}`, 'apt-get install qemu-utils');
  }
}

export function missingQemuImgTools(): string[] {
  return QEMU_IMG_TOOLS.filter((tool) => !(process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    try {
      accessSync(path.join(dir, tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  }));
}

/** For a mocha `before`: fails under CI=true, skips loudly elsewhere, when qemu-img or qemu-io is missing. */
export function requireQemuImgOrSkip(context: Mocha.Context): void {
  const missing = missingQemuImgTools();
  if (missing.length === 0) return;
  const error = new QemuImgMissingError(missing);
  if (process.env.CI === 'true') throw error;
  process.stderr.write(`\n!!! SKIPPING VHDX TESTS THAT NEED QEMU: ${error.message}\n\n`);
  context.skip();
}

export type ImageFormat = 'raw' | 'vhdx' | 'qcow2';

/** `qemu-img check`: resolves with its output when the image is clean, rejects with it otherwise. */
export async function qemuImgCheck(file: string, format: ImageFormat = 'vhdx'): Promise<string> {
  try {
    const { stdout } = await run('qemu-img', ['check', '-f', format, file]);
    return stdout;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`qemu-img check ${file} failed: ${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
}

/** `qemu-img compare`: true when both images hold the same guest-visible bytes. */
export async function qemuImgEqual(a: string, aFormat: ImageFormat, b: string, bFormat: ImageFormat): Promise<boolean> {
  try {
    await run('qemu-img', ['compare', '-q', '-f', aFormat, '-F', bFormat, a, b]);
    return true;
  } catch (error) {
    if ((error as { code?: number }).code === 1) return false;
    throw new Error(`qemu-img compare ${a} ${b} failed: ${(error as { stderr?: string }).stderr ?? (error as Error).message}`);
  }
}

export async function qemuImg(args: string[]): Promise<string> {
  const { stdout } = await run('qemu-img', args, { maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

export async function qemuIo(file: string, format: ImageFormat, commands: string[]): Promise<void> {
  await run('qemu-io', ['-f', format, ...commands.flatMap((c) => ['-c', c]), file]);
}
