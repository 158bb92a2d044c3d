/**
 * The hold sweeper's side of the `generations` table. A generation whose hold the sweeper expired was never
 * settled by its workflow (terminated by an operator, or lost): its row must not say `reserved` forever. The
 * row records the release; if the workflow does come back, its settle finds the hold expired and reports the
 * same (`hold_expired`), and recordSettlement keeps the first settlement recorded.
 */
import type { Pool } from 'pg';
import { creditsFromDb, getBalance, type Balance } from '../ledger';
import { settlementOf } from './settlement';
import { recordSettlement } from './store';

interface ExpiredRow {
  generation_id: string;
  wallet_id: string;
  captured: string;
  released: string;
}

/**
 * Records a `hold_expired` release for every generation still `reserved` whose hold has expired — those of
 * this sweep, and any an earlier sweep expired but could not record (it failed in between). Returns how many.
 */
export async function recordExpiredHoldSettlements(pool: Pool, now: Date): Promise<number> {
  // generations_reserved (0008) keeps this to the generations in flight.
  const { rows } = await pool.query<ExpiredRow>(
    `SELECT g.generation_id, h.wallet_id::text AS wallet_id, h.captured::text AS captured, h.released::text AS released
       FROM generations g JOIN ledger_holds h ON h.id = g.hold_id
      WHERE g.status = 'reserved' AND h.state = 'expired'`,
  );
  const balances = new Map<string, Balance>();
  for (const row of rows) {
    const balanceAfter = balances.get(row.wallet_id) ?? (await getBalance(pool, { walletId: row.wallet_id }));
    balances.set(row.wallet_id, balanceAfter);
    const hold = { walletId: row.wallet_id, capturedCredits: creditsFromDb(row.captured), releasedCredits: creditsFromDb(row.released) };
    const { settlement, status } = settlementOf({
      generationId: row.generation_id, hold, reason: 'hold_expired', balanceAfter, settledAt: now, outputProblems: [],
    });
    await recordSettlement(pool, { settlement, status, outcome: undefined });
  }
  return rows.length;
}
