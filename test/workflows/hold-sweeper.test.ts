/**
 * The safety net: a hold that nobody settles (its workflow terminated by an operator, say) is released by the
 * hold sweeper once past its expiry, with a journal entry naming why. And the operators' search attributes
 * let generations be found by wallet and status.
 */
import { randomUUID } from 'node:crypto';
import { getBalance, getHold, listJournal, reserve } from '../../src/ledger';
import { startGeneration, reportOutcome } from '../../src/generations/service';
import { getGeneration } from '../../src/generations/store';
import { generationWorkflowId } from '../../src/workflows/generation-contract';
import { holdSweeper } from '../../src/workflows/hold-sweeper';
import { useGenerationSuite } from '../support/generation-suite';

const MINUTE_MS = 60_000;

const suite = useGenerationSuite();

async function startSweeper(): Promise<() => Promise<void>> {
  const handle = await suite.harness.env.client.workflow.start(holdSweeper, {
    workflowId: `hold-sweeper-${randomUUID()}`, taskQueue: suite.harness.taskQueue, args: [{ intervalMs: MINUTE_MS }],
  });
  return async () => {
    await handle.terminate('test over');
  };
}

test('a hold past its expiry is released by the sweeper, journalled as a hold expiry', async () => {
  const walletId = await suite.fundedWallet(100);
  // The sweeper judges expiry by workflow time, which time skipping may have moved past the wall clock.
  const nowMs = Math.max(Date.now(), await suite.harness.env.currentTimeMs());
  const hold = await reserve(suite.pool, {
    walletId, amountCredits: 30, holdExpiresAt: new Date(nowMs + 5 * MINUTE_MS), idempotencyKey: randomUUID(),
  });
  await suite.harness.withWorker(async () => {
    const stopSweeper = await startSweeper();
    await suite.harness.env.sleep(3 * MINUTE_MS);
    expect((await getHold(suite.pool, { holdId: hold.holdId })).state).toBe('pending');
    await suite.harness.env.sleep(5 * MINUTE_MS);
    await stopSweeper();
  });
  expect(await getHold(suite.pool, { holdId: hold.holdId })).toMatchObject({ state: 'expired', releasedCredits: 30, capturedCredits: 0 });
  expect((await getBalance(suite.pool, { walletId })).availableCredits).toBe(100);
  const releases = (await listJournal(suite.pool, { walletId, holdId: hold.holdId, kind: 'release' })).entries;
  expect(releases).toHaveLength(1);
  expect(releases[0]!.idempotencyKey).toBe(`hold-expiry:${hold.holdId}`);
});

test('a generation whose workflow was terminated does not keep its credits held', async () => {
  const walletId = await suite.fundedWallet(100);
  const generationId = `gen-${randomUUID()}`;
  await suite.harness.withWorker(async () => {
    await startGeneration(suite.deps, { generationId, walletId, userId: 'u', feature: 'image', params: { resolution: '2K' }, platform: 'ios' });
    await suite.harness.env.client.workflow.getHandle(generationWorkflowId(generationId)).terminate('operator stopped it');
    expect((await getBalance(suite.pool, { walletId })).heldCredits).toBe(20);
    const stopSweeper = await startSweeper();
    // Image: deadline cap 3 × 10 min + 60 min grace = 90 min after the start.
    await suite.harness.env.sleep(95 * MINUTE_MS);
    await stopSweeper();
  });
  expect(await getBalance(suite.pool, { walletId })).toMatchObject({ availableCredits: 100, heldCredits: 0 });
  // Its record says what happened, rather than `reserved` forever; a late outcome gets that settlement's answer.
  expect(await getGeneration(suite.pool, generationId)).toMatchObject({
    status: 'released', failureReason: 'hold_expired',
    settlement: { action: 'release', reason: 'hold_expired', capturedCredits: 0, releasedCredits: 20, availableCreditsAfter: 100, heldCreditsAfter: 0 },
  });
  await expect(reportOutcome(suite.deps, generationId, { status: 'succeeded', outputs: [{ url: 'u', sizeBytes: 1, contentType: 'image/png' }] }))
    .rejects.toMatchObject({ code: 'AlreadySettled' });
});

test('operators find generations by wallet, feature, platform and status', async () => {
  const walletId = await suite.fundedWallet(100);
  const generationId = `gen-${randomUUID()}`;
  await suite.harness.withWorker(async () => {
    await startGeneration(suite.deps, { generationId, walletId, userId: 'u', feature: 'image', params: { resolution: '1K' }, platform: 'android' });
    await reportOutcome(suite.deps, generationId, { status: 'failed', reason: 'system_error' });
    await suite.harness.env.client.workflow.getHandle(generationWorkflowId(generationId)).result();
  });
  const ids: string[] = [];
  for await (const wf of suite.harness.env.client.workflow.list({
    query: `WalletId = "${walletId}" AND Feature = "image" AND Platform = "android" AND GenerationStatus = "released"`,
  })) ids.push(wf.workflowId);
  expect(ids).toEqual([generationWorkflowId(generationId)]);
  let captured = 0;
  for await (const _wf of suite.harness.env.client.workflow.list({ query: `WalletId = "${walletId}" AND GenerationStatus = "captured"` })) captured++;
  expect(captured).toBe(0);
});
