/** A worker started with a new HOLD_SWEEP_INTERVAL_SECONDS replaces the running sweeper instead of joining it. */
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createTimeSkippingTestEnv } from 'temporal-lite/src/testing';
import { startHoldSweeper } from '../../src/temporal/hold-sweeper';
import { holdSweeperWorkflowId } from '../../src/workflows/hold-sweeper';

let env: TestWorkflowEnvironment;
beforeAll(async () => { env = await createTimeSkippingTestEnv(); });
afterAll(async () => { await env?.teardown(); });

test('starting the sweeper again with another interval terminates the old run and runs the new interval', async () => {
  const taskQueue = `test-${randomUUID()}`; // no worker polls it: the runs only need to exist
  await startHoldSweeper(env.client, { taskQueue, intervalSeconds: 60 });
  const first = await env.client.workflow.getHandle(holdSweeperWorkflowId).describe();
  await startHoldSweeper(env.client, { taskQueue, intervalSeconds: 5 });
  const handle = env.client.workflow.getHandle(holdSweeperWorkflowId);
  const second = await handle.describe();
  expect(second.runId).not.toBe(first.runId);
  expect(second.status.name).toBe('RUNNING');
  expect((await env.client.workflow.getHandle(holdSweeperWorkflowId, first.runId).describe()).status.name).toBe('TERMINATED');
  const history = await handle.fetchHistory();
  const payload = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
  expect(JSON.parse(Buffer.from(payload.data!).toString())).toEqual({ intervalMs: 5000 });
  await handle.terminate('test done');
});
