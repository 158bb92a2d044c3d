/**
 * The credit ledger (architecture §2): wallets, lots, two-phase holds, refunds, expiry, an append-only
 * journal and an audit that recomputes everything from it.
 *
 * Conventions: one object in, one object out; credits are `number`s that are always safe integers
 * (inputs also accept `bigint`; anything fractional, ≤ 0, NaN or > 2^53-1 → LedgerError InvalidAmount);
 * every mutation takes an `idempotencyKey` (same key + same content → first result with `replayed: true`;
 * same key + different content → IdempotencyConflict) and an optional `now` (defaults to the wall clock).
 * Refusals are LedgerErrors with a stable `code`; a refused mutation changes nothing.
 */
export * from './types';
export { LedgerError, isLedgerError, LEDGER_ERROR_CODES, type LedgerErrorCode } from './errors';
export { parsePositiveCredits, parseNonZeroCredits, creditsFromDb } from './amounts';
export {
  createWallet, findWalletByOwner, getWallet, closeWallet,
  addOrganizationMember, removeOrganizationMember, listOrganizationMembers, canUseWallet,
} from './wallets';
export {
  grantLot, reserve, capture, release, expireHold, releaseExpiredHolds, refund, expireLot, revokeLot, adjust,
} from './operations';
export { getBalance, getHold, listJournal, countJournal } from './reads';
export { audit } from './audit';
export { computeLotExpiry, DEFAULT_LOT_VALIDITY, type LotValidityConfig } from '../policy/lot-validity';
