/**
 * `holdSweeper` — id `hold-sweeper`: the safety net under every hold. A generation workflow settles its own
 * hold, but a terminated workflow, a lost deployment or a bug must still never leave credits held forever:
 * every hold carries an expiry, and this loop releases those past it (the ledger journals each as a `release`
 * with key `hold-expiry:<holdId>`). One run sweeps a bounded number of times, then continues as new to keep history short.
 */
import { continueAsNew, proxyActivities, sleep } from '@temporalio/workflow';
import type { HoldSweeperActivities } from '../activities/hold-sweeper';

export const holdSweeperWorkflowId = 'hold-sweeper';

export interface HoldSweeperInput {
  intervalMs: number;
  /** Sweeps per run before continuing as new. */
  sweepsPerRun?: number;
}

const { releaseExpiredHolds } = proxyActivities<HoldSweeperActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

export async function holdSweeper(input: HoldSweeperInput): Promise<void> {
  const sweeps = input.sweepsPerRun ?? 100;
  for (let i = 0; i < sweeps; i++) {
    // The workflow's clock (virtual under time skipping) decides what "past its expiry" means.
    await releaseExpiredHolds({ now: new Date(Date.now()).toISOString() });
    await sleep(input.intervalMs);
  }
  await continueAsNew<typeof holdSweeper>(input);
}
