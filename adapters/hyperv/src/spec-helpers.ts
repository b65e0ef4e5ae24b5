// Helpers shared by this package's specs: temp folders that go away, hashing.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A fresh folder under the OS temp folder; removed by the returned cleanup. */
export async function tempDir(prefix = 'ochv-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rm(dir, { recursive: true, force: true }) };
}
