/** The journal is append-only and pageable; the audit finds tampering; wallets and organization members. */
import { createTestDatabase, type TestDatabase } from '../support/db';
import { expectAuditClean } from '../support/audit';
import { T0, at, key, newWallet } from '../support/ledger-fixtures';
import type { Pool } from 'pg';
import {
  addOrganizationMember, audit, canUseWallet, capture, createWallet, expireLot, grantLot, listJournal,
  listOrganizationMembers, refund, release, removeOrganizationMember, reserve, revokeLot, type JournalEntry,
} from '../../src/ledger';

let db: TestDatabase;
beforeAll(async () => { db = await createTestDatabase(); });
afterAll(async () => { await db.drop(); });

test('journal rows and operations cannot be updated or deleted', async () => {
  const w = await newWallet(db.pool);
  await grantLot(db.pool, { walletId: w, kind: 'purchased', amountCredits: 5, idempotencyKey: key(), now: T0 });
  await expect(db.pool.query('UPDATE ledger_journal SET amount = amount + 1')).rejects.toThrow(/append-only/);
  await expect(db.pool.query('DELETE FROM ledger_journal')).rejects.toThrow(/append-only/);
  await expect(db.pool.query('TRUNCATE ledger_journal')).rejects.toThrow(/append-only/);
  await expect(db.pool.query('UPDATE ledger_operations SET request_hash = $1', ['x'])).rejects.toThrow(/append-only/);
  await expectAuditClean(db.pool);
});

test('journal pages: newest first, keyset cursor, filters', async () => {
  const w = await newWallet(db.pool);
  await grantLot(db.pool, { walletId: w, kind: 'promotional', amountCredits: 3, idempotencyKey: key(), now: T0 });
  await grantLot(db.pool, { walletId: w, kind: 'purchased', amountCredits: 30, idempotencyKey: key(), now: T0, purchaseId: 'p-1' });
  const holds: string[] = [];
  for (let i = 0; i < 6; i++) {
    const r = await reserve(db.pool, { walletId: w, amountCredits: 2, idempotencyKey: key(), holdExpiresAt: at(1), now: at(i / 24), generationId: `gen-${i}` });
    await capture(db.pool, { holdId: r.holdId, idempotencyKey: key(), now: at(i / 24) });
    holds.push(r.holdId);
  }
  const all: JournalEntry[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 20; page++) {
    const p = await listJournal(db.pool, { walletId: w, limit: 4, cursor });
    all.push(...p.entries);
    if (!p.nextCursor) break;
    cursor = p.nextCursor;
  }
  // 2 grants + 6 × (hold + capture), the second reservation spanning two lots (2 more rows).
  expect(all).toHaveLength(2 + 6 * 2 + 2);
  const ids = all.map((e) => BigInt(e.entryId));
  expect([...ids].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0))).toEqual(ids);
  expect(new Set(ids).size).toBe(ids.length);
  expect((await listJournal(db.pool, { walletId: w, kind: 'grant' })).entries.map((e) => e.purchaseId)).toEqual(['p-1', null]);
  const one = await listJournal(db.pool, { walletId: w, holdId: holds[1] });
  expect(one.entries.map((e) => e.kind).sort()).toEqual(['capture', 'capture', 'hold', 'hold']);
  const gen = await listJournal(db.pool, { walletId: w, generationId: 'gen-3', kind: 'hold' });
  expect(gen.entries).toHaveLength(1);
  const window = await listJournal(db.pool, { walletId: w, from: at(2 / 24), to: at(4 / 24) });
  expect(window.entries).toHaveLength(4);
  await expectAuditClean(db.pool);
});

test('the audit reports tampered counters and holds', async () => {
  const w = await newWallet(db.pool);
  const g = await grantLot(db.pool, { walletId: w, kind: 'purchased', amountCredits: 10, idempotencyKey: key(), now: T0 });
  const r = await reserve(db.pool, { walletId: w, amountCredits: 4, idempotencyKey: key(), holdExpiresAt: at(1), now: T0 });
  expect((await audit(db.pool, { walletId: w })).ok).toBe(true);
  // Credits appearing out of nowhere (conservation still holds, the journal disagrees).
  await db.pool.query('UPDATE ledger_lots SET available = available + 5, granted = granted + 5 WHERE id = $1::uuid', [g.lot.lotId]);
  // A hold marked captured behind the ledger's back.
  await db.pool.query(`UPDATE ledger_holds SET state = 'captured', captured = amount, resolved_at = now() WHERE id = $1::uuid`, [r.holdId]);
  const result = await audit(db.pool, { walletId: w });
  expect(result.ok).toBe(false);
  const checks = new Set(result.violations.map((v) => v.check));
  expect(checks).toEqual(new Set(['lot_counter_mismatch', 'lot_held_mismatch', 'hold_totals']));
  expect(result.violations.find((v) => v.check === 'lot_counter_mismatch')?.lotId).toBe(g.lot.lotId);
  // Put it back so the file's other wallets stay clean.
  await db.pool.query('UPDATE ledger_lots SET available = available - 5, granted = granted - 5 WHERE id = $1::uuid', [g.lot.lotId]);
  await db.pool.query(`UPDATE ledger_holds SET state = 'pending', captured = 0, resolved_at = NULL WHERE id = $1::uuid`, [r.holdId]);
  await expectAuditClean(db.pool);
});

test('the tables refuse rows that break the ledger rules, whoever writes them', async () => {
  const w = await newWallet(db.pool);
  const g = await grantLot(db.pool, { walletId: w, kind: 'purchased', amountCredits: 10, idempotencyKey: key(), now: T0 });
  const r = await reserve(db.pool, { walletId: w, amountCredits: 4, idempotencyKey: key(), holdExpiresAt: at(1), now: T0 });
  const lot = (set: string) => db.pool.query(`UPDATE ledger_lots SET ${set} WHERE id = $1::uuid`, [g.lot.lotId]);
  const hold = (set: string) => db.pool.query(`UPDATE ledger_holds SET ${set} WHERE id = $1::uuid`, [r.holdId]);
  for (const broken of [
    'available = available + 1', // conservation: granted = available + held + consumed + expired + revoked
    'available = -1, consumed = consumed + available + 1', // a negative counter, even when the sum holds
    'granted = 0, available = 0, held = 0', "kind = 'gift'", "status = 'frozen'", 'expires_at = granted_at',
    "kind = 'promotional'", 'kind_rank = 0', // the consumption rank must match the kind
  ]) {
    await expect(lot(broken)).rejects.toThrow(/ledger_lots_valid/);
  }
  for (const broken of [
    "state = 'captured'", // resolved without captured + released = amount and a resolution time
    "state = 'captured', captured = amount", "captured = 1", "refunded = 1", "state = 'lost'",
  ]) {
    await expect(hold(broken)).rejects.toThrow(/ledger_holds_valid/);
  }
  await expect(db.pool.query(
    `INSERT INTO ledger_journal (operation_id, idempotency_key, kind, amount, wallet_id, lot_id, created_at)
     VALUES (gen_random_uuid(), 'x', 'grant', 0, $1::uuid, $2::uuid, now())`, [w, g.lot.lotId])).rejects.toThrow(/ledger_journal_valid/);
  await expect(db.pool.query(
    `INSERT INTO ledger_journal (operation_id, idempotency_key, kind, amount, wallet_id, lot_id, created_at)
     VALUES (gen_random_uuid(), 'x', 'gift', 1, $1::uuid, $2::uuid, now())`, [w, g.lot.lotId])).rejects.toThrow(/ledger_journal_valid/);
  await expectAuditClean(db.pool);
});

test('allocations live on the hold: their rules are CHECKed, and the audit finds tampered ones', async () => {
  const w = await newWallet(db.pool);
  await grantLot(db.pool, { walletId: w, kind: 'promotional', amountCredits: 3, idempotencyKey: key(), now: T0 });
  await grantLot(db.pool, { walletId: w, kind: 'purchased', amountCredits: 10, idempotencyKey: key(), now: T0 });
  const r = await reserve(db.pool, { walletId: w, amountCredits: 5, idempotencyKey: key(), holdExpiresAt: at(1), now: T0 });
  expect(r.allocations.map((a) => a.amountCredits)).toEqual([3, 2]);
  await capture(db.pool, { holdId: r.holdId, amountCredits: 4, idempotencyKey: key(), now: T0 });
  const rows = await db.pool.query(
    `SELECT seq, amount::int, captured::int, released::int, refunded::int FROM ledger_hold_allocations WHERE hold_id = $1::uuid ORDER BY seq`, [r.holdId]);
  expect(rows.rows).toEqual([
    { seq: 1, amount: 3, captured: 3, released: 0, refunded: 0 },
    { seq: 2, amount: 2, captured: 1, released: 1, refunded: 0 },
  ]);
  // Breaking a per-allocation rule is refused by the table itself.
  await expect(db.pool.query(`UPDATE ledger_holds SET alloc_captured = '{3,3}' WHERE id = $1::uuid`, [r.holdId]))
    .rejects.toThrow(/ledger_holds_allocations/);
  await expect(db.pool.query(`UPDATE ledger_holds SET alloc_amounts = '{3}' WHERE id = $1::uuid`, [r.holdId]))
    .rejects.toThrow(/ledger_holds_allocations/);
  // A rule-abiding but false split is found by the audit.
  await db.pool.query(`UPDATE ledger_holds SET alloc_captured = '{2,2}', alloc_released = '{1,0}' WHERE id = $1::uuid`, [r.holdId]);
  const result = await audit(db.pool, { walletId: w });
  expect(new Set(result.violations.map((v) => v.check))).toEqual(new Set(['hold_allocation_journal']));
  await db.pool.query(`UPDATE ledger_holds SET alloc_captured = '{3,1}', alloc_released = '{0,1}' WHERE id = $1::uuid`, [r.holdId]);
  await expectAuditClean(db.pool);
});

/** Rows written into the append-only journal cannot be taken back: such tampering gets a database of its own. */
async function withOwnDatabase(run: (pool: Pool) => Promise<void>): Promise<void> {
  const own = await createTestDatabase();
  try {
    await run(own.pool);
  } finally {
    await own.drop();
  }
}

const checksOf = async (pool: Pool, walletId: string) =>
  new Set((await audit(pool, { walletId })).violations.map((v) => v.check));

/** Tampers with one lot row and returns a function that puts it back exactly. */
async function tamperLot(lotId: string, set: string): Promise<() => Promise<void>> {
  const { rows } = await db.pool.query<{ status: string; closed_at: Date | null; expires_at: Date; source_hold_id: string | null }>(
    'SELECT status, closed_at, expires_at, source_hold_id FROM ledger_lots WHERE id = $1::uuid', [lotId]);
  const was = rows[0]!;
  await db.pool.query(`UPDATE ledger_lots SET ${set} WHERE id = $1::uuid`, [lotId]);
  return async () => {
    await db.pool.query(
      'UPDATE ledger_lots SET status = $2, closed_at = $3, expires_at = $4, source_hold_id = $5 WHERE id = $1::uuid',
      [lotId, was.status, was.closed_at, was.expires_at, was.source_hold_id]);
  };
}

test('the audit reports a release whose destination does not match its lot', async () => {
  const w = await newWallet(db.pool);
  const a = (await grantLot(db.pool, { walletId: w, kind: 'promotional', amountCredits: 10, idempotencyKey: key(), now: T0, expiresAt: at(1) })).lot.lotId;
  const b = (await grantLot(db.pool, { walletId: w, kind: 'purchased', amountCredits: 10, idempotencyKey: key(), now: T0 })).lot.lotId;
  const r = await reserve(db.pool, { walletId: w, amountCredits: 16, idempotencyKey: key(), holdExpiresAt: at(3), now: T0 });
  await expireLot(db.pool, { lotId: a, idempotencyKey: key(), now: at(1) });
  await revokeLot(db.pool, { lotId: b, idempotencyKey: key(), now: at(1) });
  const c = (await grantLot(db.pool, { walletId: w, kind: 'purchased', amountCredits: 5, idempotencyKey: key(), now: T0 })).lot.lotId;
  const r2 = await reserve(db.pool, { walletId: w, amountCredits: 5, idempotencyKey: key(), holdExpiresAt: at(3), now: T0 });
  await release(db.pool, { holdId: r.holdId, idempotencyKey: key(), now: at(2) });   // a: 10 expired (+ refund lot), b: 6 revoked
  await release(db.pool, { holdId: r2.holdId, idempotencyKey: key(), now: at(2) });  // c: 5 back to available
  expect((await audit(db.pool, { walletId: w })).ok).toBe(true);
  // As if each lot had been usable (a, b) or past its expiry (c) at the release.
  const restore = [
    await tamperLot(a, `status = 'active', closed_at = NULL, expires_at = '${at(5).toISOString()}'`),
    await tamperLot(b, `status = 'active', closed_at = NULL`),
    await tamperLot(c, `expires_at = '${at(1).toISOString()}'`),
  ];
  const result = await audit(db.pool, { walletId: w });
  const lotsOf = (check: string) => result.violations.filter((v) => v.check === check).map((v) => v.lotId).sort();
  expect(new Set(result.violations.map((v) => v.check))).toEqual(new Set(['release_destination', 'lot_closure']));
  expect(lotsOf('release_destination')).toEqual([a, b, c].sort());
  // b, active again, still has the revoke row that closed it (0010); a's expiry found nothing available.
  expect(lotsOf('lot_closure')).toEqual([b]);
  for (const undo of restore) await undo();
  await expectAuditClean(db.pool);
});

test('the audit reports released expired credits that do not reappear as the hold\'s refund lot', async () => {
  const w = await newWallet(db.pool);
  const a = (await grantLot(db.pool, { walletId: w, kind: 'promotional', amountCredits: 10, idempotencyKey: key(), now: T0, expiresAt: at(1) })).lot.lotId;
  const r = await reserve(db.pool, { walletId: w, amountCredits: 6, idempotencyKey: key(), holdExpiresAt: at(3), now: T0 });
  await expireLot(db.pool, { lotId: a, idempotencyKey: key(), now: at(1) });
  const rel = await release(db.pool, { holdId: r.holdId, idempotencyKey: key(), now: at(2) });
  expect(rel.refundLotId).not.toBeNull();
  const undo = await tamperLot(rel.refundLotId!, 'source_hold_id = NULL');
  expect(await checksOf(db.pool, w)).toEqual(new Set(['release_refund_lot']));
  await undo();
  await expectAuditClean(db.pool);
});

test('the audit reports a refund lot granted for credits released into a revoked lot (what 0001 did)', async () => {
  await withOwnDatabase(async (pool) => {
    const w = await newWallet(pool);
    const a = (await grantLot(pool, { walletId: w, kind: 'purchased', amountCredits: 10, idempotencyKey: key(), now: T0 })).lot.lotId;
    const r = await reserve(pool, { walletId: w, amountCredits: 6, idempotencyKey: key(), holdExpiresAt: at(3), now: T0 });
    await revokeLot(pool, { lotId: a, idempotencyKey: key(), now: at(1) });
    const relKey = key('release');
    const rel = await release(pool, { holdId: r.holdId, idempotencyKey: relKey, now: at(2) });
    expect(rel.refundLotId).toBeNull();
    // The revoked credits granted again as a refund lot of the hold, counters and journal consistent.
    const lot = await pool.query<{ id: string }>(
      `INSERT INTO ledger_lots (wallet_id, kind, granted_at, expires_at, granted, available, source_hold_id, operation_id)
       VALUES ($1::uuid, 'refund', $2, $3, 6, 6, $4::uuid, $5::uuid) RETURNING id::text AS id`,
      [w, at(2), at(32), r.holdId, rel.operationId]);
    await pool.query(
      `INSERT INTO ledger_journal (operation_id, idempotency_key, kind, amount, wallet_id, lot_id, hold_id, d_available, created_at)
       VALUES ($1::uuid, $2, 'grant', 6, $3::uuid, $4::uuid, $5::uuid, 6, $6)`,
      [rel.operationId, relKey, w, lot.rows[0]!.id, r.holdId, at(2)]);
    expect(await checksOf(pool, w)).toEqual(new Set(['release_refund_lot']));
  });
});

test('the audit checks refunds per allocation, and the source of a refund lot', async () => {
  await withOwnDatabase(async (pool) => {
    const w = await newWallet(pool);
    const a = (await grantLot(pool, { walletId: w, kind: 'promotional', amountCredits: 10, idempotencyKey: key(), now: T0 })).lot.lotId;
    const b = (await grantLot(pool, { walletId: w, kind: 'purchased', amountCredits: 10, idempotencyKey: key(), now: T0 })).lot.lotId;
    const h1 = await reserve(pool, { walletId: w, amountCredits: 5, idempotencyKey: key(), holdExpiresAt: at(1), now: T0 });
    await capture(pool, { holdId: h1.holdId, idempotencyKey: key(), now: T0 });
    const h2 = await reserve(pool, { walletId: w, amountCredits: 10, idempotencyKey: key(), holdExpiresAt: at(1), now: T0 });
    await capture(pool, { holdId: h2.holdId, idempotencyKey: key(), now: T0 });
    expect(h1.allocations.map((x) => x.lotId)).toEqual([a]);
    // A refund of h1 journalled on b, a lot h1 never took credits from; b's counters, the hold's totals and
    // its allocation (on a) all agree with it, and so does the refund operation it is filed under, so only the
    // per-allocation check can tell.
    const op = await pool.query<{ id: string }>(
      `INSERT INTO ledger_operations (idempotency_key, id, operation, request_hash, wallet_id, result, created_at)
       VALUES ('tampered', gen_random_uuid(), 'refund', 'x', $1::uuid, '{}', $2) RETURNING id::text AS id`, [w, at(0.5)]);
    await pool.query(
      `INSERT INTO ledger_journal (operation_id, idempotency_key, kind, amount, wallet_id, lot_id, hold_id, d_available, d_consumed, created_at)
       VALUES ($1::uuid, 'tampered', 'refund', 2, $2::uuid, $3::uuid, $4::uuid, 2, -2, $5)`,
      [op.rows[0]!.id, w, b, h1.holdId, at(0.5)]);
    await pool.query('UPDATE ledger_lots SET available = available + 2, consumed = consumed - 2 WHERE id = $1::uuid', [b]);
    await pool.query(`UPDATE ledger_holds SET refunded = 2, alloc_refunded = '{2}' WHERE id = $1::uuid`, [h1.holdId]);
    const result = await audit(pool, { walletId: w });
    expect(new Set(result.violations.map((v) => v.check))).toEqual(new Set(['refund_allocation']));
    // b: no allocation of h1 there; a: its refunded part went nowhere although a was usable.
    expect(result.violations.map((v) => v.lotId).sort()).toEqual([a, b].sort());
  });
  // A refund into a new lot (the lot had expired): that lot must be the hold's refund lot.
  const w = await newWallet(db.pool);
  const a = (await grantLot(db.pool, { walletId: w, kind: 'promotional', amountCredits: 10, idempotencyKey: key(), now: T0, expiresAt: at(1) })).lot.lotId;
  const r = await reserve(db.pool, { walletId: w, amountCredits: 4, idempotencyKey: key(), holdExpiresAt: at(1), now: T0 });
  await capture(db.pool, { holdId: r.holdId, idempotencyKey: key(), now: T0 });
  await expireLot(db.pool, { lotId: a, idempotencyKey: key(), now: at(1) });
  const rf = await refund(db.pool, { holdId: r.holdId, amountCredits: 3, idempotencyKey: key(), now: at(2) });
  expect(rf.refundLotCredits).toBe(3);
  const undo = await tamperLot(rf.refundLotId!, 'source_hold_id = NULL');
  expect(await checksOf(db.pool, w)).toEqual(new Set(['refund_lot_source']));
  await undo();
  await expectAuditClean(db.pool);
});

test('the audit reports an expired or revoked lot that still has available credits', async () => {
  const w = await newWallet(db.pool);
  const a = (await grantLot(db.pool, { walletId: w, kind: 'purchased', amountCredits: 10, idempotencyKey: key(), now: T0 })).lot.lotId;
  await reserve(db.pool, { walletId: w, amountCredits: 4, idempotencyKey: key(), holdExpiresAt: at(1), now: T0 });
  // Closed without its available credits being taken (the journal and counters still agree).
  for (const status of ['expired', 'revoked']) {
    const undo = await tamperLot(a, `status = '${status}', closed_at = '${at(0.5).toISOString()}'`);
    const result = await audit(db.pool, { walletId: w });
    expect(result.violations.map((v) => [v.check, v.lotId, v.details])).toEqual([['closed_lot_available', a, { status, available: 6 }]]);
    await undo();
  }
  await expectAuditClean(db.pool);
});

test('wallets: one per owner; organization members share theirs', async () => {
  const owner = `org-${key()}`;
  const a = await createWallet(db.pool, { ownerType: 'organization', ownerId: owner });
  const b = await createWallet(db.pool, { ownerType: 'organization', ownerId: owner });
  expect(a.created).toBe(true);
  expect(b).toEqual({ wallet: a.wallet, created: false });
  await addOrganizationMember(db.pool, { organizationId: owner, userId: 'alice', role: 'admin' });
  await addOrganizationMember(db.pool, { organizationId: owner, userId: 'bob' });
  expect((await listOrganizationMembers(db.pool, { organizationId: owner })).map((m) => [m.userId, m.role])).toEqual([['alice', 'admin'], ['bob', 'member']]);
  expect(await canUseWallet(db.pool, { walletId: a.wallet.walletId, userId: 'bob' })).toBe(true);
  expect(await canUseWallet(db.pool, { walletId: a.wallet.walletId, userId: 'mallory' })).toBe(false);
  expect(await removeOrganizationMember(db.pool, { organizationId: owner, userId: 'bob' })).toEqual({ removed: true });
  expect(await canUseWallet(db.pool, { walletId: a.wallet.walletId, userId: 'bob' })).toBe(false);
  const personal = await createWallet(db.pool, { ownerType: 'user', ownerId: 'carol' });
  expect(await canUseWallet(db.pool, { walletId: personal.wallet.walletId, userId: 'carol' })).toBe(true);
  await expectAuditClean(db.pool);
});
