// The crash test's store for local files: the child and the parent open the same folder.
import { LocalFileStorage } from '../../storage/local-file-storage.js';
import type { StorageAdapter } from '../../ports/storage-adapter.js';

export function createCrashStorage(dir: unknown): StorageAdapter {
  if (typeof dir !== 'string') throw new TypeError('the local crash storage takes a folder path');
  return new LocalFileStorage(dir);
}
