/** Refusals of malformed input: typed errors, and nothing written (journal and operations unchanged). */
import { createTestDatabase, type TestDatabase } from '../support/db';
import { expectAuditClean } from '../support/audit';
import { T0, at, key, newWallet, snapshot } from '../support/ledger-fixtures';
import { adjust, capture, grantLot, LedgerError, refund, reserve, getBalance, getWallet, closeWallet, release } from '../../src/ledger';

let db: TestDatabase;
let w: string;
let holdId: string;
beforeAll(async () => {
  db = await createTestDatabase();
  w = await newWallet(db.pool);
  await grantLot(db.pool, { walletId: w, kind: 'purchased', amountCredits: 100, idempotencyKey: key(), now: T0 });
  holdId = (await reserve(db.pool, { walletId: w, amountCredits: 10, idempotencyKey: key(), holdExpiresAt: at(1), now: T0 })).holdId;
  await capture(db.pool, { holdId, idempotencyKey: key(), now: T0 });
});
afterAll(async () => { await db.drop(); });
afterEach(async () => { await expectAuditClean(db.pool); });

const BAD_AMOUNTS: unknown[] = [-1, 0, 1.5, 0.1, 2 ** 53, Number.MAX_SAFE_INTEGER + 2, BigInt(2) ** BigInt(53), -BigInt(3), BigInt(0),
  NaN, Infinity, -Infinity, '10', '1e3', null, undefined, {}, [5], true];

async function expectRefused(run: () => Promise<unknown>, code: string): Promise<void> {
  const before = await snapshot(db.pool, w);
  const e = await run().then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(LedgerError);
  expect((e as LedgerError).code).toBe(code);
  expect(await snapshot(db.pool, w)).toEqual(before);
}

test.each(BAD_AMOUNTS.map((a) => [String(typeof a === 'bigint' ? `${a}n` : a), a]))('amount %s is refused everywhere', async (_label, amount) => {
  const a = amount as number;
  await expectRefused(() => grantLot(db.pool, { walletId: w, kind: 'purchased', amountCredits: a, idempotencyKey: key(), now: T0 }), 'InvalidAmount');
  await expectRefused(() => reserve(db.pool, { walletId: w, amountCredits: a, idempotencyKey: key(), holdExpiresAt: at(1), now: T0 }), 'InvalidAmount');
  await expectRefused(() => refund(db.pool, { holdId, amountCredits: a, idempotencyKey: key(), now: T0 }), 'InvalidAmount');
  if (amount !== undefined) {
    await expectRefused(() => capture(db.pool, { holdId, amountCredits: a, idempotencyKey: key(), now: T0 }), 'InvalidAmount');
  }
  // A negative whole number is a valid adjustment (a debit); everything else here is not.
  const validDelta = (typeof amount === 'bigint' && amount < BigInt(0)) || (Number.isSafeInteger(amount) && (amount as number) < 0);
  if (!validDelta) {
    await expectRefused(() => adjust(db.pool, { walletId: w, deltaCredits: a, reason: 'r', actor: 'a', idempotencyKey: key(), now: T0 }), 'InvalidAmount');
  }
});

test('the largest safe integer and bigint inputs are accepted exactly', async () => {
  const other = await newWallet(db.pool);
  const g = await grantLot(db.pool, { walletId: other, kind: 'purchased', amountCredits: BigInt(Number.MAX_SAFE_INTEGER), idempotencyKey: key(), now: T0 });
  expect(g.lot.grantedCredits).toBe(Number.MAX_SAFE_INTEGER);
  const r = await reserve(db.pool, { walletId: other, amountCredits: Number.MAX_SAFE_INTEGER - 1, idempotencyKey: key(), holdExpiresAt: at(1), now: T0 });
  expect(r.amountCredits).toBe(Number.MAX_SAFE_INTEGER - 1);
  expect((await getBalance(db.pool, { walletId: other, now: T0 })).availableCredits).toBe(1);
});

test('unknown and malformed ids', async () => {
  const ghost = '00000000-0000-4000-8000-000000000000';
  await expectRefused(() => reserve(db.pool, { walletId: ghost, amountCredits: 1, idempotencyKey: key(), holdExpiresAt: at(1), now: T0 }), 'WalletNotFound');
  await expectRefused(() => grantLot(db.pool, { walletId: ghost, kind: 'promotional', amountCredits: 1, idempotencyKey: key(), now: T0 }), 'WalletNotFound');
  await expectRefused(() => reserve(db.pool, { walletId: 'not-a-uuid', amountCredits: 1, idempotencyKey: key(), holdExpiresAt: at(1), now: T0 }), 'WalletNotFound');
  await expectRefused(() => capture(db.pool, { holdId: ghost, idempotencyKey: key(), now: T0 }), 'HoldNotFound');
  await expectRefused(() => release(db.pool, { holdId: 'x', idempotencyKey: key(), now: T0 }), 'HoldNotFound');
  await expectRefused(() => getWallet(db.pool, { walletId: ghost }), 'WalletNotFound');
});

test('other malformed input: kind, key, dates, zero adjustment', async () => {
  await expectRefused(() => grantLot(db.pool, { walletId: w, kind: 'gift' as 'promotional', amountCredits: 1, idempotencyKey: key(), now: T0 }), 'InvalidInput');
  await expectRefused(() => reserve(db.pool, { walletId: w, amountCredits: 1, idempotencyKey: '', holdExpiresAt: at(1), now: T0 }), 'InvalidInput');
  await expectRefused(() => reserve(db.pool, { walletId: w, amountCredits: 1, idempotencyKey: key(), holdExpiresAt: new Date('nope'), now: T0 }), 'InvalidInput');
  await expectRefused(() => grantLot(db.pool, { walletId: w, kind: 'purchased', amountCredits: 1, idempotencyKey: key(), now: T0, expiresAt: T0 }), 'InvalidInput');
  await expectRefused(() => adjust(db.pool, { walletId: w, deltaCredits: 0, reason: 'r', actor: 'a', idempotencyKey: key(), now: T0 }), 'InvalidAmount');
  await expectRefused(() => adjust(db.pool, { walletId: w, deltaCredits: 5, reason: '', actor: 'a', idempotencyKey: key(), now: T0 }), 'InvalidInput');
});

test('a hold expiring at or before now is refused before any SQL, and its key stays unused', async () => {
  const k = key('reserve');
  for (const holdExpiresAt of [T0, at(-1), new Date(T0.getTime() - 1)]) {
    const before = await snapshot(db.pool, w);
    const e = await reserve(db.pool, { walletId: w, amountCredits: 1, idempotencyKey: k, holdExpiresAt, now: T0 }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(LedgerError);
    expect(e).toMatchObject({ code: 'InvalidInput', details: { field: 'holdExpiresAt' } });
    expect(await snapshot(db.pool, w)).toEqual(before);
  }
  // Checked before the wallet is even looked up.
  const ghost = '00000000-0000-4000-8000-000000000000';
  await expectRefused(() => reserve(db.pool, { walletId: ghost, amountCredits: 1, idempotencyKey: key(), holdExpiresAt: T0, now: T0 }), 'InvalidInput');
  const r = await reserve(db.pool, { walletId: w, amountCredits: 1, idempotencyKey: k, holdExpiresAt: new Date(T0.getTime() + 1), now: T0 });
  expect(r.replayed).toBe(false);
  await release(db.pool, { holdId: r.holdId, idempotencyKey: key(), now: T0 });
});

test('a closed wallet refuses grants and reservations but its holds can still be settled', async () => {
  const other = await newWallet(db.pool);
  await grantLot(db.pool, { walletId: other, kind: 'purchased', amountCredits: 10, idempotencyKey: key(), now: T0 });
  const h = await reserve(db.pool, { walletId: other, amountCredits: 4, idempotencyKey: key(), holdExpiresAt: at(1), now: T0 });
  await closeWallet(db.pool, { walletId: other });
  const e1 = await reserve(db.pool, { walletId: other, amountCredits: 1, idempotencyKey: key(), holdExpiresAt: at(1), now: T0 }).catch((e: unknown) => e);
  expect((e1 as LedgerError).code).toBe('WalletClosed');
  const e2 = await grantLot(db.pool, { walletId: other, kind: 'purchased', amountCredits: 1, idempotencyKey: key(), now: T0 }).catch((e: unknown) => e);
  expect((e2 as LedgerError).code).toBe('WalletClosed');
  const rel = await release(db.pool, { holdId: h.holdId, idempotencyKey: key(), now: T0 });
  expect(rel.releasedCredits).toBe(4);
});
