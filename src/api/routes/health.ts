/** Liveness + readiness in one: 200 only when the database answers. Public, for load balancers. */
import { z } from 'zod';
import { ApiError } from '../errors';
import { defineRoute } from '../route';

export const HealthResponse = z.object({ status: z.literal('ok'), database: z.literal('ok') }).meta({ id: 'Health' });

export const healthRoute = defineRoute({
  method: 'get',
  path: '/healthz',
  summary: 'Health check (checks the database)',
  tag: 'operations',
  access: 'public',
  successStatus: 200,
  response: HealthResponse,
  errorStatuses: [503],
  async handler({ deps, logger }) {
    try {
      await deps.pool.query('SELECT 1');
    } catch (error) {
      logger.warn({ err: error }, 'health check: database unreachable');
      throw new ApiError('ServiceUnavailable', 'database unreachable');
    }
    return { status: 'ok' as const, database: 'ok' as const };
  },
});
