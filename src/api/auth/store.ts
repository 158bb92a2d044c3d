/** SQL for api_keys (migrations/0002_api.sql): one small function per query. */
import type { Pool } from 'pg';
import type { Principal, Role } from './roles';

interface ApiKeyRow {
  key_id: string;
  role: Role;
  wallet_id: string | null;
}

export async function findActiveKeyByHash(pool: Pool, keyHash: string): Promise<Principal | null> {
  const result = await pool.query<ApiKeyRow>(
    `SELECT key_id::text, role, wallet_id::text FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`,
    [keyHash],
  );
  const row = result.rows[0];
  return row ? { keyId: row.key_id, role: row.role, walletId: row.wallet_id } : null;
}

export interface InsertApiKeyInput {
  keyHash: string;
  role: Role;
  walletId: string | null;
  label: string | null;
}

export async function insertApiKey(pool: Pool, input: InsertApiKeyInput): Promise<{ keyId: string; createdAt: Date }> {
  const result = await pool.query<{ key_id: string; created_at: Date }>(
    `INSERT INTO api_keys (key_hash, role, wallet_id, label) VALUES ($1, $2, $3::uuid, $4)
     RETURNING key_id::text, created_at`,
    [input.keyHash, input.role, input.walletId, input.label],
  );
  const row = result.rows[0]!;
  return { keyId: row.key_id, createdAt: row.created_at };
}

/** The label of keys seeded from ADMIN_API_KEY; the API refuses labels starting with `seed:`. */
export const SEED_ADMIN_KEY_LABEL = 'seed:ADMIN_API_KEY';

export interface SeedAdminKeyResult {
  /** False if this key was revoked before (retired by an earlier rotation, or through the API). */
  active: boolean;
  /** Keys seeded from an earlier ADMIN_API_KEY, revoked now. */
  retiredCount: number;
}

/**
 * Seeds ADMIN_API_KEY as an admin key — idempotent: starting twice with the same key keeps one row — and
 * revokes every key seeded from another value, so changing ADMIN_API_KEY retires the old one. A revoked key is
 * never revived: it was retired or revoked for a reason (it may have leaked).
 */
export async function upsertSeedAdminKey(pool: Pool, keyHash: string): Promise<SeedAdminKeyResult> {
  const result = await pool.query<{ retired_count: number; active: boolean }>(
    `WITH retired AS (
       UPDATE api_keys SET revoked_at = clock_timestamp()
        WHERE label = $2 AND key_hash <> $1 AND revoked_at IS NULL
        RETURNING key_id
     ), seeded AS (
       INSERT INTO api_keys (key_hash, role, wallet_id, label) VALUES ($1, 'admin', NULL, $2)
       ON CONFLICT (key_hash) DO NOTHING
       RETURNING key_id
     )
     SELECT (SELECT count(*) FROM retired)::int AS retired_count,
            EXISTS (SELECT 1 FROM seeded)
              OR EXISTS (SELECT 1 FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL) AS active`,
    [keyHash, SEED_ADMIN_KEY_LABEL],
  );
  const row = result.rows[0]!;
  return { active: row.active, retiredCount: row.retired_count };
}

/** Revokes a key (idempotent: revoking again keeps the first revocation time). Null if no such key. */
export async function revokeApiKey(pool: Pool, keyId: string): Promise<{ keyId: string; revokedAt: Date } | null> {
  const result = await pool.query<{ key_id: string; revoked_at: Date }>(
    `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, clock_timestamp())
      WHERE key_id = $1::uuid RETURNING key_id::text, revoked_at`,
    [keyId],
  );
  const row = result.rows[0];
  return row ? { keyId: row.key_id, revokedAt: row.revoked_at } : null;
}
