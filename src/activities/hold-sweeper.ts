import type { Pool } from 'pg';
import { recordExpiredHoldSettlements } from '../generations/expired-holds';
import { releaseExpiredHolds as releaseExpiredLedgerHolds } from '../ledger';

export interface ReleaseExpiredHoldsActivityInput { now: string }
export interface ReleaseExpiredHoldsActivityResult { releasedHolds: number }

const batchSize = 100;

export function createHoldSweeperActivities(deps: { pool: Pool; refundLotValidityDays: number }) {
  /**
   * Releases every hold past its expiry at `now`, in batches so one call never holds locks for long, then
   * records the release on the generations whose workflow never settled them.
   */
  async function releaseExpiredHolds(input: ReleaseExpiredHoldsActivityInput): Promise<ReleaseExpiredHoldsActivityResult> {
    const now = new Date(input.now);
    let releasedHolds = 0;
    for (;;) {
      const { expired, due } = await releaseExpiredLedgerHolds(deps.pool, { now, limit: batchSize, refundLotValidityDays: deps.refundLotValidityDays });
      releasedHolds += expired.length;
      // Counted by what was due, not by what this batch expired: it skips the holds their owner settled
      // meanwhile, so a batch can expire fewer (even none) while more are due. Every hold a batch read is
      // resolved after it, so the due set at this fixed `now` shrinks each time and the loop ends.
      if (due < batchSize) break;
    }
    await recordExpiredHoldSettlements(deps.pool, now);
    return { releasedHolds };
  }
  return { releaseExpiredHolds };
}

export type HoldSweeperActivities = ReturnType<typeof createHoldSweeperActivities>;
