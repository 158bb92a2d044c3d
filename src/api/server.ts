/** startApi: seed the admin key, listen, and return the URL and a close() that drains connections. */
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config';
import type { AppDeps } from './deps';
import { createApp } from './app';
import { hashApiKey } from './auth/keys';
import { upsertSeedAdminKey } from './auth/store';
import { schedulePurge } from './idempotency/purge';

export interface StartApiOptions {
  config: Config;
  pool: Pool;
  logger: Logger;
  priceBook?: AppDeps['priceBook'];
  generations?: AppDeps['generations'];
  /** Overrides config.port (0 = any free port, for tests). */
  port?: number;
  host?: string;
}

export interface RunningApi {
  url: string;
  close(): Promise<void>;
}

export async function startApi(options: StartApiOptions): Promise<RunningApi> {
  const { config, pool, logger } = options;
  if (config.adminApiKey) {
    const seeded = await upsertSeedAdminKey(pool, hashApiKey(config.adminApiKey));
    if (seeded.retiredCount > 0) logger.info({ retired: seeded.retiredCount }, 'admin API key(s) seeded from an earlier ADMIN_API_KEY revoked');
    if (seeded.active) logger.info('admin API key from ADMIN_API_KEY is active');
    else logger.warn('ADMIN_API_KEY names a revoked key: it will not work; set a new value');
  }
  const app = createApp({
    pool, config, logger: logger.child({ module: 'api' }), priceBook: options.priceBook, generations: options.generations,
  });
  const port = options.port ?? config.port;
  const host = options.host ?? '0.0.0.0';
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(port, host, (error?: Error) => (error ? reject(error) : resolve(s)));
  });
  const stopKeepingAlive = closeConnectionsWhenClosing(server);
  const address = server.address() as AddressInfo;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`;
  logger.info({ url }, 'API listening');
  const stopPurge = schedulePurge(pool, config.api.idempotencyRetentionHours, logger);
  return {
    url,
    close: () =>
      new Promise<void>((resolve, reject) => {
        stopPurge();
        stopKeepingAlive();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
      }),
  };
}

/**
 * server.close() stops accepting connections and closes the idle ones, but a kept-alive connection whose
 * request is in flight stayed open after its response: it served further requests its client sent on it after
 * the stop began, and held the stop for the keep-alive timeout (5 s) after the last one — so a client that
 * keeps its connection busy (a gateway pooling connections) held it until main.ts's 30 s deadline. Once closing,
 * every response not yet started says `Connection: close`, so Node ends its connection after it. Returns the
 * function that starts closing.
 */
function closeConnectionsWhenClosing(server: Server): () => void {
  const unanswered = new Set<ServerResponse>();
  let closing = false;
  const sayClose = (res: ServerResponse) => {
    if (!res.headersSent) res.setHeader('Connection', 'close');
  };
  server.prependListener('request', (_req, res: ServerResponse) => {
    if (closing) return sayClose(res);
    unanswered.add(res);
    res.once('close', () => unanswered.delete(res));
  });
  return () => {
    closing = true;
    for (const res of unanswered) sayClose(res);
    unanswered.clear();
  };
}
