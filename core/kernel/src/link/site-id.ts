// Site ids travel in handshakes, pairing tokens and certificates (as a DNS name in the SAN), so they
// are restricted to one lowercase DNS label-like form that every one of those places accepts.
import { ValidationError } from '../errors.js';

/** Lowercase letters, digits, '-' and '.', 1–63 characters, starting and ending with a letter or digit. */
export const SITE_ID_PATTERN = '^[a-z0-9](?:[a-z0-9.-]{0,61}[a-z0-9])?$';
const siteIdRegExp = new RegExp(SITE_ID_PATTERN);

/** Throws a ValidationError unless `siteId` is usable as a site id. */
export function checkSiteId(siteId: unknown, field = 'siteId'): string {
  if (typeof siteId !== 'string' || !siteIdRegExp.test(siteId)) {
    throw new ValidationError(`${field} ${JSON.stringify(siteId)} is not a valid site id`, field,
      'use 1–63 lowercase letters, digits, dots or dashes, starting and ending with a letter or digit (it becomes a DNS name in the site certificate)');
  }
  return siteId;
}
