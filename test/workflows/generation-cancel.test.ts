/**
 * Cancelling the generation workflow itself (an operator in the Temporal UI) while it is still busy: while a
 * generation service's update waits for its settlement, the update gets the settlement; while the reservation
 * runs, the credits it holds are released at once. Either way the run still completes (a CANCELLED run would let
 * the same generation id start a second run).
 */
import { randomUUID } from 'node:crypto';
import { WithStartWorkflowOperation } from '@temporalio/client';
import { getBalance, listJournal } from '../../src/ledger';
import { reportOutcome } from '../../src/generations/service';
import { getGeneration } from '../../src/generations/store';
import { generation } from '../../src/workflows/generation';
import {
  awaitReservationUpdate, generationWorkflowId, type GenerationInput,
} from '../../src/workflows/generation-contract';
import { useGenerationSuite } from '../support/generation-suite';
import { recordHistoryFixture } from '../support/history-fixtures';
import { someoneWaitsOnALock } from '../support/locks';

const goodImage = { url: 'https://cdn.example/a.png', sizeBytes: 2048, contentType: 'image/png', width: 1024, height: 1024 };

const suite = useGenerationSuite();

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type HistoryEventName = 'workflowTaskCompleted' | 'workflowExecutionUpdateAccepted' | 'workflowExecutionCancelRequested';

/** Waits until the run's history has `event` after the `nth` occurrence of `after` (1-based). */
async function historyHas(workflowId: string, event: HistoryEventName, after: { event: HistoryEventName; nth: number }): Promise<void> {
  const handle = suite.harness.env.client.workflow.getHandle(workflowId);
  for (let i = 0; i < 500; i++) {
    const events = (await handle.fetchHistory()).events ?? [];
    const names = events.map((e) => Object.keys(e).find((k) => k.endsWith('EventAttributes'))?.replace(/EventAttributes$/, ''));
    let seen = 0;
    const from = names.findIndex((name) => name === after.event && ++seen === after.nth);
    if (from >= 0 && names.slice(from + 1).includes(event)) return;
    await pause(20);
  }
  throw new Error(`${workflowId}: no ${event} after ${after.event} #${after.nth}`);
}

/**
 * Starts a generation as the service does, but with a short workflow task timeout: the worker then heartbeats
 * a workflow task whose local activity runs longer than 80 % of it, so events that arrive meanwhile (a cancel
 * request) reach the workflow while that activity is still running — as a slow ledger does with the default 10 s.
 */
async function startWithShortTaskTimeout(input: GenerationInput): Promise<string> {
  return (await startWithShortTaskTimeoutForReservation(input)).holdId;
}

function startWithShortTaskTimeoutForReservation(input: GenerationInput) {
  const startWorkflowOperation = new WithStartWorkflowOperation(generation, {
    workflowId: generationWorkflowId(input.generationId), taskQueue: suite.harness.taskQueue, args: [input],
    workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY', workflowIdConflictPolicy: 'USE_EXISTING',
    workflowTaskTimeout: '2 seconds',
  });
  return suite.harness.env.client.workflow.executeUpdateWithStart(awaitReservationUpdate, { startWorkflowOperation });
}

test('the workflow cancelled while an outcome is being settled: the outcome gets its settlement and the run completes', async () => {
  const walletId = await suite.fundedWallet(100);
  const input: GenerationInput = {
    generationId: `gen-${randomUUID()}`, walletId, userId: 'user-1', feature: 'image', params: { resolution: '1K' }, platform: 'web',
  };
  const workflowId = generationWorkflowId(input.generationId);
  const handle = suite.harness.env.client.workflow.getHandle(workflowId);
  await suite.harness.withWorker(async () => {
    const holdId = await startWithShortTaskTimeout(input);
    const locker = await suite.pool.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('SELECT 1 FROM ledger_holds WHERE id = $1 FOR UPDATE', [holdId]);
      const settling = reportOutcome(suite.deps, input.generationId, { status: 'succeeded', outputs: [goodImage] });
      settling.catch(() => undefined);
      await someoneWaitsOnALock(suite.pool);
      // Past 80 % of the task timeout the worker heartbeats the task that accepted the outcome (the second
      // update) and runs the settlement; the cancel request then reaches the workflow while the settlement runs.
      await historyHas(workflowId, 'workflowTaskCompleted', { event: 'workflowExecutionUpdateAccepted', nth: 2 });
      await handle.cancel();
      await historyHas(workflowId, 'workflowTaskCompleted', { event: 'workflowExecutionCancelRequested', nth: 1 });
      await locker.query('COMMIT');
      expect(await settling).toMatchObject({ action: 'capture', reason: 'succeeded', capturedCredits: 10, releasedCredits: 0 });
    } finally {
      locker.release();
    }
    expect(await handle.result()).toMatchObject({ action: 'capture', reason: 'succeeded', capturedCredits: 10 });
  });
  expect((await handle.describe()).status.name).toBe('COMPLETED');
  expect((await getBalance(suite.pool, { walletId })).availableCredits).toBe(90);
  expect((await listJournal(suite.pool, { walletId, kind: 'capture' })).entries).toHaveLength(1);
  expect((await getGeneration(suite.pool, input.generationId))?.status).toBe('captured');
  await recordHistoryFixture(suite.harness.env.client, 'workflow-cancelled-while-settling', workflowId);
}, 60_000);

test('the workflow cancelled while its reservation runs: the credits are held once and released, and the run completes', async () => {
  const walletId = await suite.fundedWallet(100);
  const input: GenerationInput = {
    generationId: `gen-${randomUUID()}`, walletId, userId: 'user-1', feature: 'image', params: { resolution: '1K' }, platform: 'web',
  };
  const workflowId = generationWorkflowId(input.generationId);
  const handle = suite.harness.env.client.workflow.getHandle(workflowId);
  await suite.harness.withWorker(async () => {
    const locker = await suite.pool.connect();
    try {
      // The wallet's lot locked by another session: the reservation's ledger call waits on it.
      await locker.query('BEGIN');
      await locker.query('SELECT 1 FROM ledger_lots WHERE wallet_id = $1 FOR UPDATE', [walletId]);
      const starting = startWithShortTaskTimeoutForReservation(input);
      starting.catch(() => undefined);
      await someoneWaitsOnALock(suite.pool);
      // The worker heartbeats the first task (the update is accepted with it) while the reservation runs; the
      // cancel request then reaches the workflow in the next task, with the reservation still waiting.
      await historyHas(workflowId, 'workflowExecutionUpdateAccepted', { event: 'workflowTaskCompleted', nth: 1 });
      await handle.cancel();
      await historyHas(workflowId, 'workflowTaskCompleted', { event: 'workflowExecutionCancelRequested', nth: 1 });
      await locker.query('COMMIT');
      expect((await starting).costCredits).toBe(10);
    } finally {
      locker.release();
    }
    expect(await handle.result()).toMatchObject({ action: 'release', reason: 'cancelled', capturedCredits: 0, releasedCredits: 10 });
  });
  expect((await handle.describe()).status.name).toBe('COMPLETED');
  expect(await getBalance(suite.pool, { walletId })).toMatchObject({ availableCredits: 100, heldCredits: 0 });
  expect((await listJournal(suite.pool, { walletId, kind: 'hold' })).entries).toHaveLength(1);
  expect((await listJournal(suite.pool, { walletId, kind: 'release' })).entries).toHaveLength(1);
  expect(await getGeneration(suite.pool, input.generationId)).toMatchObject({ status: 'released', settlement: { reason: 'cancelled' } });
  await recordHistoryFixture(suite.harness.env.client, 'workflow-cancelled-while-reserving', workflowId);
}, 60_000);

test('the workflow cancelled while a reservation it cannot afford runs: the refusal is answered and recorded, nothing held', async () => {
  const walletId = await suite.fundedWallet(5);
  const input: GenerationInput = {
    generationId: `gen-${randomUUID()}`, walletId, userId: 'user-1', feature: 'image', params: { resolution: '1K' }, platform: 'web',
  };
  const workflowId = generationWorkflowId(input.generationId);
  const handle = suite.harness.env.client.workflow.getHandle(workflowId);
  await suite.harness.withWorker(async () => {
    const locker = await suite.pool.connect();
    try {
      // Another session inserting the same generation row: recording the refusal waits on it.
      await locker.query('BEGIN');
      await locker.query(
        `INSERT INTO generations (generation_id, wallet_id, user_id, feature, params, platform, status, price_book_version, cost_credits, quote)
         VALUES ($1, $2, 'user-1', 'image', '{}', 'web', 'rejected', 'v0', 1, '{}')`,
        [input.generationId, walletId],
      );
      const starting = startWithShortTaskTimeoutForReservation(input);
      starting.catch(() => undefined);
      await someoneWaitsOnALock(suite.pool);
      await historyHas(workflowId, 'workflowExecutionUpdateAccepted', { event: 'workflowTaskCompleted', nth: 1 });
      await handle.cancel();
      await historyHas(workflowId, 'workflowTaskCompleted', { event: 'workflowExecutionCancelRequested', nth: 1 });
      await locker.query('ROLLBACK');
      await expect(starting).rejects.toMatchObject({ cause: { type: 'InsufficientCredits' } });
    } finally {
      locker.release();
    }
    await expect(handle.result()).rejects.toMatchObject({ cause: { type: 'InsufficientCredits' } });
  });
  expect((await handle.describe()).status.name).toBe('FAILED');
  expect(await getBalance(suite.pool, { walletId })).toMatchObject({ availableCredits: 5, heldCredits: 0 });
  expect((await listJournal(suite.pool, { walletId, kind: 'hold' })).entries).toHaveLength(0);
  expect(await getGeneration(suite.pool, input.generationId)).toMatchObject({ status: 'rejected' });
  await recordHistoryFixture(suite.harness.env.client, 'workflow-cancelled-while-reserving-refused', workflowId);
}, 60_000);
