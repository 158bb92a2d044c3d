/**
 * The hold sweeper's side of the `generations` table. A generation whose hold the sweeper expired was never
 * settled by its workflow (terminated by an operator, or lost): its row must not say `reserved` forever. The
 * row records the release; if the workflow does come back, its settle finds the hold expired and reports the
 * same (`hold_expired`), and recordSettlement keeps the first settlement recorded.
 */
import type { Pool } from 'pg';
import { getBalance, type SettleResult } from '../ledger';
import { recordSettlement } from './store';

/** Records a `hold_expired` release for each expired hold whose generation row still says `reserved`. */
export async function recordExpiredHoldSettlements(pool: Pool, expired: readonly SettleResult[], now: Date): Promise<number> {
  if (expired.length === 0) return 0;
  const { rows } = await pool.query<{ generation_id: string; hold_id: string }>(
    `SELECT generation_id, hold_id::text AS hold_id FROM generations WHERE hold_id = ANY($1::uuid[]) AND status = 'reserved'`,
    [expired.map((hold) => hold.holdId)],
  );
  const byHold = new Map(expired.map((hold) => [hold.holdId, hold]));
  for (const row of rows) {
    const hold = byHold.get(row.hold_id)!;
    const balance = await getBalance(pool, { walletId: hold.walletId });
    await recordSettlement(pool, {
      status: 'released',
      outcome: undefined,
      settlement: {
        generationId: row.generation_id, walletId: hold.walletId, action: 'release', reason: 'hold_expired',
        capturedCredits: hold.capturedCredits, releasedCredits: hold.releasedCredits,
        availableCreditsAfter: balance.availableCredits, heldCreditsAfter: balance.heldCredits,
        settledAt: now.toISOString(), outputProblems: [],
      },
    });
  }
  return rows.length;
}
