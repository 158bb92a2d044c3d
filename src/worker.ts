/**
 * The Temporal worker: registers every workflow and activity on one task queue, with configurable
 * concurrency, and shuts down gracefully (in-flight activities finish, workflow tasks are handed back).
 */
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { Pool } from 'pg';
import { createActivities } from './activities';
import type { PriceBook } from './pricing';
import type { SettlementPolicy } from './policy/settlement';

export interface CreateWorkerInput {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  pool: Pool;
  priceBook: PriceBook;
  settlementPolicy: SettlementPolicy;
  maxDeadlineFactor: number;
  holdExpiryGraceMs: number;
  /** Validity of refund lots for released credits whose lot expired meanwhile (REFUND_LOT_VALIDITY_DAYS). */
  refundLotValidityDays: number;
  maxConcurrentActivityTaskExecutions?: number;
  maxConcurrentWorkflowTaskExecutions?: number;
  maxConcurrentLocalActivityExecutions?: number;
  /** A prebuilt bundle (tests build it once per run); otherwise the workflows are bundled from source. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  shutdownGraceTime?: WorkerOptions['shutdownGraceTime'];
}

export const workflowsPath = require.resolve('./workflows');

export async function createWorker(input: CreateWorkerInput): Promise<Worker> {
  return await Worker.create({
    connection: input.connection,
    namespace: input.namespace,
    taskQueue: input.taskQueue,
    ...(input.workflowBundle ? { workflowBundle: input.workflowBundle } : { workflowsPath }),
    activities: createActivities(input),
    maxConcurrentActivityTaskExecutions: input.maxConcurrentActivityTaskExecutions ?? 100,
    maxConcurrentWorkflowTaskExecutions: input.maxConcurrentWorkflowTaskExecutions ?? 100,
    maxConcurrentLocalActivityExecutions: input.maxConcurrentLocalActivityExecutions ?? 100,
    shutdownGraceTime: input.shutdownGraceTime ?? '10 seconds',
  });
}
