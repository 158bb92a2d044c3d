/**
 * Every ledger mutation is ONE call of a plpgsql function (migrations/0001_ledger.sql) taking and returning
 * jsonb: one round trip, one implicit transaction, row locks taken in a fixed order inside Postgres.
 * Refusals are raised there with SQLSTATE LDG01, the error code as message and jsonb details; they roll
 * the whole statement back, so a refusal leaves no trace. This module maps them to LedgerError.
 */
import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import type { Db } from './types';
import { GroupFailedError, callBatched, timedOutInGroup } from './batcher';
import { LedgerError, isLedgerErrorCode } from './errors';
import { unstorableTextReason } from '../db/text';

const LEDGER_SQLSTATE = 'LDG01';

interface PgErrorLike {
  code?: string;
  message?: string;
  detail?: string;
  constraint?: string;
}

export function toLedgerError(e: unknown): unknown {
  const pe = e as PgErrorLike;
  if (pe && pe.code === LEDGER_SQLSTATE && typeof pe.message === 'string' && isLedgerErrorCode(pe.message)) {
    let details: Record<string, unknown>;
    try {
      details = pe.detail ? (JSON.parse(pe.detail) as Record<string, unknown>) : {};
    } catch {
      details = { raw: pe.detail };
    }
    return new LedgerError(pe.message, describe(pe.message, details), details);
  }
  if (pe && pe.code === '22P02' && typeof pe.message === 'string' && pe.message.includes('uuid')) {
    // A malformed id can never name an existing row; say so in ledger terms.
    return new LedgerError('InvalidInput', 'malformed id', { message: pe.message });
  }
  return e;
}

function describe(code: string, details: Record<string, unknown>): string {
  switch (code) {
    case 'InsufficientCredits':
      return `insufficient credits: short by ${String(details['shortfallCredits'])}`;
    case 'IdempotencyConflict':
      return `idempotency key ${String(details['idempotencyKey'])} was already used with different content`;
    default:
      return code;
  }
}

/**
 * LDG03: a plan went stale before its guarded update; 40P01/40001 are Postgres' own "try again"; a
 * unique_violation on the operations' key means a concurrent request with the same idempotency key
 * committed first: the retry replays its result (or reports IdempotencyConflict).
 */
const RETRYABLE = new Set(['LDG03', '40P01', '40001']);
function isRetryable(e: PgErrorLike | null): boolean {
  if (!e || e.code === undefined) return false;
  return RETRYABLE.has(e.code) || (e.code === '23505' && e.constraint === 'ledger_operations_pkey');
}
const MAX_ATTEMPTS = 8;
/** After this many stale optimistic plans, a reservation locks its lots up front instead. */
const LOCKING_AFTER = 2;

/**
 * Calls `SELECT <fn>($1::jsonb)` and returns the jsonb result, mapping ledger refusals. Each attempt is
 * its own statement (and, on a Pool, its own transaction), so a retried attempt starts from scratch.
 */
export async function callLedgerFunction<T>(db: Db, fn: LedgerFunction, params: Record<string, unknown>): Promise<T> {
  let alone = false;
  for (let attempt = 1; ; attempt++) {
    const body = attempt > LOCKING_AFTER ? { ...params, locking: true } : params;
    try {
      return (await execute(db, fn, JSON.stringify(body), alone)) as T;
    } catch (e) {
      if ((e instanceof GroupFailedError || timedOutInGroup(e)) && !alone) {
        // Its group could not answer for it, or it waited too long for a lock there: once, alone — even on the
        // last attempt, so a group's internal error never reaches the caller.
        alone = true;
        continue;
      }
      if (isRetryable(e as PgErrorLike | null) && attempt < MAX_ATTEMPTS && !isInsideTransaction(db)) continue;
      throw toLedgerError(e instanceof GroupFailedError ? e.cause : e);
    }
  }
}

/** A checked-out client may be inside the caller's transaction, which an error has aborted: no retry there. */
function isInsideTransaction(db: Db): boolean {
  return !('totalCount' in db);
}

/**
 * One attempt. On a Pool, reservations and settlements are grouped with concurrent ones (batcher.ts) unless
 * `alone`; on a caller's client the call runs alone, inside whatever transaction the caller has open.
 */
async function execute(db: Db, fn: LedgerFunction, body: string, alone: boolean): Promise<unknown> {
  if (!alone && (fn === 'ledger_reserve' || fn === 'ledger_settle') && !isInsideTransaction(db)) {
    return callBatched(db as Pool, fn, body);
  }
  // A named statement: each pooled connection parses and plans it once, not on every call.
  const res = await db.query<{ r: unknown }>({ name: fn, text: `SELECT ${fn}($1::jsonb) AS r`, values: [body] });
  const row = res.rows[0];
  if (!row) throw new Error(`ledger: ${fn} returned no row`);
  return row.r;
}

export type LedgerFunction =
  | 'ledger_grant'
  | 'ledger_reserve'
  | 'ledger_settle'
  | 'ledger_refund'
  | 'ledger_close_lot'
  | 'ledger_adjust';

/**
 * The request hash compared on idempotent replays: the economic content (operation, ids, amounts, kinds,
 * references, and a new lot's validity inputs as the caller gave them). `now`, the hold expiry and a lot
 * expiry computed from `now` are left out on purpose: a retried activity may recompute them, and that must
 * replay, not conflict. Keys whose value is undefined are left out.
 */
export function requestHash(operation: string, content: Record<string, unknown>): string {
  const keys = Object.keys(content).filter((k) => content[k] !== undefined).sort();
  const canonical = JSON.stringify([operation, keys.map((k) => [k, String(content[k])])]);
  return createHash('sha256').update(canonical).digest('hex');
}

export function requireKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > 200) {
    throw new LedgerError('InvalidInput', 'idempotencyKey must be a non-empty string of at most 200 characters', {
      field: 'idempotencyKey',
    });
  }
  return requireStorableText(key, 'idempotencyKey');
}

/**
 * Text Postgres can store: `text` refuses NUL and `jsonb` (every operation's parameters) also refuses lone
 * UTF-16 surrogates — and a pg `text` parameter silently turns a lone surrogate into U+FFFD, so two different
 * strings would become one. Refused here, before any SQL, instead of failing inside Postgres (or a whole group).
 */
export function requireStorableText(s: string, field: string): string {
  const reason = unstorableTextReason(s);
  if (reason !== null) throw new LedgerError('InvalidInput', `${field} ${reason}`, { field });
  return s;
}

/**
 * Dates travel to Postgres as JSON (toISOString), which writes a year outside 0000–9999 as ±YYYYYY — text
 * Postgres misreads ("time zone displacement out of range"). The ledger's dates stay within years 1–9999.
 */
const MIN_DATE_MS = Date.parse('0001-01-01T00:00:00.000Z');
const MAX_DATE_MS = Date.parse('9999-12-31T23:59:59.999Z');

export function isStorableDate(d: Date): boolean {
  const t = d.getTime();
  return !Number.isNaN(t) && t >= MIN_DATE_MS && t <= MAX_DATE_MS;
}

export function requireDate(d: unknown, field: string): Date {
  if (!(d instanceof Date) || !isStorableDate(d)) {
    throw new LedgerError('InvalidInput', `${field} must be a valid Date within the years 1–9999`, { field });
  }
  return d;
}

/** A page size as given (truncated; clamped by the caller), or the default; NaN or a non-number is refused. */
export function pageLimit(value: unknown, dflt: number): number {
  if (value === undefined) return dflt;
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new LedgerError('InvalidInput', 'limit must be a number', { field: 'limit' });
  }
  return Math.trunc(value);
}

export function requireText(s: unknown, field: string): string {
  if (typeof s !== 'string' || s.length === 0) {
    throw new LedgerError('InvalidInput', `${field} must be a non-empty string`, { field });
  }
  return requireStorableText(s, field);
}
