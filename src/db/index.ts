/**
 * The database foundation: start PostgreSQL (embedded by default, or any server via DATABASE_URL),
 * connect, and apply the numbered SQL migrations in /migrations with node-pg-migrate.
 */
export { startDatabase, findFreePort, type StartDatabaseOptions, type RunningDatabase } from './server';
export { createPool, describeDatabaseUrl, withTransaction, CONNECTION_TIMEOUT_MS, type CreatePoolOptions } from './pool';
export { migrate, MIGRATIONS_DIR, type MigrateOptions } from './migrate';
