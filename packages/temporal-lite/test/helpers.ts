/**
 * Shared test setup: a TestWorkflowEnvironment backed by temporal-lite (or, with
 * TEMPORAL_TEST_SERVER=cli, by the SDK's own downloaded servers for cross-checking),
 * and one running Worker per test file.
 */
import * as path from 'path';
import { randomUUID } from 'crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, bundleWorkflowCode, Runtime, DefaultLogger, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { Context, CancelledFailure, CompleteAsyncError } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { createLocalTestEnv, createTimeSkippingTestEnv } from '../src/testing';

try {
  Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: 'ERROR', forward: {} } } });
} catch {
  // already installed in this process
}

export const useCli = process.env.TEMPORAL_TEST_SERVER === 'cli';

export async function makeEnv(kind: 'timeskip' | 'local', searchAttributes?: Parameters<typeof createLocalTestEnv>[0]): Promise<TestWorkflowEnvironment> {
  if (useCli) return kind === 'timeskip' ? TestWorkflowEnvironment.createTimeSkipping() : TestWorkflowEnvironment.createLocal(searchAttributes);
  return kind === 'timeskip' ? createTimeSkippingTestEnv() : createLocalTestEnv(searchAttributes);
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: path.join(__dirname, 'workflows', 'index.ts'), logger: new DefaultLogger('WARN') });
  return bundle;
}

export const uid = (p: string): string => `${p}-${randomUUID().slice(0, 8)}`;

const flakyCounts = new Map<string, number>();
let currentEnv: TestWorkflowEnvironment | undefined;
export const activities = {
  async greet(name: string): Promise<string> {
    return `hello ${name}`;
  },
  async flaky(key: string, failTimes: number): Promise<number> {
    const n = (flakyCounts.get(key) ?? 0) + 1;
    flakyCounts.set(key, n);
    if (n <= failTimes) throw new Error(`flaky failure ${n}`);
    return n;
  },
  async failNonRetryable(): Promise<void> {
    throw ApplicationFailure.nonRetryable('permanent', 'PermanentError');
  },
  async slow(ms: number): Promise<string> {
    await new Promise((r) => setTimeout(r, ms));
    return 'slow done';
  },
  async heartbeating(ms: number): Promise<string> {
    const ctx = Context.current();
    const end = Date.now() + ms;
    try {
      while (Date.now() < end) {
        ctx.heartbeat('beat');
        await ctx.sleep(50);
      }
    } catch (e) {
      if (e instanceof CancelledFailure) throw e;
      throw e;
    }
    return 'done';
  },
  /** Completes later through the client (AsyncCompletionClient by id). */
  async asyncComplete(): Promise<string> {
    throw new CompleteAsyncError();
  },
  /** Sleeps in server time from inside an activity (UnlockTimeSkippingWithSleep). */
  async envSleep(ms: number): Promise<string> {
    await currentEnv!.sleep(ms);
    return 'activity';
  },
  async attemptInfo(): Promise<{ attempt: number; details: unknown }> {
    const ctx = Context.current();
    const info = ctx.info;
    ctx.heartbeat(`from-attempt-${info.attempt}`);
    if (info.attempt < 2) {
      // stop heartbeating: the server times this attempt out (heartbeat timeout)
      await new Promise((r) => setTimeout(r, 1500));
    }
    return { attempt: info.attempt, details: info.heartbeatDetails };
  },
};

export interface Harness {
  env: TestWorkflowEnvironment;
  taskQueue: string;
  worker: Worker;
  stop(): Promise<void>;
}

export async function startHarness(kind: 'timeskip' | 'local', opts: Parameters<typeof createLocalTestEnv>[0] = {}): Promise<Harness> {
  const env = await makeEnv(kind, opts);
  currentEnv = env;
  const taskQueue = uid('tq');
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities });
  const running = worker.run();
  return {
    env,
    taskQueue,
    worker,
    stop: async () => {
      worker.shutdown();
      await running;
      await env.teardown();
    },
  };
}

/** A test file's harness: started before its tests, stopped after them; filled in by beforeAll. */
export interface FileHarness extends Harness {
  /** Start options on the harness's task queue with a fresh workflow id. */
  workflowOptions(prefix: string): { taskQueue: string; workflowId: string };
}

export function useHarness(kind: 'timeskip' | 'local', opts: Parameters<typeof createLocalTestEnv>[0] = {}): FileHarness {
  const h = { workflowOptions: (prefix: string) => ({ taskQueue: h.taskQueue, workflowId: uid(prefix) }) } as FileHarness;
  let started: Harness | undefined;
  beforeAll(async () => {
    started = await startHarness(kind, opts);
    Object.assign(h, started);
  }, 60_000);
  afterAll(async () => {
    await started?.stop();
  });
  return h;
}
