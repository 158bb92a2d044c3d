/**
 * Real-Postgres test harness.
 *
 * globalSetup (jest) starts ONE embedded PostgreSQL for the whole run (or adopts DATABASE_URL), migrates a
 * template database once, and publishes both through environment variables that jest workers inherit.
 * Each test file then calls createTestDatabase(): a fresh database cloned from the template
 * (CREATE DATABASE … TEMPLATE, ~tens of ms), so files run in parallel without sharing state.
 *
 *   const db = await createTestDatabase();   // { pool, connectionString, drop }
 *   afterAll(() => db.drop());
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client, type Pool } from 'pg';
import { createPool } from '../../src/db/pool';
import type { RunningDatabase } from '../../src/db/server';

const ENV_ADMIN = 'TEST_PG_ADMIN_URL';
const ENV_TEMPLATE = 'TEST_PG_TEMPLATE';

interface HarnessGlobal {
  __testPg?: { db: RunningDatabase; dataDir: string | null; template: string };
}
const g = globalThis as HarnessGlobal;

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function admin<T>(adminUrl: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** jest globalSetup: one server per run, one migrated template. */
export async function globalSetup(): Promise<void> {
  // Loaded here, not at the top: these modules pull in ESM-only packages that only the setup process needs.
  const { startDatabase } = await import('../../src/db/server');
  const { migrate } = await import('../../src/db/migrate');
  let dataDir: string | null = null;
  let db: RunningDatabase;
  if (process.env['DATABASE_URL']) {
    db = await startDatabase({ dataDir: os.tmpdir(), databaseUrl: process.env['DATABASE_URL'] });
  } else {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'credits-test-pg-'));
    // As root the server runs as the `postgres` user, which must be able to enter this folder.
    fs.chmodSync(dataDir, 0o755);
    db = await startDatabase({
      dataDir,
      port: 0,
      database: 'postgres',
      // A throwaway cluster: durability buys nothing here, speed does.
      postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
        '-c', 'max_connections=400'],
    });
  }
  const template = `credits_test_template_${process.pid}_${randomBytes(3).toString('hex')}`;
  await admin(db.adminConnectionString, (c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(template)}`));
  await migrate(withDatabase(db.adminConnectionString, template));
  process.env[ENV_ADMIN] = db.adminConnectionString;
  process.env[ENV_TEMPLATE] = template;
  g.__testPg = { db, dataDir, template };
}

/** jest globalTeardown: drop the template (external server) or stop and delete the embedded cluster. */
export async function globalTeardown(): Promise<void> {
  const h = g.__testPg;
  if (!h) return;
  if (!h.db.embedded) {
    await admin(h.db.adminConnectionString, (c) =>
      c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(h.template)} WITH (FORCE)`));
  }
  await h.db.stop();
  if (h.dataDir) fs.rmSync(h.dataDir, { recursive: true, force: true });
  g.__testPg = undefined;
}

export interface TestDatabase {
  pool: Pool;
  connectionString: string;
  /** Closes the pool and drops the database. */
  drop(): Promise<void>;
}

function harnessAdminUrl(): string {
  const adminUrl = process.env[ENV_ADMIN];
  if (!adminUrl) throw notInitialised();
  return adminUrl;
}

const notInitialised = () =>
  new Error('test database harness not initialised: run through jest (globalSetup in jest.config.js)');

const newDatabaseName = () => `credits_test_${process.pid}_${randomBytes(4).toString('hex')}`;

async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  await admin(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`));
}

/** A fresh, migrated database of its own for one test file. */
export async function createTestDatabase(options: { poolMax?: number } = {}): Promise<TestDatabase> {
  const adminUrl = harnessAdminUrl();
  const template = process.env[ENV_TEMPLATE];
  if (!template) throw notInitialised();
  const name = newDatabaseName();
  await admin(adminUrl, async (c) => {
    // Concurrent clones of one template can collide on its lock; a short retry makes that harmless.
    for (let attempt = 0; ; attempt++) {
      try {
        await c.query(`CREATE DATABASE ${c.escapeIdentifier(name)} TEMPLATE ${c.escapeIdentifier(template)}`);
        return;
      } catch (e) {
        if (attempt >= 20 || !String((e as Error).message).includes('being accessed by other users')) throw e;
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
      }
    }
  });
  const connectionString = withDatabase(adminUrl, name);
  const pool = createPool(connectionString, { max: options.poolMax ?? 10 });
  return {
    pool,
    connectionString,
    drop: async () => {
      await pool.end();
      await dropDatabase(adminUrl, name);
    },
  };
}

export interface EmptyDatabase {
  connectionString: string;
  /** Drops the database (whoever is still connected is disconnected). */
  drop(): Promise<void>;
}

/** A fresh database with nothing in it, not even the migrations, for a process the test starts on it. */
export async function createEmptyDatabase(): Promise<EmptyDatabase> {
  const adminUrl = harnessAdminUrl();
  const name = newDatabaseName();
  await admin(adminUrl, (c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`));
  return { connectionString: withDatabase(adminUrl, name), drop: () => dropDatabase(adminUrl, name) };
}
