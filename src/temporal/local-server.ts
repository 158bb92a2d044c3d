/**
 * A Temporal server for `npm start` when no TEMPORAL_ADDRESS is given: the official dev server where the SDK
 * can obtain it (it downloads the Temporal CLI), and otherwise the project's own Temporal-compatible server
 * (packages/temporal-lite), in process. Production runs against a real cluster via TEMPORAL_ADDRESS.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { startServer } from 'temporal-lite';

export interface LocalTemporal {
  address: string;
  kind: 'official dev server' | 'temporal-lite';
  stop(): Promise<void>;
}

export interface StartLocalTemporalInput {
  namespace: string;
  /** 0 picks a free port. */
  port: number;
  onFallback?: (reason: string) => void;
}

export async function startLocalTemporal(input: StartLocalTemporalInput): Promise<LocalTemporal> {
  try {
    const env = await TestWorkflowEnvironment.createLocal({
      server: { namespace: input.namespace, ...(input.port ? { port: input.port } : {}) },
    });
    return { address: env.address, kind: 'official dev server', stop: () => env.teardown() };
  } catch (err) {
    input.onFallback?.(err instanceof Error ? err.message.split('\n')[0]! : String(err));
  }
  const server = await startServer({ port: input.port, namespace: input.namespace });
  return { address: server.address, kind: 'temporal-lite', stop: () => server.stop() };
}
