/**
 * Workflow tests on the project's own Temporal-compatible server with time skipping: a real SDK worker
 * running our workflows and activities against a real (isolated) Postgres database.
 */
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, type Worker, type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import type { Pool } from 'pg';
import { createTimeSkippingTestEnv } from 'temporal-lite/src/testing';
import { defaultPriceBook, type PriceBook } from '../../src/pricing';
import { defaultSettlementPolicy, type SettlementPolicy } from '../../src/policy/settlement';
import { registerSearchAttributes } from '../../src/temporal/search-attributes';
import { createWorker, workflowsPath } from '../../src/worker';

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
let runtimeInstalled = false;

/** Worker logs only errors in tests: expected refusals (InsufficientCredits) would otherwise flood the output. */
function installQuietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
}

/** Bundling takes seconds; one bundle serves every worker of a test file. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath, logger: quietLogger });
  return bundle;
}

export interface WorkflowHarness {
  env: TestWorkflowEnvironment;
  taskQueue: string;
  /** Runs `fn` while a fresh worker polls the task queue; the worker stops when `fn` settles. */
  withWorker<T>(fn: () => Promise<T>): Promise<T>;
  teardown(): Promise<void>;
}

export interface WorkflowHarnessOptions {
  pool: Pool;
  priceBook?: PriceBook;
  settlementPolicy?: SettlementPolicy;
}

export async function startWorkflowHarness(options: WorkflowHarnessOptions): Promise<WorkflowHarness> {
  installQuietRuntime();
  const env = await createTimeSkippingTestEnv();
  await registerSearchAttributes(env.connection, env.namespace ?? 'default');
  const taskQueue = `test-${randomUUID()}`;
  const connection = env.nativeConnection as NativeConnection;

  async function newWorker(): Promise<Worker> {
    return await createWorker({
      connection,
      namespace: env.namespace ?? 'default',
      taskQueue,
      pool: options.pool,
      priceBook: options.priceBook ?? defaultPriceBook,
      settlementPolicy: options.settlementPolicy ?? defaultSettlementPolicy,
      maxDeadlineFactor: 3,
      holdExpiryGraceMs: 60 * 60_000,
      refundLotValidityDays: 30,
      workflowBundle: await workflowBundle(),
      shutdownGraceTime: '2 seconds',
    });
  }

  return {
    env,
    taskQueue,
    async withWorker(fn) {
      const worker = await newWorker();
      return await worker.runUntil(fn);
    },
    teardown: () => env.teardown(),
  };
}

const quietLogger = {
  log: () => undefined, trace: () => undefined, debug: () => undefined,
  info: () => undefined, warn: () => undefined, error: () => undefined,
};
