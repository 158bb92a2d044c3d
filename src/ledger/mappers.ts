/** Row/jsonb → public types. Every credits value passes creditsFromDb (bigint-as-string safe). */
import { creditsFromDb } from './amounts';
import type { Hold, HoldState, JournalEntry, JournalKind, Lot, LotAmount, LotKind, LotStatus, Wallet, WalletStatus, OwnerType } from './types';

type Row = Record<string, unknown>;

const str = (v: unknown): string => String(v);
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const date = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));
const dateOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : date(v));

export function walletFromRow(r: Row): Wallet {
  return {
    walletId: str(r['id']),
    ownerType: str(r['owner_type']) as OwnerType,
    ownerId: str(r['owner_id']),
    status: str(r['status']) as WalletStatus,
    createdAt: date(r['created_at']),
    closedAt: dateOrNull(r['closed_at']),
  };
}

export function lotFromRow(r: Row): Lot {
  return {
    lotId: str(r['id']),
    walletId: str(r['wallet_id']),
    kind: str(r['kind']) as LotKind,
    status: str(r['status']) as LotStatus,
    grantedAt: date(r['granted_at']),
    expiresAt: date(r['expires_at']),
    grantedCredits: creditsFromDb(r['granted']),
    availableCredits: creditsFromDb(r['available']),
    heldCredits: creditsFromDb(r['held']),
    consumedCredits: creditsFromDb(r['consumed']),
    expiredCredits: creditsFromDb(r['expired']),
    revokedCredits: creditsFromDb(r['revoked']),
    purchaseId: strOrNull(r['purchase_id']),
    subscriptionPeriodId: strOrNull(r['subscription_period_id']),
    promoId: strOrNull(r['promo_id']),
    refundRequestId: strOrNull(r['refund_request_id']),
  };
}

export function lotAmountsFromJson(v: unknown): LotAmount[] {
  const arr = Array.isArray(v) ? (v as Row[]) : [];
  return arr.map((a) => ({ lotId: str(a['lot_id']), amountCredits: creditsFromDb(a['amount']) }));
}

export function journalFromRow(r: Row): JournalEntry {
  return {
    entryId: str(r['id']),
    operationId: str(r['operation_id']),
    idempotencyKey: str(r['idempotency_key']),
    kind: str(r['kind']) as JournalKind,
    amountCredits: creditsFromDb(r['amount']),
    walletId: str(r['wallet_id']),
    lotId: str(r['lot_id']),
    holdId: strOrNull(r['hold_id']),
    deltas: {
      available: creditsFromDb(r['d_available']),
      held: creditsFromDb(r['d_held']),
      consumed: creditsFromDb(r['d_consumed']),
      expired: creditsFromDb(r['d_expired']),
      revoked: creditsFromDb(r['d_revoked']),
    },
    generationId: strOrNull(r['generation_id']),
    refundRequestId: strOrNull(r['refund_request_id']),
    purchaseId: strOrNull(r['purchase_id']),
    subscriptionPeriodId: strOrNull(r['subscription_period_id']),
    actor: strOrNull(r['actor']),
    reason: strOrNull(r['reason']),
    createdAt: date(r['created_at']),
  };
}

export function holdFromRow(r: Row, allocations: LotAmount[]): Hold {
  return {
    holdId: str(r['id']),
    walletId: str(r['wallet_id']),
    state: str(r['state']) as HoldState,
    amountCredits: creditsFromDb(r['amount']),
    capturedCredits: creditsFromDb(r['captured']),
    releasedCredits: creditsFromDb(r['released']),
    refundedCredits: creditsFromDb(r['refunded']),
    expiresAt: date(r['expires_at']),
    generationId: strOrNull(r['generation_id']),
    createdAt: date(r['created_at']),
    resolvedAt: dateOrNull(r['resolved_at']),
    allocations,
  };
}
