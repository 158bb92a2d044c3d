/**
 * SQL for http_idempotency (migrations/0002_api.sql). A row is both the lock (state `in_progress`, claimed
 * with INSERT … ON CONFLICT DO NOTHING so exactly one concurrent duplicate wins) and the record of the
 * first response (state `completed`), replayed to later duplicates.
 */
import type { Pool } from 'pg';

// Every POST runs claimKey and completeKey: they are named, so Postgres parses and plans them once per
// connection instead of on every request (planning cost more than running them).

export interface IdempotencyScope {
  principalId: string;
  idempotencyKey: string;
}

export interface StoredResponse {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

export interface IdempotencyRecord {
  route: string;
  requestHash: string;
  state: 'in_progress' | 'completed';
  response: StoredResponse | null;
  /** How long ago the lock was taken, for taking over locks of crashed requests. */
  lockAgeMs: number;
}

/** true when this call claimed the key; false when a record already exists. */
export async function claimKey(pool: Pool, scope: IdempotencyScope, route: string, requestHash: string): Promise<boolean> {
  const result = await pool.query({
    name: 'http_idempotency_claim',
    text: `INSERT INTO http_idempotency (principal_id, idempotency_key, route, request_hash, state)
     VALUES ($1::uuid, $2, $3, $4, 'in_progress')
     ON CONFLICT (principal_id, idempotency_key) DO NOTHING`,
    values: [scope.principalId, scope.idempotencyKey, route, requestHash],
  });
  return result.rowCount === 1;
}

interface RecordRow {
  route: string;
  request_hash: string;
  state: 'in_progress' | 'completed';
  response_status: number | null;
  response_body: unknown;
  response_headers: Record<string, string> | null;
  lock_age_ms: number;
}

export async function readRecord(pool: Pool, scope: IdempotencyScope): Promise<IdempotencyRecord | null> {
  const result = await pool.query<RecordRow>(
    `SELECT route, request_hash, state, response_status, response_body, response_headers,
            (extract(epoch FROM clock_timestamp() - locked_at) * 1000)::float8 AS lock_age_ms
       FROM http_idempotency WHERE principal_id = $1::uuid AND idempotency_key = $2`,
    [scope.principalId, scope.idempotencyKey],
  );
  const row = result.rows[0];
  if (!row) return null;
  const response = row.state === 'completed' && row.response_status !== null
    ? { status: row.response_status, body: row.response_body, headers: row.response_headers ?? {} }
    : null;
  return { route: row.route, requestHash: row.request_hash, state: row.state, response, lockAgeMs: row.lock_age_ms };
}

export async function completeKey(pool: Pool, scope: IdempotencyScope, response: StoredResponse): Promise<void> {
  await pool.query({
    name: 'http_idempotency_complete',
    text: `UPDATE http_idempotency
        SET state = 'completed', response_status = $3, response_body = $4::jsonb, response_headers = $5::jsonb,
            completed_at = clock_timestamp()
      WHERE principal_id = $1::uuid AND idempotency_key = $2 AND state = 'in_progress'`,
    values: [scope.principalId, scope.idempotencyKey, response.status, JSON.stringify(response.body), JSON.stringify(response.headers)],
  });
}

/**
 * Heartbeat of a running request: moves its claim's `locked_at` to now, so the claim never looks like one left
 * by a crashed request (takeOverStaleKey). false when there is no in-progress claim left to refresh.
 */
export async function refreshClaim(pool: Pool, scope: IdempotencyScope): Promise<boolean> {
  const result = await pool.query(
    `UPDATE http_idempotency SET locked_at = clock_timestamp()
      WHERE principal_id = $1::uuid AND idempotency_key = $2 AND state = 'in_progress'`,
    [scope.principalId, scope.idempotencyKey],
  );
  return result.rowCount === 1;
}

/** Drops an in-progress claim (after an internal error) so the client's retry runs again. */
export async function releaseKey(pool: Pool, scope: IdempotencyScope): Promise<void> {
  await pool.query(
    `DELETE FROM http_idempotency WHERE principal_id = $1::uuid AND idempotency_key = $2 AND state = 'in_progress'`,
    [scope.principalId, scope.idempotencyKey],
  );
}

/** Takes over a lock older than `staleAfterMs` (its request crashed); true if this call got it. */
export async function takeOverStaleKey(pool: Pool, scope: IdempotencyScope, staleAfterMs: number): Promise<boolean> {
  const result = await pool.query(
    `UPDATE http_idempotency SET locked_at = clock_timestamp()
      WHERE principal_id = $1::uuid AND idempotency_key = $2 AND state = 'in_progress'
        AND locked_at < clock_timestamp() - make_interval(secs => $3::float8 / 1000)`,
    [scope.principalId, scope.idempotencyKey, staleAfterMs],
  );
  return result.rowCount === 1;
}

/** Housekeeping: forget completed records older than the retention period. */
export async function purgeCompletedBefore(pool: Pool, cutoff: Date): Promise<number> {
  const result = await pool.query(
    `DELETE FROM http_idempotency WHERE state = 'completed' AND completed_at < $1`,
    [cutoff],
  );
  return result.rowCount ?? 0;
}
