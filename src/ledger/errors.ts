/**
 * The ledger's refusals. Each carries a stable `code` that callers map to HTTP statuses and to
 * non-retryable Temporal ApplicationFailure types (architecture §7.7). A refused operation changes nothing.
 */
export const LEDGER_ERROR_CODES = [
  'InsufficientCredits',
  'IdempotencyConflict',
  'WalletNotFound',
  'WalletClosed',
  'LotNotFound',
  'HoldNotFound',
  'HoldAlreadyResolved',
  'HoldNotExpired',
  'RefundExceedsCaptured',
  'InvalidAmount',
  'InvalidInput',
] as const;
export type LedgerErrorCode = (typeof LEDGER_ERROR_CODES)[number];

export class LedgerError extends Error {
  readonly code: LedgerErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: LedgerErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'LedgerError';
    this.code = code;
    this.details = details;
  }

  /** For InsufficientCredits: how many credits were missing. */
  get shortfallCredits(): number | undefined {
    const v = this.details['shortfallCredits'];
    return typeof v === 'number' ? v : undefined;
  }
}

export function isLedgerError(e: unknown, code?: LedgerErrorCode): e is LedgerError {
  return e instanceof LedgerError && (code === undefined || e.code === code);
}

export function isLedgerErrorCode(s: string): s is LedgerErrorCode {
  return (LEDGER_ERROR_CODES as readonly string[]).includes(s);
}
