/**
 * Business refusals of an outcome or a cancel are still about the generation's wallet: like every response
 * about a wallet, they carry X-Credits-Balance / X-Credits-Held (the totals the refusal was made against).
 * And a wallet id in capitals names the same wallet when a generation starts.
 * Real app, real Postgres, real worker on the project's Temporal server.
 */
import { randomUUID } from 'node:crypto';
import { goodImage, startBody, useGenerationApi } from './generation-api';
import { createWallet, expectError, grant, post } from './helpers';

const api = useGenerationApi();

const balanceHeaders = (res: { headers: Record<string, string> }) => [res.headers['x-credits-balance'], res.headers['x-credits-held']];

test('a conflicting outcome and a late cancel of a settled generation: 409 with the balance headers', async () => {
  const { t, harness, serviceKey } = api;
  const walletId = await createWallet(t);
  await grant(t, walletId, 100);
  const body = startBody(walletId);
  await harness.withWorker(async () => {
    expect((await post(t, '/v1/generations', body, serviceKey)).status).toBe(201);
    const outcome = await post(t, `/v1/generations/${body.generationId}/outcome`, { status: 'succeeded', outputs: [goodImage] }, serviceKey);
    expect(outcome.status).toBe(200);
    const conflicting = await post(t, `/v1/generations/${body.generationId}/outcome`, { status: 'failed', reason: 'system_error' }, serviceKey);
    expectError(conflicting, 409, 'OutcomeConflict');
    expect(balanceHeaders(conflicting)).toEqual(['80', '0']);
    const cancel = await post(t, `/v1/generations/${body.generationId}/cancel`, {}, serviceKey);
    expectError(cancel, 409, 'AlreadySettled');
    expect(balanceHeaders(cancel)).toEqual(['80', '0']);
  });
});

test('an outcome for a generation whose reservation was refused: 409 with the balance headers', async () => {
  const { t, harness, serviceKey } = api;
  const walletId = await createWallet(t);
  await grant(t, walletId, 5);
  const body = startBody(walletId);
  await harness.withWorker(async () => {
    expectError(await post(t, '/v1/generations', body, serviceKey), 402, 'InsufficientCredits');
    const outcome = await post(t, `/v1/generations/${body.generationId}/outcome`, { status: 'failed', reason: 'system_error' }, serviceKey);
    expectError(outcome, 409, 'AlreadySettled');
    expect(balanceHeaders(outcome)).toEqual(['5', '0']);
  });
});

test('an unknown generation: 404 without balance headers', async () => {
  const { t, harness, serviceKey } = api;
  await harness.withWorker(async () => {
    const res = await post(t, `/v1/generations/gen-${randomUUID()}/outcome`, { status: 'failed', reason: 'system_error' }, serviceKey);
    expectError(res, 404, 'GenerationNotFound');
    expect(balanceHeaders(res)).toEqual([undefined, undefined]);
  });
});

test('a wallet id in capitals starts the same generation as the lowercase one, answered lowercase', async () => {
  const { t, harness, serviceKey } = api;
  const walletId = await createWallet(t);
  await grant(t, walletId, 100);
  const body = startBody(walletId);
  await harness.withWorker(async () => {
    const first = await post(t, '/v1/generations', { ...body, walletId: walletId.toUpperCase() }, serviceKey);
    expect(first.status).toBe(201);
    expect(first.body.walletId).toBe(walletId);
    const again = await post(t, '/v1/generations', body, serviceKey);
    expect(again.status).toBe(201);
    expect(again.body.generationId).toBe(body.generationId);
    expect(balanceHeaders(again)).toEqual(['80', '20']);
    expect((await post(t, `/v1/generations/${body.generationId}/cancel`, {}, serviceKey)).status).toBe(200);
  });
});
