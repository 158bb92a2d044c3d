/**
 * The safety net: a hold that nobody settles (its workflow terminated by an operator, say) is released by the
 * hold sweeper once past its expiry, with a journal entry naming why. And the operators' search attributes
 * let generations be found by wallet and status.
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { createWallet, getBalance, getHold, grantLot, listJournal, reserve } from '../../src/ledger';
import { startGeneration, reportOutcome, type GenerationServiceDeps } from '../../src/generations/service';
import { generationWorkflowId } from '../../src/workflows/generation-contract';
import { holdSweeper } from '../../src/workflows/hold-sweeper';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { expectAuditClean } from '../support/audit';
import { startWorkflowHarness, type WorkflowHarness } from '../support/workflow-harness';

const MINUTE_MS = 60_000;

let db: TestDatabase;
let pool: Pool;
let harness: WorkflowHarness;
let deps: GenerationServiceDeps;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = db.pool;
  harness = await startWorkflowHarness({ pool });
  deps = { client: harness.env.client, pool, taskQueue: harness.taskQueue };
});
afterAll(async () => {
  await harness?.teardown();
  await db?.drop();
});
afterEach(async () => {
  await expectAuditClean(pool);
});

async function fundedWallet(credits: number): Promise<string> {
  const { wallet } = await createWallet(pool, { ownerType: 'user', ownerId: `user-${randomUUID()}` });
  await grantLot(pool, { walletId: wallet.walletId, kind: 'purchased', amountCredits: credits, idempotencyKey: randomUUID() });
  return wallet.walletId;
}

async function startSweeper(): Promise<() => Promise<void>> {
  const handle = await harness.env.client.workflow.start(holdSweeper, {
    workflowId: `hold-sweeper-${randomUUID()}`, taskQueue: harness.taskQueue, args: [{ intervalMs: MINUTE_MS }],
  });
  return async () => {
    await handle.terminate('test over');
  };
}

test('a hold past its expiry is released by the sweeper, journalled as a hold expiry', async () => {
  const walletId = await fundedWallet(100);
  // The sweeper judges expiry by workflow time, which time skipping may have moved past the wall clock.
  const nowMs = Math.max(Date.now(), await harness.env.currentTimeMs());
  const hold = await reserve(pool, {
    walletId, amountCredits: 30, holdExpiresAt: new Date(nowMs + 5 * MINUTE_MS), idempotencyKey: randomUUID(),
  });
  await harness.withWorker(async () => {
    const stopSweeper = await startSweeper();
    await harness.env.sleep(3 * MINUTE_MS);
    expect((await getHold(pool, { holdId: hold.holdId })).state).toBe('pending');
    await harness.env.sleep(5 * MINUTE_MS);
    await stopSweeper();
  });
  expect(await getHold(pool, { holdId: hold.holdId })).toMatchObject({ state: 'expired', releasedCredits: 30, capturedCredits: 0 });
  expect((await getBalance(pool, { walletId })).availableCredits).toBe(100);
  const releases = (await listJournal(pool, { walletId, holdId: hold.holdId, kind: 'release' })).entries;
  expect(releases).toHaveLength(1);
  expect(releases[0]!.idempotencyKey).toBe(`hold-expiry:${hold.holdId}`);
});

test('a generation whose workflow was terminated does not keep its credits held', async () => {
  const walletId = await fundedWallet(100);
  const generationId = `gen-${randomUUID()}`;
  await harness.withWorker(async () => {
    await startGeneration(deps, { generationId, walletId, userId: 'u', feature: 'image', params: { resolution: '2K' }, platform: 'ios' });
    await harness.env.client.workflow.getHandle(generationWorkflowId(generationId)).terminate('operator stopped it');
    expect((await getBalance(pool, { walletId })).heldCredits).toBe(20);
    const stopSweeper = await startSweeper();
    // Image: deadline cap 3 × 10 min + 60 min grace = 90 min after the start.
    await harness.env.sleep(95 * MINUTE_MS);
    await stopSweeper();
  });
  expect(await getBalance(pool, { walletId })).toMatchObject({ availableCredits: 100, heldCredits: 0 });
});

test('operators find generations by wallet, feature, platform and status', async () => {
  const walletId = await fundedWallet(100);
  const generationId = `gen-${randomUUID()}`;
  await harness.withWorker(async () => {
    await startGeneration(deps, { generationId, walletId, userId: 'u', feature: 'image', params: { resolution: '1K' }, platform: 'android' });
    await reportOutcome(deps, generationId, { status: 'failed', reason: 'system_error' });
    await harness.env.client.workflow.getHandle(generationWorkflowId(generationId)).result();
  });
  const ids: string[] = [];
  for await (const wf of harness.env.client.workflow.list({
    query: `WalletId = "${walletId}" AND Feature = "image" AND Platform = "android" AND GenerationStatus = "released"`,
  })) ids.push(wf.workflowId);
  expect(ids).toEqual([generationWorkflowId(generationId)]);
  let captured = 0;
  for await (const _wf of harness.env.client.workflow.list({ query: `WalletId = "${walletId}" AND GenerationStatus = "captured"` })) captured++;
  expect(captured).toBe(0);
});
