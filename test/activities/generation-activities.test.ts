/**
 * The generation activities on a real database, called as a retrying worker would: twice, or after a crash
 * between their steps. Money must move once whatever the number of attempts.
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { createGenerationActivities } from '../../src/activities/generation';
import { createWallet, getBalance, grantLot, listJournal } from '../../src/ledger';
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
  });
});
afterAll(async () => db?.drop());
afterEach(async () => expectAuditClean(pool));

async function setup(credits: number) {
  const { wallet } = await createWallet(pool, { ownerType: 'user', ownerId: `u-${randomUUID()}` });
  await grantLot(pool, { walletId: wallet.walletId, kind: 'purchased', amountCredits: credits, idempotencyKey: randomUUID() });
  const generation: GenerationInput = {
    generationId: `gen-${randomUUID()}`, walletId: wallet.walletId, userId: 'u', feature: 'image', params: { resolution: '4K' }, platform: 'ios',
  };
  const { quote } = await activities.prepareGeneration({ feature: 'image', params: { resolution: '4K' } });
  const holdExpiresAt = new Date(Date.now() + 3_600_000).toISOString();
  return { walletId: wallet.walletId, generation, quote, holdExpiresAt };
}

test('a retried reservation holds once and returns the same hold', async () => {
  const { walletId, generation, quote, holdExpiresAt } = await setup(100);
  const first = await activities.reserveGenerationCredits({ generation, quote, holdExpiresAt });
  const retried = await activities.reserveGenerationCredits({ generation, quote, holdExpiresAt });
  expect(retried.holdId).toBe(first.holdId);
  expect((await getBalance(pool, { walletId })).heldCredits).toBe(30);
  expect((await listJournal(pool, { walletId, kind: 'hold' })).entries).toHaveLength(1);
});

test('a crash after the hold but before the generation row: the retry records it without a second hold', async () => {
  const { walletId, generation, quote, holdExpiresAt } = await setup(100);
  await activities.reserveGenerationCredits({ generation, quote, holdExpiresAt });
  await pool.query('DELETE FROM generations WHERE generation_id = $1', [generation.generationId]); // the lost write
  const retried = await activities.reserveGenerationCredits({ generation, quote, holdExpiresAt });
  expect((await getGeneration(pool, generation.generationId))?.holdId).toBe(retried.holdId);
  expect((await getBalance(pool, { walletId })).heldCredits).toBe(30);
});

test('a retried settlement captures once and answers the first settlement', async () => {
  const { walletId, generation, quote, holdExpiresAt } = await setup(100);
  const { holdId } = await activities.reserveGenerationCredits({ generation, quote, holdExpiresAt });
  const settle = () => activities.settleGeneration({
    generationId: generation.generationId, holdId, action: 'capture', captureCredits: 30, reason: 'succeeded', report: { status: 'succeeded' }, outputProblems: [],
  });
  const first = await settle();
  const second = await settle();
  expect(second).toEqual(first);
  expect((await listJournal(pool, { walletId, kind: 'capture' })).entries).toHaveLength(1);
  expect(await getBalance(pool, { walletId })).toMatchObject({ availableCredits: 70, heldCredits: 0 });
});

test('an unknown feature is a non-retryable InvalidGenerationRequest', async () => {
  await expect(activities.prepareGeneration({ feature: 'hologram', params: {} })).rejects.toMatchObject({
    type: 'InvalidGenerationRequest', nonRetryable: true,
  });
});

test('a reservation that does not fit is refused with the shortfall and recorded as rejected', async () => {
  const { walletId, generation, quote, holdExpiresAt } = await setup(10);
  await expect(activities.reserveGenerationCredits({ generation, quote, holdExpiresAt })).rejects.toMatchObject({
    type: 'InsufficientCredits', nonRetryable: true, details: [expect.objectContaining({ shortfallCredits: 20 })],
  });
  expect((await getGeneration(pool, generation.generationId))?.status).toBe('rejected');
  expect((await listJournal(pool, { walletId })).entries).toHaveLength(1); // the grant only
});
