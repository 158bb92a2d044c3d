/** audit(): recomputes lot counters and hold totals from the journal; see migrations/0001_ledger.sql. */
import type { AuditInput, AuditResult, AuditViolation, Db } from './types';

export async function audit(db: Db, input: AuditInput = {}): Promise<AuditResult> {
  const res = await db.query<{ check_name: string; wallet_id: string | null; lot_id: string | null; hold_id: string | null; details: Record<string, unknown> }>(
    `SELECT check_name, wallet_id::text AS wallet_id, lot_id::text AS lot_id, hold_id::text AS hold_id, details
     FROM ledger_audit($1::uuid)`,
    [input.walletId ?? null],
  );
  const violations: AuditViolation[] = res.rows.map((r) => ({
    check: r.check_name, walletId: r.wallet_id, lotId: r.lot_id, holdId: r.hold_id, details: r.details,
  }));
  return { ok: violations.length === 0, violations };
}
