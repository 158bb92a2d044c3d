import type { Pool } from 'pg';
import { audit } from '../../src/ledger';

/** Every ledger test ends with this: the audit recomputes everything from the journal and finds nothing. */
export async function expectAuditClean(pool: Pool, walletId?: string): Promise<void> {
  const result = await audit(pool, walletId === undefined ? {} : { walletId });
  expect(result.violations).toEqual([]);
  expect(result.ok).toBe(true);
}
