// SIMULATION: how tests point node-powershell at the simulated shell instead of powershell.exe. node-powershell
// spawns its `executable` directly (no shell) with PowerShell's switches, so a small wrapper script (mode
// 0700, in a folder of the test's) starts Node on the compiled simulated-shell.js; the simulated host's
// folder travels in the environment.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PowerShellSessionOptions } from '../powershell/powershell-session.js';
import { SIMULATED_ROOT_ENV } from './simulated-host.js';

const SHELL_JS = fileURLToPath(new URL('./simulated-shell.js', import.meta.url));

/** Writes the wrapper into `dir` and returns session options that run the simulated shell on host folder `root`. */
export async function simulatedPowerShell(dir: string, root: string): Promise<Pick<PowerShellSessionOptions, 'executable' | 'env'>> {
  const executable = path.join(dir, 'simulated-powershell');
  const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  await fs.writeFile(executable, `#!/bin/sh\n# SIMULATION of PowerShell for OpenCDP's Hyper-V adapter tests\nexec ${quote(process.execPath)} ${quote(SHELL_JS)} "$@"\n`, { mode: 0o700 });
  return { executable, env: { [SIMULATED_ROOT_ENV]: root } };
}
