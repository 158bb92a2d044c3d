import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { createApp } from '../../src/api/app';
import { hashRequestBody } from '../../src/api/idempotency/run';
import { purgeCompletedBefore } from '../../src/api/idempotency/store';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/log';
import { auditClean, createKey, createWallet, expectError, get, journalCount, post, setupApiTest, type ApiTest } from './helpers';

let t: ApiTest;
beforeAll(async () => {
  t = await setupApiTest();
});
afterEach(async () => auditClean(t));
afterAll(async () => t.close());

describe('Idempotency-Key', () => {
  it('is required on every POST: 400 IdempotencyKeyMissing, nothing written', async () => {
    const walletId = await createWallet(t);
    const res = await post(t, `/v1/wallets/${walletId}/grants`, { kind: 'purchased', amountCredits: 5 }, t.adminKey, null);
    expectError(res, 400, 'IdempotencyKeyMissing');
    expect(await journalCount(t, walletId)).toBe(0);
    expectError(await post(t, '/v1/quotes', { feature: 'training' }, t.adminKey, null), 400, 'IdempotencyKeyMissing');
  });

  it('a malformed key is a 400 naming the header', async () => {
    const res = await post(t, '/v1/quotes', { feature: 'training' }, t.adminKey, 'x'.repeat(129));
    expectError(res, 400, 'ValidationError');
    expect(res.body.error.details.fields[0].path).toBe('header.Idempotency-Key');
  });

  it('same key + same body replays the first response; one journal effect', async () => {
    const walletId = await createWallet(t);
    const key = randomUUID();
    const body = { kind: 'purchased', amountCredits: 30 };
    const first = await post(t, `/v1/wallets/${walletId}/grants`, body, t.adminKey, key);
    // Key order must not matter for "same body".
    const second = await post(t, `/v1/wallets/${walletId}/grants`, { amountCredits: 30, kind: 'purchased' }, t.adminKey, key);
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body).toEqual(first.body);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.headers['x-credits-balance']).toBe('30');
    expect(await journalCount(t, walletId)).toBe(1);
    expect((await get(t, `/v1/wallets/${walletId}/balance`)).body.availableCredits).toBe(30);
  });

  it('same key + different body → 409 IdempotencyConflict, nothing more written', async () => {
    const walletId = await createWallet(t);
    const key = randomUUID();
    await post(t, `/v1/wallets/${walletId}/grants`, { kind: 'purchased', amountCredits: 30 }, t.adminKey, key);
    const res = await post(t, `/v1/wallets/${walletId}/grants`, { kind: 'purchased', amountCredits: 31 }, t.adminKey, key);
    expectError(res, 409, 'IdempotencyConflict');
    expect(await journalCount(t, walletId)).toBe(1);
  });

  it('same key on another route → 409 IdempotencyConflict', async () => {
    const a = await createWallet(t);
    const b = await createWallet(t);
    const key = randomUUID();
    const body = { kind: 'purchased', amountCredits: 30 };
    expect((await post(t, `/v1/wallets/${a}/grants`, body, t.adminKey, key)).status).toBe(201);
    expectError(await post(t, `/v1/wallets/${b}/grants`, body, t.adminKey, key), 409, 'IdempotencyConflict');
    expect(await journalCount(t, b)).toBe(0);
  });

  it('the same route written another way (capitals, a trailing slash, the id in capitals) replays', async () => {
    const walletId = await createWallet(t);
    const key = randomUUID();
    const body = { kind: 'purchased', amountCredits: 30 };
    const first = await post(t, `/v1/wallets/${walletId}/grants`, body, t.adminKey, key);
    expect(first.status).toBe(201);
    for (const path of [`/V1/WALLETS/${walletId}/GRANTS`, `/v1/wallets/${walletId}/grants/`, `/v1/wallets/${walletId.toUpperCase()}/grants`]) {
      const again = await post(t, path, body, t.adminKey, key);
      expect(again.status).toBe(201);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.body).toEqual(first.body);
    }
    expect(await journalCount(t, walletId)).toBe(1);
  });

  it('the record names the route by its template and parameters', async () => {
    const walletId = await createWallet(t);
    const key = randomUUID();
    await post(t, `/V1/Wallets/${walletId.toUpperCase()}/grants/`, { kind: 'purchased', amountCredits: 1 }, t.adminKey, key);
    const row = await t.pool.query('SELECT route FROM http_idempotency WHERE idempotency_key = $1', [key]);
    expect(row.rows[0].route).toBe(`POST /v1/wallets/${walletId}/grants`);
  });

  it('keys are scoped per API key: another principal with the same key executes on its own', async () => {
    const key = randomUUID();
    const otherAdmin = await createKey(t, 'admin');
    const first = await post(t, '/v1/wallets', { ownerType: 'user', ownerId: `u-${randomUUID()}` }, t.adminKey, key);
    const second = await post(t, '/v1/wallets', { ownerType: 'user', ownerId: `u-${randomUUID()}` }, otherAdmin, key);
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body.id).not.toBe(first.body.id);
  });

  it('concurrent duplicates execute once and all get the same answer', async () => {
    const walletId = await createWallet(t);
    const key = randomUUID();
    const body = { kind: 'bulk', amountCredits: 500, bulkPackages: 2 };
    const responses = await Promise.all(
      Array.from({ length: 6 }, () => post(t, `/v1/wallets/${walletId}/grants`, body, t.adminKey, key)),
    );
    const lotIds = new Set(responses.map((r) => (r.body as { lotId: string }).lotId));
    expect(responses.map((r) => r.status)).toEqual(Array(6).fill(201));
    expect(lotIds.size).toBe(1);
    expect(responses.filter((r) => r.headers['idempotent-replayed'] !== 'true')).toHaveLength(1);
    expect(await journalCount(t, walletId)).toBe(1);
    expect((await get(t, `/v1/wallets/${walletId}/balance`)).body.availableCredits).toBe(500);
  });

  it('a refusal is recorded and replayed too (same 404 for the same request)', async () => {
    const key = randomUUID();
    const body = { kind: 'purchased', amountCredits: 5 };
    const path = `/v1/wallets/${randomUUID()}/grants`;
    const first = await post(t, path, body, t.adminKey, key);
    const again = await post(t, path, body, t.adminKey, key);
    expectError(first, 404, 'WalletNotFound');
    expect(again.status).toBe(404);
    expect(again.body).toEqual(first.body);
    expect(again.headers['idempotent-replayed']).toBe('true');
  });

  it('a replayed API-key creation does not reveal the key again (stored hashed only)', async () => {
    const key = randomUUID();
    const first = await post(t, '/v1/api-keys', { role: 'support' }, t.adminKey, key);
    const again = await post(t, '/v1/api-keys', { role: 'support' }, t.adminKey, key);
    expect(first.body.key).toMatch(/^ck_/);
    expect(again.status).toBe(201);
    expect(again.body).toEqual({ ...first.body, key: null });
    const stored = await t.pool.query(`SELECT response_body::text AS body FROM http_idempotency WHERE idempotency_key = $1`, [key]);
    expect(stored.rows[0].body).not.toContain(first.body.key);
  });

  it('the ledger receives a derived idempotency key', async () => {
    const walletId = await createWallet(t);
    const key = randomUUID();
    await post(t, `/v1/wallets/${walletId}/grants`, { kind: 'purchased', amountCredits: 3 }, t.adminKey, key);
    const rows = await t.pool.query<{ idempotency_key: string }>(
      `SELECT idempotency_key FROM ledger_journal WHERE wallet_id = $1::uuid`, [walletId],
    );
    expect(rows.rows).toHaveLength(1);
    expect(rows.rows[0]!.idempotency_key).toMatch(new RegExp(`^http:[0-9a-f-]{36}:${key}$`));
  });
});

describe('in-progress claims', () => {
  const claim = async (idempotencyKey: string, route: string, body: unknown, lockedAgoMs: number) => {
    const principal = await t.pool.query<{ key_id: string }>(`SELECT key_id::text FROM api_keys WHERE label = 'seed:ADMIN_API_KEY'`);
    await t.pool.query(
      `INSERT INTO http_idempotency (principal_id, idempotency_key, route, request_hash, state, locked_at)
       VALUES ($1::uuid, $2, $3, $4, 'in_progress', clock_timestamp() - make_interval(secs => $5::float8 / 1000))`,
      [principal.rows[0]!.key_id, idempotencyKey, route, hashRequestBody(body), lockedAgoMs],
    );
  };

  it('a duplicate of a request still running waits, then answers 409 IdempotencyInProgress and executes nothing', async () => {
    const app = createApp({
      pool: t.pool, config: loadConfig({}), logger: createLogger({ level: 'silent' }),
      idempotency: { waitForInProgressMs: 100 },
    });
    const walletId = await createWallet(t);
    const key = randomUUID();
    const body = { kind: 'purchased', amountCredits: 9 };
    await claim(key, `POST /v1/wallets/${walletId}/grants`, body, 0);
    const res = await request(app).post(`/v1/wallets/${walletId}/grants`)
      .set('Authorization', `Bearer ${t.adminKey}`).set('Idempotency-Key', key).send(body);
    expectError(res, 409, 'IdempotencyInProgress');
    expect(await journalCount(t, walletId)).toBe(0);
  });

  it('a claim left behind by a crashed request is taken over after the stale-lock timeout', async () => {
    const walletId = await createWallet(t);
    const key = randomUUID();
    const body = { kind: 'purchased', amountCredits: 9 };
    await claim(key, `POST /v1/wallets/${walletId}/grants`, body, 10 * 60_000);
    const res = await post(t, `/v1/wallets/${walletId}/grants`, body, t.adminKey, key);
    expect(res.status).toBe(201);
    expect(await journalCount(t, walletId)).toBe(1);
  });
});

describe('retention', () => {
  it('purges completed records older than the cutoff, keeps newer ones', async () => {
    const key = randomUUID();
    await post(t, '/v1/quotes', { feature: 'training' }, t.adminKey, key);
    expect(await purgeCompletedBefore(t.pool, new Date(Date.now() - 3_600_000))).toBe(0);
    expect(await purgeCompletedBefore(t.pool, new Date(Date.now() + 1_000))).toBeGreaterThan(0);
    const left = await t.pool.query(`SELECT 1 FROM http_idempotency WHERE idempotency_key = $1`, [key]);
    expect(left.rowCount).toBe(0);
  });
});
