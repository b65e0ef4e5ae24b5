// Secrets the manager must present later (the secret a paired manager expects from this one) are kept
// sealed with AES-256-GCM under a key in the data dir (`secret.key`, 0600), never in clear in the
// database; secrets it only checks (tokens, what peers present) are kept as SHA-256 hashes instead.
// A database copied without the key file reveals neither.
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { OpenCdpError } from '@opencdp/core';

const KEY_FILE = 'secret.key';
const SEALED_PREFIX = 'aes256gcm$';
const HASH_PREFIX = 'sha256$';

/** The data dir's key is missing, damaged, or does not open a sealed value. */
export class SecretKeyError extends OpenCdpError {
  constructor(message: string) {
    super('SECRET_KEY', message, `restore ${KEY_FILE} from the data dir's backup, or pair the sites again`);
  }
}

export class SecretBox {
  constructor(private readonly key: Buffer) {}

  /** Opens the key of `dataDir`, creating it (0600) on first use. */
  static open(dataDir: string): SecretBox {
    const file = join(dataDir, KEY_FILE);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    if (!existsSync(file)) {
      const key = randomBytes(32);
      // 'wx': never overwrite a key another process just made.
      const fd = openSync(file, 'wx', 0o600);
      try {
        writeSync(fd, key.toString('base64') + '\n');
      } finally {
        closeSync(fd);
      }
    }
    chmodSync(file, 0o600);
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    if (key.length !== 32) throw new SecretKeyError(`${file} does not hold a 256-bit key`);
    return new SecretBox(key);
  }

  seal(secret: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const data = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return `${SEALED_PREFIX}${iv.toString('base64')}$${cipher.getAuthTag().toString('base64')}$${data.toString('base64')}`;
  }

  open(sealed: string): string {
    if (!SecretBox.isSealed(sealed)) throw new SecretKeyError('the stored value is not sealed');
    const [iv, tag, data] = sealed.slice(SEALED_PREFIX.length).split('$').map((p) => Buffer.from(p, 'base64'));
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretKeyError('a sealed secret does not open with this data dir\'s key');
    }
  }

  static isSealed(value: string): boolean {
    return value.startsWith(SEALED_PREFIX);
  }
}

/** SHA-256 of a high-entropy secret (random tokens; passwords use scrypt instead), as stored. */
export function hashSecret(secret: string): string {
  return `${HASH_PREFIX}${createHash('sha256').update(secret, 'utf8').digest('hex')}`;
}

export function isHashedSecret(value: string): boolean {
  return value.startsWith(HASH_PREFIX);
}

/** Whether `secret` hashes to `stored`, compared in constant time. */
export function secretMatches(secret: string, stored: string): boolean {
  const a = Buffer.from(hashSecret(secret));
  const b = Buffer.from(stored);
  return a.length === b.length && timingSafeEqual(a, b);
}
