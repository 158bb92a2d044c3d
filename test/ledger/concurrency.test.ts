/** Races on real Postgres: requests competing for the last credits of one wallet never both win. */
import { createTestDatabase, type TestDatabase } from '../support/db';
import { expectAuditClean } from '../support/audit';
import { T0, at, key, newWallet } from '../support/ledger-fixtures';
import { capture, getBalance, grantLot, isLedgerError, refund, release, reserve, type ReserveResult } from '../../src/ledger';

let db: TestDatabase;
beforeAll(async () => { db = await createTestDatabase({ poolMax: 20 }); });
afterAll(async () => { await db.drop(); });
afterEach(async () => { await expectAuditClean(db.pool); });

/** A wallet that can afford exactly 20 reservations of 5 credits, spread over several lots. */
async function walletFor20(): Promise<string> {
  const w = await newWallet(db.pool);
  for (const [kind, amountCredits] of [['promotional', 30], ['membership', 25], ['purchased', 45]] as const) {
    await grantLot(db.pool, { walletId: w, kind, amountCredits, idempotencyKey: key('grant'), now: T0 });
  }
  return w;
}

type Outcome = { ok: true; r: ReserveResult } | { ok: false; code: string; shortfall: number | undefined };

async function attempt(walletId: string, idempotencyKey: string): Promise<Outcome> {
  try {
    return { ok: true, r: await reserve(db.pool, { walletId, amountCredits: 5, idempotencyKey, holdExpiresAt: at(1), now: T0 }) };
  } catch (e) {
    if (isLedgerError(e)) return { ok: false, code: e.code, shortfall: e.shortfallCredits };
    throw e;
  }
}

test('50 parallel reservations on a wallet that affords 20: exactly 20 win', async () => {
  const w = await walletFor20();
  const outcomes = await Promise.all(Array.from({ length: 50 }, () => attempt(w, key('race'))));
  const wins = outcomes.filter((o) => o.ok);
  const losses = outcomes.filter((o): o is Extract<Outcome, { ok: false }> => !o.ok);
  expect(wins).toHaveLength(20);
  expect(losses).toHaveLength(30);
  for (const l of losses) expect(l).toEqual({ ok: false, code: 'InsufficientCredits', shortfall: 5 });
  const b = await getBalance(db.pool, { walletId: w, now: T0 });
  expect(b).toMatchObject({ availableCredits: 0, heldCredits: 100 });
});

test('the same race with every request sent twice under its key: no double effect', async () => {
  const w = await walletFor20();
  const keys = Array.from({ length: 50 }, () => key('race2'));
  const outcomes = await Promise.all(keys.flatMap((k) => [attempt(w, k), attempt(w, k)]));
  const holdIds = new Set<string>();
  let wins = 0;
  for (let i = 0; i < keys.length; i++) {
    const a = outcomes[2 * i] as Outcome;
    const b = outcomes[2 * i + 1] as Outcome;
    if (a.ok) { wins++; holdIds.add(a.r.holdId); }
    if (b.ok) { wins++; holdIds.add(b.r.holdId); }
    // Both copies of one key agree: the same hold (one of them a replay), or both refused.
    expect(a.ok).toBe(b.ok);
    if (a.ok && b.ok) expect(a.r.holdId).toBe(b.r.holdId);
    if (a.ok && b.ok) expect([a.r.replayed, b.r.replayed].sort()).toEqual([false, true]);
  }
  expect(holdIds.size).toBe(20);
  expect(wins).toBe(40);
  const b = await getBalance(db.pool, { walletId: w, now: T0 });
  expect(b).toMatchObject({ availableCredits: 0, heldCredits: 100 });
  const rows = await db.pool.query<{ n: string }>(`SELECT count(DISTINCT hold_id)::text AS n FROM ledger_journal WHERE wallet_id = $1::uuid AND kind = 'hold'`, [w]);
  expect(rows.rows[0]?.n).toBe('20');
});

test('racing capture and release of one hold: it resolves exactly once', async () => {
  const w = await walletFor20();
  const holds = await Promise.all(Array.from({ length: 10 }, () => reserve(db.pool, { walletId: w, amountCredits: 7, idempotencyKey: key(), holdExpiresAt: at(1), now: T0 })));
  const results = await Promise.allSettled(holds.flatMap((h) => [
    capture(db.pool, { holdId: h.holdId, idempotencyKey: key('cap'), now: T0 }),
    release(db.pool, { holdId: h.holdId, idempotencyKey: key('rel'), now: T0 }),
  ]));
  const ok = results.filter((r) => r.status === 'fulfilled');
  const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  expect(ok).toHaveLength(10);
  for (const r of refused) expect(isLedgerError(r.reason, 'HoldAlreadyResolved')).toBe(true);
});

test('a capture sent twice at once under one key: both get the first result, one replayed', async () => {
  const w = await walletFor20();
  const holds = await Promise.all(Array.from({ length: 10 }, () => reserve(db.pool, { walletId: w, amountCredits: 7, idempotencyKey: key(), holdExpiresAt: at(1), now: T0 })));
  for (const h of holds) {
    const k = key('cap2');
    const [a, b] = await Promise.all([0, 1].map(() => capture(db.pool, { holdId: h.holdId, idempotencyKey: k, now: T0 })));
    expect({ ...a, replayed: false }).toEqual({ ...b, replayed: false });
    expect([a?.replayed, b?.replayed].sort()).toEqual([false, true]);
  }
  const b = await getBalance(db.pool, { walletId: w, now: T0 });
  expect(b).toMatchObject({ availableCredits: 30, heldCredits: 0 });
});

test('a refund of a whole capture sent twice at once under one key: both get the first result', async () => {
  const w = await walletFor20();
  for (let i = 0; i < 10; i++) {
    const h = await reserve(db.pool, { walletId: w, amountCredits: 7, idempotencyKey: key(), holdExpiresAt: at(1), now: T0 });
    await capture(db.pool, { holdId: h.holdId, idempotencyKey: key('cap'), now: T0 });
    const k = key('refund2');
    const [a, b] = await Promise.all([0, 1].map(() => refund(db.pool, { holdId: h.holdId, amountCredits: 7, idempotencyKey: k, now: T0 })));
    expect({ ...a, replayed: false }).toEqual({ ...b, replayed: false });
    expect([a?.replayed, b?.replayed].sort()).toEqual([false, true]);
  }
  const b = await getBalance(db.pool, { walletId: w, now: T0 });
  expect(b).toMatchObject({ availableCredits: 100, heldCredits: 0 });
});

test('reservations racing with settlements and grants keep every counter consistent', async () => {
  const w = await walletFor20();
  let captured = 0;
  const refusals: Array<Extract<Outcome, { ok: false }>> = [];
  const work = Array.from({ length: 40 }, async (_, i) => {
    if (i % 10 === 0) {
      await grantLot(db.pool, { walletId: w, kind: 'purchased', amountCredits: 5, idempotencyKey: key('g'), now: T0 });
      return;
    }
    const o = await attempt(w, key('mix'));
    if (!o.ok) {
      refusals.push(o);
      return;
    }
    if (i % 2 === 0) {
      await capture(db.pool, { holdId: o.r.holdId, amountCredits: 2, idempotencyKey: key('c'), now: T0 });
      captured++;
    } else await release(db.pool, { holdId: o.r.holdId, idempotencyKey: key('r'), now: T0 });
  });
  await Promise.all(work);
  // The only refusal a race may cause is a lack of credits, each short of at most one reservation.
  for (const r of refusals) expect(r).toMatchObject({ ok: false, code: 'InsufficientCredits' });
  for (const r of refusals) expect(r.shortfall).toBeGreaterThan(0);
  for (const r of refusals) expect(r.shortfall).toBeLessThanOrEqual(5);
  // 100 + 4 grants of 5; each capture of 2 consumed 2, everything else came back.
  const b = await getBalance(db.pool, { walletId: w, now: T0 });
  expect(b).toMatchObject({ availableCredits: 120 - 2 * captured, heldCredits: 0 });
});
