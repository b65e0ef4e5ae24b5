// Small files replaced whole and atomically (identities, trust lists, an appliance's change-tracking
// state): written to a temporary sibling, synced, renamed over the old one — a crash mid-write leaves the
// old file, never half of one. Owner-only by default (0600 files, 0700 folders): these files hold keys,
// trust and state.
import { promises as fs } from 'node:fs';
import path from 'node:path';

/** Writes `data` to `file` via a temporary sibling and a rename (atomic on POSIX file systems); creates the folder with `dirMode`. */
export async function writeFileAtomic(file: string, data: string | Buffer, mode = 0o600, dirMode = 0o700): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: dirMode });
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const handle = await fs.open(tmp, 'w', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(tmp, file);
}
