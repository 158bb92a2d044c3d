import { Pool, type PoolClient } from 'pg';

export interface CreatePoolOptions {
  /** Default 10. */
  max?: number;
  /** Called for errors of idle clients (e.g. the server restarting); default: ignore, the pool reconnects. */
  onError?: (err: Error) => void;
}

/**
 * A pg Pool. bigint columns stay strings (pg's default) on purpose: the ledger converts them deliberately
 * (src/ledger/amounts.ts) instead of letting a global type parser turn money into lossy floats.
 */
export function createPool(connectionString: string, options: CreatePoolOptions = {}): Pool {
  // keepAlive: a connection whose peer vanished without a reset (a NAT, a frozen host) is found out by TCP.
  const pool = new Pool({ connectionString, max: options.max ?? 10, keepAlive: true });
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
