import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { auditClean, createWallet, expectError, get, grant, journalCount, post, setupApiTest, type ApiTest } from './helpers';

let t: ApiTest;
beforeAll(async () => {
  t = await setupApiTest();
});
afterEach(async () => auditClean(t));
afterAll(async () => t.close());

describe('POST /v1/wallets/:id/grants', () => {
  it('grants a lot: 201, balance headers, balance and journal reflect it', async () => {
    const walletId = await createWallet(t);
    const res = await post(t, `/v1/wallets/${walletId}/grants`, { kind: 'promotional', amountCredits: 250, reason: 'welcome' });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      lotId: expect.any(String), walletId, kind: 'promotional', amountCredits: 250,
      grantedAt: expect.any(String), expiresAt: expect.any(String), operationId: expect.any(String),
    });
    // Promotional credits are valid 90 days by default.
    const validityDays = (Date.parse(res.body.expiresAt) - Date.parse(res.body.grantedAt)) / 86_400_000;
    expect(validityDays).toBeCloseTo(90, 0);
    expect(res.headers['x-credits-balance']).toBe('250');
    expect(res.headers['x-credits-held']).toBe('0');
    expect(await journalCount(t, walletId)).toBe(1);
  });

  it('honours an explicit expiresAt', async () => {
    const walletId = await createWallet(t);
    const expiresAt = new Date(Date.now() + 3 * 86_400_000).toISOString();
    const res = await post(t, `/v1/wallets/${walletId}/grants`, { kind: 'purchased', amountCredits: 5, expiresAt });
    expect(res.status).toBe(201);
    expect(res.body.expiresAt).toBe(expiresAt);
  });

  const badAmounts: [string, unknown][] = [
    ['negative', -5],
    ['zero', 0],
    ['fractional', 1.5],
    ['2^53', 2 ** 53],
    ['huge', 1e300],
    ['numeric string', '100'],
    ['non-numeric string', 'lots'],
    ['null', null],
    ['boolean', true],
    ['missing', undefined],
  ];
  it.each(badAmounts)('amountCredits %s → 400 naming amountCredits; journal unchanged', async (_label, amountCredits) => {
    const walletId = await createWallet(t);
    const before = await journalCount(t, walletId);
    const res = await post(t, `/v1/wallets/${walletId}/grants`, { kind: 'purchased', amountCredits });
    expectError(res, 400, 'ValidationError');
    expect(res.body.error.details.fields).toEqual([{ path: 'amountCredits', reason: expect.any(String) }]);
    expect(await journalCount(t, walletId)).toBe(before);
  });

  it('an amount beyond 2^53-1 written as a raw JSON literal is refused too', async () => {
    const walletId = await createWallet(t);
    const res = await request(t.app)
      .post(`/v1/wallets/${walletId}/grants`)
      .set('Authorization', `Bearer ${t.adminKey}`)
      .set('Idempotency-Key', randomUUID())
      .set('Content-Type', 'application/json')
      .send('{"kind":"purchased","amountCredits":9007199254740993}');
    expectError(res, 400, 'ValidationError');
    expect(res.body.error.details.fields[0].path).toBe('amountCredits');
    expect(await journalCount(t, walletId)).toBe(0);
  });

  const rawGrant = (walletId: string, amountLiteral: string, extra = '') =>
    request(t.app)
      .post(`/v1/wallets/${walletId}/grants`)
      .set('Authorization', `Bearer ${t.adminKey}`)
      .set('Idempotency-Key', randomUUID())
      .set('Content-Type', 'application/json')
      .send(`{"kind":"purchased","amountCredits":${amountLiteral}${extra}}`);

  it.each(['4503599627370496.5', '1.0000000000000001', '9007199254740990.9', '1e-400', '12.5e-1'])(
    'a fraction JSON.parse would round away (%s) → 400 naming amountCredits; nothing granted',
    async (literal) => {
      const walletId = await createWallet(t);
      const res = await rawGrant(walletId, literal);
      expectError(res, 400, 'ValidationError');
      expect(res.body.error.details.fields).toEqual([{ path: 'amountCredits', reason: expect.any(String) }]);
      expect(await journalCount(t, walletId)).toBe(0);
    },
  );

  it.each([['1e2', 100], ['100.000', 100], ['1.50e1', 15], ['2500E-2', 25]])('%s is exactly a whole number → granted %d', async (literal, credits) => {
    const walletId = await createWallet(t);
    const res = await rawGrant(walletId, literal);
    expect(res.status).toBe(201);
    expect(res.body.amountCredits).toBe(credits);
  });

  it('any whole-number field: a rounded-away fraction is named, wherever it is', async () => {
    const walletId = await createWallet(t);
    const res = await rawGrant(walletId, '5', ',"validityDays":30.0000000000000001,"reason":"a 1.0000000000000001 in a string is text"');
    expectError(res, 400, 'ValidationError');
    expect(res.body.error.details.fields).toEqual([{ path: 'validityDays', reason: expect.any(String) }]);
  });

  it('the largest safe integer is accepted', async () => {
    const walletId = await createWallet(t);
    await grant(t, walletId, Number.MAX_SAFE_INTEGER);
    const balance = await get(t, `/v1/wallets/${walletId}/balance`);
    expect(balance.body.availableCredits).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('unknown wallet → 404 WalletNotFound, nothing written', async () => {
    const before = await journalCount(t);
    const res = await post(t, `/v1/wallets/${randomUUID()}/grants`, { kind: 'purchased', amountCredits: 10 });
    expectError(res, 404, 'WalletNotFound');
    expect(await journalCount(t)).toBe(before);
  });

  it.each([
    [{ kind: 'gift', amountCredits: 10 }, 'kind'],
    [{ kind: 'purchased', amountCredits: 10, expiresAt: 'tomorrow' }, 'expiresAt'],
    [{ kind: 'purchased', amountCredits: 10, sneaky: true }, 'sneaky'],
  ])('rejects %j naming %s', async (body, field) => {
    const walletId = await createWallet(t);
    const res = await post(t, `/v1/wallets/${walletId}/grants`, body);
    expectError(res, 400, 'ValidationError');
    expect(res.body.error.details.fields.map((f: { path: string }) => f.path)).toEqual([field]);
    expect(await journalCount(t, walletId)).toBe(0);
  });

  // The expiry comes from one input at most, and only one the kind has: the ledger would otherwise ignore the
  // rest without a word (expiresAt wins over all, validityDays over the kind's rule).
  const inFuture = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();
  it.each([
    ['periodEnd on a purchase', { kind: 'purchased', periodEnd: inFuture(10) }, 'periodEnd'],
    ['periodEnd on a bulk grant', { kind: 'bulk', periodEnd: inFuture(10) }, 'periodEnd'],
    ['bulkPackages on a purchase', { kind: 'purchased', bulkPackages: 3 }, 'bulkPackages'],
    ['bulkPackages on a membership', { kind: 'membership', bulkPackages: 3 }, 'bulkPackages'],
    ['validityDays with expiresAt', { kind: 'purchased', expiresAt: inFuture(3), validityDays: 30 }, 'validityDays'],
    ['periodEnd with expiresAt', { kind: 'membership', expiresAt: inFuture(3), periodEnd: inFuture(10) }, 'periodEnd'],
    ['bulkPackages with expiresAt', { kind: 'bulk', expiresAt: inFuture(3), bulkPackages: 2 }, 'bulkPackages'],
    ['periodEnd with validityDays', { kind: 'membership', validityDays: 5, periodEnd: inFuture(10) }, 'periodEnd'],
    ['bulkPackages with validityDays', { kind: 'bulk', validityDays: 5, bulkPackages: 2 }, 'bulkPackages'],
  ])('%s → 400 naming the field, nothing written', async (_label, validity, field) => {
    const walletId = await createWallet(t);
    const res = await post(t, `/v1/wallets/${walletId}/grants`, { amountCredits: 10, ...validity });
    expectError(res, 400, 'ValidationError');
    expect(res.body.error.details.fields).toEqual([{ path: field, reason: expect.any(String) }]);
    expect(await journalCount(t, walletId)).toBe(0);
  });

  it.each([
    ['periodEnd on a membership', { kind: 'membership', periodEnd: inFuture(10) }, 10],
    ['bulkPackages on a bulk grant', { kind: 'bulk', bulkPackages: 2 }, null],
    ['validityDays on any kind', { kind: 'membership', validityDays: 5 }, 5],
    ['validityDays on a refund lot', { kind: 'refund', validityDays: 7 }, 7],
  ])('%s is taken', async (_label, validity, days) => {
    const walletId = await createWallet(t);
    const res = await post(t, `/v1/wallets/${walletId}/grants`, { amountCredits: 10, ...validity });
    expect(res.status).toBe(201);
    if (days !== null) expect((Date.parse(res.body.expiresAt) - Date.parse(res.body.grantedAt)) / 86_400_000).toBeCloseTo(days, 0);
  });

  it('an expiry in the past is refused by the ledger (400), nothing written', async () => {
    const walletId = await createWallet(t);
    const res = await post(t, `/v1/wallets/${walletId}/grants`, {
      kind: 'purchased', amountCredits: 10, expiresAt: '2020-01-01T00:00:00.000Z',
    });
    expectError(res, 400, 'InvalidInput');
    expect(res.headers['x-credits-balance']).toBe('0');
    expect(await journalCount(t, walletId)).toBe(0);
  });

  // The offset moves these instants into year 10000 (UTC), which Postgres cannot read as the API writes it.
  it.each([
    ['expiresAt', '9999-12-31T23:59:59-23:59'],
    ['periodEnd', '9999-12-31T23:59:59-01:00'],
  ])('%s %s lies past year 9999 UTC → 400 naming it, not a 500; nothing written', async (field, value) => {
    const walletId = await createWallet(t);
    const kind = field === 'periodEnd' ? 'membership' : 'purchased';
    const res = await post(t, `/v1/wallets/${walletId}/grants`, { kind, amountCredits: 10, [field]: value });
    expectError(res, 400, 'ValidationError');
    expect(res.body.error.details.fields).toEqual([{ path: field, reason: expect.any(String) }]);
    expect(await journalCount(t, walletId)).toBe(0);
  });

  it('malformed JSON → 400 ValidationError', async () => {
    const walletId = await createWallet(t);
    const res = await request(t.app)
      .post(`/v1/wallets/${walletId}/grants`)
      .set('Authorization', `Bearer ${t.adminKey}`)
      .set('Idempotency-Key', randomUUID())
      .set('Content-Type', 'application/json')
      .send('{"kind": "purchased", ');
    expectError(res, 400, 'ValidationError');
  });
});
