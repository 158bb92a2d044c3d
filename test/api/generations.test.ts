/**
 * The generation routes over HTTP, end to end: real app, real Postgres, real worker on the project's Temporal
 * server. Covers the contract a generation service relies on: 201 with the hold, 402 with the shortfall and
 * nothing held, 400s that start nothing, repeats that never hold twice, and wallet-key scoping.
 */
import { randomUUID } from 'node:crypto';
import type { WorkflowHarness } from '../support/workflow-harness';
import { goodImage, startBody, useGenerationApi } from './generation-api';
import { createKey, createWallet, get, grant, journalCount, post, type ApiTest } from './helpers';

const api = useGenerationApi();
let t: ApiTest;
let harness: WorkflowHarness;
let serviceKey: string;
beforeAll(() => {
  ({ t, harness, serviceKey } = api);
});


async function fundedWallet(credits: number): Promise<string> {
  const walletId = await createWallet(t);
  await grant(t, walletId, credits);
  return walletId;
}

test('start → 201 with the hold; outcome → the settlement; reads and listing', async () => {
  const walletId = await fundedWallet(100);
  const body = startBody(walletId);
  await harness.withWorker(async () => {
    const started = await post(t, '/v1/generations', body, serviceKey);
    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({ generationId: body.generationId, status: 'reserved', costCredits: 20, quote: { totalCredits: 20 } });
    expect(started.headers['x-credits-balance']).toBe('80');
    expect(started.headers['x-credits-held']).toBe('20');

    const progress = await post(t, `/v1/generations/${body.generationId}/progress`, { percent: 50 }, serviceKey);
    expect(progress.status).toBe(200);

    const outcome = await post(t, `/v1/generations/${body.generationId}/outcome`, { status: 'succeeded', outputs: [goodImage] }, serviceKey);
    expect(outcome.status).toBe(200);
    expect(outcome.body).toMatchObject({ capturedCredits: 20, releasedCredits: 0, availableCreditsAfter: 80, heldCreditsAfter: 0 });
    expect([outcome.headers['x-credits-balance'], outcome.headers['x-credits-held']]).toEqual(['80', '0']);

    // Same report, new Idempotency-Key: the same settlement, with the wallet's totals of now in the headers;
    // a different report: 409.
    await grant(t, walletId, 5);
    const again = await post(t, `/v1/generations/${body.generationId}/outcome`, { status: 'succeeded', outputs: [goodImage] }, serviceKey);
    expect(again.body).toEqual(outcome.body);
    expect([again.headers['x-credits-balance'], again.headers['x-credits-held']]).toEqual(['85', '0']);
    const conflicting = await post(t, `/v1/generations/${body.generationId}/outcome`, { status: 'failed', reason: 'system_error' }, serviceKey);
    expect(conflicting.status).toBe(409);
    expect(conflicting.body.error.code).toBe('OutcomeConflict');
  });
  const read = await get(t, `/v1/generations/${body.generationId}`, serviceKey);
  expect(read.body).toMatchObject({ status: 'captured', settlement: { capturedCredits: 20 } });
  const listed = await get(t, `/v1/wallets/${walletId}/generations`);
  expect(listed.body.generations.map((g: { generationId: string }) => g.generationId)).toEqual([body.generationId]);
});

test('insufficient credits → 402 with the shortfall, nothing held', async () => {
  const walletId = await fundedWallet(15);
  const before = await journalCount(t, walletId);
  await harness.withWorker(async () => {
    const body = startBody(walletId);
    const res = await post(t, '/v1/generations', body, serviceKey);
    expect(res.status).toBe(402);
    expect(res.body.error).toMatchObject({ code: 'InsufficientCredits', details: { shortfallCredits: 5 } });
    // An outcome for the refused generation has nothing to settle.
    const outcome = await post(t, `/v1/generations/${body.generationId}/outcome`, { status: 'failed', reason: 'system_error' }, serviceKey);
    expect(outcome.status).toBe(409);
    expect(outcome.body.error.code).toBe('AlreadySettled');
  });
  expect(await journalCount(t, walletId)).toBe(before);
  expect((await get(t, `/v1/wallets/${walletId}/balance`)).body).toMatchObject({ availableCredits: 15, heldCredits: 0 });
});

test.each([
  ['an unknown feature', { feature: 'teleport' }, 'feature'],
  ['impossible params', { params: { resolution: '16K' } }, 'params.resolution'],
  ['an unknown platform', { platform: 'fax' }, 'platform'],
  ['a wallet id that is not a uuid', { walletId: 'nope' }, 'walletId'],
])('%s → 400 naming the field, nothing started', async (_label, overrides, field) => {
  const walletId = await fundedWallet(100);
  const before = await journalCount(t, walletId);
  const res = await post(t, '/v1/generations', startBody(walletId, overrides), serviceKey);
  expect(res.status).toBe(400);
  expect(res.body.error.details.fields.map((f: { path: string }) => f.path)).toEqual([field]);
  expect(await journalCount(t, walletId)).toBe(before);
});

test('a failure without a reason → 400; an unknown generation → 404', async () => {
  const missing = await post(t, `/v1/generations/gen-${randomUUID()}/outcome`, { status: 'succeeded', outputs: [goodImage] }, serviceKey);
  expect(missing.status).toBe(404);
  const noReason = await post(t, `/v1/generations/gen-x/outcome`, { status: 'failed' }, serviceKey);
  expect(noReason.status).toBe(400);
  expect(noReason.body.error.details.fields[0].path).toBe('reason');
});

test('the same generation started twice (different Idempotency-Keys) holds once', async () => {
  const walletId = await fundedWallet(100);
  const body = startBody(walletId);
  await harness.withWorker(async () => {
    const [a, b] = await Promise.all([post(t, '/v1/generations', body, serviceKey), post(t, '/v1/generations', body, serviceKey)]);
    expect([a.status, b.status]).toEqual([201, 201]);
    const cancel = await post(t, `/v1/generations/${body.generationId}/cancel`, {}, serviceKey);
    expect(cancel.body).toMatchObject({ releasedCredits: 20, capturedCredits: 0 });
  });
  const holds = await get(t, `/v1/wallets/${walletId}/journal?kind=hold`);
  expect(holds.body.entries).toHaveLength(1);
});

test('roles: a wallet key cannot start generations nor see another wallet\'s', async () => {
  const walletId = await fundedWallet(100);
  const otherWallet = await fundedWallet(100);
  const body = startBody(otherWallet);
  const walletKey = await createKey(t, 'wallet', walletId);
  expect((await post(t, '/v1/generations', startBody(walletId), walletKey)).status).toBe(403);
  await harness.withWorker(async () => {
    expect((await post(t, '/v1/generations', body, serviceKey)).status).toBe(201);
    await post(t, `/v1/generations/${body.generationId}/cancel`, {}, serviceKey);
  });
  const foreign = await get(t, `/v1/generations/${body.generationId}`, walletKey);
  const missing = await get(t, `/v1/generations/gen-${randomUUID()}`, walletKey);
  expect(foreign.status).toBe(404);
  expect(foreign.body).toEqual(missing.body);
  expect((await get(t, `/v1/wallets/${otherWallet}/generations`, walletKey)).status).toBe(404);
  expect((await get(t, `/v1/wallets/${walletId}/generations`, walletKey)).status).toBe(200);
});
