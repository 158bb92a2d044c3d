/** X-Credits-Balance / X-Credits-Held on every response about a wallet, so clients never need a second call. */
import type { Pool } from 'pg';
import { getBalance } from '../ledger';

export interface WalletTotals {
  availableCredits: number;
  heldCredits: number;
}

export function walletHeaders(totals: WalletTotals): Record<string, string> {
  return { 'X-Credits-Balance': String(totals.availableCredits), 'X-Credits-Held': String(totals.heldCredits) };
}

/** Headers from the current balance; none if the wallet cannot be read (e.g. it does not exist). */
export async function currentWalletHeaders(pool: Pool, walletId: string): Promise<Record<string, string>> {
  try {
    return walletHeaders(await getBalance(pool, { walletId }));
  } catch {
    return {};
  }
}
