/**
 * HTTP idempotency (Idempotency-Key on every POST): same key + same route + same body from the same
 * principal replays the first response; anything else under that key is a 409 IdempotencyConflict.
 * Concurrent duplicates cannot both execute: only the request whose INSERT claimed the row runs; the others
 * wait briefly for its response and replay it, or get 409 IdempotencyInProgress.
 */
import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { ApiError } from '../errors';
import {
  claimKey, completeKey, readRecord, refreshClaim, releaseKey, takeOverStaleKey, type IdempotencyScope, type StoredResponse,
} from './store';

export interface IdempotencyOptions {
  /** How long a duplicate waits for the first request to finish before answering 409 in progress. */
  waitForInProgressMs: number;
  /**
   * An in-progress claim not refreshed for this long belongs to a crashed request and may be taken over. A
   * running request refreshes its claim every `lockRefreshIntervalMs`, however long it runs.
   */
  staleLockAfterMs: number;
  /** How often a running request refreshes its claim; must be well inside staleLockAfterMs (default: a quarter of it). */
  lockRefreshIntervalMs?: number;
  /**
   * Waits between the attempts to write the completed record before answering; if all fail, the write is
   * retried in the background (every lockRefreshIntervalMs) while the claim is kept fresh.
   */
  recordRetryDelaysMs: readonly number[];
}

export const DEFAULT_IDEMPOTENCY_OPTIONS: IdempotencyOptions = {
  waitForInProgressMs: 5_000, staleLockAfterMs: 60_000, recordRetryDelaysMs: [50, 250, 1_000],
};

const POLL_INTERVAL_MS = 25;

export interface IdempotentRequest {
  scope: IdempotencyScope;
  /** `POST /path` with its parsed parameters filled in: the same key on another route is a conflict. */
  route: string;
  body: unknown;
  /** For failures of the record's own bookkeeping (refreshing the claim, writing the response). */
  logger?: Logger;
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

const sleep = (ms: number, unref = false) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    if (unref) timer.unref();
  });

type ToStored = (response: StoredResponse) => StoredResponse;

const refreshIntervalOf = (options: IdempotencyOptions) => options.lockRefreshIntervalMs ?? options.staleLockAfterMs / 4;

/**
 * Refreshes the claim every `intervalMs` until stopped, so a request running longer than the stale-lock
 * timeout is not taken over by a duplicate (which would run the operation a second time). A crashed process
 * stops refreshing, so its claim still goes stale and is taken over.
 */
function keepClaimFresh(pool: Pool, scope: IdempotencyScope, intervalMs: number, logger?: Logger): () => void {
  let refreshing = false;
  const timer = setInterval(() => {
    if (refreshing) return;
    refreshing = true;
    refreshClaim(pool, scope)
      .catch((error: unknown) => logger?.warn({ err: error }, 'refreshing an idempotency claim failed; will retry'))
      .finally(() => {
        refreshing = false;
      });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

async function tryComplete(pool: Pool, scope: IdempotencyScope, stored: StoredResponse, logger?: Logger): Promise<boolean> {
  try {
    await completeKey(pool, scope, stored);
    return true;
  } catch (error) {
    logger?.warn({ err: error }, 'writing the idempotency record failed');
    return false;
  }
}

/** Background retries of the record's write, while the claim is kept fresh; ends when written (or the pool is closed). */
async function completeInBackground(
  pool: Pool, scope: IdempotencyScope, stored: StoredResponse, intervalMs: number, logger?: Logger,
): Promise<void> {
  for (;;) {
    await sleep(intervalMs, true);
    if (pool.ending || pool.ended) {
      logger?.error({ idempotencyKey: scope.idempotencyKey }, 'shutting down before the idempotent response was recorded');
      return;
    }
    if (await tryComplete(pool, scope, stored, logger)) {
      logger?.info({ idempotencyKey: scope.idempotencyKey }, 'recorded the idempotent response after retries');
      return;
    }
  }
}

async function executeAndRecord(
  pool: Pool, request: IdempotentRequest, execute: () => Promise<StoredResponse>, options: IdempotencyOptions, toStored: ToStored,
): Promise<IdempotentOutcome> {
  const { scope, logger } = request;
  const refreshIntervalMs = refreshIntervalOf(options);
  const stopRefreshing = keepClaimFresh(pool, scope, refreshIntervalMs, logger);
  let response: StoredResponse;
  try {
    response = await execute();
  } catch (error) {
    stopRefreshing();
    await releaseKey(pool, scope);
    throw error;
  }
  // A 5xx says nothing about the request itself; let the client's retry run again instead of replaying it.
  if (response.status >= 500) {
    stopRefreshing();
    await releaseKey(pool, scope);
    return { ...response, replayed: false };
  }
  // The operation has run: from here on a duplicate must replay it, never run it again. Releasing the claim
  // (or answering 500, which invites a retry) after a failed write would let it run again — at once, or after
  // the stale-lock timeout. So the write is retried a few times before answering; if it still fails, the
  // client gets the real response (it happened; a new API key's secret is shown only this once), the claim
  // stays in progress and is kept fresh — duplicates get 409 IdempotencyInProgress, never a takeover — and
  // the write is retried in the background until it succeeds, after which duplicates replay. Only if the
  // process dies before then does the claim go stale and become a crashed request's claim (see README).
  const stored = toStored(response);
  let recorded = await tryComplete(pool, scope, stored, logger);
  for (const delayMs of options.recordRetryDelaysMs) {
    if (recorded) break;
    await sleep(delayMs);
    recorded = await tryComplete(pool, scope, stored, logger);
  }
  if (recorded) {
    stopRefreshing();
  } else {
    logger?.error({ idempotencyKey: scope.idempotencyKey }, 'recording the idempotent response failed; retrying in the background');
    void completeInBackground(pool, scope, stored, refreshIntervalMs, logger).finally(stopRefreshing);
  }
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
      return executeAndRecord(pool, request, execute, options, toStored);
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
      return executeAndRecord(pool, request, execute, options, toStored);
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
