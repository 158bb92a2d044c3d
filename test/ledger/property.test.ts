/**
 * Model-based property test on real Postgres: random sequences of grant / reserve / capture / release /
 * refund / expire / revoke / adjust / time travel / hold sweeps / wallet closing / replays, each checked
 * against the in-memory model (outcome, refusal code and every lot counter), and a clean audit after every run.
 *
 * Runs: 500 by default (about 10–20 s). LEDGER_PROPERTY_RUNS=10000 npx jest test/ledger/property for the
 * long soak (minutes). Each run uses a fresh wallet in one shared test database.
 */
import fc from 'fast-check';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { key, newWallet, T0 } from '../support/ledger-fixtures';
import * as L from '../../src/ledger';
import { DAY, Model, type Kind, type MHold } from './model';

const RUNS = Number(process.env['LEDGER_PROPERTY_RUNS'] ?? 500);

let db: TestDatabase;
beforeAll(async () => { db = await createTestDatabase(); });
afterAll(async () => { await db.drop(); });

type Cmd =
  | { t: 'grant'; kind: Kind; amount: number; days: number }
  | { t: 'reserve'; amount: number; holdDays: number }
  | { t: 'capture'; h: number; pct: number | null }
  | { t: 'release'; h: number }
  | { t: 'refund'; h: number; amount: number }
  | { t: 'expireLot'; l: number }
  | { t: 'revokeLot'; l: number }
  | { t: 'adjust'; delta: number }
  | { t: 'advance'; days: number }
  | { t: 'sweep' }
  | { t: 'close' }
  | { t: 'replay' };

const kinds: Kind[] = ['promotional', 'membership', 'purchased', 'bulk', 'refund', 'adjustment'];
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('grant' as const), kind: fc.constantFrom(...kinds), amount: fc.integer({ min: 1, max: 40 }), days: fc.integer({ min: 1, max: 40 }) }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('reserve' as const), amount: fc.integer({ min: 1, max: 50 }), holdDays: fc.integer({ min: 1, max: 20 }) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('capture' as const), h: fc.nat(), pct: fc.option(fc.integer({ min: 1, max: 120 })) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('release' as const), h: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('refund' as const), h: fc.nat(), amount: fc.integer({ min: 1, max: 30 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('expireLot' as const), l: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('revokeLot' as const), l: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('adjust' as const), delta: fc.integer({ min: -30, max: 30 }).filter((d) => d !== 0) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('advance' as const), days: fc.integer({ min: 0, max: 25 }) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'sweep' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'close' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'replay' as const }) },
);

interface Ctx { db: TestDatabase; w: string; m: Model; last: (() => Promise<unknown>) | null; lastResult: unknown }

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  const e = await p.then(() => null, (err: unknown) => err);
  if (!(e instanceof L.LedgerError) || e.code !== code) throw new Error(`expected ${code}, got ${String(e)}`);
}

/** Runs a mutation, remembering it so that a later `replay` can repeat it with the same key. */
async function mutate<T>(ctx: Ctx, run: () => Promise<T>): Promise<T> {
  const r = await run();
  ctx.last = run;
  ctx.lastResult = r;
  return r;
}

async function step(ctx: Ctx, c: Cmd): Promise<void> {
  const { m } = ctx;
  const k = currentKey; // captured now: a later replay must reuse this key
  const pool = ctx.db.pool;
  const now = new Date(m.now);
  const pickHold = (i: number): MHold | undefined => m.holds[i % Math.max(m.holds.length, 1)];
  switch (c.t) {
    case 'grant': {
      const expiresAt = new Date(m.now + c.days * DAY);
      if (m.closed) return expectCode(L.grantLot(pool, { walletId: ctx.w, kind: c.kind, amountCredits: c.amount, expiresAt, idempotencyKey: k, now }), 'WalletClosed');
      const r = await mutate(ctx, () => L.grantLot(pool, { walletId: ctx.w, kind: c.kind, amountCredits: c.amount, expiresAt, idempotencyKey: k, now }));
      m.addLot(r.lot.lotId, c.kind, c.amount, expiresAt.getTime());
      return;
    }
    case 'reserve': {
      const input = { walletId: ctx.w, amountCredits: c.amount, holdExpiresAt: new Date(m.now + c.holdDays * DAY), idempotencyKey: k, now };
      if (m.closed) return expectCode(L.reserve(pool, input), 'WalletClosed');
      if (m.spendable() < c.amount) return expectCode(L.reserve(pool, input), 'InsufficientCredits');
      const r = await mutate(ctx, () => L.reserve(pool, input));
      const allocs = m.take(c.amount, 'held');
      expect(r.allocations).toEqual(allocs.map((a) => ({ lotId: a.lotId, amountCredits: a.amount })));
      m.holds.push({ id: r.holdId, state: 'pending', amount: c.amount, expiresAt: input.holdExpiresAt.getTime(), captured: 0, released: 0, refunded: 0,
        allocs: allocs.map((a) => ({ ...a, captured: 0, released: 0, refunded: 0 })) });
      return;
    }
    case 'capture':
    case 'release': {
      const h = pickHold(c.t === 'capture' ? c.h : c.h);
      if (!h) return;
      const amount = c.t === 'capture' && c.pct !== null ? Math.max(1, Math.ceil((h.amount * c.pct) / 100)) : undefined;
      const run = () => (c.t === 'capture'
        ? L.capture(pool, { holdId: h.id, amountCredits: amount, idempotencyKey: k, now })
        : L.release(pool, { holdId: h.id, idempotencyKey: k, now }));
      if (h.state !== 'pending') return expectCode(run(), 'HoldAlreadyResolved');
      if (amount !== undefined && amount > h.amount) return expectCode(run(), 'InvalidAmount');
      const r = await mutate(ctx, run);
      const toLot = m.settle(h, c.t === 'capture' ? amount ?? h.amount : 0, c.t === 'capture' ? 'captured' : 'released');
      expect(r.refundLotId === null).toBe(toLot === 0);
      if (r.refundLotId) m.addLot(r.refundLotId, 'refund', toLot, m.now + 30 * DAY);
      return;
    }
    case 'refund': {
      const h = pickHold(c.h);
      if (!h) return;
      const input = { holdId: h.id, amountCredits: c.amount, idempotencyKey: k, now };
      if (m.closed) return expectCode(L.refund(pool, input), 'WalletClosed');
      if (c.amount > m.refundable(h)) return expectCode(L.refund(pool, input), 'RefundExceedsCaptured');
      const r = await mutate(ctx, () => L.refund(pool, input));
      const toLot = m.refund(h, c.amount);
      expect(r.refundLotCredits).toBe(toLot);
      if (r.refundLotId) m.addLot(r.refundLotId, 'refund', toLot, m.now + 30 * DAY);
      return;
    }
    case 'expireLot':
    case 'revokeLot': {
      const lot = m.lots[c.l % Math.max(m.lots.length, 1)];
      if (!lot) return;
      const r = await mutate(ctx, () => (c.t === 'expireLot'
        ? L.expireLot(pool, { lotId: lot.id, idempotencyKey: k, now })
        : L.revokeLot(pool, { lotId: lot.id, idempotencyKey: k, now })));
      const expected = lot.status === 'active' ? lot.available : 0;
      expect(r.amountCredits).toBe(expected);
      if (lot.status === 'active') {
        lot[c.t === 'expireLot' ? 'expired' : 'revoked'] += lot.available;
        lot.available = 0;
        lot.status = c.t === 'expireLot' ? 'expired' : 'revoked';
      }
      return;
    }
    case 'adjust': {
      const input = { walletId: ctx.w, deltaCredits: c.delta, reason: 'property', actor: 'test', idempotencyKey: k, now };
      if (m.closed) return expectCode(L.adjust(pool, input), 'WalletClosed');
      if (c.delta < 0 && m.spendable() < -c.delta) return expectCode(L.adjust(pool, input), 'InsufficientCredits');
      const r = await mutate(ctx, () => L.adjust(pool, input));
      if (c.delta > 0) m.addLot(r.lotId as string, 'adjustment', c.delta, m.now + 30 * DAY);
      else expect(r.allocations).toEqual(m.take(-c.delta, 'revoked').map((a) => ({ lotId: a.lotId, amountCredits: a.amount })));
      return;
    }
    case 'advance':
      m.now += c.days * DAY;
      return;
    case 'sweep': {
      const r = await L.releaseExpiredHolds(pool, { now });
      const due = m.holds.filter((h) => h.state === 'pending' && h.expiresAt <= m.now);
      // Other runs' wallets share the database: look only at ours.
      const ours = r.expired.filter((s) => s.walletId === ctx.w);
      expect(ours.map((s) => s.holdId).sort()).toEqual(due.map((h) => h.id).sort());
      for (const s of ours) {
        const h = due.find((x) => x.id === s.holdId) as MHold;
        const toLot = m.settle(h, 0, 'expired');
        expect(s.refundLotId === null).toBe(toLot === 0);
        if (s.refundLotId) m.addLot(s.refundLotId, 'refund', toLot, m.now + 30 * DAY);
      }
      return;
    }
    case 'close':
      await L.closeWallet(pool, { walletId: ctx.w, now });
      m.closed = true;
      return;
    case 'replay': {
      if (!ctx.last) return;
      const again = await ctx.last();
      expect(again).toEqual({ ...(ctx.lastResult as object), replayed: true });
      return;
    }
  }
}
let currentKey = '';

async function compare(ctx: Ctx): Promise<void> {
  const b = await L.getBalance(ctx.db.pool, { walletId: ctx.w, now: new Date(ctx.m.now), includeClosedLots: true });
  const actual = Object.fromEntries(b.lots.map((l) => [l.lotId, [l.status, l.availableCredits, l.heldCredits, l.consumedCredits, l.expiredCredits, l.revokedCredits]]));
  const expected = Object.fromEntries(ctx.m.lots.map((l) => [l.id, [l.status, l.available, l.held, l.consumed, l.expired, l.revoked]]));
  expect(actual).toEqual(expected);
  expect(b.availableCredits).toBe(ctx.m.spendable());
}

test(`model-based: ${RUNS} random operation sequences agree with the model and audit clean`, async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(cmdArb, { minLength: 1, maxLength: 12 }), async (cmds) => {
      const ctx: Ctx = { db, w: await newWallet(db.pool), m: new Model(T0.getTime()), last: null, lastResult: null };
      for (const c of cmds) {
        currentKey = key(c.t);
        await step(ctx, c);
        await compare(ctx);
      }
      for (const h of ctx.m.holds) {
        const actual = await L.getHold(db.pool, { holdId: h.id });
        expect([actual.state, actual.capturedCredits, actual.releasedCredits, actual.refundedCredits]).toEqual([h.state, h.captured, h.released, h.refunded]);
      }
      const a = await L.audit(db.pool, { walletId: ctx.w });
      expect(a.violations).toEqual([]);
    }),
    { numRuns: RUNS },
  );
  const all = await L.audit(db.pool);
  expect(all.violations).toEqual([]);
}, 3_600_000);
