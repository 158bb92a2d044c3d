/**
 * The one activity factory (house style §7.2): every activity the worker registers, built from one deps
 * object so tests can run them against their own database and price book.
 */
import type { Pool } from 'pg';
import type { PriceBook } from '../pricing';
import type { SettlementPolicy } from '../policy/settlement';
import { createGenerationActivities } from './generation';
import { createHoldSweeperActivities } from './hold-sweeper';

export interface ActivityDeps {
  pool: Pool;
  priceBook: PriceBook;
  settlementPolicy: SettlementPolicy;
  maxDeadlineFactor: number;
  holdExpiryGraceMs: number;
  refundLotValidityDays: number;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createGenerationActivities(deps),
    ...createHoldSweeperActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
