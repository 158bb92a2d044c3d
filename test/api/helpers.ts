/**
 * Shared set-up for API tests: an isolated real Postgres (the ledger's test harness), an app from createApp
 * with a seeded admin key, and small helpers for the common calls. No mocks: every request goes through the
 * real routes, the real ledger functions and the real database.
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import type { Pool } from 'pg';
import request from 'supertest';
import type { Express } from 'express';
import { createApp } from '../../src/api/app';
import type { AppDeps } from '../../src/api/deps';
import { generateApiKey, hashApiKey } from '../../src/api/auth/keys';
import { upsertSeedAdminKey } from '../../src/api/auth/store';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/log';
import { countJournal } from '../../src/ledger';
import { createTestDatabase } from '../support/db';
import { expectAuditClean } from '../support/audit';

export interface ApiTest {
  pool: Pool;
  app: Express;
  adminKey: string;
  /** JSON log lines the app wrote (level debug and up), for asserting what was logged. */
  logLines: Record<string, unknown>[];
  close(): Promise<void>;
}

export function captureStream(lines: Record<string, unknown>[]): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
}

export async function setupApiTest(overrides: Partial<AppDeps> = {}): Promise<ApiTest> {
  const db = await createTestDatabase();
  const adminKey = generateApiKey();
  await upsertSeedAdminKey(db.pool, hashApiKey(adminKey));
  const logLines: Record<string, unknown>[] = [];
  const logger = createLogger({ level: 'debug', destination: captureStream(logLines) });
  const app = createApp({ pool: db.pool, config: loadConfig({}), logger, ...overrides });
  return { pool: db.pool, app, adminKey, logLines, close: () => db.drop() };
}

export const idem = () => `test-${randomUUID()}`;

export function post(t: ApiTest, path: string, body: unknown, key = t.adminKey, idempotencyKey: string | null = idem()) {
  const req = request(t.app).post(path).set('Authorization', `Bearer ${key}`);
  if (idempotencyKey !== null) req.set('Idempotency-Key', idempotencyKey);
  return req.send(body as object);
}

export function get(t: ApiTest, path: string, key = t.adminKey) {
  return request(t.app).get(path).set('Authorization', `Bearer ${key}`);
}

export async function createWallet(t: ApiTest, ownerType: 'user' | 'organization' = 'user'): Promise<string> {
  const res = await post(t, '/v1/wallets', { ownerType, ownerId: `owner-${randomUUID()}` });
  expect(res.status).toBe(201);
  return (res.body as { id: string }).id;
}

export async function grant(t: ApiTest, walletId: string, amountCredits: number, kind = 'purchased'): Promise<string> {
  const res = await post(t, `/v1/wallets/${walletId}/grants`, { kind, amountCredits });
  expect(res.status).toBe(201);
  return (res.body as { lotId: string }).lotId;
}

export async function createKey(t: ApiTest, role: string, walletId?: string): Promise<string> {
  const res = await post(t, '/v1/api-keys', walletId ? { role, walletId } : { role });
  expect(res.status).toBe(201);
  return (res.body as { key: string }).key;
}

export const journalCount = (t: ApiTest, walletId?: string) => countJournal(t.pool, { walletId });

export const auditClean = (t: ApiTest) => expectAuditClean(t.pool);

/** The one error shape every failure must have. */
export function expectError(res: request.Response, status: number, code: string): void {
  expect(res.status).toBe(status);
  expect(res.body).toEqual({ error: { code, message: expect.any(String), details: expect.any(Object) } });
}
