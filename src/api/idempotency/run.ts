/**
 * HTTP idempotency (Idempotency-Key on every POST): same key + same route + same body from the same
 * principal replays the first response; anything else under that key is a 409 IdempotencyConflict.
 * Concurrent duplicates cannot both execute: only the request whose INSERT claimed the row runs; the others
 * wait briefly for its response and replay it, or get 409 IdempotencyInProgress.
 */
import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import { ApiError } from '../errors';
import {
  claimKey, completeKey, readRecord, releaseKey, takeOverStaleKey, type IdempotencyScope, type StoredResponse,
} from './store';

export interface IdempotencyOptions {
  /** How long a duplicate waits for the first request to finish before answering 409 in progress. */
  waitForInProgressMs: number;
  /** An in-progress claim this old belongs to a crashed request and may be taken over. */
  staleLockAfterMs: number;
}

export const DEFAULT_IDEMPOTENCY_OPTIONS: IdempotencyOptions = { waitForInProgressMs: 5_000, staleLockAfterMs: 60_000 };

const POLL_INTERVAL_MS = 25;

export interface IdempotentRequest {
  scope: IdempotencyScope;
  /** `POST /path` with its parsed parameters filled in: the same key on another route is a conflict. */
  route: string;
  body: unknown;
}

export interface IdempotentOutcome extends StoredResponse {
  replayed: boolean;
}

/** Key order must not matter: `{a,b}` and `{b,a}` are the same request. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function hashRequestBody(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body ?? null)).digest('hex');
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

type ToStored = (response: StoredResponse) => StoredResponse;

async function executeAndRecord(
  pool: Pool, scope: IdempotencyScope, execute: () => Promise<StoredResponse>, toStored: ToStored,
): Promise<IdempotentOutcome> {
  let response: StoredResponse;
  try {
    response = await execute();
  } catch (error) {
    await releaseKey(pool, scope);
    throw error;
  }
  // A 5xx says nothing about the request itself; let the client's retry run again instead of replaying it.
  if (response.status >= 500) await releaseKey(pool, scope);
  else await completeKey(pool, scope, toStored(response));
  return { ...response, replayed: false };
}

export async function runIdempotent(
  pool: Pool,
  request: IdempotentRequest,
  execute: () => Promise<StoredResponse>,
  options: IdempotencyOptions = DEFAULT_IDEMPOTENCY_OPTIONS,
  toStored: ToStored = (response) => response,
): Promise<IdempotentOutcome> {
  const requestHash = hashRequestBody(request.body);
  const deadline = Date.now() + options.waitForInProgressMs;
  for (;;) {
    if (await claimKey(pool, request.scope, request.route, requestHash)) {
      return executeAndRecord(pool, request.scope, execute, toStored);
    }
    const record = await readRecord(pool, request.scope);
    if (!record) continue; // released by a failed first attempt: claim again
    if (record.route !== request.route || record.requestHash !== requestHash) {
      throw new ApiError('IdempotencyConflict', 'Idempotency-Key was already used with a different request', {
        idempotencyKey: request.scope.idempotencyKey,
      });
    }
    if (record.response) return { ...record.response, replayed: true };
    if (record.lockAgeMs > options.staleLockAfterMs && (await takeOverStaleKey(pool, request.scope, options.staleLockAfterMs))) {
      return executeAndRecord(pool, request.scope, execute, toStored);
    }
    if (Date.now() >= deadline) {
      throw new ApiError('IdempotencyInProgress', 'a request with this Idempotency-Key is still in progress; retry later', {
        idempotencyKey: request.scope.idempotencyKey,
      });
    }
    await sleep(POLL_INTERVAL_MS);
  }
}

/** The key handed to the ledger, so its own idempotency also holds if our HTTP record is ever lost. */
export function ledgerKeyFor(scope: IdempotencyScope): string {
  return `http:${scope.principalId}:${scope.idempotencyKey}`;
}
