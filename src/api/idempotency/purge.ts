/**
 * Completed HTTP idempotency records are kept for a retention period (config.api.idempotencyRetentionHours)
 * and then forgotten, so the table does not grow without bound. A replay after that executes anew — and
 * still cannot double-spend: the ledger's own idempotency key (derived from the same header) replays.
 */
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { purgeCompletedBefore } from './store';

const PURGE_INTERVAL_MS = 60 * 60_000;

/** Starts an hourly purge; returns the function that stops it. The timer never keeps the process alive. */
export function schedulePurge(pool: Pool, retentionHours: number, logger: Logger): () => void {
  const purge = async () => {
    try {
      const removed = await purgeCompletedBefore(pool, new Date(Date.now() - retentionHours * 3_600_000));
      if (removed > 0) logger.info({ removed }, 'purged expired HTTP idempotency records');
    } catch (error) {
      logger.warn({ err: error }, 'purging HTTP idempotency records failed; will retry');
    }
  };
  const timer = setInterval(() => void purge(), PURGE_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
