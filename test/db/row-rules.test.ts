/** The generations and HTTP idempotency tables refuse rows that break their rules, whoever writes them. */
import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../support/db';

let db: TestDatabase;
beforeAll(async () => { db = await createTestDatabase(); });
afterAll(async () => { await db.drop(); });

const generation = (overrides: Record<string, string>) => {
  const row: Record<string, string> = {
    generation_id: `'g-${randomUUID()}'`, wallet_id: `'${randomUUID()}'`, user_id: "'u'", feature: "'image'", params: "'{}'",
    platform: "'web'", status: "'reserved'", price_book_version: "'v'", cost_credits: '10', quote: "'{}'",
    hold_id: `'${randomUUID()}'`, settled_at: 'NULL', ...overrides,
  };
  return db.pool.query(`INSERT INTO generations (${Object.keys(row).join(', ')}) VALUES (${Object.values(row).join(', ')})`);
};

test('generations: a valid row is accepted, each broken rule refused', async () => {
  await generation({});
  await generation({ status: "'rejected'", hold_id: 'NULL' });
  await generation({ status: "'captured'", settled_at: 'now()' });
  const brokenRows: Array<Record<string, string>> = [
    { generation_id: "''" }, { generation_id: `'${'x'.repeat(201)}'` }, { platform: "'desktop'" }, { status: "'lost'" },
    { cost_credits: '0' }, { hold_id: 'NULL' }, { status: "'rejected'" }, { settled_at: 'now()' }, { status: "'captured'" },
  ];
  for (const broken of brokenRows) {
    await expect(generation(broken)).rejects.toThrow(/violates check constraint "generations_/);
  }
});

test('http_idempotency: a valid row is accepted, each broken rule refused', async () => {
  const key = await db.pool.query<{ key_id: string }>(
    `INSERT INTO api_keys (key_hash, role) VALUES (encode(sha256(random()::text::bytea), 'hex'), 'support') RETURNING key_id`);
  const principal = key.rows[0]!.key_id;
  const record = (values: string) => db.pool.query(
    `INSERT INTO http_idempotency (principal_id, idempotency_key, route, request_hash, state, response_status, completed_at)
     VALUES ('${principal}', ${values})`);
  await record(`'k1', 'POST /x', 'h', 'in_progress', NULL, NULL`);
  await record(`'k2', 'POST /x', 'h', 'completed', 200, now()`);
  for (const broken of [
    `'', 'POST /x', 'h', 'in_progress', NULL, NULL`, `'${'k'.repeat(129)}', 'POST /x', 'h', 'in_progress', NULL, NULL`,
    `'k', 'POST /x', 'h', 'done', 200, now()`, `'k', 'POST /x', 'h', 'completed', NULL, now()`,
    `'k', 'POST /x', 'h', 'in_progress', 200, now()`,
  ]) {
    await expect(record(broken)).rejects.toThrow(/violates check constraint "http_idempotency_/);
  }
});
