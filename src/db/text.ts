/**
 * What a Postgres `text` (and `jsonb`) value can hold: `text` refuses NUL and `jsonb` also refuses lone UTF-16
 * surrogates, so a string with either fails inside Postgres rather than being stored.
 *
 * Pure rules, no database access: workflow code imports them too (the one src/db module it may import).
 */

// A high surrogate not followed by a low one, or a low one not preceded by a high one: the strings that
// String.prototype.isWellFormed (not in our ES2022 lib) refuses.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why Postgres cannot store `text`, or null if it can. */
export function unstorableTextReason(text: string): string | null {
  if (text.includes('\u0000')) return 'must not contain the NUL character (U+0000)';
  if (LONE_SURROGATE.test(text)) return 'must be well-formed Unicode (no unpaired UTF-16 surrogate)';
  return null;
}

/** Why `value` is not a non-empty string of at most `max` characters that Postgres can store, or null if it is. */
export function boundedTextReason(value: unknown, max: number): string | null {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) return `must be a non-empty string of at most ${max} characters`;
  return unstorableTextReason(value);
}
