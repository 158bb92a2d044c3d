import { Pool, type PoolClient } from 'pg';

export interface CreatePoolOptions {
  /** Default 10. */
  max?: number;
  /**
   * Longest wait for a connection, new or from the pool (pg's connectionTimeoutMillis). Default 10 s: a server
   * that accepts TCP but never answers (a firewall, a wrong port) fails with an error instead of hanging.
   */
  connectionTimeoutMs?: number;
  /** Called for errors of idle clients (e.g. the server restarting); default: ignore, the pool reconnects. */
  onError?: (err: Error) => void;
}

export const CONNECTION_TIMEOUT_MS = 10_000;

/** `postgres://user@host:port/db` — a connection string fit for messages and logs: its password removed. */
export function describeDatabaseUrl(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    url.password = '';
    url.search = '';
    return url.toString();
  } catch {
    return '(not a URL)';
  }
}

/**
 * A pg Pool. bigint columns stay strings (pg's default) on purpose: the ledger converts them deliberately
 * (src/ledger/amounts.ts) instead of letting a global type parser turn money into lossy floats.
 */
export function createPool(connectionString: string, options: CreatePoolOptions = {}): Pool {
  // keepAlive: a connection whose peer vanished without a reset (a NAT, a frozen host) is found out by TCP.
  const pool = new Pool({
    connectionString, max: options.max ?? 10, keepAlive: true,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? CONNECTION_TIMEOUT_MS,
  });
  // Without a listener an idle client's error (server restart) would crash the process.
  pool.on('error', (err) => options.onError?.(err));
  return pool;
}

/** Runs fn inside BEGIN … COMMIT on one checked-out client; ROLLBACK on error; release in finally. */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}
