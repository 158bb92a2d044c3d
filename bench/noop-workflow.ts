// The reference workload of the generations benchmark: one workflow, one no-op activity.
import { proxyActivities } from '@temporalio/workflow';

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '30 seconds' });

export async function noopWorkflow(): Promise<void> {
  await noop();
}
