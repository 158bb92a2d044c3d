/**
 * The generation workflow end to end on the project's Temporal server (time skipping) with a real worker and
 * a real Postgres: every settlement path, its failure paths, and the ledger audit after each scenario.
 */
import { randomUUID } from 'node:crypto';
import { getBalance, grantLot, listJournal } from '../../src/ledger';
import { GenerationError } from '../../src/generations/errors';
import { cancelGeneration, reportOutcome, reportProgress, startGeneration } from '../../src/generations/service';
import { getGeneration } from '../../src/generations/store';
import {
  generationStateQuery, generationWorkflowId, reportOutcomeUpdate, type GenerationInput, type OutcomeReport,
} from '../../src/workflows/generation-contract';
import { useGenerationSuite } from '../support/generation-suite';
import { recordHistoryFixture } from '../support/history-fixtures';
import { someoneWaitsOnALock } from '../support/locks';

const MINUTE_MS = 60_000;
const goodImage = { url: 'https://cdn.example/a.png', sizeBytes: 2048, contentType: 'image/png', width: 1024, height: 1024 };

const suite = useGenerationSuite();

function imageGeneration(walletId: string, overrides: Partial<GenerationInput> = {}): GenerationInput {
  return {
    generationId: `gen-${randomUUID()}`, walletId, userId: 'user-1', feature: 'image',
    params: { resolution: '1K' }, platform: 'web', context: 'editor', ...overrides,
  };
}

async function balanceOf(walletId: string) {
  const balance = await getBalance(suite.pool, { walletId });
  return { available: balance.availableCredits, held: balance.heldCredits };
}

const withWorker = <T>(fn: () => Promise<T>) => suite.harness.withWorker(fn);

/** With RECORD_HISTORIES=1, keeps the path's history as a replay fixture (test/fixtures/histories). */
async function recordPath(name: string, generationId: string): Promise<void> {
  await recordHistoryFixture(suite.harness.env.client, name, generationWorkflowId(generationId));
}

describe('the server fails the workflow task that carried an outcome', () => {
  test('a progress report arriving while the settlement closes the workflow: the outcome is sent again and settles once', async () => {
    const walletId = await suite.fundedWallet(100);
    const input = imageGeneration(walletId);
    await withWorker(async () => {
      const started = await startGeneration(suite.deps, input);
      // The settlement's local activity waits on the hold row, inside the workflow task that closes the workflow;
      // the progress signal arrives meanwhile, so the server refuses that completion (UNHANDLED_COMMAND) and
      // aborts the update it carried with WorkflowNotReady.
      const locker = await suite.pool.connect();
      try {
        await locker.query('BEGIN');
        await locker.query('SELECT 1 FROM ledger_holds WHERE id = $1 FOR UPDATE', [started.holdId]);
        const settling = reportOutcome(suite.deps, input.generationId, { status: 'succeeded', outputs: [goodImage] });
        await someoneWaitsOnALock(suite.pool);
        await reportProgress(suite.deps, input.generationId, { percent: 99 });
        await locker.query('COMMIT');
        expect(await settling).toMatchObject({ action: 'capture', reason: 'succeeded', capturedCredits: 10, releasedCredits: 0 });
      } finally {
        locker.release();
      }
      await suite.harness.env.client.workflow.getHandle(generationWorkflowId(input.generationId)).result();
    });
    expect(await balanceOf(walletId)).toEqual({ available: 90, held: 0 });
    expect((await listJournal(suite.pool, { walletId, kind: 'capture' })).entries).toHaveLength(1);
    expect((await getGeneration(suite.pool, input.generationId))?.status).toBe('captured');
  });
});

describe('generation settles per outcome', () => {
  test('a success captures the quoted credits', async () => {
    const walletId = await suite.fundedWallet(100);
    await withWorker(async () => {
      const started = await startGeneration(suite.deps, imageGeneration(walletId, { generationId: 'gen-success' }));
      expect(started).toMatchObject({ status: 'reserved', costCredits: 10 });
      expect(await balanceOf(walletId)).toEqual({ available: 90, held: 10 });
      const settlement = await reportOutcome(suite.deps, 'gen-success', { status: 'succeeded', outputs: [goodImage] });
      expect(settlement).toMatchObject({ action: 'capture', reason: 'succeeded', capturedCredits: 10, releasedCredits: 0, availableCreditsAfter: 90, heldCreditsAfter: 0 });
      await suite.harness.env.client.workflow.getHandle(generationWorkflowId('gen-success')).result();
    });
    expect(await balanceOf(walletId)).toEqual({ available: 90, held: 0 });
    expect((await getGeneration(suite.pool, 'gen-success'))?.status).toBe('captured');
    await recordPath('success-captured', 'gen-success');
  });

  test.each([
    ['system_error', 'release'],
    ['platform_error', 'release'],
    ['corrupted_output', 'release'],
    ['template_mismatch', 'capture'],
    ['safety_filter', 'capture'],
  ] as const)('a failure for %s → %s', async (reason, action) => {
    const walletId = await suite.fundedWallet(100);
    const input = imageGeneration(walletId);
    const settlement = await withWorker(async () => {
      await startGeneration(suite.deps, input);
      return await reportOutcome(suite.deps, input.generationId, { status: 'failed', reason });
    });
    expect(settlement).toMatchObject({ action, reason });
    const refunded = action === 'release';
    expect(await balanceOf(walletId)).toEqual({ available: refunded ? 100 : 90, held: 0 });
    expect((await getGeneration(suite.pool, input.generationId))?.failureReason).toBe(reason);
    await recordPath(`failed-${reason}`, input.generationId);
  });

  test.each([
    ['zero bytes', { ...goodImage, sizeBytes: 0 }, 'zero_bytes'],
    ['the wrong content type', { ...goodImage, contentType: 'video/mp4' }, 'wrong_content_type'],
    ['a blank flag', { ...goodImage, blank: true }, 'blank'],
  ])('a success with %s is a corrupted output and refunded', async (_label, output, problem) => {
    const walletId = await suite.fundedWallet(100);
    const input = imageGeneration(walletId);
    const settlement = await withWorker(async () => {
      await startGeneration(suite.deps, input);
      return await reportOutcome(suite.deps, input.generationId, { status: 'succeeded', outputs: [output] });
    });
    expect(settlement).toMatchObject({ action: 'release', reason: 'corrupted_output', capturedCredits: 0, releasedCredits: 10 });
    expect(settlement.outputProblems.map((p) => p.problem)).toEqual([problem]);
    await recordPath(`corrupted-${problem}`, input.generationId);
    expect(await balanceOf(walletId)).toEqual({ available: 100, held: 0 });
  });

  test('a success without outputs is a corrupted output', async () => {
    const walletId = await suite.fundedWallet(100);
    const input = imageGeneration(walletId);
    const settlement = await withWorker(async () => {
      await startGeneration(suite.deps, input);
      return await reportOutcome(suite.deps, input.generationId, { status: 'succeeded', outputs: [] });
    });
    expect(settlement).toMatchObject({ action: 'release', reason: 'corrupted_output', capturedCredits: 0, releasedCredits: 10 });
    expect(settlement.outputProblems.map((p) => p.problem)).toEqual(['missing']);
    expect(await balanceOf(walletId)).toEqual({ available: 100, held: 0 });
  });

  test('a shorter video than quoted captures what was delivered and releases the rest', async () => {
    const walletId = await suite.fundedWallet(500);
    const input = imageGeneration(walletId, { feature: 'video', params: { durationSeconds: 10, modelTier: 'standard' } });
    const settlement = await withWorker(async () => {
      const started = await startGeneration(suite.deps, input);
      expect(started.costCredits).toBe(50);
      return await reportOutcome(suite.deps, input.generationId, {
        status: 'succeeded', outputs: [{ url: 'https://cdn.example/v.mp4', sizeBytes: 9000, contentType: 'video/mp4', durationSeconds: 6 }],
      });
    });
    expect(settlement).toMatchObject({ action: 'capture', capturedCredits: 30, releasedCredits: 20 });
    expect(await balanceOf(walletId)).toEqual({ available: 470, held: 0 });
    expect((await getGeneration(suite.pool, input.generationId))?.status).toBe('partially_captured');
    await recordPath('partial-capture', input.generationId);
  });

  test('cancelling before the outcome releases the credits', async () => {
    const walletId = await suite.fundedWallet(100);
    const input = imageGeneration(walletId);
    const settlement = await withWorker(async () => {
      await startGeneration(suite.deps, input);
      return await cancelGeneration(suite.deps, input.generationId, { reason: 'user closed the editor' });
    });
    expect(settlement).toMatchObject({ action: 'release', reason: 'cancelled', releasedCredits: 10 });
    expect(await balanceOf(walletId)).toEqual({ available: 100, held: 0 });
    await recordPath('cancelled', input.generationId);
  });

  test('cancelling the workflow itself (Temporal UI) releases the credits, completes the run, and a repeated start starts nothing', async () => {
    const walletId = await suite.fundedWallet(100);
    const input = imageGeneration(walletId);
    await withWorker(async () => {
      await startGeneration(suite.deps, input);
      const handle = suite.harness.env.client.workflow.getHandle(generationWorkflowId(input.generationId));
      await handle.cancel();
      expect(await handle.result()).toMatchObject({ action: 'release', reason: 'cancelled', releasedCredits: 10 });
      expect((await handle.describe()).status.name).toBe('COMPLETED');
      // A client retrying its start gets the settled generation: no second run, no second hold.
      const again = await startGeneration(suite.deps, input);
      expect(again).toMatchObject({ generationId: input.generationId, status: 'released' });
      expect((await suite.harness.env.client.workflow.getHandle(generationWorkflowId(input.generationId)).describe()).runId)
        .toBe((await handle.describe()).runId);
    });
    expect(await balanceOf(walletId)).toEqual({ available: 100, held: 0 });
    expect((await listJournal(suite.pool, { walletId, kind: 'hold' })).entries).toHaveLength(1);
    await recordPath('workflow-cancelled', input.generationId);
  });
});

describe('deadlines', () => {
  test('no outcome before the deadline → refunded at the deadline', async () => {
    const walletId = await suite.fundedWallet(100);
    const input = imageGeneration(walletId);
    const settlement = await withWorker(async () => {
      await startGeneration(suite.deps, input);
      const handle = suite.harness.env.client.workflow.getHandle(generationWorkflowId(input.generationId));
      await suite.harness.env.sleep(9 * MINUTE_MS);
      expect((await handle.query(generationStateQuery)).phase).toBe('reserved');
      return await handle.result();
    });
    expect(settlement).toMatchObject({ action: 'release', reason: 'deadline_exceeded', releasedCredits: 10 });
    expect(await balanceOf(walletId)).toEqual({ available: 100, held: 0 });
    // A late outcome or cancel is answered the same way each time: settled without a verdict.
    const late: OutcomeReport = { status: 'succeeded', outputs: [goodImage] };
    await expect(reportOutcome(suite.deps, input.generationId, late)).rejects.toMatchObject({ code: 'AlreadySettled' });
    await expect(cancelGeneration(suite.deps, input.generationId, {})).rejects.toMatchObject({ code: 'AlreadySettled' });
    await recordPath('deadline-exceeded', input.generationId);
  });

  test('progress extends the deadline, up to the cap', async () => {
    const walletId = await suite.fundedWallet(100);
    const input = imageGeneration(walletId);
    await withWorker(async () => {
      await startGeneration(suite.deps, input);
      const handle = suite.harness.env.client.workflow.getHandle(generationWorkflowId(input.generationId));
      await suite.harness.env.sleep(8 * MINUTE_MS);
      await reportProgress(suite.deps, input.generationId, { percent: 60, extendDeadlineMs: 10 * MINUTE_MS });
      await suite.harness.env.sleep(5 * MINUTE_MS); // 13 min: past the original 10-minute deadline
      const state = await handle.query(generationStateQuery);
      expect(state).toMatchObject({ phase: 'reserved', progressPercent: 60 });
      // A huge extension is capped at 3 × the feature's deadline from the start (30 min).
      await reportProgress(suite.deps, input.generationId, { extendDeadlineMs: 24 * 60 * MINUTE_MS });
      await suite.harness.env.sleep(MINUTE_MS);
      const capped = await handle.query(generationStateQuery);
      expect(capped.deadlineAt).toBe(capped.maxDeadlineAt);
      expect(Date.parse(capped.maxDeadlineAt!) - Date.parse(capped.startedAt!)).toBe(30 * MINUTE_MS);
      const settlement = await handle.result();
      expect(settlement.reason).toBe('deadline_exceeded');
    });
    await recordPath('progress-extended', input.generationId);
  });
});

describe('refusals and repeats', () => {
  test('insufficient credits → refused, nothing held, and the id may be retried after a top-up', async () => {
    const walletId = await suite.fundedWallet(5);
    const input = imageGeneration(walletId);
    const journalBefore = (await listJournal(suite.pool, { walletId })).entries.length;
    await withWorker(async () => {
      const refusal = await startGeneration(suite.deps, input).catch((e: unknown) => e);
      expect(refusal).toBeInstanceOf(GenerationError);
      expect(refusal).toMatchObject({ code: 'InsufficientCredits', details: { shortfallCredits: 5 } });
      expect(await balanceOf(walletId)).toEqual({ available: 5, held: 0 });
      expect((await listJournal(suite.pool, { walletId })).entries.length).toBe(journalBefore);
      await recordPath('insufficient-refused', input.generationId);
      await grantLot(suite.pool, { walletId, kind: 'promotional', amountCredits: 20, idempotencyKey: randomUUID() });
      const retried = await startGeneration(suite.deps, input);
      expect(retried.status).toBe('reserved');
      await cancelGeneration(suite.deps, input.generationId, {});
    });
    await recordPath('insufficient-then-retried', input.generationId);
  });

  test('starting the same generation twice gives one workflow and one hold', async () => {
    const walletId = await suite.fundedWallet(100);
    const input = imageGeneration(walletId);
    await withWorker(async () => {
      const [a, b] = await Promise.all([startGeneration(suite.deps, input), startGeneration(suite.deps, input)]);
      expect(a.holdId).toBe(b.holdId);
      const again = await startGeneration(suite.deps, input);
      expect(again.holdId).toBe(a.holdId);
      expect(await balanceOf(walletId)).toEqual({ available: 90, held: 10 });
      await reportOutcome(suite.deps, input.generationId, { status: 'succeeded', outputs: [goodImage] });
      // After settlement a repeated start returns the settled generation and holds nothing.
      const afterSettle = await startGeneration(suite.deps, input);
      expect(afterSettle.status).toBe('captured');
    });
    expect(await balanceOf(walletId)).toEqual({ available: 90, held: 0 });
    const holds = (await listJournal(suite.pool, { walletId, kind: 'hold' })).entries;
    expect(holds).toHaveLength(1);
  });

  test('reusing a generation id for different content is a conflict', async () => {
    const walletId = await suite.fundedWallet(100);
    const input = imageGeneration(walletId);
    await withWorker(async () => {
      await startGeneration(suite.deps, input);
      await expect(startGeneration(suite.deps, { ...input, params: { resolution: '4K' } })).rejects.toMatchObject({ code: 'GenerationConflict' });
      await cancelGeneration(suite.deps, input.generationId, {});
    });
  });

  test('a repeated outcome gets the same settlement; a different one is refused', async () => {
    const walletId = await suite.fundedWallet(100);
    const input = imageGeneration(walletId);
    const report: OutcomeReport = { status: 'succeeded', outputs: [goodImage] };
    await withWorker(async () => {
      await startGeneration(suite.deps, input);
      const [first, second] = await Promise.all([reportOutcome(suite.deps, input.generationId, report), reportOutcome(suite.deps, input.generationId, report)]);
      expect(second).toEqual(first);
      await expect(reportOutcome(suite.deps, input.generationId, { status: 'failed', reason: 'system_error' }))
        .rejects.toMatchObject({ code: 'OutcomeConflict' });
      await suite.harness.env.client.workflow.getHandle(generationWorkflowId(input.generationId)).result();
      // Once the run has closed, the recorded settlement answers.
      expect(await reportOutcome(suite.deps, input.generationId, report)).toEqual(first);
      await expect(reportOutcome(suite.deps, input.generationId, { status: 'failed', reason: 'system_error' }))
        .rejects.toMatchObject({ code: 'OutcomeConflict' });
    });
    expect(await balanceOf(walletId)).toEqual({ available: 90, held: 0 });
    await recordPath('duplicate-and-conflicting-outcome', input.generationId);
  });

  test('an outcome without a reason for a failure is invalid and changes nothing', async () => {
    const walletId = await suite.fundedWallet(100);
    const input = imageGeneration(walletId);
    await withWorker(async () => {
      await startGeneration(suite.deps, input);
      await expect(reportOutcome(suite.deps, input.generationId, { status: 'failed' })).rejects.toMatchObject({ code: 'InvalidOutcome' });
      expect(await balanceOf(walletId)).toEqual({ available: 90, held: 10 });
      await reportOutcome(suite.deps, input.generationId, { status: 'failed', reason: 'system_error' });
    });
  });

  test.each([
    ['an output that is not an object', [null]],
    ['an output without a content type', [{ url: 'https://cdn.example/a.png', sizeBytes: 5 }]],
    ['a size that is not a number', [{ url: 'https://cdn.example/a.png', sizeBytes: '5', contentType: 'image/png' }]],
    ['a content type that is not a string', [{ url: 'https://cdn.example/a.png', sizeBytes: 5, contentType: 7 }]],
  ])('through the Temporal client, %s is refused as InvalidOutcome and the generation still settles', async (_label, outputs) => {
    const walletId = await suite.fundedWallet(100);
    const input = imageGeneration(walletId);
    await withWorker(async () => {
      await startGeneration(suite.deps, input);
      const handle = suite.harness.env.client.workflow.getHandle(generationWorkflowId(input.generationId));
      const malformed = { status: 'succeeded', outputs } as unknown as OutcomeReport;
      await expect(handle.executeUpdate(reportOutcomeUpdate, { args: [malformed] }))
        .rejects.toMatchObject({ cause: { type: 'InvalidOutcome' } });
      expect(await balanceOf(walletId)).toEqual({ available: 90, held: 10 });
      const settled = await reportOutcome(suite.deps, input.generationId, { status: 'failed', reason: 'system_error' });
      expect(settled).toMatchObject({ action: 'release', releasedCredits: 10 });
    });
  });

  test('an unknown wallet is refused as WalletNotFound', async () => {
    await withWorker(async () => {
      await expect(startGeneration(suite.deps, imageGeneration(randomUUID()))).rejects.toMatchObject({ code: 'WalletNotFound' });
    });
  });
});

describe('failure and load', () => {
  test('a worker stopped right after the reservation: a new worker settles the generation exactly once', async () => {
    const walletId = await suite.fundedWallet(100);
    const input = imageGeneration(walletId);
    await withWorker(() => startGeneration(suite.deps, input));
    expect(await balanceOf(walletId)).toEqual({ available: 90, held: 10 });
    const settlement = await withWorker(() => reportOutcome(suite.deps, input.generationId, { status: 'succeeded', outputs: [goodImage] }));
    expect(settlement.capturedCredits).toBe(10);
    expect((await listJournal(suite.pool, { walletId, kind: 'capture' })).entries).toHaveLength(1);
    expect(await balanceOf(walletId)).toEqual({ available: 90, held: 0 });
  });

  test('200 concurrent generations on a wallet that affords 120 → exactly 120 reserved', async () => {
    const walletId = await suite.fundedWallet(1200);
    const inputs = Array.from({ length: 200 }, () => imageGeneration(walletId));
    const results = await withWorker(() => Promise.allSettled(inputs.map((input) => startGeneration(suite.deps, input))));
    const reserved = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(reserved).toHaveLength(120);
    expect(refused.every((r) => r.reason instanceof GenerationError && r.reason.code === 'InsufficientCredits')).toBe(true);
    expect(await balanceOf(walletId)).toEqual({ available: 0, held: 1200 });
    await withWorker(() => Promise.all(reserved.map((g) => cancelGeneration(suite.deps, g.generationId, {}))));
    expect(await balanceOf(walletId)).toEqual({ available: 1200, held: 0 });
  }, 180_000);
});

