/**
 * SQL for the `generations` table, one function per statement. Every write is idempotent because activities
 * that call them may run more than once.
 */
import type { Pool } from 'pg';
import { unstorableTextReason } from '../db/text';
import { creditsFromDb } from '../ledger';
import type { GenerationInput, GenerationQuote, OutcomeReport, Settlement } from '../workflows/generation-contract';
import type { GenerationRecord, GenerationRecordStatus } from './types';

// The statements a generation runs on its way (reserve, settle, the start's read) are named, so Postgres
// parses and plans each once per connection: planning them cost more than running them. Named statements
// list their result columns rather than `*`, which a later added column would turn into an error ("cached
// plan must not change result type") on every connection that prepared them before.
const RECORD_COLUMNS = `generation_id, wallet_id, user_id, feature, params, platform, context, status,
  price_book_version, cost_credits, quote, hold_id, outcome, settlement, failure_reason, rejection, created_at,
  reserved_at, settled_at, updated_at`;

export interface RecordReservationInput {
  generation: GenerationInput;
  quote: GenerationQuote;
  holdId: string;
}

/** A generation retried after a refusal takes over the rejected row; a reserved one is left as it is. */
export async function recordReservation(pool: Pool, input: RecordReservationInput): Promise<GenerationRecord> {
  const g = input.generation;
  const { rows } = await pool.query({
    name: 'generations_record_reservation',
    text: `INSERT INTO generations AS g (generation_id, wallet_id, user_id, feature, params, platform, context, status,
                                   price_book_version, cost_credits, quote, hold_id, reserved_at)
     VALUES ($1, $2::uuid, $3, $4, $5::jsonb, $6, $7, 'reserved', $8, $9::bigint, $10::jsonb, $11::uuid, now())
     ON CONFLICT (generation_id) DO UPDATE
       SET status = 'reserved', wallet_id = EXCLUDED.wallet_id, user_id = EXCLUDED.user_id, feature = EXCLUDED.feature,
           params = EXCLUDED.params, platform = EXCLUDED.platform, context = EXCLUDED.context,
           price_book_version = EXCLUDED.price_book_version, cost_credits = EXCLUDED.cost_credits,
           quote = EXCLUDED.quote, hold_id = EXCLUDED.hold_id, rejection = NULL, reserved_at = now(), updated_at = now()
       WHERE g.status = 'rejected'
     RETURNING ${RECORD_COLUMNS}`,
    values: [g.generationId, g.walletId, g.userId, g.feature, JSON.stringify(g.params), g.platform, g.context ?? null,
      input.quote.priceBookVersion, input.quote.costCredits, JSON.stringify(input.quote), input.holdId],
  });
  return rows[0] ? toRecord(rows[0]) : (await getGeneration(pool, g.generationId))!;
}

export interface RecordRejectionInput {
  generation: GenerationInput;
  quote: GenerationQuote;
  rejection: { code: string; message: string; shortfallCredits?: number };
}

/** The latest refused attempt describes the row (a retry may come with other content, e.g. another wallet). */
export async function recordRejection(pool: Pool, input: RecordRejectionInput): Promise<void> {
  const g = input.generation;
  await pool.query(
    `INSERT INTO generations AS g (generation_id, wallet_id, user_id, feature, params, platform, context, status,
                                   price_book_version, cost_credits, quote, rejection)
     VALUES ($1, $2::uuid, $3, $4, $5::jsonb, $6, $7, 'rejected', $8, $9::bigint, $10::jsonb, $11::jsonb)
     ON CONFLICT (generation_id) DO UPDATE
       SET wallet_id = EXCLUDED.wallet_id, user_id = EXCLUDED.user_id, feature = EXCLUDED.feature, params = EXCLUDED.params,
           platform = EXCLUDED.platform, context = EXCLUDED.context, price_book_version = EXCLUDED.price_book_version,
           cost_credits = EXCLUDED.cost_credits, quote = EXCLUDED.quote, rejection = EXCLUDED.rejection, updated_at = now()
       WHERE g.status = 'rejected'`,
    [g.generationId, safeUuid(g.walletId), g.userId, g.feature, JSON.stringify(g.params), g.platform, g.context ?? null,
      input.quote.priceBookVersion, input.quote.costCredits, JSON.stringify(input.quote), JSON.stringify(input.rejection)],
  );
}

export interface RecordSettlementInput {
  settlement: Settlement;
  status: Exclude<GenerationRecordStatus, 'reserved' | 'rejected'>;
  outcome: OutcomeReport | undefined;
}

/** The first settlement recorded wins; a retried activity gets that one back, so every caller sees the same. */
export async function recordSettlement(pool: Pool, input: RecordSettlementInput): Promise<Settlement> {
  const s = input.settlement;
  const { rows } = await pool.query({
    name: 'generations_record_settlement',
    text: `UPDATE generations
        SET status = $2, settlement = $3::jsonb, outcome = $4::jsonb, failure_reason = $5,
            settled_at = $6::timestamptz, updated_at = now()
      WHERE generation_id = $1 AND status = 'reserved'
      RETURNING settlement`,
    values: [s.generationId, input.status, JSON.stringify(s), input.outcome ? JSON.stringify(input.outcome) : null,
      s.reason === 'succeeded' ? null : s.reason, s.settledAt],
  });
  if (rows[0]) return rows[0].settlement as Settlement;
  const existing = await getGeneration(pool, s.generationId);
  if (!existing?.settlement) throw new Error(`generation ${s.generationId} has no reservation to settle`);
  return existing.settlement;
}

export async function getGeneration(pool: Pool, generationId: string): Promise<GenerationRecord | null> {
  const { rows } = await pool.query({
    name: 'generations_get', text: `SELECT ${RECORD_COLUMNS} FROM generations WHERE generation_id = $1`, values: [generationId],
  });
  return rows[0] ? toRecord(rows[0]) : null;
}

/** The last row of a page: the next page starts after it. */
export interface GenerationsCursorPosition {
  createdAt: string;
  generationId: string;
}

export interface ListWalletGenerationsInput {
  walletId: string;
  limit: number;
  /** Where the previous page ended (its `nextCursor`, read by decodeGenerationsCursor); pages go newest first. */
  cursor?: GenerationsCursorPosition;
  status?: GenerationRecordStatus;
}

export async function listWalletGenerations(
  pool: Pool,
  input: ListWalletGenerationsInput,
): Promise<{ generations: GenerationRecord[]; nextCursor: string | null }> {
  // The cursor keeps created_at to the microsecond: cut to milliseconds, it would skip the rows created
  // earlier within the last row's millisecond.
  const { rows } = await pool.query(
    `SELECT *, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_created_at
       FROM generations
      WHERE wallet_id = $1::uuid
        AND ($2::text IS NULL OR status = $2)
        AND ($3::timestamptz IS NULL OR (created_at, generation_id) < ($3::timestamptz, $4::text))
      ORDER BY created_at DESC, generation_id DESC
      LIMIT $5`,
    [input.walletId, input.status ?? null, input.cursor?.createdAt ?? null, input.cursor?.generationId ?? null, input.limit + 1],
  );
  const page = rows.slice(0, input.limit);
  const last = page[page.length - 1];
  const nextCursor = rows.length > input.limit && last ? encodeCursor(last.cursor_created_at, last.generation_id) : null;
  return { generations: page.map(toRecord), nextCursor };
}

function encodeCursor(createdAt: string, generationId: string): string {
  return Buffer.from(JSON.stringify([createdAt, generationId])).toString('base64url');
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;
const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(\d{3})?Z$/;

/** What the table holds (1-200 characters) and Postgres text can carry: no NUL, no unpaired surrogate. */
const isGenerationId = (id: unknown): id is string =>
  typeof id === 'string' && id.length >= 1 && id.length <= 200 && unstorableTextReason(id) === null;

/**
 * The position a `nextCursor` names, or null if `cursor` is not one encodeCursor made: the HTTP query schema
 * refuses it with a 400 (a cursor read loosely would either fail in Postgres or silently restart at page 1).
 */
export function decodeGenerationsCursor(cursor: string): GenerationsCursorPosition | null {
  if (!BASE64URL.test(cursor)) return null;
  let position: unknown;
  try {
    position = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (!Array.isArray(position) || position.length !== 2) return null;
  const [createdAt, generationId] = position as unknown[];
  if (typeof createdAt !== 'string' || !isGenerationId(generationId)) return null;
  // Exactly the form encodeCursor writes, a real instant: UTC, microseconds (milliseconds in older cursors).
  if (!CURSOR_TIME.test(createdAt)) return null;
  const ms = Date.parse(createdAt);
  if (Number.isNaN(ms) || new Date(ms).toISOString() !== `${createdAt.slice(0, 23)}Z`) return null;
  return { createdAt, generationId };
}

/** A rejection for an unknown, malformed wallet id is still recorded; the nil uuid stands for "no such wallet". */
function safeUuid(id: string): string {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id) ? id : '00000000-0000-0000-0000-000000000000';
}

function toRecord(row: Record<string, unknown>): GenerationRecord {
  return {
    generationId: row.generation_id as string,
    walletId: row.wallet_id as string,
    userId: row.user_id as string,
    feature: row.feature as string,
    params: row.params as Record<string, unknown>,
    platform: row.platform as GenerationRecord['platform'],
    context: (row.context as string | null) ?? null,
    status: row.status as GenerationRecordStatus,
    priceBookVersion: row.price_book_version as string,
    costCredits: creditsFromDb(row.cost_credits),
    quote: row.quote as GenerationQuote,
    holdId: (row.hold_id as string | null) ?? null,
    outcome: (row.outcome as OutcomeReport | null) ?? null,
    settlement: (row.settlement as Settlement | null) ?? null,
    failureReason: (row.failure_reason as string | null) ?? null,
    rejection: (row.rejection as GenerationRecord['rejection']) ?? null,
    createdAt: row.created_at as Date,
    reservedAt: (row.reserved_at as Date | null) ?? null,
    settledAt: (row.settled_at as Date | null) ?? null,
    updatedAt: row.updated_at as Date,
  };
}
