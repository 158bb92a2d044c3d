/**
 * Deliberate parsing of credit amounts. Credits are whole numbers; anything else is refused before it
 * reaches SQL, so a float, NaN or an unsafe integer can never become money.
 */
import { LedgerError } from './errors';

const MAX = BigInt(Number.MAX_SAFE_INTEGER);

/** A positive safe integer (1 … 2^53-1), from a bigint or a number. Anything else → InvalidAmount. */
export function parsePositiveCredits(value: unknown, field = 'amountCredits'): number {
  const n = parseSignedCredits(value, field);
  if (n <= 0) throw new LedgerError('InvalidAmount', `${field} must be positive`, { field, value: String(value) });
  return n;
}

/** A non-zero safe integer, positive or negative (adjustments). */
export function parseNonZeroCredits(value: unknown, field = 'deltaCredits'): number {
  const n = parseSignedCredits(value, field);
  if (n === 0) throw new LedgerError('InvalidAmount', `${field} must not be zero`, { field, value: '0' });
  return n;
}

function parseSignedCredits(value: unknown, field: string): number {
  if (typeof value === 'bigint') {
    if (value > MAX || value < -MAX) throw invalid(field, value);
    return Number(value);
  }
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value === 0 ? 0 : value;
  throw invalid(field, value);
}

function invalid(field: string, value: unknown): LedgerError {
  return new LedgerError('InvalidAmount', `${field} must be a whole number of credits within ±(2^53-1)`, {
    field,
    value: typeof value === 'bigint' || typeof value === 'number' ? String(value) : typeof value,
  });
}

/** Postgres bigint arrives as a string (pg does not guess); convert only if it is a safe integer. */
export function creditsFromDb(value: unknown): number {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  if (typeof value === 'string' && /^-?\d+$/.test(value)) {
    const b = BigInt(value);
    if (b <= MAX && b >= -MAX) return Number(b);
  }
  throw new Error(`ledger: credits value from the database is not a safe integer: ${String(value)}`);
}
