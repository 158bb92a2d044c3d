import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config';
import type { PriceBook } from '../pricing';
import type { ApiKeyCache } from './auth/key-cache';
import type { IdempotencyOptions } from './idempotency/run';

/** Everything the HTTP layer needs, passed in so tests build an app on a test database without listening. */
export interface AppDeps {
  pool: Pool;
  config: Config;
  logger: Logger;
  /** Prices for quotes and generations; default: the default price book. */
  priceBook?: PriceBook;
  /** The Temporal client for generation routes; without it they answer 503 ServiceUnavailable. */
  generations?: { client: Client; taskQueue: string };
  /** Overrides for tests (e.g. a short wait for in-progress duplicates). */
  idempotency?: Partial<IdempotencyOptions>;
  /** Verified keys (createApp makes one from config.api.keyCacheSeconds when none is given). */
  keyCache?: ApiKeyCache;
}
