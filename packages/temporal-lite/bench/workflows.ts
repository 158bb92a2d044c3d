// Workflow code for the benchmark: deterministic, so it imports only @temporalio/workflow and types.
import { proxyActivities } from '@temporalio/workflow';
import type { BenchActivities } from './activities';

const { noop } = proxyActivities<BenchActivities>({ startToCloseTimeout: '10 seconds' });

/** One workflow task, one activity, one more workflow task: the smallest realistic round trip. */
export async function benchWorkflow(input: { seq: number }): Promise<{ seq: number }> {
  await noop();
  return { seq: input.seq };
}
