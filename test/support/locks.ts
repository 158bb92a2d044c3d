/** Waiting for a race to be set up: tests that hold a row lock and need another session to be blocked on it. */
import type { Pool } from 'pg';

/** Resolves once some backend of this database waits on a lock (polling pg_stat_activity); fails after ~10 s. */
export async function someoneWaitsOnALock(pool: Pool): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const { rows } = await pool.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    );
    if ((rows[0] as { n: number }).n > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('no backend ever waited on a lock');
}
