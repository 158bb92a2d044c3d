/**
 * The HTTP edge as a contract (found by review): which answer comes first (401/403 before anything about the
 * body), that a request the schemas refuse leaves nothing behind — not even an Idempotency-Key claim — that
 * instants Postgres cannot read are refused as the field they came in, and that the OpenAPI document lists
 * the statuses the routes really answer, and only those.
 */
import request from 'supertest';
import { auditClean, createKey, createWallet, expectError, get, idem, journalCount, post, setupApiTest, type ApiTest } from './helpers';

let t: ApiTest;
beforeAll(async () => {
  t = await setupApiTest();
});
afterEach(async () => auditClean(t));
afterAll(async () => t.close());

const countClaims = async () => Number((await t.pool.query('SELECT count(*) FROM http_idempotency')).rows[0].count);
const countKeys = async () => Number((await t.pool.query('SELECT count(*) FROM api_keys')).rows[0].count);

/** A POST with a raw body, so malformed JSON and other content types reach the server as written. */
function postRaw(path: string, body: string, headers: Record<string, string | undefined>) {
  const req = request(t.app).post(path);
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) req.set(name, value);
  return req.send(body);
}

describe('a request its schema refuses claims no Idempotency-Key', () => {
  it.each([
    ['a label too long', 'label', { role: 'admin', label: 'x'.repeat(201) }],
    ['an unknown role', 'role', { role: 'root' }],
    ['an unknown field', 'extra', { role: 'admin', extra: true }],
  ])('%s → 400 naming %s, no record; the corrected request under the same key runs', async (_label, field, bad) => {
    const claims = await countClaims();
    const keys = await countKeys();
    const key = idem();
    const refused = await post(t, '/v1/api-keys', bad, t.adminKey, key);
    expectError(refused, 400, 'ValidationError');
    expect(refused.body.error.details.fields.map((f: { path: string }) => f.path)).toEqual([field]);
    expect(await countClaims()).toBe(claims);
    expect(await countKeys()).toBe(keys);
    const fixed = await post(t, '/v1/api-keys', { role: 'admin', label: 'fixed' }, t.adminKey, key);
    expect(fixed.status).toBe(201);
    expect(await countKeys()).toBe(keys + 1);
  });

  it('a grant with a negative amount, then the right one under the same key: granted once', async () => {
    const walletId = await createWallet(t);
    const key = idem();
    expectError(await post(t, `/v1/wallets/${walletId}/grants`, { kind: 'purchased', amountCredits: -5 }, t.adminKey, key), 400, 'ValidationError');
    const fixed = await post(t, `/v1/wallets/${walletId}/grants`, { kind: 'purchased', amountCredits: 5 }, t.adminKey, key);
    expect(fixed.status).toBe(201);
    expect(fixed.headers['x-credits-balance']).toBe('5');
    expect(await journalCount(t, walletId)).toBe(1);
  });

  it('a body sent as text/plain is refused, and the same request sent as JSON under the same key runs', async () => {
    const key = idem();
    const body = JSON.stringify({ ownerType: 'user', ownerId: `u-${key}` });
    const headers = { Authorization: `Bearer ${t.adminKey}`, 'Idempotency-Key': key };
    const refused = await postRaw('/v1/wallets', body, { ...headers, 'Content-Type': 'text/plain' });
    expectError(refused, 415, 'UnsupportedMediaType');
    const fixed = await postRaw('/v1/wallets', body, { ...headers, 'Content-Type': 'application/json' });
    expect(fixed.status).toBe(201);
  });

  it('a business refusal (here an unknown wallet) is still recorded and replayed', async () => {
    const key = idem();
    const path = `/v1/wallets/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}/grants`;
    const claims = await countClaims();
    expectError(await post(t, path, { kind: 'purchased', amountCredits: 5 }, t.adminKey, key), 404, 'WalletNotFound');
    expect(await countClaims()).toBe(claims + 1);
    expect((await post(t, path, { kind: 'purchased', amountCredits: 5 }, t.adminKey, key)).headers['idempotent-replayed']).toBe('true');
  });
});

describe('who is calling comes before what the body says', () => {
  const badJson = '{"ownerType": "user", ';

  it('no key and malformed JSON → 401, not a 400 about the body', async () => {
    expectError(await postRaw('/v1/wallets', badJson, { 'Content-Type': 'application/json' }), 401, 'Unauthorized');
  });

  it('no key and a body over the limit → 401, not 413', async () => {
    const res = await postRaw('/v1/wallets', JSON.stringify({ ownerId: 'x'.repeat(200_000) }), { 'Content-Type': 'application/json' });
    expectError(res, 401, 'Unauthorized');
  });

  it('a role that may not call the route, with malformed JSON → 403', async () => {
    const walletId = await createWallet(t);
    const walletKey = await createKey(t, 'wallet', walletId);
    const res = await postRaw('/v1/wallets', badJson, {
      Authorization: `Bearer ${walletKey}`, 'Idempotency-Key': idem(), 'Content-Type': 'application/json',
    });
    expectError(res, 403, 'Forbidden');
  });

  it('a GET does not read its body: malformed JSON or a foreign charset there change nothing', async () => {
    const walletId = await createWallet(t);
    for (const contentType of ['application/json', 'application/json; charset=latin1']) {
      const res = await request(t.app)
        .get(`/v1/wallets/${walletId}`)
        .set('Authorization', `Bearer ${t.adminKey}`)
        .set('Content-Type', contentType)
        .send(badJson);
      expect(res.status).toBe(200);
      expect(res.headers['x-credits-balance']).toBe('0');
    }
  });

  it('an authenticated POST still gets 400 for malformed JSON and 413 for a body over the limit', async () => {
    const headers = { Authorization: `Bearer ${t.adminKey}`, 'Idempotency-Key': idem(), 'Content-Type': 'application/json' };
    expectError(await postRaw('/v1/wallets', badJson, headers), 400, 'ValidationError');
    const big = JSON.stringify({ ownerType: 'user', ownerId: 'x'.repeat(200_000) });
    expectError(await postRaw('/v1/wallets', big, { ...headers, 'Idempotency-Key': idem() }), 413, 'PayloadTooLarge');
  });
});

describe('a body is JSON, or nothing at all', () => {
  const json = JSON.stringify({ ownerType: 'user', ownerId: 'u-media-type' });
  const admin = () => ({ Authorization: `Bearer ${t.adminKey}`, 'Idempotency-Key': idem() });

  it.each([
    ['text/plain', 'text/plain'],
    ['form-encoded', 'application/x-www-form-urlencoded'],
    ['no Content-Type', undefined],
    ['a JSON-like type', 'application/json-patch+json'],
    ['an unparseable type', 'application/json garbage'],
  ])('a body sent as %s → 415 UnsupportedMediaType saying application/json; no claim', async (_label, contentType) => {
    const claims = await countClaims();
    // A Buffer: supertest sets no Content-Type of its own for one.
    const req = request(t.app).post('/v1/wallets').set(admin());
    if (contentType !== undefined) req.set('Content-Type', contentType);
    const res = await req.send(Buffer.from(json));
    expectError(res, 415, 'UnsupportedMediaType');
    expect(res.body.error.message).toMatch(/application\/json/);
    expect(await countClaims()).toBe(claims);
  });

  it('application/json with a charset or in capitals is JSON', async () => {
    for (const contentType of ['application/json; charset=utf-8', 'Application/JSON']) {
      const res = await postRaw('/v1/wallets', JSON.stringify({ ownerType: 'user', ownerId: `u-${idem()}` }), { ...admin(), 'Content-Type': contentType });
      expect(res.status).toBe(201);
    }
  });

  it('a declared non-JSON type with an empty body → 415 too (the client said it sends something else)', async () => {
    const res = await request(t.app).post('/v1/generations/gen-1/cancel').set(admin()).set('Content-Type', 'text/plain').send(Buffer.alloc(0));
    expectError(res, 415, 'UnsupportedMediaType');
  });

  it('no body at all reads as {}: a route whose fields are all optional runs (cancel, progress reach the service)', async () => {
    for (const command of ['cancel', 'progress']) {
      // Without a Temporal client the command answers 503: the request got past its body.
      expectError(await request(t.app).post(`/v1/generations/gen-1/${command}`).set(admin()), 503, 'ServiceUnavailable');
      const empty = await request(t.app).post(`/v1/generations/gen-1/${command}`).set(admin()).set('Content-Type', 'application/json').send('');
      expectError(empty, 503, 'ServiceUnavailable');
    }
  });

  it('no body at all on a route with required fields → 400 naming each of them', async () => {
    const walletId = await createWallet(t);
    const res = await request(t.app).post(`/v1/wallets/${walletId}/grants`).set(admin());
    expectError(res, 400, 'ValidationError');
    expect(res.body.error.details.fields.map((f: { path: string }) => f.path)).toEqual(['kind', 'amountCredits']);
  });
});

describe('OPTIONS and methods a path does not have', () => {
  it.each([
    ['OPTIONS', '/v1/wallets'],
    ['OPTIONS', '/v1/generations/gen-1/cancel'],
    ['OPTIONS', '/openapi.json'],
    ['PUT', '/v1/wallets'],
    ['PATCH', '/v1/wallets/abc'],
  ])('%s %s → 404 NotFound in the error shape, like any route there is not', async (method, path) => {
    const res = await request(t.app)[method.toLowerCase() as 'options' | 'put' | 'patch'](path);
    expectError(res, 404, 'NotFound');
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['allow']).toBeUndefined();
  });
});

describe('instants before year 1 (Postgres has no year 0)', () => {
  const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

  it.each([
    ['from=0000-01-01T00:00:00Z', 'query.from'],
    ['to=0001-01-01T00:30:00%2B01:00', 'query.to'],
  ])('journal %s → 400 ValidationError naming %s', async (query, field) => {
    const walletId = await createWallet(t);
    const res = await get(t, `/v1/wallets/${walletId}/journal?${query}`);
    expectError(res, 400, 'ValidationError');
    expect(res.body.error.details.fields).toEqual([{ path: field, reason: expect.any(String) }]);
  });

  it.each([
    ['expiresAt', 'purchased'],
    ['periodEnd', 'membership'],
  ])('a grant with %s in year 0 → 400 ValidationError naming it, nothing written', async (field, kind) => {
    const walletId = await createWallet(t);
    const res = await post(t, `/v1/wallets/${walletId}/grants`, { kind, amountCredits: 5, [field]: '0000-06-01T00:00:00Z' });
    expectError(res, 400, 'ValidationError');
    expect(res.body.error.details.fields).toEqual([{ path: field, reason: expect.any(String) }]);
    expect(await journalCount(t, walletId)).toBe(0);
  });

  it('a generations cursor in year 0 → 400 naming query.cursor, not a 500', async () => {
    const walletId = await createWallet(t);
    const res = await get(t, `/v1/wallets/${walletId}/generations?cursor=${cursorOf(['0000-01-01T00:00:00.000Z', 'gen-x'])}`);
    expectError(res, 400, 'ValidationError');
    expect(res.body.error.details.fields).toEqual([{ path: 'query.cursor', reason: expect.any(String) }]);
  });
});

describe('the OpenAPI document lists what the routes answer', () => {
  const documented = async () => (await request(t.app).get('/openapi.json')).body.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>;

  it('without a Temporal client every generation command answers 503, and each documents it', async () => {
    const paths = await documented();
    for (const command of ['outcome', 'progress', 'cancel']) {
      const body = command === 'outcome' ? { status: 'failed', reason: 'system_error' } : {};
      expectError(await post(t, `/v1/generations/gen-1/${command}`, body), 503, 'ServiceUnavailable');
      expect(paths[`/v1/generations/{id}/${command}`]!.post!.responses).toHaveProperty(['503']);
    }
  });

  it('every POST documents 413 (a body over 100 kB)', async () => {
    const paths = await documented();
    for (const [path, methods] of Object.entries(paths)) {
      if (methods.post) expect([path, Object.keys(methods.post.responses)]).toEqual([path, expect.arrayContaining(['413'])]);
    }
  });

  it('organization members are never a 404 (an organization is just an id), so no 404 is documented', async () => {
    expect((await get(t, '/v1/organizations/org-nobody/members')).status).toBe(200);
    const paths = await documented();
    expect(paths['/v1/organizations/{id}/members']!.get!.responses).not.toHaveProperty(['404']);
    expect(paths['/v1/organizations/{id}/members']!.post!.responses).not.toHaveProperty(['404']);
    expect(paths['/v1/organizations/{id}/members/{userId}']!.delete!.responses).not.toHaveProperty(['404']);
    // Routes that do answer 404 still document it.
    for (const [path, method] of [['/v1/wallets/{id}', 'get'], ['/v1/wallets/{id}/grants', 'post'], ['/v1/wallets/{id}/balance', 'get'],
      ['/v1/wallets/{id}/journal', 'get'], ['/v1/api-keys/{id}', 'delete'], ['/v1/generations/{id}', 'get']] as const) {
      expect(paths[path]![method]!.responses).toHaveProperty(['404']);
    }
  });

  it('a route without any input documents no 400', async () => {
    const paths = await documented();
    expect(paths['/healthz']!.get!.responses).not.toHaveProperty(['400']);
    expect(paths['/v1/price-book']!.get!.responses).not.toHaveProperty(['400']);
    expect(paths['/v1/wallets/{id}']!.get!.responses).toHaveProperty(['400']);
  });

  it('a POST without a body reads as {}: its body is documented as required exactly when {} is refused', async () => {
    const walletId = await createWallet(t);
    const noBody = await request(t.app).post(`/v1/wallets/${walletId}/grants`).set('Authorization', `Bearer ${t.adminKey}`).set('Idempotency-Key', idem());
    expectError(noBody, 400, 'ValidationError');
    const paths = (await request(t.app).get('/openapi.json')).body.paths as Record<string, Record<string, { requestBody?: { required?: boolean } }>>;
    const optional = ['/v1/generations/{id}/cancel', '/v1/generations/{id}/progress'];
    for (const [path, methods] of Object.entries(paths)) {
      if (methods.post) expect([path, methods.post.requestBody?.required]).toEqual([path, !optional.includes(path)]);
    }
  });

  it('415 is documented as a body that is not JSON', async () => {
    const paths = (await request(t.app).get('/openapi.json')).body.paths as Record<string, Record<string, { responses: Record<string, { description: string }> }>>;
    expect(paths['/v1/wallets']!.post!.responses['415']!.description).toMatch(/application\/json/);
  });

  it('documents itself', async () => {
    const paths = await documented();
    expect(paths['/openapi.json']!.get!.responses).toHaveProperty(['200']);
  });
});
