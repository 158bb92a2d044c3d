/**
 * Input Postgres cannot take as the ledger sends it — text with NUL or a lone UTF-16 surrogate, dates outside
 * years 1–9999 (JSON writes them as ±YYYYYY), computed expiries that are no date at all, NaN page sizes — is
 * refused as a LedgerError before any SQL, leaving no trace, instead of surfacing as a raw Postgres error (or,
 * for a wallet owner, silently becoming another owner's id).
 */
import { createTestDatabase, type TestDatabase } from '../support/db';
import { expectAuditClean } from '../support/audit';
import { T0, at, key, newWallet, snapshot } from '../support/ledger-fixtures';
import * as L from '../../src/ledger';

let db: TestDatabase;
let w: string;
let holdId: string;
beforeAll(async () => {
  db = await createTestDatabase();
  w = await newWallet(db.pool);
  await L.grantLot(db.pool, { walletId: w, kind: 'purchased', amountCredits: 100, idempotencyKey: key(), now: T0, expiresAt: at(2) });
  holdId = (await L.reserve(db.pool, { walletId: w, amountCredits: 10, idempotencyKey: key(), holdExpiresAt: at(1), now: T0 })).holdId;
});
afterAll(async () => { await db.drop(); });
afterEach(async () => { await expectAuditClean(db.pool); });

async function expectRefused(run: () => Promise<unknown>, code: string, field: string): Promise<void> {
  const before = await snapshot(db.pool, w);
  const e = await run().then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(L.LedgerError);
  expect(e).toMatchObject({ code, details: { field } });
  expect(await snapshot(db.pool, w)).toEqual(before);
}

const UNSTORABLE = [['NUL', 'a\u0000b'], ['lone high surrogate', 'a\ud800b'], ['lone low surrogate', '\udc00']];

test.each(UNSTORABLE)('a key or reference with a %s is refused as InvalidInput everywhere', async (_label, bad) => {
  await expectRefused(() => L.grantLot(db.pool, { walletId: w, kind: 'purchased', amountCredits: 1, idempotencyKey: bad, now: T0 }), 'InvalidInput', 'idempotencyKey');
  await expectRefused(() => L.grantLot(db.pool, { walletId: w, kind: 'purchased', amountCredits: 1, idempotencyKey: key(), now: T0, purchaseId: bad }), 'InvalidInput', 'purchaseId');
  await expectRefused(() => L.reserve(db.pool, { walletId: w, amountCredits: 1, idempotencyKey: bad, holdExpiresAt: at(1), now: T0 }), 'InvalidInput', 'idempotencyKey');
  await expectRefused(() => L.reserve(db.pool, { walletId: w, amountCredits: 1, idempotencyKey: key(), holdExpiresAt: at(1), now: T0, generationId: bad }), 'InvalidInput', 'generationId');
  await expectRefused(() => L.capture(db.pool, { holdId, idempotencyKey: bad, now: T0 }), 'InvalidInput', 'idempotencyKey');
  await expectRefused(() => L.refund(db.pool, { holdId, amountCredits: 1, idempotencyKey: key(), now: T0, refundRequestId: bad }), 'InvalidInput', 'refundRequestId');
  await expectRefused(() => L.adjust(db.pool, { walletId: w, deltaCredits: 1, reason: bad, actor: 'a', idempotencyKey: key(), now: T0 }), 'InvalidInput', 'reason');
  await expectRefused(() => L.adjust(db.pool, { walletId: w, deltaCredits: 1, reason: 'r', actor: bad, idempotencyKey: key(), now: T0 }), 'InvalidInput', 'actor');
  await expectRefused(() => L.listJournal(db.pool, { walletId: w, generationId: bad }), 'InvalidInput', 'generationId');
});

test('grouped: one call with an unstorable reference is refused alone; its neighbours are unaffected', async () => {
  const before = await L.getBalance(db.pool, { walletId: w, now: T0 });
  const calls = Array.from({ length: 6 }, (_, i) => L.reserve(db.pool, {
    walletId: w, amountCredits: 1, idempotencyKey: key(), holdExpiresAt: at(1), now: T0, generationId: i === 3 ? 'g\ud800' : `g${i}`,
  }).then(() => 'ok', (e: unknown) => e));
  const outcomes = await Promise.all(calls);
  expect(outcomes.filter((o) => o === 'ok')).toHaveLength(5);
  expect(outcomes[3]).toMatchObject({ code: 'InvalidInput', details: { field: 'generationId' } });
  expect((await L.getBalance(db.pool, { walletId: w, now: T0 })).availableCredits).toBe(before.availableCredits - 5);
});

test('two owner ids differing only in a lone surrogate are not one wallet', async () => {
  const e = await L.createWallet(db.pool, { ownerType: 'user', ownerId: `x-${key()}\ud800` }).catch((err: unknown) => err);
  expect(e).toMatchObject({ code: 'InvalidInput', details: { field: 'ownerId' } });
  const owner = `y-${key()}`;
  const real = await L.createWallet(db.pool, { ownerType: 'user', ownerId: `${owner}\ufffd` });
  // Sent as a pg text parameter, the lone surrogate would arrive as U+FFFD and find that wallet.
  expect(await L.findWalletByOwner(db.pool, { ownerType: 'user', ownerId: `${owner}\udfff` })).toBeNull();
  expect(await L.canUseWallet(db.pool, { walletId: real.wallet.walletId, userId: `${owner}\udfff` })).toBe(false);
  expect(await L.findWalletByOwner(db.pool, { ownerType: 'user', ownerId: `${owner}\ufffd` })).toMatchObject({ walletId: real.wallet.walletId });
  expect(await L.canUseWallet(db.pool, { walletId: real.wallet.walletId, userId: `${owner}\ufffd` })).toBe(true);
  const m = await L.addOrganizationMember(db.pool, { organizationId: 'org\u0000', userId: 'u' }).catch((err: unknown) => err);
  expect(m).toMatchObject({ code: 'InvalidInput', details: { field: 'organizationId' } });
});

const Y10000 = new Date('+010000-01-01T00:00:00.000Z');
const BC = new Date('-000100-01-01T00:00:00.000Z');

test('dates outside years 1–9999 are refused as InvalidInput, naming the field', async () => {
  await expectRefused(() => L.grantLot(db.pool, { walletId: w, kind: 'purchased', amountCredits: 1, idempotencyKey: key(), now: T0, expiresAt: Y10000 }), 'InvalidInput', 'expiresAt');
  await expectRefused(() => L.grantLot(db.pool, { walletId: w, kind: 'purchased', amountCredits: 1, idempotencyKey: key(), now: BC }), 'InvalidInput', 'now');
  await expectRefused(() => L.reserve(db.pool, { walletId: w, amountCredits: 1, idempotencyKey: key(), holdExpiresAt: Y10000, now: T0 }), 'InvalidInput', 'holdExpiresAt');
  await expectRefused(() => L.adjust(db.pool, { walletId: w, deltaCredits: 1, reason: 'r', actor: 'a', idempotencyKey: key(), now: T0, expiresAt: Y10000 }), 'InvalidInput', 'expiresAt');
  await expectRefused(() => L.release(db.pool, { holdId, idempotencyKey: key(), now: Y10000 }), 'InvalidInput', 'now');
});

test('a computed lot expiry that is no storable date is refused as InvalidInput', async () => {
  // validityDays past what a Date can hold → Invalid Date; bulk packages past year 9999; an invalid periodEnd.
  await expectRefused(() => L.grantLot(db.pool, { walletId: w, kind: 'purchased', amountCredits: 1, idempotencyKey: key(), now: T0, validityDays: 1e9 }), 'InvalidInput', 'validity');
  await expectRefused(() => L.grantLot(db.pool, { walletId: w, kind: 'bulk', amountCredits: 1, idempotencyKey: key(), now: T0, bulkPackages: 1_000_000 }), 'InvalidInput', 'validity');
  await expectRefused(() => L.grantLot(db.pool, { walletId: w, kind: 'membership', amountCredits: 1, idempotencyKey: key(), now: T0, periodEnd: new Date('nope') }), 'InvalidInput', 'validity');
  await expectRefused(() => L.adjust(db.pool, { walletId: w, deltaCredits: 1, reason: 'r', actor: 'a', idempotencyKey: key(), now: T0, validityDays: 1e9 }), 'InvalidInput', 'validity');
  // A validity that is not a positive integer: the policy's RangeError, as a refusal (grantLot already did this).
  await expectRefused(() => L.adjust(db.pool, { walletId: w, deltaCredits: 1, reason: 'r', actor: 'a', idempotencyKey: key(), now: T0, validityDays: 0 }), 'InvalidInput', 'validity');
  await expectRefused(() => L.adjust(db.pool, { walletId: w, deltaCredits: 1, reason: 'r', actor: 'a', idempotencyKey: key(), now: T0, validityDays: 1.5 }), 'InvalidInput', 'validity');
});

test('a refund-lot validity too long to store is refused before any SQL, not only when a refund lot is due', async () => {
  for (const days of [2 ** 31, 200_000_000, 3_000_000]) {
    // The hold's lot has expired at(3): releasing would create a refund lot expiring now + days.
    await expectRefused(() => L.release(db.pool, { holdId, idempotencyKey: key(), now: at(3), refundLotValidityDays: days }), 'InvalidInput', 'refundLotValidityDays');
  }
  const r = await L.release(db.pool, { holdId, idempotencyKey: key(), now: at(3), refundLotValidityDays: 365 });
  expect(r.refundLotId).not.toBeNull();
});

test('reads: invalid dates and NaN page sizes are refused as InvalidInput', async () => {
  await expectRefused(() => L.getBalance(db.pool, { walletId: w, now: new Date('nope') }), 'InvalidInput', 'now');
  await expectRefused(() => L.listJournal(db.pool, { walletId: w, from: new Date('nope') }), 'InvalidInput', 'from');
  await expectRefused(() => L.listJournal(db.pool, { walletId: w, to: Y10000 }), 'InvalidInput', 'to');
  await expectRefused(() => L.listJournal(db.pool, { walletId: w, limit: NaN }), 'InvalidInput', 'limit');
  await expectRefused(() => L.releaseExpiredHolds(db.pool, { now: T0, limit: NaN }), 'InvalidInput', 'limit');
  await expectRefused(() => L.closeWallet(db.pool, { walletId: w, now: new Date('nope') }), 'InvalidInput', 'now');
  expect((await L.listJournal(db.pool, { walletId: w, limit: 2.7 })).entries).toHaveLength(2);
});
