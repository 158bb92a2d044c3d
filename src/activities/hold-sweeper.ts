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
      const { expired } = await releaseExpiredLedgerHolds(deps.pool, { now, limit: batchSize, refundLotValidityDays: deps.refundLotValidityDays });
      releasedHolds += expired.length;
      if (expired.length < batchSize) break;
    }
    await recordExpiredHoldSettlements(deps.pool, now);
    return { releasedHolds };
  }
  return { releaseExpiredHolds };
}

export type HoldSweeperActivities = ReturnType<typeof createHoldSweeperActivities>;
