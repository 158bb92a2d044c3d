import { randomUUID } from 'node:crypto';
import { auditClean, createWallet, expectError, get, grant, post, setupApiTest, type ApiTest } from './helpers';

let t: ApiTest;
beforeAll(async () => {
  t = await setupApiTest();
});
afterEach(async () => auditClean(t));
afterAll(async () => t.close());

describe('GET /v1/wallets/:id/balance', () => {
  it('sums lots, lists them in consumption order, and reports the next expiry', async () => {
    const walletId = await createWallet(t);
    const soon = new Date(Date.now() + 2 * 86_400_000).toISOString();
    const later = new Date(Date.now() + 20 * 86_400_000).toISOString();
    await post(t, `/v1/wallets/${walletId}/grants`, { kind: 'purchased', amountCredits: 100, expiresAt: later });
    await post(t, `/v1/wallets/${walletId}/grants`, { kind: 'promotional', amountCredits: 25, expiresAt: soon });
    const res = await get(t, `/v1/wallets/${walletId}/balance`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ walletId, walletStatus: 'active', availableCredits: 125, heldCredits: 0, nextExpiryAt: soon });
    expect(res.body.lots.map((l: { kind: string; availableCredits: number }) => [l.kind, l.availableCredits])).toEqual([
      ['promotional', 25], ['purchased', 100],
    ]);
    expect(res.headers['x-credits-balance']).toBe('125');
    expect(res.headers['x-credits-held']).toBe('0');
  });

  it('an empty wallet has zero balance and no next expiry', async () => {
    const walletId = await createWallet(t);
    const res = await get(t, `/v1/wallets/${walletId}/balance`);
    expect(res.body).toMatchObject({ availableCredits: 0, heldCredits: 0, nextExpiryAt: null, lots: [] });
  });

  it('responses never carry database columns or internals', async () => {
    const walletId = await createWallet(t);
    await grant(t, walletId, 10);
    const res = await get(t, `/v1/wallets/${walletId}/balance`);
    expect(Object.keys(res.body.lots[0]).sort()).toEqual([
      'availableCredits', 'consumedCredits', 'expiredCredits', 'expiresAt', 'grantedAt', 'grantedCredits',
      'heldCredits', 'kind', 'lotId', 'revokedCredits', 'status',
    ]);
  });
});

describe('GET /v1/wallets/:id/journal', () => {
  it('pages newest first with a cursor and filters by kind', async () => {
    const walletId = await createWallet(t);
    for (const amountCredits of [1, 2, 3]) await grant(t, walletId, amountCredits);
    const page1 = await get(t, `/v1/wallets/${walletId}/journal?limit=2`);
    expect(page1.status).toBe(200);
    expect(page1.body.entries.map((e: { amountCredits: number }) => e.amountCredits)).toEqual([3, 2]);
    expect(page1.body.nextCursor).toEqual(expect.any(String));
    expect(page1.headers['x-credits-balance']).toBe('6');
    const page2 = await get(t, `/v1/wallets/${walletId}/journal?limit=2&cursor=${page1.body.nextCursor}`);
    expect(page2.body.entries.map((e: { amountCredits: number }) => e.amountCredits)).toEqual([1]);
    expect(page2.body.nextCursor).toBeNull();
    const grants = await get(t, `/v1/wallets/${walletId}/journal?kind=grant`);
    expect(grants.body.entries).toHaveLength(3);
    const captures = await get(t, `/v1/wallets/${walletId}/journal?kind=capture`);
    expect(captures.body.entries).toHaveLength(0);
    const entry = page1.body.entries[0];
    expect(entry).toMatchObject({ kind: 'grant', deltas: { available: 3, held: 0, consumed: 0, expired: 0, revoked: 0 } });
    expect(entry.idempotencyKey).toBeUndefined();
  });

  it.each([
    ['limit=0', 'query.limit'],
    ['limit=501', 'query.limit'],
    ['limit=abc', 'query.limit'],
    ['kind=gift', 'query.kind'],
    ['cursor=abc', 'query.cursor'],
    ['from=yesterday', 'query.from'],
    ['bogus=1', 'query.bogus'],
  ])('bad query %s → 400 naming %s', async (query, field) => {
    const walletId = await createWallet(t);
    const res = await get(t, `/v1/wallets/${walletId}/journal?${query}`);
    expectError(res, 400, 'ValidationError');
    expect(res.body.error.details.fields.map((f: { path: string }) => f.path)).toEqual([field]);
  });

  // A number in a query is a plain decimal integer: other spellings would be read as some number the client
  // may not have meant (0x10 → 16), or, like 05, are not how a number is written.
  it.each(['0x10', '1e1', '%205', '5%20', '5.0', '%2B5', '05', '-5', '', '5,6', '５'])('limit=%s → 400 naming query.limit', async (limit) => {
    const walletId = await createWallet(t);
    const res = await get(t, `/v1/wallets/${walletId}/journal?limit=${limit}`);
    expectError(res, 400, 'ValidationError');
    expect(res.body.error.details.fields).toEqual([{ path: 'query.limit', reason: expect.stringMatching(/decimal integer|between|at (least|most)|expected/) }]);
  });

  it('a repeated limit → 400 naming query.limit; a plain one (1, 500) is taken', async () => {
    const walletId = await createWallet(t);
    expectError(await get(t, `/v1/wallets/${walletId}/journal?limit=5&limit=6`), 400, 'ValidationError');
    for (const limit of ['1', '500']) expect((await get(t, `/v1/wallets/${walletId}/journal?limit=${limit}`)).status).toBe(200);
    // Still documented as the integer it is.
    const parameters = (await get(t, '/openapi.json')).body.paths['/v1/wallets/{id}/journal'].get.parameters as { name: string; schema: unknown }[];
    expect(parameters.find((p) => p.name === 'limit')!.schema).toEqual({ type: 'integer', minimum: 1, maximum: 500, default: 50 });
  });

  it('unknown wallet → 404 even though an empty page would be valid', async () => {
    expectError(await get(t, `/v1/wallets/${randomUUID()}/journal`), 404, 'WalletNotFound');
  });
});

describe('GET /v1/audit', () => {
  it('reports no violations, for all wallets and for one', async () => {
    const walletId = await createWallet(t);
    await grant(t, walletId, 10);
    const all = await get(t, '/v1/audit');
    expect(all.status).toBe(200);
    expect(all.body).toEqual({ ok: true, violations: [] });
    expect((await get(t, `/v1/audit?walletId=${walletId}`)).body).toEqual({ ok: true, violations: [] });
  });

  it('an unknown wallet → 404', async () => {
    expectError(await get(t, `/v1/audit?walletId=${randomUUID()}`), 404, 'WalletNotFound');
  });
});
