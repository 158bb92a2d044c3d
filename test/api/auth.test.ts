import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { Pool } from 'pg';
import { authenticate } from '../../src/api/auth/authenticate';
import { ApiKeyCache } from '../../src/api/auth/key-cache';
import { hashApiKey } from '../../src/api/auth/keys';
import { auditClean, createKey, createWallet, expectError, get, grant, journalCount, post, setupApiTest, type ApiTest } from './helpers';

let t: ApiTest;
beforeAll(async () => {
  t = await setupApiTest();
});
afterEach(async () => auditClean(t));
afterAll(async () => t.close());

describe('authentication', () => {
  it('no Authorization header → 401 Unauthorized', async () => {
    expectError(await request(t.app).get('/v1/price-book'), 401, 'Unauthorized');
  });

  it.each(['Bearer ck_not-a-real-key', 'Basic abc', 'Bearer', 'Token abc'])(
    'bad header %p → 401',
    async (header) => {
      const res = await request(t.app).get('/v1/price-book').set('Authorization', header);
      expectError(res, 401, 'Unauthorized');
    },
  );

  it('a revoked key → 401 (DELETE /v1/api-keys/:id, idempotent)', async () => {
    const created = await post(t, '/v1/api-keys', { role: 'support' });
    const key = created.body.key as string;
    expect((await get(t, '/v1/price-book', key)).status).toBe(200);
    const revoke = () => request(t.app).delete(`/v1/api-keys/${created.body.id}`).set('Authorization', `Bearer ${t.adminKey}`);
    const first = await revoke();
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ id: created.body.id, revokedAt: expect.any(String) });
    expect((await revoke()).body).toEqual(first.body);
    expectError(await get(t, '/v1/price-book', key), 401, 'Unauthorized');
  });

  it('a key revoked by another API process stops working once its cached verification expires', async () => {
    let nowMs = 1_000_000;
    const cached = await setupApiTest({ keyCache: new ApiKeyCache(10_000, 100, () => nowMs) });
    try {
      const created = await post(cached, '/v1/api-keys', { role: 'support' });
      const key = created.body.key as string;
      expect((await get(cached, '/v1/price-book', key)).status).toBe(200); // verified and remembered
      // Revoked behind this process's back (as another API process would): the database says no at once...
      await cached.pool.query('UPDATE api_keys SET revoked_at = now() WHERE key_id = $1::uuid', [created.body.id]);
      expect((await get(cached, '/v1/price-book', key)).status).toBe(200); // ...this process trusts it for the TTL
      nowMs += 10_000;
      expectError(await get(cached, '/v1/price-book', key), 401, 'Unauthorized');
      // An unknown key is never remembered: a key created after a failed attempt works at once.
      expectError(await get(cached, '/v1/price-book', 'ck_unknown'), 401, 'Unauthorized');
    } finally {
      await cached.close();
    }
  });

  it('a lookup that read the key as active before a revocation in this process does not cache it', async () => {
    const cache = new ApiKeyCache(60_000);
    const keyId = randomUUID();
    // A database whose answer arrives when the test says: the read saw the key still active.
    let answer!: () => void;
    const lookupDone = new Promise<void>((resolve) => {
      answer = resolve;
    });
    const pool = {
      query: async () => {
        await lookupDone;
        return { rows: [{ key_id: keyId, role: 'support', wallet_id: null }] };
      },
    } as unknown as Pool;
    const inFlight = authenticate(pool, 'Bearer ck_racing', cache);
    cache.forgetKeyId(keyId); // DELETE /v1/api-keys/:id completes meanwhile
    answer();
    // The request that started before the revocation goes through; the next one must read the database again.
    expect(await inFlight).toEqual({ keyId, role: 'support', walletId: null });
    expect(cache.get(hashApiKey('ck_racing'))).toBeUndefined();
    // A lookup that starts after the revocation is remembered as usual.
    await authenticate(pool, 'Bearer ck_racing', cache);
    expect(cache.get(hashApiKey('ck_racing'))).toEqual({ keyId, role: 'support', walletId: null });
  });

  it('a key cannot revoke itself, whatever the case of its id', async () => {
    const created = await post(t, '/v1/api-keys', { role: 'admin' });
    const key = created.body.key as string;
    const id = created.body.id as string;
    const res = await request(t.app).delete(`/v1/api-keys/${id.toUpperCase()}`).set('Authorization', `Bearer ${key}`);
    expectError(res, 403, 'Forbidden');
    expect((await get(t, '/v1/price-book', key)).status).toBe(200);
    // Revoked by another admin key with the id in capitals: the answer names it as stored.
    const revoked = await request(t.app).delete(`/v1/api-keys/${id.toUpperCase()}`).set('Authorization', `Bearer ${t.adminKey}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.id).toBe(id);
    expectError(await get(t, '/v1/price-book', key), 401, 'Unauthorized');
  });

  it('revoking an unknown key → 404; a support key may not revoke', async () => {
    const unknown = await request(t.app).delete(`/v1/api-keys/${randomUUID()}`).set('Authorization', `Bearer ${t.adminKey}`);
    expectError(unknown, 404, 'NotFound');
    const support = await createKey(t, 'support');
    const res = await request(t.app).delete(`/v1/api-keys/${randomUUID()}`).set('Authorization', `Bearer ${support}`);
    expectError(res, 403, 'Forbidden');
  });

  it('401 on a POST writes nothing and needs no Idempotency-Key', async () => {
    const walletId = await createWallet(t);
    const res = await request(t.app).post(`/v1/wallets/${walletId}/grants`).send({ kind: 'purchased', amountCredits: 5 });
    expectError(res, 401, 'Unauthorized');
    expect(await journalCount(t, walletId)).toBe(0);
  });

  it('keys are stored hashed, never in plaintext', async () => {
    const key = await createKey(t, 'service');
    const rows = await t.pool.query<{ key_hash: string }>(`SELECT key_hash FROM api_keys`);
    expect(rows.rows.some((r) => r.key_hash === key)).toBe(false);
    expect(rows.rows.map((r) => r.key_hash)).toContain(hashApiKey(key));
    expect(rows.rows.every((r) => /^[0-9a-f]{64}$/.test(r.key_hash))).toBe(true);
  });
});

describe('roles', () => {
  it.each(['support', 'service'])('%s may not grant credits → 403 Forbidden, journal unchanged', async (role) => {
    const walletId = await createWallet(t);
    const key = await createKey(t, role);
    const res = await post(t, `/v1/wallets/${walletId}/grants`, { kind: 'purchased', amountCredits: 5 }, key);
    expectError(res, 403, 'Forbidden');
    expect(await journalCount(t, walletId)).toBe(0);
  });

  it('a wallet key may not create wallets, keys or read the audit', async () => {
    const walletId = await createWallet(t);
    const key = await createKey(t, 'wallet', walletId);
    expectError(await post(t, '/v1/wallets', { ownerType: 'user', ownerId: 'x' }, key), 403, 'Forbidden');
    expectError(await post(t, '/v1/api-keys', { role: 'admin' }, key), 403, 'Forbidden');
    expectError(await get(t, '/v1/audit', key), 403, 'Forbidden');
  });

  it('service and support keys can read balances', async () => {
    const walletId = await createWallet(t);
    await grant(t, walletId, 12);
    for (const role of ['service', 'support']) {
      const res = await get(t, `/v1/wallets/${walletId}/balance`, await createKey(t, role));
      expect(res.status).toBe(200);
      expect(res.body.availableCredits).toBe(12);
    }
  });
});

describe('wallet-scoped keys', () => {
  it('see their own wallet', async () => {
    const walletId = await createWallet(t);
    await grant(t, walletId, 40);
    const key = await createKey(t, 'wallet', walletId);
    const res = await get(t, `/v1/wallets/${walletId}/balance`, key);
    expect(res.status).toBe(200);
    expect(res.body.availableCredits).toBe(40);
    expect((await get(t, `/v1/wallets/${walletId}/journal`, key)).status).toBe(200);
  });

  it.each(['balance', 'journal', 'generations', ''])('see their own wallet also when its id is written in capitals (%s)', async (suffix) => {
    const walletId = await createWallet(t);
    await grant(t, walletId, 40);
    const key = await createKey(t, 'wallet', walletId);
    const res = await get(t, `/v1/wallets/${walletId.toUpperCase()}${suffix ? `/${suffix}` : ''}`, key);
    expect(res.status).toBe(200);
    expect(res.headers['x-credits-balance']).toBe('40');
    if (suffix === 'balance') expect(res.body.walletId).toBe(walletId);
    if (suffix === '') expect(res.body.id).toBe(walletId);
  });

  it('a wallet key created with the wallet id in capitals is bound to that wallet', async () => {
    const walletId = await createWallet(t);
    const res = await post(t, '/v1/api-keys', { role: 'wallet', walletId: walletId.toUpperCase() });
    expect(res.status).toBe(201);
    expect(res.body.walletId).toBe(walletId);
    expect((await get(t, `/v1/wallets/${walletId}/balance`, res.body.key)).status).toBe(200);
  });

  it.each(['balance', 'journal', ''])('another wallet answers exactly like a missing one (%s)', async (suffix) => {
    const own = await createWallet(t);
    const other = await createWallet(t);
    await grant(t, other, 99);
    const key = await createKey(t, 'wallet', own);
    const path = (id: string) => `/v1/wallets/${id}${suffix ? `/${suffix}` : ''}`;
    const forOther = await get(t, path(other), key);
    const forMissing = await get(t, path(randomUUID()), key);
    const adminMissing = await get(t, path(randomUUID()));
    expectError(forOther, 404, 'WalletNotFound');
    expect(forOther.body).toEqual(forMissing.body);
    expect(forOther.body).toEqual(adminMissing.body);
    expect(forOther.headers['x-credits-balance']).toBeUndefined();
    expect(forOther.headers['x-credits-held']).toBeUndefined();
  });

  it('creating a wallet key requires walletId, and only for role wallet', async () => {
    const missing = await post(t, '/v1/api-keys', { role: 'wallet' });
    expectError(missing, 400, 'ValidationError');
    expect(missing.body.error.details.fields[0].path).toBe('walletId');
    const extra = await post(t, '/v1/api-keys', { role: 'service', walletId: randomUUID() });
    expectError(extra, 400, 'ValidationError');
    expectError(await post(t, '/v1/api-keys', { role: 'wallet', walletId: randomUUID() }), 404, 'WalletNotFound');
  });

  it('POST /v1/api-keys returns the key once with its role and wallet', async () => {
    const walletId = await createWallet(t);
    const res = await post(t, '/v1/api-keys', { role: 'wallet', walletId, label: 'mobile app' });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String), key: expect.stringMatching(/^ck_/), role: 'wallet', walletId, label: 'mobile app',
      createdAt: expect.any(String),
    });
  });
});
