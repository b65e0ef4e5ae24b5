// Walks a folder and lists every file or folder that its group or other users may read, write or enter:
// what a security review of a DR product, which holds copies of every protected disk, looks for first.
import { promises as fs } from 'node:fs';
import path from 'node:path';

export interface LooseScan {
  /** Entries with any group or other permission, as `relative/path (mode)`. */
  loose: string[];
  /** Every entry seen, relative to the root. */
  paths: string[];
  checked: number;
}

export async function looseEntries(root: string): Promise<LooseScan> {
  const out: LooseScan = { loose: [], paths: [], checked: 0 };
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      const st = await fs.lstat(full);
      if (st.isSymbolicLink()) continue;
      const rel = path.relative(root, full);
      out.paths.push(rel);
      out.checked++;
      if ((st.mode & 0o077) !== 0) out.loose.push(`${rel} (${(st.mode & 0o777).toString(8)})`);
      if (st.isDirectory()) await walk(full);
    }
  };
  await walk(root);
  return out;
}
