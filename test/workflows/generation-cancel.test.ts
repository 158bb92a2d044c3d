/**
 * Cancelling the generation workflow itself (an operator in the Temporal UI) while a generation service's update
 * is still waiting for its answer: the update gets the settlement, and the run still completes (a CANCELLED run
 * would let the same generation id start a second run).
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
  const startWorkflowOperation = new WithStartWorkflowOperation(generation, {
    workflowId: generationWorkflowId(input.generationId), taskQueue: suite.harness.taskQueue, args: [input],
    workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY', workflowIdConflictPolicy: 'USE_EXISTING',
    workflowTaskTimeout: '2 seconds',
  });
  const reservation = await suite.harness.env.client.workflow.executeUpdateWithStart(awaitReservationUpdate, { startWorkflowOperation });
  return reservation.holdId;
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
