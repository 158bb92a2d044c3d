/**
 * The shared set-up of the generation test files: an isolated database, a time-skipping Temporal environment
 * with our worker, the generation service deps, an audit after every test, and a funded-wallet helper.
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import type { GenerationServiceDeps } from '../../src/generations/service';
import { createWallet, grantLot } from '../../src/ledger';
import { expectAuditClean } from './audit';
import { createTestDatabase, type TestDatabase } from './db';
import { startWorkflowHarness, type WorkflowHarness } from './workflow-harness';

export interface GenerationSuite {
  pool: Pool;
  harness: WorkflowHarness;
  deps: GenerationServiceDeps;
  /** A new user wallet holding `credits` purchased credits. */
  fundedWallet(credits: number): Promise<string>;
}

/** Registers the jest hooks; the returned object is filled in `beforeAll`, so read it inside tests only. */
export function useGenerationSuite(): GenerationSuite {
  let db: TestDatabase | undefined;
  const suite = { fundedWallet } as GenerationSuite;

  async function fundedWallet(credits: number): Promise<string> {
    const { wallet } = await createWallet(suite.pool, { ownerType: 'user', ownerId: `user-${randomUUID()}` });
    await grantLot(suite.pool, { walletId: wallet.walletId, kind: 'purchased', amountCredits: credits, idempotencyKey: randomUUID() });
    return wallet.walletId;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    suite.pool = db.pool;
    suite.harness = await startWorkflowHarness({ pool: db.pool });
    suite.deps = { client: suite.harness.env.client, pool: db.pool, taskQueue: suite.harness.taskQueue };
  });
  afterAll(async () => {
    await suite.harness?.teardown();
    await db?.drop();
  });
  afterEach(async () => {
    await expectAuditClean(suite.pool);
  });
  return suite;
}
