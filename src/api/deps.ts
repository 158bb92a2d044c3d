import type { Pool } from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config';
import type { IdempotencyOptions } from './idempotency/run';

/** Everything the HTTP layer needs, passed in so tests build an app on a test database without listening. */
export interface AppDeps {
  pool: Pool;
  config: Config;
  logger: Logger;
  /** Overrides for tests (e.g. a short wait for in-progress duplicates). */
  idempotency?: Partial<IdempotencyOptions>;
}
