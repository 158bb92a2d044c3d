/**
 * The hold sweeper's activity on a real database: one call must release every hold past its expiry at `now`,
 * whatever happens to some of them concurrently (their owner settling them while the sweep runs).
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { createHoldSweeperActivities } from '../../src/activities/hold-sweeper';
import { createWallet, getHold, grantLot, release, reserve } from '../../src/ledger';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { expectAuditClean } from '../support/audit';
import { someoneWaitsOnALock } from '../support/locks';

let db: TestDatabase;
let pool: Pool;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = db.pool;
});
afterAll(async () => db?.drop());
afterEach(async () => expectAuditClean(pool));

test('a hold settled by its owner during the sweep does not leave the holds after its batch pending', async () => {
  const { wallet } = await createWallet(pool, { ownerType: 'user', ownerId: `u-${randomUUID()}` });
  const walletId = wallet.walletId;
  await grantLot(pool, { walletId, kind: 'purchased', amountCredits: 1000, idempotencyKey: randomUUID() });
  // 101 holds, one more than a sweep's batch, each due a millisecond after the previous one.
  const base = Date.now() + 60_000;
  const holdIds: string[] = [];
  for (let i = 0; i < 101; i++) {
    const hold = await reserve(pool, { walletId, amountCredits: 1, holdExpiresAt: new Date(base + i), idempotencyKey: randomUUID() });
    holdIds.push(hold.holdId);
  }
  const now = new Date(base + 3_600_000);

  // The owner of the first hold releases it, in a transaction that commits only once the sweep waits for it.
  const owner = await pool.connect();
  try {
    await owner.query('BEGIN');
    await release(owner, { holdId: holdIds[0]!, idempotencyKey: randomUUID(), now });
    const sweep = createHoldSweeperActivities({ pool, refundLotValidityDays: 30 }).releaseExpiredHolds({ now: now.toISOString() });
    await someoneWaitsOnALock(pool);
    await owner.query('COMMIT');
    await sweep;
  } finally {
    owner.release();
  }

  expect((await getHold(pool, { holdId: holdIds[0]! })).state).toBe('released');
  const states = await Promise.all(holdIds.slice(1).map(async (holdId) => (await getHold(pool, { holdId })).state));
  expect(states.filter((state) => state !== 'expired')).toEqual([]);
});
