import http from 'node:http';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/log';
import { startApi } from '../../src/api/server';
import { hashApiKey } from '../../src/api/auth/keys';
import { schedulePurge } from '../../src/api/idempotency/purge';
import { expectAuditClean } from '../support/audit';
import { createTestDatabase, type TestDatabase } from '../support/db';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterEach(async () => expectAuditClean(db.pool));
afterAll(async () => db.drop());

describe('startApi', () => {
  it('seeds ADMIN_API_KEY idempotently (hashed), listens, serves, and closes', async () => {
    const adminKey = 'admin-key-for-tests-0123456789abcdef';
    const config = loadConfig({ ADMIN_API_KEY: adminKey, PORT: '0' });
    const logger = createLogger({ level: 'silent' });
    const first = await startApi({ config, pool: db.pool, logger, host: '127.0.0.1' });
    await first.close();
    const api = await startApi({ config, pool: db.pool, logger, host: '127.0.0.1' });
    try {
      const keys = await db.pool.query(`SELECT role, key_hash FROM api_keys`);
      expect(keys.rows).toHaveLength(1);
      expect(keys.rows[0].role).toBe('admin');
      expect(keys.rows[0].key_hash).toBe(hashApiKey(adminKey));

      const health = await fetch(`${api.url}/healthz`);
      expect(health.status).toBe(200);
      const created = await fetch(`${api.url}/v1/wallets`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${adminKey}`, 'Idempotency-Key': 'k1', 'Content-Type': 'application/json' },
        body: JSON.stringify({ ownerType: 'user', ownerId: 'server-test' }),
      });
      expect(created.status).toBe(201);
    } finally {
      await api.close();
    }
    await expect(fetch(`${api.url}/healthz`)).rejects.toThrow();
  });

  it('a new ADMIN_API_KEY retires the one seeded before; keys made through the API stay; a retired key is not revived', async () => {
    const logger = createLogger({ level: 'silent' });
    const start = (adminKey: string) =>
      startApi({ config: loadConfig({ ADMIN_API_KEY: adminKey, PORT: '0' }), pool: db.pool, logger, host: '127.0.0.1' });
    const oldKey = 'old-admin-key-for-tests-0123456789';
    const newKey = 'new-admin-key-for-tests-0123456789';
    const status = (api: { url: string }, key: string) =>
      fetch(`${api.url}/v1/price-book`, { headers: { Authorization: `Bearer ${key}` } }).then((r) => r.status);

    let api = await start(oldKey);
    let supportKey: string;
    try {
      const created = await fetch(`${api.url}/v1/api-keys`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${oldKey}`, 'Idempotency-Key': 'k-support', 'Content-Type': 'application/json' },
        body: JSON.stringify({ role: 'support' }),
      });
      supportKey = ((await created.json()) as { key: string }).key;
    } finally {
      await api.close();
    }
    api = await start(newKey);
    try {
      expect(await status(api, newKey)).toBe(200);
      expect(await status(api, oldKey)).toBe(401);
      expect(await status(api, supportKey)).toBe(200);
    } finally {
      await api.close();
    }
    // Going back to the old value does not bring it back: it was retired (it may have leaked).
    api = await start(oldKey);
    try {
      expect(await status(api, oldKey)).toBe(401);
      expect(await status(api, newKey)).toBe(401);
    } finally {
      await api.close();
    }
  });

  it('the label seeded keys carry is reserved: the API refuses it', async () => {
    const adminKey = 'label-admin-key-for-tests-0123456789';
    const api = await startApi({
      config: loadConfig({ ADMIN_API_KEY: adminKey, PORT: '0' }), pool: db.pool, logger: createLogger({ level: 'silent' }), host: '127.0.0.1',
    });
    try {
      const res = await fetch(`${api.url}/v1/api-keys`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${adminKey}`, 'Idempotency-Key': 'k-label', 'Content-Type': 'application/json' },
        body: JSON.stringify({ role: 'admin', label: 'seed:ADMIN_API_KEY' }),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { details: { fields: { path: string }[] } } }).error.details.fields[0]!.path).toBe('label');
    } finally {
      await api.close();
    }
  });

  it('close() ends a kept-alive connection after its in-flight response instead of waiting for the client to leave', async () => {
    const adminKey = 'keepalive-admin-key-for-tests-0123456789';
    const api = await startApi({
      config: loadConfig({ ADMIN_API_KEY: adminKey, PORT: '0' }), pool: db.pool, logger: createLogger({ level: 'silent' }), host: '127.0.0.1',
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      // Headers and the first byte of the body are in when close() is called; the rest follows.
      const body = JSON.stringify({ ownerType: 'user', ownerId: 'keepalive-test' });
      let finish!: () => void;
      const inFlight = new Promise<http.IncomingMessage>((resolve, reject) => {
        const req = http.request(`${api.url}/v1/wallets`, {
          agent, method: 'POST',
          headers: {
            Authorization: `Bearer ${adminKey}`, 'Idempotency-Key': 'k-keepalive', 'Content-Type': 'application/json', 'Content-Length': body.length,
          },
        }, (res) => { res.resume(); res.on('end', () => resolve(res)); });
        req.on('error', reject);
        req.write(body.slice(0, 1));
        finish = () => req.end(body.slice(1));
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const startedAt = Date.now();
      const closed = api.close();
      finish();
      const res = await inFlight;
      expect(res.statusCode).toBe(201);
      expect(res.headers.connection).toBe('close');
      await closed;
      // Before, the connection stayed open, serving what its client sent next, until the server's keep-alive
      // timeout (5 s) after its last response.
      expect(Date.now() - startedAt).toBeLessThan(2000);
    } finally {
      agent.destroy();
    }
  });
});

describe('schedulePurge', () => {
  it('purges expired idempotency records soon after start, not only an hour later', async () => {
    const key = await db.pool.query<{ key_id: string }>(
      `INSERT INTO api_keys (key_hash, role) VALUES (encode(sha256(random()::text::bytea), 'hex'), 'support') RETURNING key_id`);
    await db.pool.query(
      `INSERT INTO http_idempotency (principal_id, idempotency_key, route, request_hash, state, response_status, completed_at, created_at)
       VALUES ($1, 'old', 'POST /x', 'h', 'completed', 200, now() - interval '48 hours', now() - interval '48 hours')`, [key.rows[0]!.key_id]);
    const stop = schedulePurge(db.pool, 24, createLogger({ level: 'silent' }), 50);
    try {
      for (let i = 0; i < 50; i++) {
        const left = await db.pool.query(`SELECT 1 FROM http_idempotency WHERE idempotency_key = 'old'`);
        if (left.rowCount === 0) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error('the expired record was not purged within 5 s');
    } finally {
      stop();
    }
  });
});
