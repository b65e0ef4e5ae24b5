// Rules shared by every StorageAdapter for names, prefixes and byte ranges. Names are untrusted
// (they come from settings and the wire), so both stores refuse anything that could escape the root
// or alias another name before touching anything.
import { ValidationError } from '../errors.js';

/** Throws ValidationError unless `name` is a clean relative '/'-separated file name. */
export function checkStorageName(name: string): void {
  if (typeof name !== 'string' || name.length === 0) throw new ValidationError('storage name is empty', 'name');
  checkCharacters(name, 'name');
  if (name.endsWith('/')) throw new ValidationError(`storage name '${name}' names a folder, not a file`, 'name');
  checkSegments(name, name.split('/'), 'name');
}

/** Throws ValidationError unless `prefix` is '' or a clean relative prefix (a trailing '/' means a folder). */
export function checkStoragePrefix(prefix: string): void {
  if (typeof prefix !== 'string') throw new ValidationError('storage prefix is not a string', 'prefix');
  if (prefix.length === 0) return;
  checkCharacters(prefix, 'prefix');
  const segments = prefix.split('/');
  if (prefix.endsWith('/')) segments.pop();
  checkSegments(prefix, segments, 'prefix');
}

/** Throws ValidationError unless offset and length are non-negative safe integers. */
export function checkByteRange(name: string, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0
    || !Number.isSafeInteger(offset + length)) {
    throw new ValidationError(`byte range (offset ${offset}, length ${length}) of '${name}' is not a pair of non-negative integers`, 'offset');
  }
}

/** Throws ValidationError unless `size` is a non-negative safe integer. */
export function checkFileSize(name: string, size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new ValidationError(`size ${size} of '${name}' is not a non-negative integer`, 'size');
  }
}

function checkCharacters(value: string, field: string): void {
  if (value.startsWith('/')) throw new ValidationError(`storage ${field} '${value}' is absolute`, field, 'use a path relative to the storage root');
  if (value.includes('\\')) throw new ValidationError(`storage ${field} '${value}' contains a backslash`, field, "separate folders with '/'");
  if (value.includes('\0')) throw new ValidationError(`storage ${field} contains a NUL character`, field);
}

function checkSegments(value: string, segments: readonly string[], field: string): void {
  for (const segment of segments) {
    // Empty and '.' segments are refused too: on disk 'a//b' and 'a/./b' alias 'a/b', in memory they would not.
    if (segment === '..') throw new ValidationError(`storage ${field} '${value}' contains a '..' segment`, field);
    if (segment === '' || segment === '.') throw new ValidationError(`storage ${field} '${value}' contains an empty or '.' segment`, field);
  }
}
