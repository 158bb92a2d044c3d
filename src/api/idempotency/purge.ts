/**
 * Completed HTTP idempotency records are kept for a retention period (config.api.idempotencyRetentionHours)
 * and then forgotten, so the table does not grow without bound. A replay after that executes anew — and
 * still cannot double-spend: the ledger's own idempotency key (derived from the same header) replays.
 */
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { purgeCompletedBefore } from './store';

const PURGE_INTERVAL_MS = 60 * 60_000;
/** The first purge, soon after start: a process restarted more often than hourly would otherwise never purge. */
export const FIRST_PURGE_DELAY_MS = 30_000;

/**
 * Purges once shortly after start, then hourly; returns the function that stops it. The timers never keep the
 * process alive.
 */
export function schedulePurge(pool: Pool, retentionHours: number, logger: Logger, firstDelayMs = FIRST_PURGE_DELAY_MS): () => void {
  const purge = async () => {
    try {
      const removed = await purgeCompletedBefore(pool, new Date(Date.now() - retentionHours * 3_600_000));
      if (removed > 0) logger.info({ removed }, 'purged expired HTTP idempotency records');
    } catch (error) {
      logger.warn({ err: error }, 'purging HTTP idempotency records failed; will retry');
    }
  };
  const first = setTimeout(() => void purge(), firstDelayMs);
  first.unref();
  const timer = setInterval(() => void purge(), PURGE_INTERVAL_MS);
  timer.unref();
  return () => {
    clearTimeout(first);
    clearInterval(timer);
  };
}
