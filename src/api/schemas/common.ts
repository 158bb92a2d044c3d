/** Schemas shared by several routes: ids, credit amounts, timestamps and the error envelope. */
import { z } from 'zod';
import { ERROR_CODES } from '../errors';

/**
 * Credits at the edge: a JSON number that is a whole, positive, safe integer. Strings, fractions, zero,
 * negatives and anything above 2^53-1 are refused here, before any ledger call. (A fraction JSON.parse
 * rounds away, `1.0000000000000001`, never gets here: request-input.ts refuses it from the raw body.)
 */
export const AmountCredits = z
  .number({ error: 'must be a number of credits' })
  // zod 4's int() accepts safe integers only, so this also refuses anything above 2^53-1.
  .int({ error: 'must be a whole number of credits, at most 2^53-1' })
  .positive({ error: 'must be positive' })
  .max(Number.MAX_SAFE_INTEGER, { error: 'must be at most 2^53-1' }) // documents the bound in OpenAPI
  .meta({ description: 'Whole credits, 1 … 2^53-1', example: 100 });

/** Non-negative credit counts in responses (balances, counters). */
export const CreditCount = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** Signed credit deltas in responses (journal counter deltas). */
export const CreditDelta = z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);

/**
 * An ISO 8601 instant with an offset, within years 1–9999 UTC. The offset may carry a 9999-12-31 date into
 * year 10000, which toISOString writes as `+010000-…` and Postgres refuses (a 500); and the format allows
 * year 0000 (or carries 0001-01-01 there), which Postgres has no year for (the ledger would refuse it as
 * InvalidInput, not as the field the client sent). Both are refused here, naming the field.
 */
export const Timestamp = z.iso
  .datetime({ offset: true })
  .refine((value) => new Date(value).getUTCFullYear() <= 9999, { error: 'must be at most 9999-12-31T23:59:59.999Z' })
  .refine((value) => new Date(value).getUTCFullYear() >= 1, { error: 'must be at least 0001-01-01T00:00:00.000Z' })
  .meta({ example: '2026-11-21T05:30:00.000Z' });

/**
 * A UUID that names a key, wallet, lot or hold. Postgres reads any case, but the API also compares ids as
 * text (a key's own id, a wallet key's wallet) and echoes them: one spelling, lowercase, as Postgres writes it.
 */
export const Uuid = z.uuid().toLowerCase();

/**
 * A wallet id in a path, query or body: any text — an id that is not a UUID simply names no wallet (404),
 * like any unknown id — lowercased (see Uuid).
 */
export const WalletId = z.string().min(1).max(200).toLowerCase();

export const WalletIdParams = z.object({ id: WalletId });

/** The Idempotency-Key header of every POST (validated in mount.ts, documented in OpenAPI). */
export const IdempotencyKey = z.string().regex(/^[\x21-\x7e]{1,128}$/, 'must be 1-128 visible ASCII characters');

/**
 * A whole number in the query string, `min`…`max`: plain decimal digits only. z.coerce.number() would read
 * `0x10` as 16, `1e1` as 10 and accept ` 5`, `5.0`, `+5` or `05` — numbers the client may not have meant, or
 * not written as numbers are — so anything else is refused, naming the field. A preprocess (not a transform)
 * so that OpenAPI documents the number it becomes: an integer with its bounds.
 */
export function queryInteger(min: number, max: number) {
  return z.preprocess(
    (value, ctx) => {
      if (typeof value === 'string' && /^(0|[1-9][0-9]*)$/.test(value)) return Number(value);
      ctx.addIssue({
        code: 'custom', input: value,
        message: 'must be a decimal integer: digits only, without sign, spaces or leading zeros',
      });
      return z.NEVER;
    },
    z.number().int().min(min, `must be between ${min} and ${max}`).max(max, `must be between ${min} and ${max}`),
  );
}

export const OwnerType = z.enum(['user', 'organization']);

export const LotKind = z.enum(['promotional', 'membership', 'purchased', 'bulk', 'refund', 'adjustment']);

export const ErrorResponse = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES as [string, ...string[]]),
      message: z.string(),
      details: z.record(z.string(), z.unknown()),
    }),
  })
  .meta({ id: 'Error' });

export const iso = (date: Date): string => date.toISOString();
export const isoOrNull = (date: Date | null): string | null => (date ? date.toISOString() : null);
