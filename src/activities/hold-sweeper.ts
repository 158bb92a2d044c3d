import type { Pool } from 'pg';
import { releaseExpiredHolds as releaseExpiredLedgerHolds } from '../ledger';

export interface ReleaseExpiredHoldsActivityInput { now: string }
export interface ReleaseExpiredHoldsActivityResult { releasedHolds: number }

const batchSize = 100;

export function createHoldSweeperActivities(deps: { pool: Pool }) {
  /** Releases every hold past its expiry at `now`, in batches so one call never holds locks for long. */
  async function releaseExpiredHolds(input: ReleaseExpiredHoldsActivityInput): Promise<ReleaseExpiredHoldsActivityResult> {
    const now = new Date(input.now);
    let releasedHolds = 0;
    for (;;) {
      const { expired } = await releaseExpiredLedgerHolds(deps.pool, { now, limit: batchSize });
      releasedHolds += expired.length;
      if (expired.length < batchSize) return { releasedHolds };
    }
  }
  return { releaseExpiredHolds };
}

export type HoldSweeperActivities = ReturnType<typeof createHoldSweeperActivities>;
