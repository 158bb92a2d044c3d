/** Reads: balance, holds and journal pages. Plain SELECTs; no locks. */
import type { Balance, Db, GetBalanceInput, Hold, JournalPage, ListJournalInput } from './types';
import { LedgerError } from './errors';
import { creditsFromDb } from './amounts';
import { holdFromRow, journalFromRow, lotAmountsFromJson, lotFromRow } from './mappers';
import { requireUuid } from './wallets';
import { pageLimit, requireDate, requireStorableText } from './sql-call';

const LOT_COLUMNS = `id::text AS id, wallet_id::text AS wallet_id, kind, status, granted_at, expires_at,
  granted::text AS granted, available::text AS available, held::text AS held, consumed::text AS consumed,
  expired::text AS expired, revoked::text AS revoked, purchase_id, subscription_period_id, promo_id, refund_request_id`;

/**
 * Lots in consumption order: expiry, then kind rank, then grant time, then id (same as reservations).
 * One statement for the wallet and its lots: every response about a wallet reads this (its headers).
 */
export async function getBalance(db: Db, input: GetBalanceInput): Promise<Balance> {
  const walletId = requireUuid(input.walletId, 'walletId', 'WalletNotFound');
  const now = input.now === undefined ? new Date() : requireDate(input.now, 'now');
  // Named: every response about a wallet reads its balance, and planning this join cost several times its run.
  const res = await db.query({
    name: 'ledger_get_balance',
    text: `SELECT w.status AS wallet_status, l.*
     FROM ledger_wallets w
     LEFT JOIN LATERAL (
       SELECT ${LOT_COLUMNS}, ledger_lots.id AS lot_uuid, kind_rank FROM ledger_lots
       WHERE wallet_id = w.id AND ($3::boolean OR held > 0 OR (status = 'active' AND expires_at > $2::timestamptz AND available > 0))
     ) l ON true
     WHERE w.id = $1::uuid
     ORDER BY l.expires_at, l.kind_rank, l.granted_at, l.lot_uuid`,
    values: [walletId, now, input.includeClosedLots === true],
  });
  const first = res.rows[0] as Record<string, unknown> | undefined;
  if (!first) throw new LedgerError('WalletNotFound', 'wallet not found', { walletId });
  const walletStatus = first['wallet_status'] as Balance['walletStatus'];
  // A wallet without lots comes back as one row whose lot columns are all null.
  const lotRows = first['id'] === null ? [] : res.rows;
  const lots = lotRows.map(lotFromRow);
  let available = 0;
  let held = 0;
  let nextExpiryAt: Date | null = null;
  for (const lot of lots) {
    held += lot.heldCredits;
    const usable = lot.status === 'active' && lot.expiresAt.getTime() > now.getTime();
    if (usable && lot.availableCredits > 0) {
      available += lot.availableCredits;
      if (nextExpiryAt === null || lot.expiresAt < nextExpiryAt) nextExpiryAt = lot.expiresAt;
    }
  }
  return { walletId, walletStatus, availableCredits: available, heldCredits: held, nextExpiryAt, lots };
}

export async function getHold(db: Db, input: { holdId: string }): Promise<Hold> {
  const holdId = requireUuid(input.holdId, 'holdId', 'HoldNotFound');
  const res = await db.query(
    `SELECT h.id::text AS id, h.wallet_id::text AS wallet_id, h.state, h.amount::text AS amount,
            h.captured::text AS captured, h.released::text AS released, h.refunded::text AS refunded,
            h.expires_at, h.generation_id, h.created_at, h.resolved_at,
            (SELECT jsonb_agg(jsonb_build_object('lot_id', a.lot_id, 'amount', a.amount) ORDER BY a.seq)
               FROM ledger_hold_allocations a WHERE a.hold_id = h.id) AS allocations
     FROM ledger_holds h WHERE h.id = $1::uuid`,
    [holdId],
  );
  const row = res.rows[0] as Record<string, unknown> | undefined;
  if (!row) throw new LedgerError('HoldNotFound', 'hold not found', { holdId });
  return holdFromRow(row, lotAmountsFromJson(row['allocations']));
}

const JOURNAL_COLUMNS = `id::text AS id, operation_id::text AS operation_id, idempotency_key, kind, amount::text AS amount,
  wallet_id::text AS wallet_id, lot_id::text AS lot_id, hold_id::text AS hold_id,
  d_available::text AS d_available, d_held::text AS d_held, d_consumed::text AS d_consumed,
  d_expired::text AS d_expired, d_revoked::text AS d_revoked,
  generation_id, refund_request_id, purchase_id, subscription_period_id, actor, reason, created_at`;

/** Newest first, keyset-paginated on the journal's id (the cursor is the last id seen). */
export async function listJournal(db: Db, input: ListJournalInput): Promise<JournalPage> {
  const walletId = requireUuid(input.walletId, 'walletId', 'WalletNotFound');
  const limit = Math.min(Math.max(pageLimit(input.limit, 50), 1), 500);
  let cursor: string | null = null;
  if (input.cursor !== undefined) {
    if (!/^\d{1,18}$/.test(input.cursor)) throw new LedgerError('InvalidInput', 'bad cursor', { field: 'cursor' });
    cursor = input.cursor;
  }
  const lotId = input.lotId === undefined ? null : requireUuid(input.lotId, 'lotId', 'LotNotFound');
  const holdId = input.holdId === undefined ? null : requireUuid(input.holdId, 'holdId', 'HoldNotFound');
  const kind = input.kind === undefined || input.kind === null ? null : requireStorableText(String(input.kind), 'kind');
  const generationId = input.generationId === undefined || input.generationId === null ? null
    : requireStorableText(String(input.generationId), 'generationId');
  const from = input.from === undefined || input.from === null ? null : requireDate(input.from, 'from');
  const to = input.to === undefined || input.to === null ? null : requireDate(input.to, 'to');
  const res = await db.query(
    `SELECT ${JOURNAL_COLUMNS} FROM ledger_journal
     WHERE wallet_id = $1::uuid
       AND ($2::bigint IS NULL OR id < $2::bigint)
       AND ($3::text IS NULL OR kind = $3::text)
       AND ($4::uuid IS NULL OR lot_id = $4::uuid)
       AND ($5::uuid IS NULL OR hold_id = $5::uuid)
       AND ($6::text IS NULL OR generation_id = $6::text)
       AND ($7::timestamptz IS NULL OR created_at >= $7::timestamptz)
       AND ($8::timestamptz IS NULL OR created_at < $8::timestamptz)
     ORDER BY ledger_journal.id DESC LIMIT $9::int`, // the table's bigint id, not the text alias
    [walletId, cursor, kind, lotId, holdId, generationId, from, to, limit + 1],
  );
  const rows = res.rows.slice(0, limit).map(journalFromRow);
  const last = rows[rows.length - 1];
  return { entries: rows, nextCursor: res.rows.length > limit && last ? last.entryId : null };
}

/** The number of journal rows (of a wallet, or all): tests use it to prove a refusal left no trace. */
export async function countJournal(db: Db, input: { walletId?: string }): Promise<number> {
  const res = await db.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM ledger_journal WHERE $1::uuid IS NULL OR wallet_id = $1::uuid`,
    [input.walletId ?? null],
  );
  return creditsFromDb(res.rows[0]?.n ?? '0');
}
