import request from 'supertest';
import { createApp } from '../../src/api/app';
import { createPool } from '../../src/db';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/log';
import { auditClean, captureStream, createWallet, expectError, get, setupApiTest, type ApiTest } from './helpers';

let t: ApiTest;
beforeAll(async () => {
  t = await setupApiTest();
});
afterEach(async () => auditClean(t));
afterAll(async () => t.close());

describe('GET /healthz', () => {
  it('is public and checks the database', async () => {
    const res = await request(t.app).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', database: 'ok' });
  });
});

describe('GET /openapi.json', () => {
  it('documents every route from the zod schemas', async () => {
    const res = await request(t.app).get('/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toMatch(/^3\./);
    for (const path of [
      '/v1/wallets', '/v1/wallets/{id}', '/v1/wallets/{id}/grants', '/v1/wallets/{id}/balance', '/v1/wallets/{id}/journal',
      '/v1/organizations/{id}/members', '/v1/quotes', '/v1/price-book', '/v1/audit', '/v1/api-keys', '/healthz',
    ]) {
      expect(res.body.paths).toHaveProperty([path]);
    }
    const grant = res.body.paths['/v1/wallets/{id}/grants'].post;
    expect(grant.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['id', 'Idempotency-Key']));
    expect(res.body.components.schemas.GrantRequest.properties.amountCredits.type).toBe('integer');
    expect(grant.responses).toHaveProperty(['201']);
    expect(grant.responses).toHaveProperty(['409']);
  });

  it('documents the alternative 200, the 404s, the response headers and the Idempotency-Key pattern', async () => {
    const { paths } = (await request(t.app).get('/openapi.json')).body;
    expect(paths['/v1/wallets'].post.responses).toHaveProperty(['200']);
    expect(paths['/v1/wallets'].post.responses).toHaveProperty(['201']);
    expect(paths['/v1/audit'].get.responses).toHaveProperty(['404']);
    expect(paths['/v1/api-keys'].post.responses).toHaveProperty(['404']);
    expect(paths['/v1/quotes'].post.responses).toHaveProperty(['415']);
    const grant = paths['/v1/wallets/{id}/grants'].post;
    expect(Object.keys(grant.responses['201'].headers)).toEqual(expect.arrayContaining(['X-Credits-Balance', 'X-Credits-Held', 'Idempotent-Replayed']));
    expect(Object.keys(paths['/v1/generations/{id}/outcome'].post.responses['409'].headers)).toEqual(
      expect.arrayContaining(['X-Credits-Balance', 'X-Credits-Held', 'Idempotent-Replayed']),
    );
    expect(Object.keys(paths['/v1/generations/{id}'].get.responses['200'].headers)).toEqual(['X-Credits-Balance', 'X-Credits-Held']);
    expect(paths['/v1/price-book'].get.responses['200'].headers).toBeUndefined();
    expect(paths['/v1/quotes'].post.responses['200'].headers).toHaveProperty(['Idempotent-Replayed']);
    const idempotencyKey = grant.parameters.find((p: { name: string }) => p.name === 'Idempotency-Key');
    expect(idempotencyKey.schema.pattern).toBeDefined();
    expect(new RegExp(idempotencyKey.schema.pattern).test('abc-123')).toBe(true);
    expect(new RegExp(idempotencyKey.schema.pattern).test('has space')).toBe(false);
  });
});

describe('errors', () => {
  it('unknown route → 404 NotFound in the error shape', async () => {
    expectError(await get(t, '/v1/nothing-here'), 404, 'NotFound');
  });

  it('internal errors are masked: generic 500, details only in the log', async () => {
    // A pool that has been ended fails every query: a real failure of a dependency, no mock involved.
    const dbUrl = (t.pool as unknown as { options: { connectionString: string } }).options.connectionString;
    const deadPool = createPool(dbUrl);
    await deadPool.end();
    const lines: Record<string, unknown>[] = [];
    const app = createApp({
      pool: deadPool, config: loadConfig({}), logger: createLogger({ level: 'debug', destination: captureStream(lines) }),
    });
    const res = await request(app).get('/v1/price-book').set('Authorization', `Bearer ${t.adminKey}`);
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: { code: 'InternalError', message: 'internal error', details: {} } });
    expect(JSON.stringify(res.body)).not.toMatch(/pool|pg|postgres/i);
    const logged = lines.find((l) => l.msg === 'internal error');
    expect(JSON.stringify(logged)).toMatch(/pool/i);

    const health = await request(app).get('/healthz');
    expectError(health, 503, 'ServiceUnavailable');
  });

  describe('requests Express or the body parser cannot read are the client\'s error, not a 500', () => {
    const postJson = (headers: Record<string, string>, body: string | Buffer) => {
      const req = request(t.app).post('/v1/quotes').set('Authorization', `Bearer ${t.adminKey}`).set('Idempotency-Key', 'k');
      for (const [name, value] of Object.entries(headers)) req.set(name, value);
      return req.send(body);
    };

    it('a path that is not valid percent-encoding → 400 MalformedRequest', async () => {
      const res = await get(t, '/v1/wallets/%zz');
      expectError(res, 400, 'MalformedRequest');
      expect(res.body.error.message).not.toMatch(/decode|URIError/i);
    });

    it.each([
      ['a charset other than UTF-8', { 'Content-Type': 'application/json; charset=latin1' }],
      ['an unknown Content-Encoding', { 'Content-Type': 'application/json', 'Content-Encoding': 'foo' }],
    ])('%s → 415 UnsupportedMediaType', async (_label, headers) => {
      const res = await postJson(headers, '{"feature":"image"}');
      expectError(res, 415, 'UnsupportedMediaType');
    });

    it('a body claimed gzip that is not → 400 MalformedRequest, no internals', async () => {
      const res = await postJson({ 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' }, '{"feature":"image"}');
      expectError(res, 400, 'MalformedRequest');
      expect(res.body.error.message).not.toMatch(/header check|zlib|Z_/i);
    });
  });

  it('each request is logged as one JSON line with its principal; API keys never reach the logs', async () => {
    await createWallet(t);
    const line = t.logLines.filter((l) => l.msg === 'request' && l.path === '/v1/wallets').pop();
    expect(line).toMatchObject({ level: 'info', method: 'POST', status: 201, principal: { role: 'admin' } });
    expect(JSON.stringify(t.logLines)).not.toContain(t.adminKey);
  });
});
