import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/log';
import { startApi } from '../../src/api/server';
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
      expect(keys.rows[0].key_hash).not.toBe(adminKey);

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
});
