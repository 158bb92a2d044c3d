/**
 * Group commit (src/ledger/batcher.ts, migrations/0004 and 0007): concurrent reservations and
 * settlements share one transaction, yet each call keeps the outcome it would have had alone.
 */
import { createTestDatabase, type TestDatabase } from '../support/db';
import { expectAuditClean } from '../support/audit';
import { T0, at, key, newWallet } from '../support/ledger-fixtures';
import { capture, getBalance, getHold, grantLot, isLedgerError, reserve } from '../../src/ledger';
import { batchStats } from '../../src/ledger/batcher';
import { createPool } from '../../src/db';
import { callLedgerFunction, requestHash } from '../../src/ledger/sql-call';

let db: TestDatabase;
// A pool of 8 runs two groups at once (the minimum): the tests below count on it.
beforeAll(async () => { db = await createTestDatabase({ poolMax: 8 }); });
afterAll(async () => { await db.drop(); });
afterEach(async () => { await expectAuditClean(db.pool); });

async function grant(walletId: string, kind: 'promotional' | 'purchased', amountCredits: number): Promise<void> {
  await grantLot(db.pool, { walletId, kind, amountCredits, idempotencyKey: key('grant'), now: T0 });
}

/** Parameters exactly as operations.ts builds them for a reservation. */
function reserveParams(walletId: string, amount: number, idempotencyKey: string): string {
  return JSON.stringify({
    key: idempotencyKey, hash: requestHash('reserve', { walletId, amount }), now: T0, wallet_id: walletId, amount,
    hold_expires_at: at(1), refs: {},
  });
}

type Outcome = { r: Record<string, unknown> } | { e: { code: string; message: string; detail: string | null } };

async function runGroup(fns: string[], params: string[]): Promise<Outcome[]> {
  const res = await db.pool.query<{ r: Outcome[] }>('SELECT ledger_batch($1::text[], $2::jsonb) AS r', [fns, `[${params.join(',')}]`]);
  return res.rows[0]?.r ?? [];
}

test('concurrent reservations and captures are sent in groups and each settles exactly once', async () => {
  const w = await newWallet(db.pool);
  await grant(w, 'promotional', 100);
  await grant(w, 'purchased', 1000);
  const before = batchStats(db.pool);
  const holds = await Promise.all(Array.from({ length: 40 }, () =>
    reserve(db.pool, { walletId: w, amountCredits: 7, idempotencyKey: key('r'), holdExpiresAt: at(1), now: T0 })));
  const settled = await Promise.all(holds.map((h) => capture(db.pool, { holdId: h.holdId, idempotencyKey: key('c'), now: T0 })));
  const after = batchStats(db.pool);

  expect(after.calls - before.calls).toBeGreaterThanOrEqual(80); // more if a stale plan was retried
  expect(after.groups - before.groups).toBeLessThan(80); // some calls shared a transaction
  expect(after.largestGroup).toBeGreaterThan(1);
  expect(new Set(holds.map((h) => h.holdId)).size).toBe(40);
  for (const s of settled) expect(s).toMatchObject({ state: 'captured', capturedCredits: 7, releasedCredits: 0, replayed: false });
  // Soonest-expiring first across the group too: the promotional lot (90 d) is used up before the purchased one.
  expect(await getBalance(db.pool, { walletId: w, now: T0 })).toMatchObject({ availableCredits: 1100 - 280, heldCredits: 0 });
  const lots = (await getBalance(db.pool, { walletId: w, now: T0, includeClosedLots: true })).lots;
  const promo = lots.find((l) => l.kind === 'promotional')!;
  const purchased = lots.find((l) => l.kind === 'purchased')!;
  expect(promo).toMatchObject({ availableCredits: 0, consumedCredits: 100 });
  expect(purchased).toMatchObject({ availableCredits: 820, consumedCredits: 180 });
  // 14 holds wholly on the promotional lot (98), exactly one straddling the two lots (2 + 5), the rest on purchased.
  expect(holds.filter((h) => h.allocations.length === 2).map((h) => h.allocations)).toEqual([
    [{ lotId: promo.lotId, amountCredits: 2 }, { lotId: purchased.lotId, amountCredits: 5 }],
  ]);
  expect(holds.filter((h) => h.allocations[0]!.lotId === promo.lotId)).toHaveLength(15);
});

test('one group: a refused call leaves no trace and does not disturb the others; a repeated key replays', async () => {
  const w = await newWallet(db.pool);
  await grant(w, 'purchased', 10);
  const k1 = key('g1');
  const outcomes = await runGroup(
    ['ledger_reserve', 'ledger_reserve', 'ledger_settle', 'ledger_reserve'],
    [
      reserveParams(w, 6, k1),
      reserveParams(w, 6, key('g2')), // only 4 left after the first
      JSON.stringify({ key: key('s'), hash: 'x', now: T0, mode: 'capture', hold_id: '00000000-0000-7000-8000-000000000000', amount: null, refund_days: 30, refs: {} }),
      reserveParams(w, 6, k1), // same key, same content: the first result
    ],
  );
  expect(outcomes).toHaveLength(4);
  const [first, refused, missing, replay] = outcomes as [Outcome, Outcome, Outcome, Outcome];
  expect(first).toMatchObject({ r: { replayed: false, hold_id: expect.any(String) } });
  expect(refused).toMatchObject({ e: { code: 'LDG01', message: 'InsufficientCredits' } });
  expect(JSON.parse(('e' in refused && refused.e.detail) || '{}')).toMatchObject({ shortfallCredits: 2 });
  expect(missing).toMatchObject({ e: { code: 'LDG01', message: 'HoldNotFound' } });
  // Only the first reservation exists: one hold, one operation, 6 held.
  const holdId = String('r' in first && first.r['hold_id']);
  expect(replay).toMatchObject({ r: { replayed: true, hold_id: holdId } });
  expect(await getHold(db.pool, { holdId })).toMatchObject({ state: 'pending', amountCredits: 6 });
  const ops = await db.pool.query('SELECT count(*)::int AS n FROM ledger_operations WHERE wallet_id = $1', [w]);
  expect(ops.rows[0].n).toBe(2); // the grant and the first reservation
  expect(await getBalance(db.pool, { walletId: w, now: T0 })).toMatchObject({ availableCredits: 4, heldCredits: 6 });
});

test('a call that breaks its group is answered alone, and so is every other call of that group', async () => {
  const w = await newWallet(db.pool);
  await grant(w, 'purchased', 1000);
  const malformedSettle = { key: key('bad'), hash: 'x', now: T0, mode: 'release', hold_id: 'not-a-uuid', amount: null, refund_days: 30, refs: {} };
  const reserveBody = () => JSON.parse(reserveParams(w, 10, key('ok'))) as Record<string, unknown>;
  const before = batchStats(db.pool);
  // Two calls fill the two in-flight slots; the rest wait and leave as one group, which the malformed id breaks.
  const calls = [
    ...Array.from({ length: 4 }, () => callLedgerFunction(db.pool, 'ledger_reserve', reserveBody())),
    callLedgerFunction(db.pool, 'ledger_settle', malformedSettle),
    ...Array.from({ length: 2 }, () => callLedgerFunction(db.pool, 'ledger_reserve', reserveBody())),
  ];
  const settled = await Promise.allSettled(calls);
  expect(batchStats(db.pool).groups - before.groups).toBeLessThan(7); // some calls did share a group
  expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
  expect((settled[4] as PromiseRejectedResult).reason).toMatchObject({ code: 'InvalidInput', message: 'malformed id' });
  expect(await getBalance(db.pool, { walletId: w, now: T0 })).toMatchObject({ availableCredits: 940, heldCredits: 60 });
});

test('a call stuck behind a lock leaves its group after 1 s and waits alone; the other wallets go on', async () => {
  const [stuck, free] = [await newWallet(db.pool), await newWallet(db.pool)];
  await grant(stuck, 'purchased', 100);
  await grant(free, 'purchased', 100);
  // Another session holds the stuck wallet's lot (as a long admin transaction would).
  const locker = await db.pool.connect();
  let stuckDone = false;
  try {
    await locker.query('BEGIN');
    await locker.query('SELECT id FROM ledger_lots WHERE wallet_id = $1::uuid FOR UPDATE', [stuck]);
    const stuckCalls = Array.from({ length: 3 }, () =>
      reserve(db.pool, { walletId: stuck, amountCredits: 5, idempotencyKey: key('stuck'), holdExpiresAt: at(1), now: T0 }));
    void Promise.all(stuckCalls).then(() => { stuckDone = true; });
    const started = Date.now();
    const freeHolds = await Promise.all(Array.from({ length: 12 }, () =>
      reserve(db.pool, { walletId: free, amountCredits: 5, idempotencyKey: key('free'), holdExpiresAt: at(1), now: T0 })));
    expect(freeHolds).toHaveLength(12);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(stuckDone).toBe(false); // still waiting for the lock, each on its own connection
    await locker.query('COMMIT');
    const stuckHolds = await Promise.all(stuckCalls);
    expect(stuckHolds.map((h) => h.amountCredits)).toEqual([5, 5, 5]);
  } finally {
    await locker.query('ROLLBACK').catch(() => undefined);
    locker.release();
  }
  expect(await getBalance(db.pool, { walletId: stuck, now: T0 })).toMatchObject({ availableCredits: 85, heldCredits: 15 });
  expect(await getBalance(db.pool, { walletId: free, now: T0 })).toMatchObject({ availableCredits: 40, heldCredits: 60 });
});

test('a group spends about a second on locks in all: later calls on a locked wallet, and all calls past the second, are deferred', async () => {
  const locked = [await newWallet(db.pool), await newWallet(db.pool)];
  const free = await newWallet(db.pool);
  for (const w of [...locked, free]) await grant(w, 'purchased', 100);
  const locker = await db.pool.connect();
  try {
    await locker.query('BEGIN');
    await locker.query('SELECT id FROM ledger_lots WHERE wallet_id = ANY($1::uuid[]) FOR UPDATE', [locked]);
    const calls = [...locked, ...locked, ...locked, free].map((w) => reserveParams(w, 5, key('budget')));
    const started = Date.now();
    const outcomes = await runGroup(calls.map(() => 'ledger_reserve'), calls);
    const elapsedMs = Date.now() - started;
    // 0004 waited a second per call on a locked wallet: six here.
    expect(elapsedMs).toBeLessThan(2_000);
    // A group runs its calls in wallet-id order (uuid order is that of the lower-case text). The first call on
    // the lowest locked wallet waits out its 1 s lock_timeout, which spends the group's budget: every call after
    // it is deferred without waiting. The free wallet's call succeeds only if it comes before that one.
    const [firstLocked] = [...locked].sort();
    const timedOut = calls.findIndex((_, i) => i < 6 && locked[i % 2] === firstLocked);
    const freeFirst = free < firstLocked!;
    expect(outcomes.map((o) => ('e' in o ? o.e.code : 'ok'))).toEqual([...Array.from({ length: 6 }, () => '55P03'), freeFirst ? 'ok' : '55P03']);
    const expected = outcomes.map((_, i) => (i === timedOut || (i === 6 && freeFirst) ? 'ran' : 'deferred'));
    expect(outcomes.map((o) => ('e' in o && /deferred/.test(o.e.message) ? 'deferred' : 'ran'))).toEqual(expected);
  } finally {
    await locker.query('ROLLBACK');
    locker.release();
  }
  // Deferred and timed-out calls left nothing behind.
  for (const w of locked) expect(await getBalance(db.pool, { walletId: w, now: T0 })).toMatchObject({ availableCredits: 100, heldCredits: 0 });
});

test('many calls queued behind a locked wallet do not hold up another wallet for more than a couple of seconds', async () => {
  const [stuck, free] = [await newWallet(db.pool), await newWallet(db.pool)];
  await grant(stuck, 'purchased', 100);
  await grant(free, 'purchased', 100);
  const locker = await db.pool.connect();
  const reserveOn = (walletId: string) => reserve(db.pool, { walletId, amountCredits: 5, idempotencyKey: key('queued'), holdExpiresAt: at(1), now: T0 });
  const stuckCalls: Promise<unknown>[] = [];
  try {
    await locker.query('BEGIN');
    await locker.query('SELECT id FROM ledger_lots WHERE wallet_id = $1::uuid FOR UPDATE', [stuck]);
    stuckCalls.push(reserveOn(stuck), reserveOn(stuck)); // both group slots
    stuckCalls.push(...Array.from({ length: 4 }, () => reserveOn(stuck))); // the next group
    const started = Date.now();
    await reserveOn(free); // in that group too
    expect(Date.now() - started).toBeLessThan(3_500); // 0004: about a second per queued call on the locked wallet
  } finally {
    await locker.query('COMMIT');
    locker.release();
  }
  await Promise.all(stuckCalls);
  expect(await getBalance(db.pool, { walletId: stuck, now: T0 })).toMatchObject({ availableCredits: 70, heldCredits: 30 });
});

test('a group whose connection dies mid-way: its calls are sent again alone and each takes effect once', async () => {
  const w = await newWallet(db.pool);
  await grant(w, 'purchased', 100);
  const locker = await db.pool.connect();
  try {
    // Hold the lot so that the groups are certainly in flight, then kill their backends.
    await locker.query('BEGIN');
    await locker.query('SELECT id FROM ledger_lots WHERE wallet_id = $1::uuid FOR UPDATE', [w]);
    const calls = Array.from({ length: 4 }, (_, i) =>
      reserve(db.pool, { walletId: w, amountCredits: 5, idempotencyKey: `${key('killed')}-${i}`, holdExpiresAt: at(1), now: T0 }));
    let killed = 0;
    for (let attempt = 0; attempt < 50 && killed === 0; attempt++) {
      await new Promise((r) => setTimeout(r, 20));
      const res = await locker.query<{ n: number }>(
        `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND query LIKE 'SELECT ledger_batch%' AND wait_event_type = 'Lock'`);
      killed = res.rows[0]!.n;
    }
    expect(killed).toBeGreaterThan(0);
    await locker.query('COMMIT');
    const holds = await Promise.all(calls);
    expect(new Set(holds.map((h) => h.holdId)).size).toBe(4);
  } finally {
    await locker.query('ROLLBACK').catch(() => undefined);
    locker.release();
  }
  expect(await getBalance(db.pool, { walletId: w, now: T0 })).toMatchObject({ availableCredits: 80, heldCredits: 20 });
});

test('a group whose connection stops answering is given up, its connection discarded, its calls sent again alone', async () => {
  const w = await newWallet(db.pool);
  await grant(w, 'purchased', 100);
  // A pool of its own with exactly one idle connection, whose backend is frozen (as a vanished peer would be).
  const pool = createPool(db.connectionString, { max: 8 });
  const first = await pool.connect();
  const frozenPid = (await first.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  first.release();
  process.kill(frozenPid, 'SIGSTOP');
  try {
    const started = Date.now();
    const hold = await reserve(pool, { walletId: w, amountCredits: 5, idempotencyKey: key('frozen'), holdExpiresAt: at(1), now: T0 });
    expect(hold.amountCredits).toBe(5);
    expect(Date.now() - started).toBeGreaterThanOrEqual(9_000); // the group's answer timeout, then alone
  } finally {
    process.kill(frozenPid, 'SIGCONT');
    await pool.end();
  }
  expect(await getBalance(db.pool, { walletId: w, now: T0 })).toMatchObject({ availableCredits: 95, heldCredits: 5 });
}, 30_000);

test('a group refuses what cannot be grouped, as a whole and without effect', async () => {
  const w = await newWallet(db.pool);
  await grant(w, 'purchased', 1000);
  const tooMany = Array.from({ length: 33 }, () => reserveParams(w, 1, key('many')));
  await expect(runGroup(tooMany.map(() => 'ledger_reserve'), tooMany)).rejects.toThrow(/at most 32/);
  const outcomes = await runGroup(['ledger_grant'], [reserveParams(w, 1, key('grant-in-group'))]);
  expect(outcomes[0]).toMatchObject({ e: { message: expect.stringMatching(/cannot be batched/) } });
  expect(await getBalance(db.pool, { walletId: w, now: T0 })).toMatchObject({ availableCredits: 1000, heldCredits: 0 });
});

test('grouped calls on many multi-lot wallets: every wallet ends exact, every refusal is InsufficientCredits', async () => {
  const wallets = await Promise.all(Array.from({ length: 6 }, () => newWallet(db.pool)));
  for (const w of wallets) {
    await grant(w, 'promotional', 20);
    await grant(w, 'purchased', 30);
  }
  // 120 pairs over 6 wallets of 50 credits (two lots each, so reservations straddle lots): a wallet affords
  // ten 5-credit holds at once, and each capture of 3 releases 2.
  const captures = new Map<string, number>(wallets.map((w) => [w, 0]));
  await Promise.all(Array.from({ length: 120 }, async (_, i) => {
    const walletId = wallets[(i * 5) % wallets.length] as string;
    try {
      const h = await reserve(db.pool, { walletId, amountCredits: 5, idempotencyKey: key('p'), holdExpiresAt: at(1), now: T0 });
      await capture(db.pool, { holdId: h.holdId, amountCredits: 3, idempotencyKey: key('pc'), now: T0 });
      captures.set(walletId, (captures.get(walletId) ?? 0) + 1);
    } catch (e) {
      if (!(isLedgerError(e) && e.code === 'InsufficientCredits')) throw e;
    }
  }));
  for (const w of wallets) {
    const n = captures.get(w) ?? 0;
    expect(n).toBeGreaterThanOrEqual(10);
    expect(await getBalance(db.pool, { walletId: w, now: T0 })).toMatchObject({ availableCredits: 50 - 3 * n, heldCredits: 0 });
  }
});
