// The kill -9 suite on local files: the child and the parent share a temporary folder.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { fileURLToPath } from 'node:url';
import { LocalFileStorage } from '../storage/local-file-storage.js';
import { describeJournalCrash } from './journal-crash-suite.js';

const MODULE = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), 'testing', 'local-crash-storage.js')).href;

describeJournalCrash('local files', {
  storageModule: MODULE,
  async makeStore() {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ocdp-crash-'));
    return {
      arg: dir,
      open: async () => new LocalFileStorage(dir),
      dispose: () => fs.rm(dir, { recursive: true, force: true }),
    };
  },
});
