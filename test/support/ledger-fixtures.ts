import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { createWallet, countJournal, getBalance, type Balance } from '../../src/ledger';

export const T0 = new Date('2026-01-01T00:00:00.000Z');
export const DAY_MS = 86_400_000;
export const at = (days: number, base: Date = T0): Date => new Date(base.getTime() + days * DAY_MS);

/** A wallet for a unique user, so tests sharing a database never see each other's credits. */
export async function newWallet(pool: Pool, ownerType: 'user' | 'organization' = 'user'): Promise<string> {
  const { wallet } = await createWallet(pool, { ownerType, ownerId: `test-${randomUUID()}` });
  return wallet.walletId;
}

let seq = 0;
/** Idempotency keys unique across the run. */
export function key(label = 'op'): string {
  seq += 1;
  return `${label}-${seq}-${randomUUID()}`;
}

export interface LedgerSnapshot {
  journalRows: number;
  operations: number;
  balance: Balance;
}

/** What a refused operation must leave untouched: journal, operations and every lot counter. */
export async function snapshot(pool: Pool, walletId: string, now: Date = T0): Promise<LedgerSnapshot> {
  const ops = await pool.query<{ n: string }>('SELECT count(*)::text AS n FROM ledger_operations');
  return {
    journalRows: await countJournal(pool, {}),
    operations: Number(ops.rows[0]?.n ?? '0'),
    balance: await getBalance(pool, { walletId, now, includeClosedLots: true }),
  };
}
