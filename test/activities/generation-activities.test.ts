/**
 * The generation activities on a real database, called as a retrying worker would: twice, or after a crash
 * between their steps. Money must move once whatever the number of attempts.
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { createGenerationActivities } from '../../src/activities/generation';
import { createHoldSweeperActivities } from '../../src/activities/hold-sweeper';
import { createWallet, getBalance, grantLot, listJournal, releaseExpiredHolds } from '../../src/ledger';
import { getGeneration } from '../../src/generations/store';
import { defaultPriceBook } from '../../src/pricing';
import { defaultSettlementPolicy } from '../../src/policy/settlement';
import type { GenerationInput } from '../../src/workflows/generation-contract';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { expectAuditClean } from '../support/audit';

let db: TestDatabase;
let pool: Pool;
let activities: ReturnType<typeof createGenerationActivities>;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = db.pool;
  activities = createGenerationActivities({
    pool, priceBook: defaultPriceBook, settlementPolicy: defaultSettlementPolicy, maxDeadlineFactor: 3, holdExpiryGraceMs: 3_600_000,
    refundLotValidityDays: 30,
  });
});
afterAll(async () => db?.drop());
afterEach(async () => expectAuditClean(pool));

async function setup(credits: number, params: Record<string, unknown> = { resolution: '4K' }) {
  const { wallet } = await createWallet(pool, { ownerType: 'user', ownerId: `u-${randomUUID()}` });
  await grantLot(pool, { walletId: wallet.walletId, kind: 'purchased', amountCredits: credits, idempotencyKey: randomUUID() });
  const generation: GenerationInput = {
    generationId: `gen-${randomUUID()}`, walletId: wallet.walletId, userId: 'u', feature: 'image', params, platform: 'ios',
  };
  return { walletId: wallet.walletId, generation, startedAt: new Date().toISOString() };
}

test('a retried reservation holds once and returns the same hold; the hold expires after the longest wait plus grace', async () => {
  const { walletId, generation, startedAt } = await setup(100);
  const first = await activities.reserveGeneration({ generation, startedAt });
  const retried = await activities.reserveGeneration({ generation, startedAt });
  expect(retried.reservation.holdId).toBe(first.reservation.holdId);
  expect(first.quote).toMatchObject({ costCredits: 30, priceBookVersion: defaultPriceBook.version, deadlineMs: 600_000, maxDeadlineMs: 1_800_000 });
  expect(first.settlementPolicy).toEqual(defaultSettlementPolicy);
  expect((await getBalance(pool, { walletId })).heldCredits).toBe(30);
  expect((await listJournal(pool, { walletId, kind: 'hold' })).entries).toHaveLength(1);
  const { rows } = await pool.query('SELECT expires_at FROM ledger_holds WHERE id = $1', [first.reservation.holdId]);
  expect((rows[0].expires_at as Date).getTime()).toBe(Date.parse(startedAt) + 1_800_000 + 3_600_000);
});

test('a reservation made after the longest wait had already passed still holds, for the grace period from now', async () => {
  const { walletId, generation } = await setup(100);
  const startedAt = new Date(Date.now() - 3 * 3_600_000).toISOString(); // the ledger was out of reach for 3 h
  const before = Date.now();
  const { reservation } = await activities.reserveGeneration({ generation, startedAt });
  const after = Date.now();
  const { rows } = await pool.query('SELECT expires_at FROM ledger_holds WHERE id = $1', [reservation.holdId]);
  // The grace counted from the reservation itself (not from startedAt, nor any longer).
  expect((rows[0].expires_at as Date).getTime()).toBeGreaterThanOrEqual(before + 3_600_000);
  expect((rows[0].expires_at as Date).getTime()).toBeLessThanOrEqual(after + 3_600_000);
  expect((await getBalance(pool, { walletId })).heldCredits).toBe(30);
});

test('a crash after the hold but before the generation row: the retry records it without a second hold', async () => {
  const { walletId, generation, startedAt } = await setup(100);
  await activities.reserveGeneration({ generation, startedAt });
  await pool.query('DELETE FROM generations WHERE generation_id = $1', [generation.generationId]); // the lost write
  const retried = await activities.reserveGeneration({ generation, startedAt });
  expect((await getGeneration(pool, generation.generationId))?.holdId).toBe(retried.reservation.holdId);
  expect((await getBalance(pool, { walletId })).heldCredits).toBe(30);
});

test('a retried settlement captures once and answers the first settlement', async () => {
  const { walletId, generation, startedAt } = await setup(100);
  const { reservation, quote, settlementPolicy } = await activities.reserveGeneration({ generation, startedAt });
  const settle = () => activities.settleGeneration({
    generation, holdId: reservation.holdId, quote, settlementPolicy, reason: 'succeeded',
    report: { status: 'succeeded', outputs: [{ url: 'u', sizeBytes: 9, contentType: 'image/png' }] },
  });
  const first = await settle();
  const second = await settle();
  expect(second).toEqual(first);
  expect(first).toMatchObject({ action: 'capture', capturedCredits: 30, releasedCredits: 0, reason: 'succeeded' });
  expect((await listJournal(pool, { walletId, kind: 'capture' })).entries).toHaveLength(1);
  expect(await getBalance(pool, { walletId })).toMatchObject({ availableCredits: 70, heldCredits: 0 });
});

test('a settlement after the hold sweeper expired the hold reports the release that happened', async () => {
  const { walletId, generation, startedAt } = await setup(100);
  const { reservation, quote, settlementPolicy } = await activities.reserveGeneration({ generation, startedAt });
  await releaseExpiredHolds(pool, { now: new Date(Date.now() + 10 * 3_600_000) });
  const settlement = await activities.settleGeneration({
    generation, holdId: reservation.holdId, quote, settlementPolicy, reason: 'succeeded',
    report: { status: 'succeeded', outputs: [{ url: 'u', sizeBytes: 9, contentType: 'image/png' }] },
  });
  expect(settlement).toMatchObject({ action: 'release', reason: 'hold_expired', capturedCredits: 0, releasedCredits: 30 });
  expect(await getBalance(pool, { walletId })).toMatchObject({ availableCredits: 100, heldCredits: 0 });
});

test('a sweep records the release on a generation whose hold an earlier, interrupted sweep expired', async () => {
  const { walletId, generation, startedAt } = await setup(100);
  await activities.reserveGeneration({ generation, startedAt });
  const later = new Date(Date.now() + 10 * 3_600_000);
  await releaseExpiredHolds(pool, { now: later }); // the ledger step of a sweep whose activity then failed
  expect((await getGeneration(pool, generation.generationId))?.status).toBe('reserved');
  await createHoldSweeperActivities({ pool, refundLotValidityDays: 30 }).releaseExpiredHolds({ now: later.toISOString() });
  expect(await getGeneration(pool, generation.generationId)).toMatchObject({
    status: 'released', failureReason: 'hold_expired',
    settlement: { reason: 'hold_expired', capturedCredits: 0, releasedCredits: 30, availableCreditsAfter: 100, heldCreditsAfter: 0 },
  });
  expect((await getBalance(pool, { walletId })).availableCredits).toBe(100);
});

test('a settlement under a key an earlier run used for another verdict reports what that run did, and stops retrying', async () => {
  const { walletId, generation, startedAt } = await setup(100);
  const { reservation, quote, settlementPolicy } = await activities.reserveGeneration({ generation, startedAt });
  const settle = (reason: 'cancelled' | 'deadline_exceeded') => activities.settleGeneration({
    generation, holdId: reservation.holdId, quote, settlementPolicy, reason, report: undefined,
  });
  const first = await settle('cancelled');
  expect(first).toMatchObject({ action: 'release', reason: 'cancelled', capturedCredits: 0, releasedCredits: 30 });
  await pool.query('UPDATE generations SET status = $2, settlement = NULL, settled_at = NULL WHERE generation_id = $1', [generation.generationId, 'reserved']);
  const second = await settle('deadline_exceeded'); // same ledger key, other reason: the ledger says IdempotencyConflict
  expect(second).toMatchObject({ action: 'release', capturedCredits: 0, releasedCredits: 30 });
  expect((await listJournal(pool, { walletId, kind: 'release' })).entries).toHaveLength(1);
  expect(await getBalance(pool, { walletId })).toMatchObject({ availableCredits: 100, heldCredits: 0 });
});

test('a short video is re-priced with the price book it was quoted from, not the worker\'s newer one', async () => {
  const { walletId } = await setup(1000);
  const generation: GenerationInput = {
    generationId: `gen-${randomUUID()}`, walletId, userId: 'u', feature: 'video', params: { durationSeconds: 10, modelTier: 'standard' }, platform: 'web',
  };
  const reserved = await activities.reserveGeneration({ generation, startedAt: new Date().toISOString() });
  expect(reserved.quote.costCredits).toBe(50); // 5 credits/s
  const cheaperBook = { ...defaultPriceBook, version: '2027-01-01', features: { ...defaultPriceBook.features, video: { ...defaultPriceBook.features.video, creditsPerSecond: 4 } } };
  const newerWorker = createGenerationActivities({
    pool, priceBook: cheaperBook, settlementPolicy: defaultSettlementPolicy, maxDeadlineFactor: 3, holdExpiryGraceMs: 3_600_000, refundLotValidityDays: 30,
  });
  const settlement = await newerWorker.settleGeneration({
    generation, holdId: reserved.reservation.holdId, quote: reserved.quote, settlementPolicy: reserved.settlementPolicy,
    priceBook: reserved.priceBook, reason: 'succeeded',
    report: { status: 'succeeded', outputs: [{ url: 'u', sizeBytes: 9, contentType: 'video/mp4', durationSeconds: 6 }] },
  });
  expect(settlement).toMatchObject({ action: 'capture', capturedCredits: 30, releasedCredits: 20 });
});

test('credits released into a lot that expired meanwhile come back valid for REFUND_LOT_VALIDITY_DAYS', async () => {
  const longer = createGenerationActivities({
    pool, priceBook: defaultPriceBook, settlementPolicy: defaultSettlementPolicy, maxDeadlineFactor: 3, holdExpiryGraceMs: 3_600_000, refundLotValidityDays: 60,
  });
  const { wallet } = await createWallet(pool, { ownerType: 'user', ownerId: `u-${randomUUID()}` });
  const lotExpiresAt = new Date(Date.now() + 60_000);
  await grantLot(pool, { walletId: wallet.walletId, kind: 'promotional', amountCredits: 100, expiresAt: lotExpiresAt, idempotencyKey: randomUUID() });
  const generation: GenerationInput = {
    generationId: `gen-${randomUUID()}`, walletId: wallet.walletId, userId: 'u', feature: 'image', params: { resolution: '1K' }, platform: 'web',
  };
  const { reservation, quote, settlementPolicy } = await longer.reserveGeneration({ generation, startedAt: new Date().toISOString() });
  await pool.query('UPDATE ledger_lots SET expires_at = now() - interval \'1 second\', granted_at = now() - interval \'1 day\' WHERE wallet_id = $1', [wallet.walletId]);
  const releasedAt = Date.now();
  await longer.settleGeneration({ generation, holdId: reservation.holdId, quote, settlementPolicy, reason: 'system_error', report: undefined });
  const refundLot = (await getBalance(pool, { walletId: wallet.walletId })).lots.find((lot) => lot.kind === 'refund');
  expect(refundLot?.availableCredits).toBe(10);
  const days = (refundLot!.expiresAt.getTime() - releasedAt) / 86_400_000;
  expect(days).toBeGreaterThan(59.9);
  expect(days).toBeLessThan(60.1);
});

test('a reservation retried after a price change meets its first hold: a non-retryable GenerationConflict, one hold', async () => {
  const { walletId, generation, startedAt } = await setup(100);
  await activities.reserveGeneration({ generation, startedAt });
  const repriced = createGenerationActivities({
    pool, priceBook: { ...defaultPriceBook, version: '2027-01-01', features: { ...defaultPriceBook.features, image: { ...defaultPriceBook.features.image, baseCredits: 12 } } },
    settlementPolicy: defaultSettlementPolicy, maxDeadlineFactor: 3, holdExpiryGraceMs: 3_600_000, refundLotValidityDays: 30,
  });
  await expect(repriced.reserveGeneration({ generation, startedAt })).rejects.toMatchObject({ type: 'GenerationConflict', nonRetryable: true });
  expect((await listJournal(pool, { walletId, kind: 'hold' })).entries).toHaveLength(1);
});

test('an unknown feature is a non-retryable InvalidGenerationRequest, and nothing is held', async () => {
  const { walletId, generation, startedAt } = await setup(100);
  await expect(activities.reserveGeneration({ generation: { ...generation, feature: 'hologram' }, startedAt })).rejects.toMatchObject({
    type: 'InvalidGenerationRequest', nonRetryable: true,
  });
  expect((await getBalance(pool, { walletId })).heldCredits).toBe(0);
});

test('a reservation that does not fit is refused with the shortfall and recorded as rejected', async () => {
  const { walletId, generation, startedAt } = await setup(10);
  await expect(activities.reserveGeneration({ generation, startedAt })).rejects.toMatchObject({
    type: 'InsufficientCredits', nonRetryable: true, details: [expect.objectContaining({ shortfallCredits: 20 })],
  });
  expect((await getGeneration(pool, generation.generationId))?.status).toBe('rejected');
  expect((await listJournal(pool, { walletId })).entries).toHaveLength(1); // the grant only
});

test('the same id refused again for another wallet: the record describes the latest attempt', async () => {
  const first = await setup(10);
  const second = await setup(5);
  const retry = { ...first.generation, walletId: second.walletId };
  await expect(activities.reserveGeneration({ generation: first.generation, startedAt: first.startedAt })).rejects.toMatchObject({ type: 'InsufficientCredits' });
  await expect(activities.reserveGeneration({ generation: retry, startedAt: first.startedAt })).rejects.toMatchObject({ type: 'InsufficientCredits' });
  expect(await getGeneration(pool, first.generation.generationId)).toMatchObject({
    status: 'rejected', walletId: second.walletId, rejection: { code: 'InsufficientCredits', shortfallCredits: 25 },
  });
});
