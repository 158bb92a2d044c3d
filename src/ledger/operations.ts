/**
 * Ledger mutations. Each validates and parses its input here (amounts deliberately), computes the request
 * hash for idempotency, then makes exactly one call into Postgres (see sql-call.ts).
 */
import type {
  AdjustInput, AdjustResult, CaptureInput, Db, ExpireHoldInput, ExpireLotInput, GrantLotInput, GrantLotResult,
  LotClosureResult, RefundInput, RefundResult, ReleaseExpiredHoldsInput, ReleaseExpiredHoldsResult, ReleaseInput,
  ReserveInput, ReserveResult, RevokeLotInput, SettleResult,
} from './types';
import { parseNonZeroCredits, parsePositiveCredits, creditsFromDb } from './amounts';
import { LedgerError } from './errors';
import {
  callLedgerFunction, isStorableDate, pageLimit, requestHash, requireDate, requireKey, requireStorableText, requireText,
} from './sql-call';
import { lotAmountsFromJson, lotFromRow } from './mappers';
import { requireUuid } from './wallets';
import { DEFAULT_LOT_VALIDITY, addDays, computeLotExpiry } from '../policy/lot-validity';

type Json = Record<string, unknown>;

const LOT_KINDS = ['promotional', 'membership', 'purchased', 'bulk', 'refund', 'adjustment'] as const;

function nowOf(input: { now?: Date }): Date {
  return input.now === undefined ? new Date() : requireDate(input.now, 'now');
}

/** Refund lots created on the way (release or refund into an expired lot) last this many days. */
/** A lot or a hold that is already due would be expired or swept at once: a caller's bug, refused. */
function requireAfter(date: Date, now: Date, field: 'expiresAt' | 'holdExpiresAt'): void {
  if (date.getTime() <= now.getTime()) throw new LedgerError('InvalidInput', `${field} must be after now`, { field });
}

function refundDays(input: { refundLotValidityDays?: number }, now: Date): number {
  const days = input.refundLotValidityDays ?? DEFAULT_LOT_VALIDITY.refundDays;
  // A refund lot expiring past what the ledger can store would fail inside Postgres, and only on the rare path
  // that creates one (an int overflow or a timestamp out of range): refused up front, like any other input.
  if (!Number.isSafeInteger(days) || days <= 0 || !isStorableDate(addDays(now, days))) {
    throw new LedgerError('InvalidInput', 'refundLotValidityDays must be a positive integer ending before the year 10000', {
      field: 'refundLotValidityDays',
    });
  }
  return days;
}

/**
 * A new lot's validity as the caller stated it (explicit expiry, billing period end, bulk packages, validity
 * days), for the request hash: the same key with a different validity is a different request, not a replay.
 * Not the computed expiry, which depends on `now` (a retry may recompute it). Inputs left out stay out of
 * the hash, so a request without any hashes as it did before these were included.
 */
function validityContent(input: { expiresAt?: unknown; periodEnd?: unknown; bulkPackages?: unknown; validityDays?: unknown }): Json {
  return {
    expiresAt: hashableDate(input.expiresAt), periodEnd: hashableDate(input.periodEnd),
    bulkPackages: input.bulkPackages, validityDays: input.validityDays,
  };
}

/** To the millisecond (String(date) would drop them); anything else as it is (refused later if it matters). */
function hashableDate(d: unknown): unknown {
  return d instanceof Date && !Number.isNaN(d.getTime()) ? d.toISOString() : d;
}

function references(input: Json): Json {
  const pick = ['generationId', 'refundRequestId', 'purchaseId', 'subscriptionPeriodId', 'promoId', 'actor', 'reason'];
  const snake: Record<string, string> = {
    generationId: 'generation_id', refundRequestId: 'refund_request_id', purchaseId: 'purchase_id',
    subscriptionPeriodId: 'subscription_period_id', promoId: 'promo_id', actor: 'actor', reason: 'reason',
  };
  const out: Json = {};
  for (const k of pick) {
    if (input[k] !== undefined && input[k] !== null) out[snake[k] as string] = requireStorableText(String(input[k]), k);
  }
  return out;
}

export async function grantLot(db: Db, input: GrantLotInput): Promise<GrantLotResult> {
  const key = requireKey(input.idempotencyKey);
  const walletId = requireUuid(input.walletId, 'walletId', 'WalletNotFound');
  if (!(LOT_KINDS as readonly string[]).includes(input.kind)) {
    throw new LedgerError('InvalidInput', 'unknown lot kind', { field: 'kind', value: String(input.kind) });
  }
  const amount = parsePositiveCredits(input.amountCredits);
  const now = nowOf(input);
  let expiresAt: Date;
  try {
    // A computed expiry may be no date at all (an invalid periodEnd, a validity too long for a Date) or one
    // Postgres cannot read: checked like a given one.
    expiresAt = input.expiresAt !== undefined ? requireDate(input.expiresAt, 'expiresAt') : requireDate(computeLotExpiry({
      kind: input.kind, grantedAt: now, periodEnd: input.periodEnd, bulkPackages: input.bulkPackages,
      validityDays: input.validityDays,
    }), 'validity');
  } catch (e) {
    if (e instanceof LedgerError) throw e;
    throw new LedgerError('InvalidInput', (e as Error).message, { field: 'validity' });
  }
  requireAfter(expiresAt, now, 'expiresAt');
  const refs = references(input as unknown as Json);
  const hash = requestHash('grant', { walletId, kind: input.kind, amount, ...refs, ...validityContent(input) });
  const r = await callLedgerFunction<Json>(db, 'ledger_grant', {
    key, hash, now, wallet_id: walletId, kind: input.kind, amount, expires_at: expiresAt, refs,
  });
  return { operationId: String(r['operation_id']), replayed: r['replayed'] === true, lot: lotFromRow(r['lot'] as Json) };
}

export async function reserve(db: Db, input: ReserveInput): Promise<ReserveResult> {
  const key = requireKey(input.idempotencyKey);
  const walletId = requireUuid(input.walletId, 'walletId', 'WalletNotFound');
  const amount = parsePositiveCredits(input.amountCredits);
  const holdExpiresAt = requireDate(input.holdExpiresAt, 'holdExpiresAt');
  const now = nowOf(input);
  requireAfter(holdExpiresAt, now, 'holdExpiresAt');
  const refs = references(input as unknown as Json);
  const hash = requestHash('reserve', { walletId, amount, ...refs });
  const r = await callLedgerFunction<Json>(db, 'ledger_reserve', {
    key, hash, now, wallet_id: walletId, amount, hold_expires_at: holdExpiresAt, refs,
  });
  return {
    operationId: String(r['operation_id']),
    replayed: r['replayed'] === true,
    holdId: String(r['hold_id']),
    walletId: String(r['wallet_id']),
    amountCredits: creditsFromDb(r['amount']),
    expiresAt: new Date(String(r['expires_at'])),
    allocations: lotAmountsFromJson(r['allocations']),
  };
}

function settleResult(r: Json): SettleResult {
  const allocs = Array.isArray(r['allocations']) ? (r['allocations'] as Json[]) : [];
  return {
    operationId: String(r['operation_id']),
    replayed: r['replayed'] === true,
    holdId: String(r['hold_id']),
    walletId: String(r['wallet_id']),
    state: String(r['state']) as SettleResult['state'],
    capturedCredits: creditsFromDb(r['captured']),
    releasedCredits: creditsFromDb(r['released']),
    allocations: allocs.map((a) => ({
      lotId: String(a['lot_id']),
      capturedCredits: creditsFromDb(a['captured']),
      releasedCredits: creditsFromDb(a['released']),
    })),
    refundLotId: r['refund_lot_id'] === null || r['refund_lot_id'] === undefined ? null : String(r['refund_lot_id']),
  };
}

async function settle(db: Db, mode: 'capture' | 'release' | 'expire', input: MutationLike, amount: number | null): Promise<SettleResult> {
  const key = requireKey(input.idempotencyKey);
  const holdId = requireUuid(input.holdId, 'holdId', 'HoldNotFound');
  const now = nowOf(input);
  const refs = references(input as unknown as Json);
  const hash = requestHash(mode, { holdId, amount: amount ?? 'all', ...refs });
  const r = await callLedgerFunction<Json>(db, 'ledger_settle', {
    key, hash, now, mode, hold_id: holdId, amount, refund_days: refundDays(input, now), refs,
  });
  return settleResult(r);
}
interface MutationLike { idempotencyKey: string; holdId: string; now?: Date; actor?: string; reason?: string; refundLotValidityDays?: number }

/** Capture all of a pending hold, or part of it (the remainder is released in the same operation). */
export async function capture(db: Db, input: CaptureInput): Promise<SettleResult> {
  const amount = input.amountCredits === undefined ? null : parsePositiveCredits(input.amountCredits);
  return settle(db, 'capture', input, amount);
}

export async function release(db: Db, input: ReleaseInput): Promise<SettleResult> {
  return settle(db, 'release', input, null);
}

/** Release a pending hold as `expired`; refused (HoldNotExpired) before the hold's expiresAt. */
export async function expireHold(db: Db, input: ExpireHoldInput): Promise<SettleResult> {
  return settle(db, 'expire', input, null);
}

/** The safety net: expire pending holds past their expiresAt. Key per hold, so reruns are harmless. */
export async function releaseExpiredHolds(db: Db, input: ReleaseExpiredHoldsInput): Promise<ReleaseExpiredHoldsResult> {
  const now = requireDate(input.now, 'now');
  const limit = Math.min(Math.max(pageLimit(input.limit, 100), 1), 1000);
  const due = await db.query<{ id: string }>(
    `SELECT id::text AS id FROM ledger_holds WHERE resolved_at IS NULL AND state = 'pending' AND expires_at <= $1::timestamptz
     ORDER BY expires_at, id LIMIT $2::int`,
    [now, limit],
  );
  const expired: SettleResult[] = [];
  for (const { id } of due.rows) {
    try {
      expired.push(await expireHold(db, { holdId: id, idempotencyKey: `hold-expiry:${id}`, now, refundLotValidityDays: input.refundLotValidityDays }));
    } catch (e) {
      // Settled concurrently by its owner between our SELECT and our call: nothing to do.
      if (e instanceof LedgerError && e.code === 'HoldAlreadyResolved') continue;
      throw e;
    }
  }
  return { expired, due: due.rows.length };
}

export async function refund(db: Db, input: RefundInput): Promise<RefundResult> {
  const key = requireKey(input.idempotencyKey);
  const holdId = requireUuid(input.holdId, 'holdId', 'HoldNotFound');
  const amount = parsePositiveCredits(input.amountCredits);
  const now = nowOf(input);
  const refs = references(input as unknown as Json);
  const hash = requestHash('refund', { holdId, amount, ...refs });
  const r = await callLedgerFunction<Json>(db, 'ledger_refund', {
    key, hash, now, hold_id: holdId, amount, refund_days: refundDays(input, now), refs,
  });
  return {
    operationId: String(r['operation_id']),
    replayed: r['replayed'] === true,
    holdId: String(r['hold_id']),
    walletId: String(r['wallet_id']),
    refundedCredits: creditsFromDb(r['refunded']),
    allocations: lotAmountsFromJson(r['allocations']),
    refundLotId: r['refund_lot_id'] === null || r['refund_lot_id'] === undefined ? null : String(r['refund_lot_id']),
    refundLotCredits: creditsFromDb(r['refund_lot_amount'] ?? 0),
  };
}

async function closeLot(db: Db, mode: 'expire' | 'revoke', input: ExpireLotInput & { actor?: string; reason?: string }): Promise<LotClosureResult> {
  const key = requireKey(input.idempotencyKey);
  const lotId = requireUuid(input.lotId, 'lotId', 'LotNotFound');
  const now = nowOf(input);
  const refs = references(input as unknown as Json);
  const hash = requestHash(mode, { lotId, ...refs });
  const r = await callLedgerFunction<Json>(db, 'ledger_close_lot', { key, hash, now, mode, lot_id: lotId, refs });
  return {
    operationId: String(r['operation_id']),
    replayed: r['replayed'] === true,
    lotId: String(r['lot_id']),
    walletId: String(r['wallet_id']),
    amountCredits: creditsFromDb(r['amount']),
  };
}

/** Expire a lot's available credits (any time: its timer, or account deletion). Held credits stay held. */
export async function expireLot(db: Db, input: ExpireLotInput): Promise<LotClosureResult> {
  return closeLot(db, 'expire', input);
}

/** Revoke a lot's available credits (e.g. a charged-back purchase). Held credits stay held. */
export async function revokeLot(db: Db, input: RevokeLotInput): Promise<LotClosureResult> {
  return closeLot(db, 'revoke', input);
}

/** Positive: a new adjustment lot. Negative: debit available credits in consumption order (or refuse). */
export async function adjust(db: Db, input: AdjustInput): Promise<AdjustResult> {
  const key = requireKey(input.idempotencyKey);
  const walletId = requireUuid(input.walletId, 'walletId', 'WalletNotFound');
  const delta = parseNonZeroCredits(input.deltaCredits);
  const reason = requireText(input.reason, 'reason');
  const actor = requireText(input.actor, 'actor');
  const now = nowOf(input);
  let expiresAt: Date | null = null;
  if (delta > 0) {
    if (input.expiresAt !== undefined) {
      expiresAt = requireDate(input.expiresAt, 'expiresAt');
    } else {
      let computed: Date;
      try {
        computed = computeLotExpiry({ kind: 'adjustment', grantedAt: now, validityDays: input.validityDays });
      } catch (e) {
        // A RangeError of the policy (validityDays not a positive integer): a refusal, as in grantLot.
        throw new LedgerError('InvalidInput', (e as Error).message, { field: 'validity' });
      }
      expiresAt = requireDate(computed, 'validity');
    }
    requireAfter(expiresAt, now, 'expiresAt');
  }
  const hash = requestHash('adjust', { walletId, delta, reason, actor, ...validityContent(input) });
  const r = await callLedgerFunction<Json>(db, 'ledger_adjust', {
    key, hash, now, wallet_id: walletId, delta, expires_at: expiresAt, refs: { actor, reason },
  });
  return {
    operationId: String(r['operation_id']),
    replayed: r['replayed'] === true,
    walletId: String(r['wallet_id']),
    deltaCredits: creditsFromDb(r['delta']),
    lotId: r['lot_id'] === null || r['lot_id'] === undefined ? null : String(r['lot_id']),
    allocations: lotAmountsFromJson(r['allocations']),
  };
}
