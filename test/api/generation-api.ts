/**
 * Set-up shared by the API tests of the generation routes: an isolated Postgres, a real worker on the
 * project's Temporal server, an app wired to both with a seeded admin key, a service key, and the ledger
 * audit after every test.
 */
import { randomUUID } from 'node:crypto';
import { createApp } from '../../src/api/app';
import { generateApiKey, hashApiKey } from '../../src/api/auth/keys';
import { upsertSeedAdminKey } from '../../src/api/auth/store';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/log';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { expectAuditClean } from '../support/audit';
import { startWorkflowHarness, type WorkflowHarness } from '../support/workflow-harness';
import { createKey, type ApiTest } from './helpers';

export interface GenerationApi {
  t: ApiTest;
  harness: WorkflowHarness;
  serviceKey: string;
}

/** Registers the jest hooks; the returned object is filled in by beforeAll. */
export function useGenerationApi(): GenerationApi {
  const api = {} as GenerationApi;
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
    api.harness = await startWorkflowHarness({ pool: db.pool });
    const adminKey = generateApiKey();
    await upsertSeedAdminKey(db.pool, hashApiKey(adminKey));
    const app = createApp({
      pool: db.pool, config: loadConfig({}), logger: createLogger({ level: 'silent' }),
      generations: { client: api.harness.env.client, taskQueue: api.harness.taskQueue },
    });
    api.t = { pool: db.pool, app, adminKey, logLines: [], close: async () => undefined };
    api.serviceKey = await createKey(api.t, 'service');
  });
  afterAll(async () => {
    await api.harness?.teardown();
    await db?.drop();
  });
  afterEach(async () => {
    if (db) await expectAuditClean(db.pool);
  });
  return api;
}

/** An output that passes validation for an image generation. */
export const goodImage = { url: 'https://cdn.example/a.png', sizeBytes: 2048, contentType: 'image/png' };

/** A start request for a 2K image on the web, under a fresh generation id. */
export function startBody(walletId: string, overrides: Record<string, unknown> = {}) {
  return { generationId: `gen-${randomUUID()}`, walletId, userId: 'user-1', feature: 'image', params: { resolution: '2K' }, platform: 'web', context: 'editor', ...overrides };
}
