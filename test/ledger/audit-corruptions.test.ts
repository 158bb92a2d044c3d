/**
 * The audit against corrupted state: a clean history made through the ledger API, then one corruption written
 * directly in SQL (as a bug or a manual edit could: triggers off, CHECKs dropped where needed) inside a
 * transaction that is rolled back afterwards. Each case asserts what audit() reports (check, wallet, lot/hold),
 * that audit({ walletId }) for the corrupted wallet reports the same, and that a bystander wallet's audit stays
 * clean. Rows that keep each row self-consistent but break cross-row sums are the point.
 */
import type { Pool, PoolClient } from 'pg';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { expectAuditClean } from '../support/audit';
import { T0, at, key, newWallet } from '../support/ledger-fixtures';
import {
  adjust, audit, capture, expireLot, grantLot, refund, release, reserve, revokeLot, type AuditViolation,
} from '../../src/ledger';

let db: TestDatabase;
beforeAll(async () => { db = await createTestDatabase(); });
afterAll(async () => {
  await expectAuditClean(db.pool);
  await db.drop();
});

/** One wallet whose history uses every kind of journal row; ids of what the cases tamper with. */
async function scenario(pool: Pool) {
  const w = await newWallet(pool);
  const g = (kind: 'promotional' | 'purchased', amountCredits: number, now: Date, expiresAt?: Date) =>
    grantLot(pool, { walletId: w, kind, amountCredits, idempotencyKey: key('grant'), now, ...(expiresAt ? { expiresAt } : {}) });
  const promo = await g('promotional', 10, T0, at(10));
  const bought = await g('purchased', 20, T0);
  const soon = await g('promotional', 6, T0, at(1.5));
  // h4 takes `soon` (soonest expiry); released after `soon` expired: its credits come back as a refund lot.
  const h4 = await reserve(pool, { walletId: w, amountCredits: 6, idempotencyKey: key(), holdExpiresAt: at(5), now: T0 });
  // h1: promo 10 + bought 2, captured 8 (promo), the rest released; 3 refunded into promo.
  const h1 = await reserve(pool, { walletId: w, amountCredits: 12, idempotencyKey: key(), holdExpiresAt: at(5), now: T0 });
  const c1 = await capture(pool, { holdId: h1.holdId, amountCredits: 8, idempotencyKey: key(), now: T0 });
  const rf1 = await refund(pool, { holdId: h1.holdId, amountCredits: 3, idempotencyKey: key(), now: at(0.5) });
  const h2 = await reserve(pool, { walletId: w, amountCredits: 4, idempotencyKey: key(), holdExpiresAt: at(20), now: at(0.5) });
  const h3 = await reserve(pool, { walletId: w, amountCredits: 2, idempotencyKey: key(), holdExpiresAt: at(20), now: at(0.5) });
  const r3 = await release(pool, { holdId: h3.holdId, idempotencyKey: key(), now: at(0.5) });
  const minus = await adjust(pool, { walletId: w, deltaCredits: -3, reason: 'r', actor: 'a', idempotencyKey: key(), now: at(0.5) });
  const plus = await adjust(pool, { walletId: w, deltaCredits: 5, reason: 'r', actor: 'a', idempotencyKey: key(), now: at(0.5) });
  const doomed = await g('promotional', 5, at(0.5), at(2));
  const revoked = await g('purchased', 4, at(0.5));
  const rv = await revokeLot(pool, { lotId: revoked.lot.lotId, idempotencyKey: key(), now: at(0.6) });
  const ex = await expireLot(pool, { lotId: doomed.lot.lotId, idempotencyKey: key(), now: at(3) });
  const exSoon = await expireLot(pool, { lotId: soon.lot.lotId, idempotencyKey: key(), now: at(3) });  // 0: all held
  const r4 = await release(pool, { holdId: h4.holdId, idempotencyKey: key(), now: at(3) });
  expect(exSoon.amountCredits).toBe(0);
  expect(r4.refundLotId).not.toBeNull();
  expect(minus.allocations.length).toBeGreaterThan(0);
  return {
    w, promo: promo.lot.lotId, bought: bought.lot.lotId, soon: soon.lot.lotId, doomed: doomed.lot.lotId,
    revoked: revoked.lot.lotId, plusLot: plus.lotId!, refundLot: r4.refundLotId!,
    h1: h1.holdId, h2: h2.holdId, h3: h3.holdId, h4: h4.holdId,
    ops: { promo: promo.operationId, c1: c1.operationId, rf1: rf1.operationId, r3: r3.operationId, minus: minus.operationId,
      plus: plus.operationId, rv: rv.operationId, ex: ex.operationId, exSoon: exSoon.operationId, r4: r4.operationId,
      revokedGrant: revoked.operationId, h2: h2.operationId },
  };
}
type S = Awaited<ReturnType<typeof scenario>>;

let s: S;
let bystander: string;
beforeAll(async () => {
  s = await scenario(db.pool);
  bystander = (await scenario(db.pool)).w;
  await expectAuditClean(db.pool);
});

interface Found { check: string; walletId: string | null; lotId: string | null; holdId: string | null }
const brief = (vs: AuditViolation[]): Found[] =>
  vs.map((v) => ({ check: v.check, walletId: v.walletId, lotId: v.lotId, holdId: v.holdId }));

/**
 * Runs `corrupt` in a transaction with the append-only triggers off (session_replication_role = replica),
 * audits, and rolls everything back. Returns the violations of audit(), audit({ walletId: s.w }) and
 * audit({ walletId: bystander }).
 */
async function tampered(corrupt: (c: PoolClient) => Promise<unknown>) {
  const c = await db.pool.connect();
  try {
    await c.query('BEGIN');
    await c.query('SET LOCAL session_replication_role = replica');
    await corrupt(c);
    const all = brief((await audit(c, {})).violations);
    const mine = brief((await audit(c, { walletId: s.w })).violations);
    const others = brief((await audit(c, { walletId: bystander })).violations);
    if (process.env['AUDIT_DEBUG']) console.log(JSON.stringify({ all, mine, others }, null, 1));
    return { all, mine, others };
  } finally {
    await c.query('ROLLBACK');
    c.release();
  }
}

/** The violations a corruption of s.w must produce, in audit() and in audit({ walletId: s.w }), and nowhere else. */
async function expectFound(corrupt: (c: PoolClient) => Promise<unknown>, expected: Array<Partial<Found> & { check: string }>) {
  const r = await tampered(corrupt);
  for (const e of expected) {
    const want = expect.objectContaining({ walletId: s.w, ...e });
    expect(r.all).toContainEqual(want);
    expect(r.mine).toContainEqual(want);
  }
  expect(r.others).toEqual([]);
  return r;
}

/** Only these checks fire (the audit of 0006 reported nothing at all for the cases below that use it). */
const checksIn = (found: Found[]) => new Set(found.map((v) => v.check));

/** A copy of one journal row (the append-only trigger is off), optionally with some columns replaced. */
const copyJournalRow = (c: PoolClient, where: string, params: unknown[], set: Record<string, string> = {}) => {
  const cols = ['operation_id', 'idempotency_key', 'kind', 'amount', 'wallet_id', 'lot_id', 'hold_id', 'd_available',
    'd_held', 'd_consumed', 'd_expired', 'd_revoked', 'generation_id', 'refund_request_id', 'purchase_id',
    'subscription_period_id', 'actor', 'reason', 'created_at'];
  return c.query(`INSERT INTO ledger_journal (${cols.join(', ')})
    SELECT ${cols.map((x) => set[x] ?? x).join(', ')} FROM ledger_journal WHERE ${where}`, params);
};

test('the scenario and the bystander are clean', async () => {
  const r = await tampered(async () => undefined);
  expect(r).toEqual({ all: [], mine: [], others: [] });
});

test('a journal row moved to another lot of the same wallet', async () => {
  await expectFound((c) => c.query(`UPDATE ledger_journal SET lot_id = $2::uuid WHERE lot_id = $1::uuid AND kind = 'refund'`, [s.promo, s.bought]), [
    { check: 'lot_counter_mismatch', lotId: s.promo }, { check: 'lot_counter_mismatch', lotId: s.bought },
    { check: 'refund_allocation', lotId: s.bought, holdId: s.h1 },
  ]);
});

test('a duplicated journal row (counters untouched)', async () => {
  await expectFound((c) => copyJournalRow(c, `lot_id = $1::uuid AND kind = 'expire'`, [s.doomed]), [
    { check: 'lot_counter_mismatch', lotId: s.doomed },
  ]);
});

test('a deleted journal row', async () => {
  await expectFound((c) => c.query(`DELETE FROM ledger_journal WHERE lot_id = $1::uuid AND kind = 'capture'`, [s.promo]), [
    { check: 'lot_counter_mismatch', lotId: s.promo }, { check: 'hold_totals', holdId: s.h1 },
    { check: 'hold_allocation_journal', lotId: s.promo, holdId: s.h1 },
  ]);
});

test('a hold marked captured (hold row and lot counters) whose journal has only the hold row', async () => {
  await expectFound(async (c) => {
    await c.query(`UPDATE ledger_holds SET state = 'captured', captured = 4, resolved_at = $2, alloc_captured = '{4}', alloc_released = '{0}'
      WHERE id = $1::uuid`, [s.h2, at(1)]);
    await c.query('UPDATE ledger_lots SET held = held - 4, consumed = consumed + 4 WHERE id = $1::uuid', [s.promo]);
  }, [
    { check: 'lot_counter_mismatch', lotId: s.promo }, { check: 'hold_totals', holdId: s.h2 },
    { check: 'hold_allocation_journal', lotId: s.promo, holdId: s.h2 },
  ]);
});

test('a second capture of one hold (its own operation), counters following it', async () => {
  await expectFound(async (c) => {
    await c.query(`INSERT INTO ledger_operations (idempotency_key, id, operation, request_hash, wallet_id, result, created_at)
      VALUES ('second-capture', gen_random_uuid(), 'capture', 'x', $1::uuid, '{}', $2)`, [s.w, at(1)]);
    await copyJournalRow(c, `hold_id = $1::uuid AND kind = 'capture'`, [s.h1], {
      operation_id: `(SELECT id FROM ledger_operations WHERE idempotency_key = 'second-capture')`, idempotency_key: `'second-capture'` });
    await c.query('UPDATE ledger_lots SET available = available - 8, consumed = consumed + 8 WHERE id = $1::uuid', [s.bought]);
  }, [{ check: 'hold_totals', holdId: s.h1 }]);
});

test('allocations whose sum differs from the hold amount', async () => {
  await expectFound((c) => c.query(`UPDATE ledger_holds SET alloc_amounts = '{3}' WHERE id = $1::uuid`, [s.h2]), [
    { check: 'hold_totals', holdId: s.h2 }, { check: 'lot_held_mismatch', lotId: s.promo },
    { check: 'hold_allocation_journal', lotId: s.promo, holdId: s.h2 },
  ]);
});

test('lot counters shifted consistently between two buckets with no journal row', async () => {
  await expectFound((c) => c.query('UPDATE ledger_lots SET available = available - 5, consumed = consumed + 5 WHERE id = $1::uuid', [s.bought]), [
    { check: 'lot_counter_mismatch', lotId: s.bought },
  ]);
});

test('conservation broken, and a negative counter (CHECK dropped)', async () => {
  await expectFound(async (c) => {
    await c.query('ALTER TABLE ledger_lots DROP CONSTRAINT ledger_lots_valid');
    await c.query('UPDATE ledger_lots SET available = available + 1 WHERE id = $1::uuid', [s.bought]);
    await c.query('UPDATE ledger_lots SET available = -1, consumed = consumed + available + 1 WHERE id = $1::uuid', [s.plusLot]);
  }, [
    { check: 'lot_conservation', lotId: s.bought }, { check: 'lot_conservation', lotId: s.plusLot },
    { check: 'lot_counter_mismatch', lotId: s.bought }, { check: 'lot_counter_mismatch', lotId: s.plusLot },
  ]);
});

test('a journal row whose deltas do not match its kind', async () => {
  await expectFound((c) => c.query(`UPDATE ledger_journal SET d_consumed = 0, d_revoked = 3 WHERE lot_id = $1::uuid AND kind = 'refund'`, [s.promo]), [
    { check: 'journal_signature', lotId: s.promo, holdId: s.h1 },
  ]);
});

test('a refund lot with no source hold (lot row, or lot row and journal row)', async () => {
  await expectFound((c) => c.query('UPDATE ledger_lots SET source_hold_id = NULL WHERE id = $1::uuid', [s.refundLot]), [
    { check: 'release_refund_lot', holdId: s.h4 },
  ]);
  await expectFound(async (c) => {
    await c.query('UPDATE ledger_lots SET source_hold_id = NULL WHERE id = $1::uuid', [s.refundLot]);
    await c.query('UPDATE ledger_journal SET hold_id = NULL WHERE lot_id = $1::uuid', [s.refundLot]);
  }, [{ check: 'release_refund_lot', holdId: s.h4 }]);
});

test('journal rows without their operation row', async () => {
  await expectFound((c) => c.query('DELETE FROM ledger_operations WHERE id = $1::uuid', [s.ops.plus]), [
    { check: 'journal_orphan', lotId: s.plusLot },
  ]);
});

test('a journal row whose wallet is not its lot\'s', async () => {
  const r = await tampered((c) => c.query(`UPDATE ledger_journal SET wallet_id = $2::uuid WHERE lot_id = $1::uuid AND kind = 'expire'`, [s.doomed, bystander]));
  // Reported on the row's wallet, naming the lot; the lot's own wallet sees its counters lose the row.
  expect(r.all).toContainEqual(expect.objectContaining({ check: 'journal_wallet_mismatch', walletId: bystander, lotId: s.doomed }));
  expect(r.mine).toContainEqual(expect.objectContaining({ check: 'lot_counter_mismatch', walletId: s.w, lotId: s.doomed }));
  expect(r.others).toContainEqual(expect.objectContaining({ check: 'journal_wallet_mismatch', walletId: bystander, lotId: s.doomed }));
});

test('orphans: a hold of no wallet, an allocation on no lot', async () => {
  await expectFound((c) => c.query(`UPDATE ledger_holds SET alloc_lots = ARRAY[gen_random_uuid()] WHERE id = $1::uuid`, [s.h2]), [
    { check: 'allocation_orphan', holdId: s.h2 },
  ]);
  const r = await tampered((c) => c.query(`UPDATE ledger_holds SET wallet_id = gen_random_uuid() WHERE id = $1::uuid`, [s.h3]));
  expect(r.all).toContainEqual(expect.objectContaining({ check: 'hold_orphan', holdId: s.h3 }));
  expect(r.mine).toContainEqual(expect.objectContaining({ check: 'journal_orphan', walletId: s.w, holdId: s.h3 }));
  expect(r.others).toEqual([]);
});

// ---- Corruptions the audit of 0006 did not see (it returned no violation for any of them) ----

test('a duplicated grant row with the lot grown to match (credits from nowhere)', async () => {
  const r = await expectFound(async (c) => {
    await copyJournalRow(c, `lot_id = $1::uuid AND kind = 'grant'`, [s.bought]);
    await c.query('UPDATE ledger_lots SET granted = granted + 20, available = available + 20 WHERE id = $1::uuid', [s.bought]);
  }, [{ check: 'lot_origin', lotId: s.bought }, { check: 'journal_duplicate', lotId: s.bought }]);
  expect(checksIn(r.all)).toEqual(new Set(['lot_origin', 'journal_duplicate']));
});

/** A made-up lot of 100 credits with its grant row, filed under an existing operation (`like`: a row to copy). */
async function fabricateLot(c: PoolClient, operationId: string, like: { where: string; params: unknown[] }): Promise<string> {
  const lot = await c.query<{ id: string }>(`INSERT INTO ledger_lots (wallet_id, kind, kind_rank, granted_at, expires_at, granted, available, operation_id)
    VALUES ($1::uuid, 'purchased', 2, $2, $3, 100, 100, $4::uuid) RETURNING id::text`, [s.w, T0, at(300), operationId]);
  const id = lot.rows[0]!.id;
  await copyJournalRow(c, like.where, like.params, {
    kind: `'grant'`, hold_id: 'NULL', lot_id: `'${id}'::uuid`, amount: '100', d_available: '100', d_held: '0' });
  return id;
}

test('a fabricated lot granted under an existing operation (credits from nowhere)', async () => {
  // Under the grant of another lot: that operation now created two lots.
  let made = '';
  const r = await expectFound(async (c) => {
    made = await fabricateLot(c, s.ops.promo, { where: `lot_id = $1::uuid AND kind = 'grant'`, params: [s.promo] });
  }, [{ check: 'lot_origin', lotId: s.promo }]);
  expect(r.mine).toEqual([{ check: 'lot_origin', walletId: s.w, lotId: s.promo, holdId: null },
    { check: 'lot_origin', walletId: s.w, lotId: made, holdId: null }].sort((a, b) => (a.lotId < b.lotId ? -1 : 1)));
  // Under a reservation (its key and id): a grant row cannot belong to one.
  const r2 = await expectFound(async (c) => {
    made = await fabricateLot(c, s.ops.h2, { where: `hold_id = $1::uuid AND kind = 'hold'`, params: [s.h2] });
  }, [{ check: 'journal_operation', holdId: null }]);
  expect(r2.mine).toEqual([{ check: 'journal_operation', walletId: s.w, lotId: made, holdId: null }]);
});

test('a duplicated debit row with the counters following it (negative adjustment, refund)', async () => {
  const r = await expectFound(async (c) => {
    await copyJournalRow(c, `lot_id = $1::uuid AND kind = 'adjust'`, [s.bought]);
    const { rows } = await c.query<{ amount: string }>(`SELECT amount::text FROM ledger_journal WHERE lot_id = $1::uuid AND kind = 'adjust' LIMIT 1`, [s.bought]);
    await c.query('UPDATE ledger_lots SET available = available - $2, revoked = revoked + $2 WHERE id = $1::uuid', [s.bought, rows[0]!.amount]);
  }, [{ check: 'journal_duplicate', lotId: s.bought }]);
  expect(checksIn(r.all)).toEqual(new Set(['journal_duplicate']));
  const r2 = await expectFound(async (c) => {
    await copyJournalRow(c, `lot_id = $1::uuid AND kind = 'refund'`, [s.promo]);
    await c.query('UPDATE ledger_lots SET available = available + 3, consumed = consumed - 3 WHERE id = $1::uuid', [s.promo]);
    await c.query(`UPDATE ledger_holds SET refunded = 6, alloc_refunded = '{6,0}' WHERE id = $1::uuid`, [s.h1]);
  }, [{ check: 'journal_duplicate', lotId: s.promo, holdId: s.h1 }]);
  expect(checksIn(r2.all)).toEqual(new Set(['journal_duplicate']));
});

test('an expire or revoke row on a lot that is not closed that way', async () => {
  // Credits taken from an active lot as "revoked" by an operation that never closed it.
  const r = await expectFound(async (c) => {
    await copyJournalRow(c, `lot_id = $1::uuid AND kind = 'revoke'`, [s.revoked], { lot_id: `'${s.bought}'::uuid` });
    await c.query('UPDATE ledger_lots SET available = available - 4, revoked = revoked + 4 WHERE id = $1::uuid', [s.bought]);
  }, [{ check: 'lot_closure', lotId: s.bought }]);
  expect(checksIn(r.all)).toEqual(new Set(['lot_closure']));
  // An expired lot set active again (its counters and journal untouched).
  const r2 = await expectFound((c) => c.query(`UPDATE ledger_lots SET status = 'active', closed_at = NULL WHERE id = $1::uuid`, [s.doomed]), [
    { check: 'lot_closure', lotId: s.doomed },
  ]);
  expect(checksIn(r2.all)).toEqual(new Set(['lot_closure']));
});

test('operations whose journal rows are gone (with the lot they granted)', async () => {
  const r = await expectFound(async (c) => {
    await c.query('DELETE FROM ledger_journal WHERE lot_id = $1::uuid', [s.revoked]);
    await c.query('DELETE FROM ledger_lots WHERE id = $1::uuid', [s.revoked]);
  }, [{ check: 'operation_journal' }]);
  expect(r.mine.map((v) => v.check)).toEqual(['operation_journal', 'operation_journal']);  // the grant and the revoke
});

test('a settled hold whose state does not match its settlement', async () => {
  // h1 was captured (8 of 12), h3 released: the counts stay consistent, only the state lies.
  const r = await expectFound(async (c) => {
    await c.query(`UPDATE ledger_holds SET state = 'released' WHERE id = $1::uuid`, [s.h1]);
    await c.query(`UPDATE ledger_holds SET state = 'expired' WHERE id = $1::uuid`, [s.h3]);
  }, [{ check: 'hold_totals', holdId: s.h1 }, { check: 'hold_totals', holdId: s.h3 }]);
  expect(r.all).toHaveLength(2);
});
