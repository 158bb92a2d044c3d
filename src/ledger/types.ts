/**
 * Public types of the credit ledger (architecture §2).
 *
 * Units: every amount is a whole number of credits, typed `number` and always a safe integer
 * (≤ 2^53-1). Postgres stores them as `bigint`; the ledger converts deliberately in both directions
 * (see amounts.ts) and never lets a float or an unsafe integer through.
 * Ids are UUID strings. Times are `Date`.
 */
import type { Pool, PoolClient } from 'pg';

/** Anything the ledger can run its queries on. Mutations are single statements, so a Pool is enough. */
export type Db = Pool | PoolClient;

export type OwnerType = 'user' | 'organization';
export type WalletStatus = 'active' | 'closed';
export type LotKind = 'promotional' | 'membership' | 'purchased' | 'bulk' | 'refund' | 'adjustment';
export type LotStatus = 'active' | 'expired' | 'revoked';
export type HoldState = 'pending' | 'captured' | 'released' | 'expired';
export type JournalKind = 'grant' | 'hold' | 'capture' | 'release' | 'refund' | 'expire' | 'revoke' | 'adjust';

export interface Wallet {
  walletId: string;
  ownerType: OwnerType;
  ownerId: string;
  status: WalletStatus;
  createdAt: Date;
  closedAt: Date | null;
}

export interface CreateWalletInput {
  ownerType: OwnerType;
  ownerId: string;
}
/** A wallet per owner: creating it again returns the existing one (`created: false`). */
export interface CreateWalletResult {
  wallet: Wallet;
  created: boolean;
}

export interface CloseWalletInput {
  walletId: string;
  now?: Date;
}

export interface OrganizationMember {
  organizationId: string;
  userId: string;
  role: string;
  addedAt: Date;
}
export interface AddOrganizationMemberInput {
  organizationId: string;
  userId: string;
  role?: string;
}
export interface RemoveOrganizationMemberInput {
  organizationId: string;
  userId: string;
}
export interface ListOrganizationMembersInput {
  organizationId: string;
}
export interface CanUseWalletInput {
  walletId: string;
  userId: string;
}

/** References a movement may carry; all optional, all stored in the journal. */
export interface LedgerReferences {
  generationId?: string;
  refundRequestId?: string;
  purchaseId?: string;
  subscriptionPeriodId?: string;
  promoId?: string;
  /** Who did it (user id, support agent, system component). */
  actor?: string;
  reason?: string;
}

/** Common to every mutation. `now` defaults to the wall clock; tests and workflows may pin it. */
export interface MutationBase {
  idempotencyKey: string;
  now?: Date;
}

/** For operations that may return credits to an expired/revoked lot: validity of the new refund lot. */
export interface RefundLotOptions {
  /** Default 30 days (DEFAULT_LOT_VALIDITY.refundDays). */
  refundLotValidityDays?: number;
}

export interface GrantLotInput extends MutationBase, LedgerReferences {
  walletId: string;
  kind: LotKind;
  amountCredits: number | bigint;
  /** Explicit expiry; otherwise computed by src/policy/lot-validity.ts from kind and the fields below. */
  expiresAt?: Date;
  /** membership: end of the billing period the credits belong to. */
  periodEnd?: Date;
  /** bulk: number of packages bought at once (N packages → N months). */
  bulkPackages?: number;
  /** refund / adjustment (or any kind): validity in days, overriding the kind's default. */
  validityDays?: number;
}

export interface Lot {
  lotId: string;
  walletId: string;
  kind: LotKind;
  status: LotStatus;
  grantedAt: Date;
  expiresAt: Date;
  grantedCredits: number;
  availableCredits: number;
  heldCredits: number;
  consumedCredits: number;
  expiredCredits: number;
  revokedCredits: number;
  purchaseId: string | null;
  subscriptionPeriodId: string | null;
  promoId: string | null;
  refundRequestId: string | null;
}

/** Every mutation result says which operation produced it and whether this call was a replay. */
export interface OperationResultBase {
  operationId: string;
  /** true when the idempotency key had already been used with the same content: nothing changed. */
  replayed: boolean;
}

export interface GrantLotResult extends OperationResultBase {
  lot: Lot;
}

export interface ReserveInput extends MutationBase {
  walletId: string;
  amountCredits: number | bigint;
  /** When the safety net (releaseExpiredHolds) may release this hold. */
  holdExpiresAt: Date;
  generationId?: string;
  actor?: string;
  reason?: string;
}
export interface LotAmount {
  lotId: string;
  amountCredits: number;
}
export interface ReserveResult extends OperationResultBase {
  holdId: string;
  walletId: string;
  amountCredits: number;
  expiresAt: Date;
  /** In consumption order. */
  allocations: LotAmount[];
}

export interface CaptureInput extends MutationBase, RefundLotOptions {
  holdId: string;
  /** Defaults to the whole hold; a smaller amount captures that much and releases the rest. */
  amountCredits?: number | bigint;
  actor?: string;
  reason?: string;
}
export interface ReleaseInput extends MutationBase, RefundLotOptions {
  holdId: string;
  actor?: string;
  reason?: string;
}
export interface ExpireHoldInput extends MutationBase, RefundLotOptions {
  holdId: string;
}
export interface SettlementAllocation {
  lotId: string;
  capturedCredits: number;
  releasedCredits: number;
}
/** Result of capture, release and hold expiry. */
export interface SettleResult extends OperationResultBase {
  holdId: string;
  walletId: string;
  state: Exclude<HoldState, 'pending'>;
  capturedCredits: number;
  releasedCredits: number;
  allocations: SettlementAllocation[];
  /** Released credits whose lot had expired (or was revoked) come back in this new refund lot. */
  refundLotId: string | null;
}

export interface ReleaseExpiredHoldsInput extends RefundLotOptions {
  now: Date;
  /** At most this many holds per call (default 100). */
  limit?: number;
}
export interface ReleaseExpiredHoldsResult {
  expired: SettleResult[];
  /**
   * How many holds were due when the batch was read (at most `limit`): those expired here, and those their
   * owner settled meanwhile. Fewer than `limit` means no hold was left due at `now`.
   */
  due: number;
}

export interface RefundInput extends MutationBase, RefundLotOptions {
  holdId: string;
  amountCredits: number | bigint;
  refundRequestId?: string;
  actor?: string;
  reason?: string;
}
export interface RefundResult extends OperationResultBase {
  holdId: string;
  walletId: string;
  refundedCredits: number;
  /** Credits returned to their original (still valid) lots. */
  allocations: LotAmount[];
  /** Credits whose lot had expired or was revoked, returned as a new refund lot. */
  refundLotId: string | null;
  refundLotCredits: number;
}

export interface ExpireLotInput extends MutationBase {
  lotId: string;
}
export interface RevokeLotInput extends MutationBase {
  lotId: string;
  actor?: string;
  reason?: string;
}
export interface LotClosureResult extends OperationResultBase {
  lotId: string;
  walletId: string;
  /** expired or revoked credits (the lot's available credits at that moment; held ones stay held). */
  amountCredits: number;
}

export interface AdjustInput extends MutationBase {
  walletId: string;
  /** Signed: positive grants a new adjustment lot, negative debits available credits in consumption order. */
  deltaCredits: number | bigint;
  reason: string;
  actor: string;
  expiresAt?: Date;
  validityDays?: number;
}
export interface AdjustResult extends OperationResultBase {
  walletId: string;
  deltaCredits: number;
  /** Positive adjustment: the new lot. */
  lotId: string | null;
  /** Negative adjustment: the lots debited. */
  allocations: LotAmount[];
}

export interface GetBalanceInput {
  walletId: string;
  now?: Date;
  /** Include exhausted, expired and revoked lots in `lots` (default false). */
  includeClosedLots?: boolean;
}
export interface Balance {
  walletId: string;
  walletStatus: WalletStatus;
  /** Usable now: available credits of active lots not past their expiry. */
  availableCredits: number;
  /** Reserved by pending holds, including credits of lots that expired or were revoked while held. */
  heldCredits: number;
  nextExpiryAt: Date | null;
  /**
   * In consumption order: the usable lots with credits, and any lot still holding credits; every lot with
   * `includeClosedLots`.
   */
  lots: Lot[];
}

export interface JournalEntry {
  entryId: string;
  operationId: string;
  idempotencyKey: string;
  kind: JournalKind;
  amountCredits: number;
  walletId: string;
  lotId: string;
  holdId: string | null;
  /** Counter deltas this row applied to its lot. */
  deltas: { available: number; held: number; consumed: number; expired: number; revoked: number };
  generationId: string | null;
  refundRequestId: string | null;
  purchaseId: string | null;
  subscriptionPeriodId: string | null;
  actor: string | null;
  reason: string | null;
  createdAt: Date;
}
export interface ListJournalInput {
  walletId: string;
  kind?: JournalKind;
  lotId?: string;
  holdId?: string;
  generationId?: string;
  from?: Date;
  /** Exclusive. */
  to?: Date;
  /** Default 50, at most 500. */
  limit?: number;
  /** `nextCursor` of the previous page. Pages go newest first. */
  cursor?: string;
}
export interface JournalPage {
  entries: JournalEntry[];
  nextCursor: string | null;
}

export interface Hold {
  holdId: string;
  walletId: string;
  state: HoldState;
  amountCredits: number;
  capturedCredits: number;
  releasedCredits: number;
  refundedCredits: number;
  expiresAt: Date;
  generationId: string | null;
  createdAt: Date;
  resolvedAt: Date | null;
  allocations: LotAmount[];
}

export interface AuditViolation {
  /** e.g. 'lot_counter_mismatch', 'lot_conservation', 'hold_allocation_sum', 'journal_signature'. */
  check: string;
  walletId: string | null;
  lotId: string | null;
  holdId: string | null;
  details: Record<string, unknown>;
}
export interface AuditInput {
  walletId?: string;
}
export interface AuditResult {
  ok: boolean;
  violations: AuditViolation[];
}
