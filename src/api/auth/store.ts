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

/** Idempotent: starting twice with the same ADMIN_API_KEY keeps one row. */
export async function upsertSeedAdminKey(pool: Pool, keyHash: string): Promise<void> {
  await pool.query(
    `INSERT INTO api_keys (key_hash, role, wallet_id, label) VALUES ($1, 'admin', NULL, 'seed:ADMIN_API_KEY')
     ON CONFLICT (key_hash) DO NOTHING`,
    [keyHash],
  );
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
