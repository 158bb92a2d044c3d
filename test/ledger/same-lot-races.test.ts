/**
 * Races between operations on the SAME lot or hold, on real Postgres, through two pools: calls on one pool
 * are grouped by the batcher (one transaction per group), calls on the other land in other groups or alone.
 * Each race checks the audit, that every hold resolved at most once, that each outcome is one a serial order
 * could give, and that refused calls left no trace.
 */
import type { Pool } from 'pg';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { expectAuditClean } from '../support/audit';
import { T0, at, key, newWallet } from '../support/ledger-fixtures';
import {
  adjust, capture, closeWallet, expireHold, expireLot, getBalance, getHold, grantLot, isLedgerError, refund,
  release, releaseExpiredHolds, reserve, revokeLot, type Lot,
} from '../../src/ledger';
import { createPool } from '../../src/db';
import { someoneWaitsOnALock } from '../support/locks';

let db: TestDatabase;
let other: Pool;
beforeAll(async () => {
  db = await createTestDatabase({ poolMax: 16 });
  other = createPool(db.connectionString, { max: 16 });
});
afterAll(async () => {
  await other.end();
  await db.drop();
});
afterEach(async () => { await expectAuditClean(db.pool); });

/** Alternates the two pools, so racing calls land both in one group and in different ones. */
const poolFor = (i: number): Pool => (i % 2 === 0 ? db.pool : other);

type Settled<T> = { ok: true; v: T } | { ok: false; code: string; details: Record<string, unknown> };
async function settled<T>(p: Promise<T>): Promise<Settled<T>> {
  try {
    return { ok: true, v: await p };
  } catch (e) {
    if (isLedgerError(e)) return { ok: false, code: e.code, details: e.details };
    throw e;
  }
}

async function lotsOf(walletId: string): Promise<Lot[]> {
  return (await getBalance(db.pool, { walletId, now: T0, includeClosedLots: true })).lots;
}

/** Journal rows and operations carrying a key: a refused call must have written none. */
async function traces(keys: string[]): Promise<number> {
  const r = await db.pool.query<{ n: string }>(
    `SELECT ((SELECT count(*) FROM ledger_journal WHERE idempotency_key = ANY($1::text[]))
           + (SELECT count(*) FROM ledger_operations WHERE idempotency_key = ANY($1::text[])))::text AS n`, [keys]);
  return Number(r.rows[0]?.n);
}

async function walletWithLot(amountCredits: number, expiresInDays = 10): Promise<{ w: string; lotId: string }> {
  const w = await newWallet(db.pool);
  const g = await grantLot(db.pool, { walletId: w, kind: 'purchased', amountCredits, idempotencyKey: key('grant'), now: T0, expiresAt: at(expiresInDays) });
  return { w, lotId: g.lot.lotId };
}

const hold = (pool: Pool, walletId: string, amountCredits: number, now = T0) =>
  reserve(pool, { walletId, amountCredits, idempotencyKey: key('res'), holdExpiresAt: at(1, now), now });

test.each(['revoke', 'expire'] as const)('%sLot racing reservations on the same lot: wins + taken = the lot, losers leave no trace', async (mode) => {
  let interleaved = 0;
  for (let round = 0; round < 6; round++) {
    const { w, lotId } = await walletWithLot(100);
    const keys = Array.from({ length: 30 }, () => key('r'));
    const closeKey = key('close');
    const calls = keys.map((k, i) => settled(reserve(poolFor(i), { walletId: w, amountCredits: 5, idempotencyKey: k, holdExpiresAt: at(1), now: T0 })));
    const close = settled((mode === 'revoke' ? revokeLot : expireLot)(poolFor(round), { lotId, idempotencyKey: closeKey, now: T0 }));
    const out = await Promise.all(calls);
    const c = await close;
    if (!c.ok) throw new Error(`close refused: ${c.code}`);
    const wins = out.filter((o) => o.ok).length;
    for (const o of out) if (!o.ok) expect(o).toMatchObject({ code: 'InsufficientCredits', details: { shortfallCredits: 5 } });
    expect(wins * 5 + c.v.amountCredits).toBe(100);
    const [lot] = await lotsOf(w);
    expect(lot).toMatchObject({ status: mode === 'revoke' ? 'revoked' : 'expired', availableCredits: 0, heldCredits: wins * 5 });
    expect(await traces(keys.filter((_, i) => !out[i]!.ok))).toBe(0);
    if (wins > 0 && wins < 20) interleaved++;
  }
  // The race did happen: in some round the closing landed between reservations (not wholly before or after).
  expect(interleaved).toBeGreaterThan(0);
});

test.each(['revoke', 'expire'] as const)('%sLot racing captures, releases, hold expiries and refunds of holds on that lot', async (mode) => {
  for (let round = 0; round < 4; round++) {
    const { w, lotId } = await walletWithLot(100);
    const holds = [];
    for (let i = 0; i < 12; i++) holds.push(await hold(db.pool, w, 5));
    // Holds 0-3 captured already (refunded in the race), 4-11 pending (settled in the race).
    for (let i = 0; i < 4; i++) await capture(db.pool, { holdId: holds[i]!.holdId, idempotencyKey: key('c0'), now: T0 });
    const later = at(2); // past the holds' expiry, before the lot's
    const ops: Array<Promise<Settled<unknown>>> = [];
    const refundKeys: string[] = [];
    for (let i = 0; i < 4; i++) {
      const k = key('ref');
      refundKeys.push(k);
      ops.push(settled(refund(poolFor(i), { holdId: holds[i]!.holdId, amountCredits: 3, idempotencyKey: k, now: later })));
    }
    for (let i = 4; i < 12; i++) {
      const h = holds[i]!.holdId;
      const p = poolFor(i);
      if (i < 6) ops.push(settled(release(p, { holdId: h, idempotencyKey: key('rel'), now: later })));
      else if (i < 8) ops.push(settled(capture(p, { holdId: h, amountCredits: 2, idempotencyKey: key('cap'), now: later })));
      else if (i < 10) ops.push(settled(expireHold(p, { holdId: h, idempotencyKey: key('exp'), now: later })));
      else ops.push(settled(capture(p, { holdId: h, idempotencyKey: key('capall'), now: later })));
    }
    const closing = settled((mode === 'revoke' ? revokeLot : expireLot)(poolFor(round + 1), { lotId, idempotencyKey: key('close'), now: later }));
    const sweep = releaseExpiredHolds(other, { now: later });
    const out = await Promise.all(ops);
    const c = await closing;
    await sweep;
    if (!c.ok) throw new Error(`close refused: ${c.code}`);
    // Settlements always succeed (or lose to the sweeper, which then settled the hold).
    for (const o of out.slice(4)) if (!o.ok) expect(o.code).toBe('HoldAlreadyResolved');
    for (let i = 4; i < 12; i++) expect((await getHold(db.pool, { holdId: holds[i]!.holdId })).state).not.toBe('pending');
    // Refunds: in revoke mode, refused whole once the lot is revoked; in expire mode always given back.
    const refundOut = out.slice(0, 4);
    if (mode === 'expire') for (const o of refundOut) expect(o.ok).toBe(true);
    else for (const o of refundOut) if (!o.ok) expect(o).toMatchObject({ code: 'RefundExceedsCaptured' });
    expect(await traces(refundKeys.filter((_, i) => !refundOut[i]!.ok))).toBe(0);
    const lots = await lotsOf(w);
    const main = lots.find((l) => l.lotId === lotId)!;
    expect(main).toMatchObject({ availableCredits: 0, heldCredits: 0 });
    const refundLots = lots.filter((l) => l.lotId !== lotId);
    if (mode === 'revoke') expect(refundLots).toEqual([]); // revoked credits never come back
    // Nothing created or lost: the lot's credits are consumed, closed, or in refund lots (all still available).
    const inRefundLots = refundLots.reduce((s, l) => s + l.availableCredits, 0);
    const refundedIntoNew = refundOut.reduce((s, o) => s + (o.ok ? (o.v as { refundLotCredits: number }).refundLotCredits : 0), 0);
    expect(main.consumedCredits + main.expiredCredits + main.revokedCredits).toBe(100);
    expect(inRefundLots).toBe(refundedIntoNew + (mode === 'expire' ? main.expiredCredits - c.v.amountCredits : 0));
  }
});

test('a lot reaching its expiry mid-race: reservations just before it, settlements and refunds just after, its expireLot', async () => {
  for (let round = 0; round < 4; round++) {
    const { w, lotId } = await walletWithLot(200, 1);
    const before = new Date(at(1).getTime() - 1);
    const after = new Date(at(1).getTime() + 1);
    const early = [];
    for (let i = 0; i < 6; i++) early.push(await hold(db.pool, w, 5, new Date(T0.getTime() + i)));
    for (let i = 0; i < 3; i++) await capture(db.pool, { holdId: early[i]!.holdId, idempotencyKey: key('c0'), now: T0 });
    const resKeys = Array.from({ length: 12 }, () => key('late-res'));
    const out = await Promise.all([
      ...resKeys.map((k, i) => settled(reserve(poolFor(i), { walletId: w, amountCredits: 5, idempotencyKey: k, holdExpiresAt: at(2), now: before }))),
      ...early.slice(0, 3).map((h, i) => settled(refund(poolFor(i), { holdId: h.holdId, amountCredits: 5, idempotencyKey: key('ref'), now: after }))),
      ...early.slice(3).map((h, i) => settled(release(poolFor(i + 1), { holdId: h.holdId, idempotencyKey: key('rel'), now: after }))),
      settled(expireLot(poolFor(round), { lotId, idempotencyKey: key('el'), now: at(1) })),
    ]);
    // Nothing here may be refused except a reservation that came after the expireLot.
    for (const o of out.slice(0, 12)) if (!o.ok) expect(o.code).toBe('InsufficientCredits');
    for (const o of out.slice(12)) expect(o.ok).toBe(true);
    expect(await traces(resKeys.filter((_, i) => !out[i]!.ok))).toBe(0);
    const lots = await lotsOf(w);
    const main = lots.find((l) => l.lotId === lotId)!;
    const refundLots = lots.filter((l) => l.kind === 'refund');
    // Refunds and releases after the lot's expiry all come back as refund lots (one per operation): 6 of them.
    expect(refundLots).toHaveLength(6);
    expect(refundLots.reduce((s, l) => s + l.grantedCredits, 0)).toBe(30);
    const wins = out.slice(0, 12).filter((o) => o.ok).length;
    // (A reservation may also have used a refund lot: it is usable at `before` too, expiring after it.)
    expect(lots.reduce((s, l) => s + l.heldCredits, 0)).toBe(5 * wins);
    expect(main).toMatchObject({ status: 'expired', availableCredits: 0, consumedCredits: 15 });
    expect(main.grantedCredits).toBe(main.heldCredits + main.consumedCredits + main.expiredCredits);
  }
});

test('refunds racing on one hold (different keys, both pools): exactly what was captured is refunded', async () => {
  for (let round = 0; round < 8; round++) {
    const { w } = await walletWithLot(100);
    const h = await hold(db.pool, w, 10);
    await capture(db.pool, { holdId: h.holdId, idempotencyKey: key('c'), now: T0 });
    const keys = Array.from({ length: 6 }, () => key('ref'));
    const out = await Promise.all(keys.map((k, i) => settled(refund(poolFor(i + round), { holdId: h.holdId, amountCredits: 4, idempotencyKey: k, now: T0 }))));
    expect(out.filter((o) => o.ok)).toHaveLength(2);
    for (const o of out) if (!o.ok) expect(o).toMatchObject({ code: 'RefundExceedsCaptured', details: { refundableCredits: 2 } });
    expect(await getHold(db.pool, { holdId: h.holdId })).toMatchObject({ refundedCredits: 8 });
    expect(await traces(keys.filter((_, i) => !out[i]!.ok))).toBe(0);
    expect((await getBalance(db.pool, { walletId: w, now: T0 })).availableCredits).toBe(98);
  }
});

test('capture racing expireHold and the sweeper on one hold: it resolves once, the others see it resolved', async () => {
  const { w } = await walletWithLot(1000);
  const later = at(2);
  const holds = [];
  for (let i = 0; i < 20; i++) holds.push(await hold(db.pool, w, 7));
  const caps = holds.map((h, i) => settled(capture(poolFor(i), { holdId: h.holdId, amountCredits: 3, idempotencyKey: key('cap'), now: later })));
  const exps = holds.map((h, i) => settled(expireHold(poolFor(i + 1), { holdId: h.holdId, idempotencyKey: key('exp'), now: later })));
  const sweeps = [releaseExpiredHolds(db.pool, { now: later }), releaseExpiredHolds(other, { now: later })];
  const [capOut, expOut, sweepOut] = await Promise.all([Promise.all(caps), Promise.all(exps), Promise.all(sweeps)]);
  const sweptIds = new Set(sweepOut.flatMap((s) => s.expired.map((e) => e.holdId)));
  for (let i = 0; i < holds.length; i++) {
    const st = await getHold(db.pool, { holdId: holds[i]!.holdId });
    const c = capOut[i]!;
    const e = expOut[i]!;
    const winners = [c.ok, e.ok, sweptIds.has(holds[i]!.holdId)].filter(Boolean).length;
    expect(winners).toBe(1);
    if (c.ok) expect(st).toMatchObject({ state: 'captured', capturedCredits: 3 });
    else { expect(c.code).toBe('HoldAlreadyResolved'); expect(st.state).toBe('expired'); }
    if (!e.ok) expect(e.code).toBe('HoldAlreadyResolved');
  }
});

test('a negative adjustment racing a reservation for the last credits: exactly one wins', async () => {
  for (let round = 0; round < 15; round++) {
    const { w } = await walletWithLot(10);
    const rk = key('r');
    const ak = key('adj');
    const [r, a] = await Promise.all([
      settled(reserve(poolFor(round), { walletId: w, amountCredits: 8, idempotencyKey: rk, holdExpiresAt: at(1), now: T0 })),
      settled(adjust(poolFor(round + 1), { walletId: w, deltaCredits: -8, reason: 'r', actor: 'a', idempotencyKey: ak, now: T0 })),
    ]);
    expect([r.ok, a.ok].filter(Boolean)).toHaveLength(1);
    const loser = r.ok ? a : r;
    expect(loser).toMatchObject({ ok: false, code: 'InsufficientCredits', details: { shortfallCredits: 6 } });
    expect(await traces([r.ok ? ak : rk])).toBe(0);
    expect((await getBalance(db.pool, { walletId: w, now: T0 })).availableCredits).toBe(2);
  }
});

test('closeWallet racing reservations, settlements and refunds: each call is ordered before or after the closing', async () => {
  for (let round = 0; round < 6; round++) {
    const { w, lotId } = await walletWithLot(100, 1.5);
    const captured = await hold(db.pool, w, 10);
    await capture(db.pool, { holdId: captured.holdId, idempotencyKey: key('c'), now: T0 });
    const pending = await hold(db.pool, w, 10);
    await expireLot(db.pool, { lotId, idempotencyKey: key('el'), now: T0 }); // releases now come back as refund lots
    await grantLot(db.pool, { walletId: w, kind: 'purchased', amountCredits: 50, idempotencyKey: key('g'), now: T0 });
    const resKeys = Array.from({ length: 8 }, () => key('r'));
    const refKey = key('ref');
    const rel = settled(release(poolFor(round), { holdId: pending.holdId, idempotencyKey: key('rel'), now: T0 }));
    const reserves = resKeys.map((k, i) => settled(reserve(poolFor(i), { walletId: w, amountCredits: 5, idempotencyKey: k, holdExpiresAt: at(1), now: T0 })));
    const ref = settled(refund(poolFor(round + 1), { holdId: captured.holdId, amountCredits: 10, idempotencyKey: refKey, now: T0 }));
    const closing = closeWallet(poolFor(round + 1), { walletId: w, now: T0 });
    const [relOut, resOut, refOut] = await Promise.all([rel, Promise.all(reserves), ref, closing]);
    expect(relOut.ok).toBe(true);
    for (const o of resOut) if (!o.ok) expect(o.code).toBe('WalletClosed');
    if (!refOut.ok) expect(refOut.code).toBe('WalletClosed');
    expect(await traces([...resKeys.filter((_, i) => !resOut[i]!.ok), ...(refOut.ok ? [] : [refKey])])).toBe(0);
    // The release before the closing gave a refund lot; after it, the credits stayed expired.
    const r = relOut.ok ? relOut.v : null;
    const lots = await lotsOf(w);
    expect(lots.filter((l) => l.kind === 'refund')).toHaveLength((r?.refundLotId ? 1 : 0) + (refOut.ok ? 1 : 0));
  }
});

test('one idempotency key sent concurrently to different operations: one wins, the rest conflict or replay, no trace', async () => {
  for (let round = 0; round < 6; round++) {
    const { w, lotId } = await walletWithLot(100);
    const h = await hold(db.pool, w, 10);
    await capture(db.pool, { holdId: h.holdId, idempotencyKey: key('c'), now: T0 });
    const p = await hold(db.pool, w, 10);
    const k = key('shared');
    const calls: Array<() => Promise<unknown>> = [
      () => reserve(db.pool, { walletId: w, amountCredits: 5, idempotencyKey: k, holdExpiresAt: at(1), now: T0 }),
      () => reserve(other, { walletId: w, amountCredits: 5, idempotencyKey: k, holdExpiresAt: at(1), now: T0 }),
      () => reserve(other, { walletId: w, amountCredits: 6, idempotencyKey: k, holdExpiresAt: at(1), now: T0 }),
      () => capture(db.pool, { holdId: p.holdId, idempotencyKey: k, now: T0 }),
      () => release(other, { holdId: p.holdId, idempotencyKey: k, now: T0 }),
      () => refund(db.pool, { holdId: h.holdId, amountCredits: 4, idempotencyKey: k, now: T0 }),
      () => refund(other, { holdId: h.holdId, amountCredits: 4, idempotencyKey: k, now: T0 }),
      () => grantLot(other, { walletId: w, kind: 'promotional', amountCredits: 5, idempotencyKey: k, now: T0 }),
      () => adjust(db.pool, { walletId: w, deltaCredits: -5, reason: 'r', actor: 'a', idempotencyKey: k, now: T0 }),
      () => revokeLot(other, { lotId, idempotencyKey: k, now: T0 }),
      () => expireLot(db.pool, { lotId, idempotencyKey: k, now: T0 }),
    ];
    // Rotate so that a different call starts first each round.
    const order = calls.map((_, i) => (i + round * 3) % calls.length);
    const out = await Promise.all(order.map((i) => settled(calls[i]!())));
    const fresh = out.filter((o) => o.ok && (o.v as { replayed: boolean }).replayed === false);
    expect(fresh).toHaveLength(1);
    for (const o of out) if (!o.ok) expect(o.code).toBe('IdempotencyConflict');
    const ops = await db.pool.query<{ n: string }>('SELECT count(*)::text AS n FROM ledger_operations WHERE idempotency_key = $1', [k]);
    expect(ops.rows[0]?.n).toBe('1');
    // Every one of these operations journals at least one row when it takes effect: the winner's, and only its.
    const ops2 = await db.pool.query<{ n: string }>('SELECT count(DISTINCT operation_id)::text AS n FROM ledger_journal WHERE idempotency_key = $1', [k]);
    expect(ops2.rows[0]?.n).toBe('1');
  }
}, 60_000);

/**
 * A duplicate that waited on a lock its first copy held must answer what the first did — the serial order is
 * "first, then the duplicate", whose answer is a replay (or IdempotencyConflict) — not a refusal that only
 * the first copy's own effect caused. The first copy runs in a transaction we hold open, so the duplicate
 * is sure to be waiting on its lock when it commits.
 */
test('a negative adjustment sent twice under one key, the copy waiting on the lots the first holds: it replays', async () => {
  for (const sameContent of [true, false]) {
    const { w } = await walletWithLot(10);
    const k = key('adj');
    const client = await db.pool.connect();
    let dup: Promise<Settled<unknown>>;
    let first: Awaited<ReturnType<typeof adjust>>;
    try {
      await client.query('BEGIN');
      first = await adjust(client, { walletId: w, deltaCredits: -8, reason: 'r', actor: 'a', idempotencyKey: k, now: T0 });
      dup = settled(adjust(other, { walletId: w, deltaCredits: sameContent ? -8 : -7, reason: 'r', actor: 'a', idempotencyKey: k, now: T0 }));
      await someoneWaitsOnALock(db.pool);
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK');
      throw e;
    } finally {
      client.release();
    }
    const d = await dup;
    if (sameContent) expect(d).toEqual({ ok: true, v: { ...first, replayed: true } });
    else expect(d).toMatchObject({ ok: false, code: 'IdempotencyConflict' });
    expect((await getBalance(db.pool, { walletId: w, now: T0 })).availableCredits).toBe(2);
  }
});

test('a refund sent twice under one key, the copy waiting on the hold while the wallet closes: it replays', async () => {
  for (const sameContent of [true, false]) {
    const { w } = await walletWithLot(100);
    const h = await hold(db.pool, w, 10);
    await capture(db.pool, { holdId: h.holdId, idempotencyKey: key('c'), now: T0 });
    const k = key('ref');
    const client = await db.pool.connect();
    let dup: Promise<Settled<unknown>>;
    let first: Awaited<ReturnType<typeof refund>>;
    try {
      await client.query('BEGIN');
      first = await refund(client, { holdId: h.holdId, amountCredits: 4, idempotencyKey: k, now: T0 });
      dup = settled(refund(other, { holdId: h.holdId, amountCredits: sameContent ? 4 : 3, idempotencyKey: k, now: T0 }));
      await someoneWaitsOnALock(db.pool);
      // Serial order: first refund, closing, duplicate — whose answer is the first result (or a conflict).
      await closeWallet(db.pool, { walletId: w, now: T0 });
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK');
      throw e;
    } finally {
      client.release();
    }
    const d = await dup;
    if (sameContent) expect(d).toEqual({ ok: true, v: { ...first, replayed: true } });
    else expect(d).toMatchObject({ ok: false, code: 'IdempotencyConflict' });
    expect(await getHold(db.pool, { holdId: h.holdId })).toMatchObject({ refundedCredits: 4 });
  }
});
