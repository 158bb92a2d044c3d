/**
 * Generation services may drive the workflow with the Temporal client directly, past the HTTP edge's zod
 * schemas. Whatever they send, a malformed input must end as a non-retryable ApplicationFailure with a stable
 * type (never a workflow task or local activity retried forever), and leave nothing behind: no hold, no row.
 */
import { randomUUID } from 'node:crypto';
import { WithStartWorkflowOperation } from '@temporalio/client';
import { getBalance, listJournal } from '../../src/ledger';
import { reportOutcome } from '../../src/generations/service';
import { getGeneration } from '../../src/generations/store';
import { generation } from '../../src/workflows/generation';
import {
  awaitReservationUpdate, generationStateQuery, generationWorkflowId, reportOutcomeUpdate, reportProgressSignal,
  type GenerationInput, type OutcomeReport, type Reservation,
} from '../../src/workflows/generation-contract';
import { generationStatusKey } from '../../src/workflows/search-attributes';
import { useGenerationSuite } from '../support/generation-suite';

const MINUTE_MS = 60_000;
const goodImage = { url: 'https://cdn.example/a.png', sizeBytes: 2048, contentType: 'image/png', width: 1024, height: 1024 };

const suite = useGenerationSuite();
const withWorker = <T>(fn: () => Promise<T>) => suite.harness.withWorker(fn);

function imageGeneration(walletId: string, overrides: Record<string, unknown> = {}): GenerationInput {
  return {
    generationId: `gen-${randomUUID()}`, walletId, userId: 'user-1', feature: 'image',
    params: { resolution: '1K' }, platform: 'web', context: 'editor', ...overrides,
  } as GenerationInput;
}

async function balanceOf(walletId: string) {
  const balance = await getBalance(suite.pool, { walletId });
  return { available: balance.availableCredits, held: balance.heldCredits };
}

/** Fails fast (in real time) instead of letting a retried-forever workflow run into jest's timeout. */
async function within<T>(promise: Promise<T>, ms = 20_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms: the workflow is stuck`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** As a generation service would: update-with-start, the workflow id named after `workflowKey`. */
function startDirectly(input: unknown, workflowKey: string): Promise<Reservation> {
  const startWorkflowOperation = new WithStartWorkflowOperation(generation, {
    workflowId: generationWorkflowId(workflowKey),
    taskQueue: suite.harness.taskQueue,
    args: [input as GenerationInput],
    workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  return suite.harness.env.client.workflow.executeUpdateWithStart(awaitReservationUpdate, { startWorkflowOperation });
}

async function expectRefusedWithNothingLeft(input: unknown, workflowKey: string, walletId: string, type: string) {
  const journalBefore = (await listJournal(suite.pool, { walletId })).entries.length;
  await withWorker(async () => {
    // The run answers the waiting update with the refusal before it fails with it, and says so in its status.
    await expect(within(startDirectly(input, workflowKey))).rejects.toMatchObject({ cause: { type, nonRetryable: true } });
    const handle = suite.harness.env.client.workflow.getHandle(generationWorkflowId(workflowKey));
    await expect(within(handle.result())).rejects.toMatchObject({ cause: { type, nonRetryable: true } });
    expect((await handle.describe()).typedSearchAttributes.get(generationStatusKey)).toBe('rejected');
  });
  expect(await balanceOf(walletId)).toEqual({ available: 100, held: 0 });
  expect((await listJournal(suite.pool, { walletId })).entries.length).toBe(journalBefore);
}

describe('a malformed GenerationInput sent with the Temporal client is refused as InvalidGenerationRequest', () => {
  test.each([
    ['no walletId', { walletId: undefined }],
    ['a walletId that is a number', { walletId: 42 }],
    ['an empty walletId', { walletId: '' }],
    ['no userId', { userId: undefined }],
    ['a userId that is an object', { userId: { id: 1 } }],
    ['a userId with a NUL character', { userId: 'user\u0000-1' }],
    ['a userId with a lone surrogate', { userId: 'user-\ud800' }],
    ['an over-long userId', { userId: 'u'.repeat(201) }],
    ['an unknown platform', { platform: 'desktop' }],
    ['no platform', { platform: undefined }],
    ['no params', { feature: 'training', params: undefined }],
    ['null params', { feature: 'training', params: null }],
    ['params that are a list', { feature: 'training', params: [] }],
    ['a context with a NUL character', { context: 'edi\u0000tor' }],
    ['a context with a lone surrogate', { context: '\udc00editor' }],
    ['a context that is a number', { context: 42 }],
    ['an over-long context', { context: 'c'.repeat(101) }],
    ['a feature that is not a string', { feature: ['image'] }],
  ])('%s: refused, nothing held, no generation row', async (_label, overrides) => {
    const walletId = await suite.fundedWallet(100);
    const input = imageGeneration(walletId, overrides);
    await expectRefusedWithNothingLeft(input, input.generationId, walletId, 'InvalidGenerationRequest');
    expect(await getGeneration(suite.pool, input.generationId)).toBeNull();
  });

  test('a generationId that does not match the workflow id: refused, nothing held', async () => {
    const walletId = await suite.fundedWallet(100);
    const input = imageGeneration(walletId);
    const workflowKey = `gen-${randomUUID()}`;
    await expectRefusedWithNothingLeft(input, workflowKey, walletId, 'InvalidGenerationRequest');
    expect(await getGeneration(suite.pool, input.generationId)).toBeNull();
    expect(await getGeneration(suite.pool, workflowKey)).toBeNull();
  });

  test('a generationId that is not a string: refused, nothing held', async () => {
    const walletId = await suite.fundedWallet(100);
    const id = Math.floor(Math.random() * 1e9);
    await expectRefusedWithNothingLeft(imageGeneration(walletId, { generationId: id }), String(id), walletId, 'InvalidGenerationRequest');
    expect(await getGeneration(suite.pool, String(id))).toBeNull();
  });

  test('a generationId longer than 200 characters: refused, nothing held', async () => {
    const walletId = await suite.fundedWallet(100);
    const id = `gen-${randomUUID()}-`.padEnd(201, 'x');
    await expectRefusedWithNothingLeft(imageGeneration(walletId, { generationId: id }), id, walletId, 'InvalidGenerationRequest');
  });

  test('no input at all: refused', async () => {
    const walletId = await suite.fundedWallet(100);
    await expectRefusedWithNothingLeft(null, `gen-${randomUUID()}`, walletId, 'InvalidGenerationRequest');
  });
});

describe('valid inputs at the limits still reserve and settle', () => {
  test('a 200-character generationId (what the HTTP schema and the table allow) reserves and settles once', async () => {
    const walletId = await suite.fundedWallet(100);
    const id = `gen-${randomUUID()}-`.padEnd(200, 'y');
    const input = imageGeneration(walletId, { generationId: id });
    await withWorker(async () => {
      const reservation = await within(startDirectly(input, id));
      expect(reservation).toMatchObject({ generationId: id, costCredits: 10 });
      const settlement = await within(reportOutcome(suite.deps, id, { status: 'succeeded', outputs: [goodImage] }));
      expect(settlement).toMatchObject({ action: 'capture', capturedCredits: 10 });
    });
    expect(await balanceOf(walletId)).toEqual({ available: 90, held: 0 });
    expect((await getGeneration(suite.pool, id))?.status).toBe('captured');
  });
});

describe('a malformed outcome sent with the Temporal client is refused as InvalidOutcome and moves nothing', () => {
  test.each([
    ['a url with a NUL character', { status: 'succeeded', outputs: [{ ...goodImage, url: 'https://cdn.example/a\u0000.png' }] }],
    ['a content type with a lone surrogate', { status: 'succeeded', outputs: [{ ...goodImage, contentType: 'image/png\ud800' }] }],
    ['an sha256 that is not 64 hex characters', { status: 'succeeded', outputs: [{ ...goodImage, sha256: 'abc\u0000' }] }],
    ['an over-long url', { status: 'succeeded', outputs: [{ ...goodImage, url: `https://cdn.example/${'a'.repeat(2048)}` }] }],
    ['an unknown field in an output', { status: 'succeeded', outputs: [{ ...goodImage, note: 'x\u0000' }] }],
    ['an unknown field in the outcome', { status: 'failed', reason: 'system_error', note: 'x\u0000' }],
  ])('%s: refused, the hold is kept, and a good outcome then settles', async (_label, malformed) => {
    const walletId = await suite.fundedWallet(100);
    const input = imageGeneration(walletId);
    await withWorker(async () => {
      await within(startDirectly(input, input.generationId));
      const handle = suite.harness.env.client.workflow.getHandle(generationWorkflowId(input.generationId));
      await expect(within(handle.executeUpdate(reportOutcomeUpdate, { args: [malformed as unknown as OutcomeReport] })))
        .rejects.toMatchObject({ cause: { type: 'InvalidOutcome' } });
      expect(await balanceOf(walletId)).toEqual({ available: 90, held: 10 });
      expect((await getGeneration(suite.pool, input.generationId))?.status).toBe('reserved');
      const settled = await within(reportOutcome(suite.deps, input.generationId, { status: 'failed', reason: 'system_error' }));
      expect(settled).toMatchObject({ action: 'release', releasedCredits: 10 });
    });
    expect(await balanceOf(walletId)).toEqual({ available: 100, held: 0 });
    expect((await getGeneration(suite.pool, input.generationId))?.status).toBe('released');
  });
});

describe('a malformed progress signal sent with the Temporal client is ignored', () => {
  test.each([
    ['no payload', [undefined]],
    ['a null payload', [null]],
    ['a payload that is a number', [7]],
  ])('%s: the workflow carries on and settles', async (_label, args) => {
    const walletId = await suite.fundedWallet(100);
    const input = imageGeneration(walletId);
    await withWorker(async () => {
      await within(startDirectly(input, input.generationId));
      const handle = suite.harness.env.client.workflow.getHandle(generationWorkflowId(input.generationId));
      await handle.signal(reportProgressSignal, ...(args as [never]));
      const settled = await within(reportOutcome(suite.deps, input.generationId, { status: 'succeeded', outputs: [goodImage] }));
      expect(settled).toMatchObject({ action: 'capture', capturedCredits: 10 });
      await within(handle.result());
    });
    expect(await balanceOf(walletId)).toEqual({ available: 90, held: 0 });
  });

  test('an out-of-range or non-numeric percent and a non-numeric extension change nothing', async () => {
    const walletId = await suite.fundedWallet(100);
    const input = imageGeneration(walletId);
    await withWorker(async () => {
      await within(startDirectly(input, input.generationId));
      const handle = suite.harness.env.client.workflow.getHandle(generationWorkflowId(input.generationId));
      await handle.signal(reportProgressSignal, { percent: 40 });
      const before = await handle.query(generationStateQuery);
      for (const progress of [
        { percent: 150 }, { percent: -1 }, { percent: Number.NaN }, { percent: '50' },
        { extendDeadlineMs: '600000' }, { extendDeadlineMs: -MINUTE_MS }, { extendDeadlineMs: Number.NaN }, { extendDeadlineMs: null },
      ]) {
        await handle.signal(reportProgressSignal, progress as never);
      }
      const after = await handle.query(generationStateQuery);
      expect(after).toMatchObject({ phase: 'reserved', progressPercent: 40, deadlineAt: before.deadlineAt });
      await within(reportOutcome(suite.deps, input.generationId, { status: 'failed', reason: 'system_error' }));
    });
    expect(await balanceOf(walletId)).toEqual({ available: 100, held: 0 });
  });

  test('a fractional or huge extension moves the deadline, at most to the cap, and the deadline still settles', async () => {
    const walletId = await suite.fundedWallet(100);
    const input = imageGeneration(walletId);
    const settlement = await withWorker(async () => {
      await within(startDirectly(input, input.generationId));
      const handle = suite.harness.env.client.workflow.getHandle(generationWorkflowId(input.generationId));
      await suite.harness.env.sleep(9 * MINUTE_MS);
      await handle.signal(reportProgressSignal, { extendDeadlineMs: 5 * MINUTE_MS + 0.5 });
      const extended = await handle.query(generationStateQuery);
      // The extension counts from now (9 min in): 14 min after the start, not 10 (unmoved) nor 15 (from the old deadline).
      const extendedBy = Date.parse(extended.deadlineAt!) - Date.parse(extended.startedAt!);
      expect(extendedBy).toBeGreaterThanOrEqual(14 * MINUTE_MS);
      expect(extendedBy).toBeLessThan(14 * MINUTE_MS + 30_000);
      await handle.signal(reportProgressSignal, { extendDeadlineMs: Number.MAX_VALUE });
      const capped = await handle.query(generationStateQuery);
      expect(capped.deadlineAt).toBe(capped.maxDeadlineAt);
      return await within(handle.result());
    });
    expect(settlement).toMatchObject({ action: 'release', reason: 'deadline_exceeded', releasedCredits: 10 });
    expect(await balanceOf(walletId)).toEqual({ available: 100, held: 0 });
  });
});
