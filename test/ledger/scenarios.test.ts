/** Ledger behaviour on real Postgres: consumption order, holds, partial capture, refunds, expiry, idempotency. */
import { createTestDatabase, type TestDatabase } from '../support/db';
import { expectAuditClean } from '../support/audit';
import { T0, at, key, newWallet, snapshot } from '../support/ledger-fixtures';
import {
  adjust, capture, closeWallet, expireHold, expireLot, getBalance, getHold, grantLot, LedgerError, release,
  releaseExpiredHolds, refund, reserve, revokeLot, type LotKind,
} from '../../src/ledger';

let db: TestDatabase;
beforeAll(async () => { db = await createTestDatabase(); });
afterAll(async () => { await db.drop(); });
afterEach(async () => { await expectAuditClean(db.pool); });

async function grant(walletId: string, kind: LotKind, amountCredits: number, extra: { expiresAt?: Date; now?: Date } = {}): Promise<string> {
  const r = await grantLot(db.pool, { walletId, kind, amountCredits, idempotencyKey: key('grant'), now: extra.now ?? T0, expiresAt: extra.expiresAt });
  return r.lot.lotId;
}

async function expectLedgerError(p: Promise<unknown>, code: string): Promise<LedgerError> {
  const e = await p.then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(LedgerError);
  expect((e as LedgerError).code).toBe(code);
  return e as LedgerError;
}

const hold = (walletId: string, amountCredits: number, now: Date = T0) =>
  reserve(db.pool, { walletId, amountCredits, idempotencyKey: key('reserve'), holdExpiresAt: at(1, now), now });

describe('consumption order', () => {
  test('soonest expiry first; at equal expiry promotional → membership → purchased/bulk → others; then grant time', async () => {
    const w = await newWallet(db.pool);
    const same = at(60);
    // Granted in an order that differs from the expected consumption order.
    const refundLot = await grant(w, 'refund', 10, { expiresAt: same });
    const bulk = await grant(w, 'bulk', 10, { expiresAt: same, now: at(0.001) });
    const purchased = await grant(w, 'purchased', 10, { expiresAt: same, now: at(0.002) });
    const membership = await grant(w, 'membership', 10, { expiresAt: same });
    const promo = await grant(w, 'promotional', 10, { expiresAt: same });
    const soon = await grant(w, 'purchased', 10, { expiresAt: at(5) });
    const adj = await adjust(db.pool, { walletId: w, deltaCredits: 10, reason: 'goodwill', actor: 'support:1', idempotencyKey: key('adj'), now: at(0.003), expiresAt: same });
    const r = await hold(w, 65, at(0.01));
    expect(r.allocations).toEqual([
      { lotId: soon, amountCredits: 10 },
      { lotId: promo, amountCredits: 10 },
      { lotId: membership, amountCredits: 10 },
      { lotId: bulk, amountCredits: 10 },       // purchased/bulk share a rank: earlier grant first
      { lotId: purchased, amountCredits: 10 },
      { lotId: refundLot, amountCredits: 10 },  // "others": refund granted before the adjustment
      { lotId: adj.lotId, amountCredits: 5 },
    ]);
    const b = await getBalance(db.pool, { walletId: w, now: at(0.01) });
    expect(b.availableCredits).toBe(5);
    expect(b.heldCredits).toBe(65);
    // Lots still holding credits are listed too, in consumption order.
    expect(b.lots.map((l) => l.lotId)).toEqual([soon, promo, membership, bulk, purchased, refundLot, adj.lotId]);
  });

  test('default validity per kind comes from the policy', async () => {
    const w = await newWallet(db.pool);
    const lots = await Promise.all([
      grantLot(db.pool, { walletId: w, kind: 'promotional', amountCredits: 1, idempotencyKey: key(), now: T0 }),
      grantLot(db.pool, { walletId: w, kind: 'membership', amountCredits: 1, idempotencyKey: key(), now: T0, periodEnd: at(31) }),
      grantLot(db.pool, { walletId: w, kind: 'purchased', amountCredits: 1, idempotencyKey: key(), now: T0 }),
      grantLot(db.pool, { walletId: w, kind: 'bulk', amountCredits: 1, idempotencyKey: key(), now: T0, bulkPackages: 3 }),
      grantLot(db.pool, { walletId: w, kind: 'refund', amountCredits: 1, idempotencyKey: key(), now: T0 }),
    ]);
    expect(lots.map((l) => l.lot.expiresAt.toISOString())).toEqual([
      at(90).toISOString(), at(31).toISOString(), at(365).toISOString(), '2026-04-01T00:00:00.000Z', at(30).toISOString(),
    ]);
  });

  test('a reservation spans lots; one that does not fit fails with the shortfall and changes nothing', async () => {
    const w = await newWallet(db.pool);
    const a = await grant(w, 'promotional', 7);
    const b = await grant(w, 'purchased', 5);
    const r = await hold(w, 9);
    expect(r.allocations).toEqual([{ lotId: a, amountCredits: 7 }, { lotId: b, amountCredits: 2 }]);
    const before = await snapshot(db.pool, w);
    const e = await expectLedgerError(hold(w, 4), 'InsufficientCredits');
    expect(e.shortfallCredits).toBe(1);
    expect(await snapshot(db.pool, w)).toEqual(before);
  });

  test('lots past their expiry are not consumed even before expireLot runs', async () => {
    const w = await newWallet(db.pool);
    await grant(w, 'promotional', 10, { expiresAt: at(1) });
    const live = await grant(w, 'purchased', 10);
    const r = await hold(w, 10, at(2));
    expect(r.allocations).toEqual([{ lotId: live, amountCredits: 10 }]);
    await expectLedgerError(hold(w, 1, at(2)), 'InsufficientCredits');
  });
});

describe('holds', () => {
  test('partial capture charges the first allocations and releases the rest', async () => {
    const w = await newWallet(db.pool);
    const a = await grant(w, 'promotional', 10);
    const b = await grant(w, 'purchased', 10);
    const r = await hold(w, 15);
    const c = await capture(db.pool, { holdId: r.holdId, amountCredits: 12, idempotencyKey: key('cap'), now: T0 });
    expect(c).toMatchObject({ state: 'captured', capturedCredits: 12, releasedCredits: 3, refundLotId: null });
    expect(c.allocations).toEqual([
      { lotId: a, capturedCredits: 10, releasedCredits: 0 },
      { lotId: b, capturedCredits: 2, releasedCredits: 3 },
    ]);
    const bal = await getBalance(db.pool, { walletId: w, now: T0, includeClosedLots: true });
    expect(bal.availableCredits).toBe(8);
    expect(bal.heldCredits).toBe(0);
    expect(bal.lots.find((l) => l.lotId === b)).toMatchObject({ consumedCredits: 2, availableCredits: 8 });
    await expectLedgerError(release(db.pool, { holdId: r.holdId, idempotencyKey: key('rel'), now: T0 }), 'HoldAlreadyResolved');
    await expectLedgerError(capture(db.pool, { holdId: r.holdId, idempotencyKey: key('cap'), now: T0 }), 'HoldAlreadyResolved');
  });

  test('capture more than held is refused; release returns everything', async () => {
    const w = await newWallet(db.pool);
    await grant(w, 'purchased', 10);
    const r = await hold(w, 4);
    await expectLedgerError(capture(db.pool, { holdId: r.holdId, amountCredits: 5, idempotencyKey: key(), now: T0 }), 'InvalidAmount');
    const rel = await release(db.pool, { holdId: r.holdId, idempotencyKey: key(), now: T0 });
    expect(rel).toMatchObject({ state: 'released', capturedCredits: 0, releasedCredits: 4 });
    expect((await getBalance(db.pool, { walletId: w, now: T0 })).availableCredits).toBe(10);
  });

  test('the safety net expires pending holds past their expiry, not before', async () => {
    const w = await newWallet(db.pool);
    await grant(w, 'purchased', 10);
    const r = await reserve(db.pool, { walletId: w, amountCredits: 6, idempotencyKey: key(), holdExpiresAt: at(0.01), now: T0 });
    await expectLedgerError(expireHold(db.pool, { holdId: r.holdId, idempotencyKey: key(), now: T0 }), 'HoldNotExpired');
    const swept = await releaseExpiredHolds(db.pool, { now: at(0.02) });
    expect(swept.expired.map((s) => s.holdId)).toContain(r.holdId);
    expect((await getHold(db.pool, { holdId: r.holdId })).state).toBe('expired');
    const again = await releaseExpiredHolds(db.pool, { now: at(0.03) });
    expect(again.expired.map((s) => s.holdId)).not.toContain(r.holdId);
    expect((await getBalance(db.pool, { walletId: w, now: at(0.03) })).availableCredits).toBe(10);
  });
});

describe('expiry and refunds', () => {
  test('expiring a lot takes its available credits; held credits stay with the hold and can be captured', async () => {
    const w = await newWallet(db.pool);
    const a = await grant(w, 'promotional', 10, { expiresAt: at(1) });
    const r = await hold(w, 6);
    const ex = await expireLot(db.pool, { lotId: a, idempotencyKey: key(), now: at(1) });
    expect(ex.amountCredits).toBe(4);
    // Still held for the generation in flight: the balance keeps showing them (and the expired lot holding them).
    const during = await getBalance(db.pool, { walletId: w, now: at(1.5) });
    expect(during).toMatchObject({ availableCredits: 0, heldCredits: 6, nextExpiryAt: null });
    expect(during.lots.map((l) => [l.lotId, l.status, l.heldCredits])).toEqual([[a, 'expired', 6]]);
    const c = await capture(db.pool, { holdId: r.holdId, idempotencyKey: key(), now: at(2) });
    expect(c.capturedCredits).toBe(6);
    const lot = (await getBalance(db.pool, { walletId: w, now: at(2), includeClosedLots: true })).lots[0];
    expect(lot).toMatchObject({ status: 'expired', expiredCredits: 4, consumedCredits: 6, heldCredits: 0, availableCredits: 0 });
  });

  test('releasing credits whose lot expired meanwhile returns them as a new refund lot', async () => {
    const w = await newWallet(db.pool);
    const a = await grant(w, 'promotional', 10, { expiresAt: at(1) });
    const r = await hold(w, 6);
    await expireLot(db.pool, { lotId: a, idempotencyKey: key(), now: at(1) });
    const rel = await release(db.pool, { holdId: r.holdId, idempotencyKey: key(), now: at(2) });
    expect(rel.refundLotId).not.toBeNull();
    const bal = await getBalance(db.pool, { walletId: w, now: at(2), includeClosedLots: true });
    expect(bal.availableCredits).toBe(6);
    expect(bal.lots.find((l) => l.lotId === a)).toMatchObject({ expiredCredits: 10, heldCredits: 0 });
    expect(bal.lots.find((l) => l.lotId === rel.refundLotId)).toMatchObject({ kind: 'refund', availableCredits: 6, expiresAt: at(32) });
  });

  test('a closed wallet gets no refund lot: credits released into an expired lot stay expired', async () => {
    const w = await newWallet(db.pool);
    const a = await grant(w, 'promotional', 10, { expiresAt: at(1) });
    const r1 = await hold(w, 4);
    const r2 = await reserve(db.pool, { walletId: w, amountCredits: 3, idempotencyKey: key(), holdExpiresAt: at(1.5), now: T0 });
    await expireLot(db.pool, { lotId: a, idempotencyKey: key(), now: at(1) });
    await closeWallet(db.pool, { walletId: w, now: at(1) });
    const rel = await release(db.pool, { holdId: r1.holdId, idempotencyKey: key(), now: at(2) });
    expect(rel).toMatchObject({ state: 'released', releasedCredits: 4, refundLotId: null });
    const swept = await expireHold(db.pool, { holdId: r2.holdId, idempotencyKey: key(), now: at(2) });
    expect(swept).toMatchObject({ state: 'expired', releasedCredits: 3, refundLotId: null });
    const bal = await getBalance(db.pool, { walletId: w, now: at(2), includeClosedLots: true });
    expect(bal).toMatchObject({ walletStatus: 'closed', availableCredits: 0, heldCredits: 0 });
    expect(bal.lots.map((l) => [l.lotId, l.expiredCredits])).toEqual([[a, 10]]);
  });

  test('refunds go back to their lots, or to a new refund lot where the lot has expired', async () => {
    const w = await newWallet(db.pool);
    const a = await grant(w, 'promotional', 10, { expiresAt: at(1) });
    const b = await grant(w, 'purchased', 10, { expiresAt: at(30) });
    const r = await hold(w, 15);
    await capture(db.pool, { holdId: r.holdId, idempotencyKey: key(), now: T0 });
    await expireLot(db.pool, { lotId: a, idempotencyKey: key(), now: at(1) });
    const rf = await refund(db.pool, { holdId: r.holdId, amountCredits: 12, idempotencyKey: key(), refundRequestId: 'rr-1', now: at(2) });
    // Newest allocation first: b gets its 5 back, the other 7 belonged to the expired lot a.
    expect(rf.allocations).toEqual([{ lotId: b, amountCredits: 5 }]);
    expect(rf.refundLotCredits).toBe(7);
    const bal = await getBalance(db.pool, { walletId: w, now: at(2) });
    expect(bal.availableCredits).toBe(17);
    await expectLedgerError(refund(db.pool, { holdId: r.holdId, amountCredits: 4, idempotencyKey: key(), now: at(2) }), 'RefundExceedsCaptured');
    const last = await refund(db.pool, { holdId: r.holdId, amountCredits: 3, idempotencyKey: key(), now: at(2) });
    expect(last.refundLotCredits).toBe(3);
    expect((await getHold(db.pool, { holdId: r.holdId })).refundedCredits).toBe(15);
  });

  test('a pending hold cannot be refunded', async () => {
    const w = await newWallet(db.pool);
    await grant(w, 'purchased', 10);
    const r = await hold(w, 5);
    await expectLedgerError(refund(db.pool, { holdId: r.holdId, amountCredits: 1, idempotencyKey: key(), now: T0 }), 'RefundExceedsCaptured');
  });

  test('revoke takes available credits; adjustments add a lot or debit in consumption order', async () => {
    const w = await newWallet(db.pool);
    const a = await grant(w, 'promotional', 10);
    const b = await grant(w, 'purchased', 10);
    const r = await hold(w, 3);
    expect((await revokeLot(db.pool, { lotId: a, idempotencyKey: key(), actor: 'risk', reason: 'chargeback', now: T0 })).amountCredits).toBe(7);
    expect((await revokeLot(db.pool, { lotId: a, idempotencyKey: key(), now: T0 })).amountCredits).toBe(0);
    const neg = await adjust(db.pool, { walletId: w, deltaCredits: -4, reason: 'correction', actor: 'support:2', idempotencyKey: key(), now: T0 });
    expect(neg.allocations).toEqual([{ lotId: b, amountCredits: 4 }]);
    await expectLedgerError(adjust(db.pool, { walletId: w, deltaCredits: -7, reason: 'x', actor: 'y', idempotencyKey: key(), now: T0 }), 'InsufficientCredits');
    // The hold on the revoked lot, released: the credits stay revoked (the revoke took the lot back).
    const rel = await release(db.pool, { holdId: r.holdId, idempotencyKey: key(), now: T0 });
    expect(rel.refundLotId).toBeNull();
    expect((await getBalance(db.pool, { walletId: w, now: T0 })).availableCredits).toBe(6);
  });

  test('credits released into a revoked lot stay revoked: no refund lot, balance unchanged', async () => {
    const w = await newWallet(db.pool);
    const a = await grant(w, 'promotional', 10);
    await grant(w, 'purchased', 5);
    const r = await hold(w, 8);
    expect(r.allocations).toEqual([{ lotId: a, amountCredits: 8 }]);
    expect((await revokeLot(db.pool, { lotId: a, idempotencyKey: key(), reason: 'chargeback', now: T0 })).amountCredits).toBe(2);
    const before = await getBalance(db.pool, { walletId: w, now: at(0.5), includeClosedLots: true });
    expect(before).toMatchObject({ availableCredits: 5, heldCredits: 8 });
    const rel = await release(db.pool, { holdId: r.holdId, idempotencyKey: key(), now: at(0.5) });
    expect(rel).toMatchObject({ state: 'released', releasedCredits: 8, refundLotId: null });
    const after = await getBalance(db.pool, { walletId: w, now: at(0.5), includeClosedLots: true });
    expect(after).toMatchObject({ availableCredits: 5, heldCredits: 0 });
    expect(after.lots).toHaveLength(before.lots.length); // no new lot
    expect(after.lots.find((l) => l.lotId === a)).toMatchObject({
      status: 'revoked', availableCredits: 0, heldCredits: 0, consumedCredits: 0, expiredCredits: 0, revokedCredits: 10,
    });
  });

  test('a partial capture across a revoked and an expired lot: only the expired part comes back', async () => {
    const w = await newWallet(db.pool);
    const a = await grant(w, 'promotional', 5, { expiresAt: at(1) });
    const b = await grant(w, 'purchased', 5);
    const r = await hold(w, 10);
    await expireLot(db.pool, { lotId: a, idempotencyKey: key(), now: at(1) });
    await revokeLot(db.pool, { lotId: b, idempotencyKey: key(), now: at(1) });
    const c = await capture(db.pool, { holdId: r.holdId, amountCredits: 2, idempotencyKey: key(), now: at(2) });
    expect(c.allocations).toEqual([
      { lotId: a, capturedCredits: 2, releasedCredits: 3 },
      { lotId: b, capturedCredits: 0, releasedCredits: 5 },
    ]);
    expect(c.refundLotId).not.toBeNull();
    const bal = await getBalance(db.pool, { walletId: w, now: at(2), includeClosedLots: true });
    expect(bal.availableCredits).toBe(3);
    expect(bal.lots.find((l) => l.lotId === c.refundLotId)).toMatchObject({ kind: 'refund', grantedCredits: 3 });
    expect(bal.lots.find((l) => l.lotId === a)).toMatchObject({ consumedCredits: 2, expiredCredits: 3 });
    expect(bal.lots.find((l) => l.lotId === b)).toMatchObject({ consumedCredits: 0, revokedCredits: 5 });
  });

  test('credits captured from a lot revoked since are not refundable; the rest of the hold still is', async () => {
    const w = await newWallet(db.pool);
    const a = await grant(w, 'promotional', 10);
    const b = await grant(w, 'purchased', 10);
    const r = await hold(w, 15);
    await capture(db.pool, { holdId: r.holdId, idempotencyKey: key(), now: T0 });
    // The newest allocation's lot (b: 5 captured, 5 available) is charged back.
    expect((await revokeLot(db.pool, { lotId: b, idempotencyKey: key(), reason: 'chargeback', now: at(1) })).amountCredits).toBe(5);
    const before = await snapshot(db.pool, w, at(2));
    const e = await expectLedgerError(refund(db.pool, { holdId: r.holdId, amountCredits: 11, idempotencyKey: key(), now: at(2) }), 'RefundExceedsCaptured');
    expect(e.details).toMatchObject({ requestedCredits: 11, refundableCredits: 10 });
    expect(await snapshot(db.pool, w, at(2))).toEqual(before);
    // The walk skips b and gives a its 10 back; nothing comes back as a new lot.
    const rf = await refund(db.pool, { holdId: r.holdId, amountCredits: 10, idempotencyKey: key(), now: at(2) });
    expect(rf).toMatchObject({ refundedCredits: 10, allocations: [{ lotId: a, amountCredits: 10 }], refundLotId: null, refundLotCredits: 0 });
    const e2 = await expectLedgerError(refund(db.pool, { holdId: r.holdId, amountCredits: 1, idempotencyKey: key(), now: at(2) }), 'RefundExceedsCaptured');
    expect(e2.details).toMatchObject({ requestedCredits: 1, refundableCredits: 0 });
    expect((await getHold(db.pool, { holdId: r.holdId })).refundedCredits).toBe(10);
    const bal = await getBalance(db.pool, { walletId: w, now: at(2), includeClosedLots: true });
    expect(bal.availableCredits).toBe(10);
    expect(bal.lots.find((l) => l.lotId === b)).toMatchObject({ consumedCredits: 5, revokedCredits: 5 });
  });
});

describe('idempotency', () => {
  test('same key + same content returns the first result and changes nothing', async () => {
    const w = await newWallet(db.pool);
    await grant(w, 'purchased', 10);
    const k = key('reserve');
    const first = await reserve(db.pool, { walletId: w, amountCredits: 4, idempotencyKey: k, holdExpiresAt: at(1), now: T0 });
    const before = await snapshot(db.pool, w);
    // A retry may recompute timestamps: still the same request.
    const second = await reserve(db.pool, { walletId: w, amountCredits: 4, idempotencyKey: k, holdExpiresAt: at(2), now: at(0.5) });
    expect(second).toEqual({ ...first, replayed: true });
    expect(first.replayed).toBe(false);
    expect(await snapshot(db.pool, w)).toEqual(before);
    const ck = key('capture');
    const c1 = await capture(db.pool, { holdId: first.holdId, amountCredits: 3, idempotencyKey: ck, now: T0 });
    const c2 = await capture(db.pool, { holdId: first.holdId, amountCredits: 3, idempotencyKey: ck, now: T0 });
    expect(c2).toEqual({ ...c1, replayed: true });
  });

  test('same key + different content is a conflict and changes nothing', async () => {
    const w = await newWallet(db.pool);
    await grant(w, 'purchased', 10);
    const k = key('reserve');
    const r = await reserve(db.pool, { walletId: w, amountCredits: 4, idempotencyKey: k, holdExpiresAt: at(1), now: T0 });
    const before = await snapshot(db.pool, w);
    await expectLedgerError(reserve(db.pool, { walletId: w, amountCredits: 5, idempotencyKey: k, holdExpiresAt: at(1), now: T0 }), 'IdempotencyConflict');
    await expectLedgerError(capture(db.pool, { holdId: r.holdId, idempotencyKey: k, now: T0 }), 'IdempotencyConflict');
    await expectLedgerError(grantLot(db.pool, { walletId: w, kind: 'purchased', amountCredits: 4, idempotencyKey: k, now: T0 }), 'IdempotencyConflict');
    expect(await snapshot(db.pool, w)).toEqual(before);
  });

  test("a new lot's validity inputs are content: the same key with another validity is a conflict", async () => {
    const w = await newWallet(db.pool);
    const base = { walletId: w, amountCredits: 5, now: T0 } as const;
    const grants = [
      { kind: 'bulk', bulkPackages: 2 }, { kind: 'purchased', validityDays: 10 },
      { kind: 'membership', periodEnd: at(31) }, { kind: 'purchased', expiresAt: at(40) },
    ] as const;
    const others = [
      { kind: 'bulk', bulkPackages: 3 }, { kind: 'purchased', validityDays: 11 },
      { kind: 'membership', periodEnd: at(31 + 1 / 86_400_000) }, { kind: 'purchased', expiresAt: at(41) },
    ] as const;
    for (const [i, g] of grants.entries()) {
      const k = key('grant');
      const first = await grantLot(db.pool, { ...base, ...g, idempotencyKey: k });
      const before = await snapshot(db.pool, w);
      await expectLedgerError(grantLot(db.pool, { ...base, ...others[i]!, idempotencyKey: k }), 'IdempotencyConflict');
      // Leaving the validity input out is a different request too.
      await expectLedgerError(grantLot(db.pool, { ...base, kind: g.kind, idempotencyKey: k }), 'IdempotencyConflict');
      expect(await snapshot(db.pool, w)).toEqual(before);
      // The same inputs replay even when `now` (and so a computed expiry) moved on: a retried activity.
      expect(await grantLot(db.pool, { ...base, ...g, idempotencyKey: k, now: at(0.5) })).toEqual({ ...first, replayed: true });
    }
    for (const v of [{ validityDays: 5 }, { expiresAt: at(20) }]) {
      const k = key('adjust');
      const input = { walletId: w, deltaCredits: 3, reason: 'goodwill', actor: 'support:1', now: T0, idempotencyKey: k };
      const first = await adjust(db.pool, { ...input, ...v });
      const before = await snapshot(db.pool, w);
      await expectLedgerError(adjust(db.pool, { ...input, validityDays: 6 }), 'IdempotencyConflict');
      await expectLedgerError(adjust(db.pool, { ...input, expiresAt: at(21) }), 'IdempotencyConflict');
      expect(await snapshot(db.pool, w)).toEqual(before);
      expect(await adjust(db.pool, { ...input, ...v, now: at(0.5) })).toEqual({ ...first, replayed: true });
    }
  });

  test('a refused operation leaves its key unused', async () => {
    const w = await newWallet(db.pool);
    const k = key('reserve');
    await expectLedgerError(reserve(db.pool, { walletId: w, amountCredits: 5, idempotencyKey: k, holdExpiresAt: at(1), now: T0 }), 'InsufficientCredits');
    await grant(w, 'purchased', 5);
    const r = await reserve(db.pool, { walletId: w, amountCredits: 5, idempotencyKey: k, holdExpiresAt: at(1), now: T0 });
    expect(r.replayed).toBe(false);
  });
});
