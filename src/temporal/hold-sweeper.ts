import type { Client } from '@temporalio/client';
import { holdSweeper, holdSweeperWorkflowId } from '../workflows/hold-sweeper';

/**
 * Starts the hold sweeper with this interval, replacing a running one. A running sweeper keeps its input
 * across continue-as-new, so joining it (USE_EXISTING) would ignore a changed HOLD_SWEEP_INTERVAL_SECONDS on
 * a persistent Temporal; terminating it is safe: a sweep is idempotent (key `hold-expiry:<holdId>`).
 */
export async function startHoldSweeper(client: Client, input: { taskQueue: string; intervalSeconds: number }): Promise<void> {
  await client.workflow.start(holdSweeper, {
    workflowId: holdSweeperWorkflowId, taskQueue: input.taskQueue, args: [{ intervalMs: input.intervalSeconds * 1000 }],
    workflowIdConflictPolicy: 'TERMINATE_EXISTING',
  });
}
