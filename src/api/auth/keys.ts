/**
 * API keys: 32 random bytes, shown once, stored only as their sha256. A fast hash is enough here (unlike
 * passwords): the keys are high-entropy, so there is nothing to brute-force from a leaked hash.
 */
import { createHash, randomBytes } from 'node:crypto';

const KEY_PREFIX = 'ck_';

export function generateApiKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}
