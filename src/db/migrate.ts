import path from 'node:path';
import { CONNECTION_TIMEOUT_MS } from './pool';

/** migrations/ at the repository root (this file is src/db/migrate.ts). */
export const MIGRATIONS_DIR = path.resolve(__dirname, '..', '..', 'migrations');

export interface MigrateOptions {
  /** Default: MIGRATIONS_DIR. */
  dir?: string;
  /** Default: silent. */
  log?: (msg: string) => void;
}

/**
 * Applies every pending migration (numbered SQL files with `-- Up Migration` / `-- Down Migration`)
 * in one transaction. node-pg-migrate's advisory lock makes concurrent starts safe: a second process waits
 * for the first to finish (the default would fail it), then finds nothing left to apply.
 */
export async function migrate(connectionString: string, options: MigrateOptions = {}): Promise<string[]> {
  // node-pg-migrate is ESM-only; load it on demand so that merely importing src/db stays CommonJS-friendly.
  // The package's types are only reachable through its `exports` map, which this repo's node10 module
  // resolution does not read; name them by path, load the runtime module by its package name.
  const specifier = 'node-pg-migrate';
  const { runner } = (await import(specifier)) as typeof import('node-pg-migrate/dist/bundle/index');
  const applied = await runner({
    // A server that accepts TCP but never answers fails after the timeout instead of hanging the start.
    databaseUrl: { connectionString, connectionTimeoutMillis: CONNECTION_TIMEOUT_MS },
    dir: options.dir ?? MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    checkOrder: true,
    singleTransaction: true,
    advisoryLockMode: 'wait',
    log: options.log ?? (() => undefined),
    verbose: false,
  });
  return applied.map((m) => m.name);
}
