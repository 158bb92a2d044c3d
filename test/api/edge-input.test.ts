/**
 * Input Postgres cannot store (NUL; lone UTF-16 surrogates, which jsonb refuses) and bodies nested too deep
 * are refused at the edge: 400 naming the field, before any schema, idempotency record or write.
 */
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { roundedNumberLiterals } from '../../src/api/json-literals';
import { auditClean, createWallet, expectError, get, idem, journalCount, setupApiTest, type ApiTest } from './helpers';

let t: ApiTest;
beforeAll(async () => {
  t = await setupApiTest();
});
afterEach(async () => auditClean(t));
afterAll(async () => t.close());

/** Sends a raw JSON text, so that escapes like \ud800 reach the server exactly as written. */
function postRaw(path: string, json: string, idempotencyKey = idem()) {
  return request(t.app)
    .post(path)
    .set('Authorization', `Bearer ${t.adminKey}`)
    .set('Idempotency-Key', idempotencyKey)
    .set('Content-Type', 'application/json')
    .send(json);
}

const countKeys = async () => Number((await t.pool.query('SELECT count(*) FROM api_keys')).rows[0].count);
const countIdempotency = async () => Number((await t.pool.query('SELECT count(*) FROM http_idempotency')).rows[0].count);

describe('strings Postgres cannot store', () => {
  it.each([
    ['a lone surrogate', '"lbl-\\ud800"'],
    ['a lone low surrogate', '"\\udc00-lbl"'],
    ['a NUL', '"lbl-\\u0000"'],
  ])('POST /v1/api-keys with %s in label → 400 naming label; no key, no claim; a retry with the same key works', async (_l, label) => {
    const keysBefore = await countKeys();
    const claimsBefore = await countIdempotency();
    const key = idem();
    const res = await postRaw('/v1/api-keys', `{"role":"admin","label":${label}}`, key);
    expectError(res, 400, 'ValidationError');
    expect(res.body.error.details.fields).toEqual([{ path: 'label', reason: expect.any(String) }]);
    expect(await countKeys()).toBe(keysBefore);
    expect(await countIdempotency()).toBe(claimsBefore);
    // The Idempotency-Key was not left in progress: the corrected request runs at once, and once.
    const fixed = await postRaw('/v1/api-keys', '{"role":"admin","label":"lbl"}', key);
    expect(fixed.status).toBe(201);
    expect(await countKeys()).toBe(keysBefore + 1);
  });

  it('a paired surrogate (an emoji) is fine', async () => {
    const res = await postRaw('/v1/api-keys', '{"role":"support","label":"\\ud83d\\ude00"}');
    expect(res.status).toBe(201);
    expect(res.body.label).toBe('\u{1F600}');
  });

  it('in a field name, in a nested value, in an array: each named, nothing written', async () => {
    const walletId = await createWallet(t);
    const res = await postRaw(`/v1/wallets/${walletId}/grants`, '{"kind":"purchased","amountCredits":5,"x\\u0000":1}');
    expectError(res, 400, 'ValidationError');
    expect(res.body.error.details.fields).toEqual([{ path: 'x\\u0000', reason: expect.stringMatching(/field name/) }]);
    const quote = await postRaw('/v1/quotes', '{"feature":"image","params":{"tags":["ok","\\ud800"]}}');
    expectError(quote, 400, 'ValidationError');
    expect(quote.body.error.details.fields).toEqual([{ path: 'params.tags.1', reason: expect.any(String) }]);
    const wallet = await postRaw('/v1/wallets', '{"ownerType":"user","ownerId":"a\\u0000b"}');
    expectError(wallet, 400, 'ValidationError');
    expect(wallet.body.error.details.fields).toEqual([{ path: 'ownerId', reason: expect.any(String) }]);
    expect(await journalCount(t, walletId)).toBe(0);
  });

  it.each([
    ['/v1/generations/a%00b', 'path.id'],
    ['/v1/organizations/a%00b/members', 'path.id'],
    ['/v1/wallets/a%00b', 'path.id'],
    ['/v1/wallets/a%00b/balance', 'path.id'],
  ])('GET %s → 400 naming %s', async (path, field) => {
    const res = await get(t, path);
    expectError(res, 400, 'ValidationError');
    expect(res.body.error.details.fields).toEqual([{ path: field, reason: expect.any(String) }]);
  });

  it('in the query, also in a repeated field → 400 naming it', async () => {
    const walletId = await createWallet(t);
    const res = await get(t, `/v1/wallets/${walletId}/journal?generationId=a%00b`);
    expectError(res, 400, 'ValidationError');
    expect(res.body.error.details.fields).toEqual([{ path: 'query.generationId', reason: expect.any(String) }]);
    const repeated = await get(t, `/v1/audit?walletId=x&walletId=%00`);
    expectError(repeated, 400, 'ValidationError');
    expect(repeated.body.error.details.fields).toEqual([{ path: 'query.walletId.1', reason: expect.any(String) }]);
  });

  it('DELETE with a NUL in the path → 400 too', async () => {
    const res = await request(t.app).delete('/v1/organizations/o%00/members/u').set('Authorization', `Bearer ${t.adminKey}`);
    expectError(res, 400, 'ValidationError');
  });
});

describe('nesting depth', () => {
  const nested = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;

  it('45,000 nested arrays (under 100 kB) → 400, not a stack overflow; nothing recorded', async () => {
    const claimsBefore = await countIdempotency();
    const res = await postRaw('/v1/quotes', `{"feature":"image","params":{"deep":${nested(45_000)}}}`);
    expectError(res, 400, 'ValidationError');
    expect(res.body.error.details.fields).toEqual([{ path: expect.stringMatching(/^params\.deep(\.0)+$/), reason: expect.stringMatching(/32 levels/) }]);
    expect(await countIdempotency()).toBe(claimsBefore);
    const root = await postRaw('/v1/quotes', nested(45_000));
    expectError(root, 400, 'ValidationError');
  });

  it('32 levels pass the edge (the schema then decides); 33 do not', async () => {
    // The body object and params are two levels; 30 more arrays make 32.
    const ok = await postRaw('/v1/quotes', `{"feature":"image","params":{"deep":${nested(30)}}}`);
    expect(JSON.stringify(ok.body)).not.toMatch(/levels deep/);
    const tooDeep = await postRaw('/v1/quotes', `{"feature":"image","params":{"deep":${nested(31)}}}`);
    expectError(tooDeep, 400, 'ValidationError');
    expect(tooDeep.body.error.details.fields[0].reason).toMatch(/32 levels/);
  });

  it('a GET does not read the body, so a bad one there does not matter', async () => {
    const res = await request(t.app)
      .get(`/v1/wallets/${randomUUID()}`)
      .set('Authorization', `Bearer ${t.adminKey}`)
      .set('Content-Type', 'application/json')
      .send('{"x":"\\u0000"}');
    expectError(res, 404, 'WalletNotFound');
  });
});

describe('roundedNumberLiterals', () => {
  it('names each number whose fraction JSON.parse rounds away, by its path; strings and exact numbers are left alone', () => {
    const text = String.raw`{"a\"":[1,{"b":1.0000000000000001}],"c":"x\\","n":-0.0,"e":1e-0,"d":[0.5,2.00000000000000001,true,null],"f":"3.0000000000000001"}`;
    expect(roundedNumberLiterals(text)).toEqual([
      { path: ['a"', '1', 'b'], value: 1 },
      { path: ['d', '1'], value: 2 },
    ]);
    expect(roundedNumberLiterals('[4503599627370496.5]')).toEqual([{ path: ['0'], value: 4503599627370496 }]);
    expect(roundedNumberLiterals('{"x":100.000,"y":1.50e1,"z":2500E-2}')).toEqual([]);
  });
});
