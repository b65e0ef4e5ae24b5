// Test-only helpers shared by the benchmark specs.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A fresh temporary folder for each test of the enclosing `describe`, removed after it; call the result to get it. */
export function tempDirPerTest(): () => string {
  let dir = '';
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'opencdp-bench-spec-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });
  return () => dir;
}
