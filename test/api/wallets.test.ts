import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { auditClean, createKey, createWallet, expectError, get, grant, journalCount, post, setupApiTest, type ApiTest } from './helpers';

let t: ApiTest;
beforeAll(async () => {
  t = await setupApiTest();
});
afterEach(async () => auditClean(t));
afterAll(async () => t.close());

describe('POST /v1/wallets', () => {
  it('creates a wallet: 201 with the wallet and zero balance headers', async () => {
    const ownerId = `user-${randomUUID()}`;
    const res = await post(t, '/v1/wallets', { ownerType: 'user', ownerId });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/), ownerType: 'user', ownerId, status: 'active', createdAt: expect.any(String),
    });
    expect(res.headers['x-credits-balance']).toBe('0');
    expect(res.headers['x-credits-held']).toBe('0');
  });

  it('one wallet per owner: creating again (new Idempotency-Key) answers 200 with the same wallet', async () => {
    const body = { ownerType: 'organization', ownerId: `org-${randomUUID()}` };
    const first = await post(t, '/v1/wallets', body);
    const second = await post(t, '/v1/wallets', body);
    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect((second.body as { id: string }).id).toBe((first.body as { id: string }).id);
  });

  it.each([
    [{ ownerType: 'team', ownerId: 'x' }, 'ownerType'],
    [{ ownerType: 'user' }, 'ownerId'],
    [{ ownerType: 'user', ownerId: '' }, 'ownerId'],
    [{ ownerType: 'user', ownerId: 'x', extra: 1 }, 'extra'],
  ])('rejects %j naming %s', async (body, field) => {
    const res = await post(t, '/v1/wallets', body);
    expectError(res, 400, 'ValidationError');
    expect(res.body.error.details.fields.map((f: { path: string }) => f.path)).toEqual([field]);
  });
});

describe('GET /v1/wallets/:id', () => {
  it('reads a wallet with balance headers', async () => {
    const walletId = await createWallet(t);
    await grant(t, walletId, 70);
    const res = await get(t, `/v1/wallets/${walletId}`);
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(walletId);
    expect(res.headers['x-credits-balance']).toBe('70');
    expect(res.headers['x-credits-held']).toBe('0');
  });

  it.each([randomUUID(), 'not-a-uuid'])('unknown wallet %s → 404 WalletNotFound without balance headers', async (id) => {
    const res = await get(t, `/v1/wallets/${id}`);
    expectError(res, 404, 'WalletNotFound');
    expect(res.headers['x-credits-balance']).toBeUndefined();
  });
});

describe('organization members', () => {
  it('adds, lists and removes members (admin); support may list', async () => {
    const orgId = `org-${randomUUID()}`;
    const added = await post(t, `/v1/organizations/${orgId}/members`, { userId: 'u1' });
    expect(added.status).toBe(201);
    expect(added.body).toEqual({ organizationId: orgId, userId: 'u1', role: 'member', addedAt: expect.any(String) });
    expect((await post(t, `/v1/organizations/${orgId}/members`, { userId: 'u2', role: 'owner' })).status).toBe(201);

    const support = await createKey(t, 'support');
    const listed = await get(t, `/v1/organizations/${orgId}/members`, support);
    expect(listed.status).toBe(200);
    expect(listed.body.members.map((m: { userId: string; role: string }) => [m.userId, m.role])).toEqual([
      ['u1', 'member'], ['u2', 'owner'],
    ]);

    const removed = await request(t.app)
      .delete(`/v1/organizations/${orgId}/members/u1`).set('Authorization', `Bearer ${t.adminKey}`);
    expect(removed.status).toBe(200);
    expect(removed.body).toEqual({ removed: true });
    const after = await get(t, `/v1/organizations/${orgId}/members`);
    expect(after.body.members).toHaveLength(1);
  });

  it('rejects a member without userId and changes nothing', async () => {
    const before = await journalCount(t);
    const res = await post(t, `/v1/organizations/org-${randomUUID()}/members`, { role: 'owner' });
    expectError(res, 400, 'ValidationError');
    expect(res.body.error.details.fields[0].path).toBe('userId');
    expect(await journalCount(t)).toBe(before);
  });
});
