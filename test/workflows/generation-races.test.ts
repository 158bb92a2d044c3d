/**
 * Races around a generation's settlement: the hold sweeper getting to a hold while its workflow still waits
 * (the worker was down for longer than the hold's grace), and what every reader then says.
 */
import { randomUUID } from 'node:crypto';
import { createHoldSweeperActivities } from '../../src/activities/hold-sweeper';
import { getBalance } from '../../src/ledger';
import { cancelGeneration, reportOutcome, startGeneration } from '../../src/generations/service';
import { getGeneration } from '../../src/generations/store';
import { generationStateQuery, generationWorkflowId, type GenerationInput, type OutcomeReport } from '../../src/workflows/generation-contract';
import { useGenerationSuite } from '../support/generation-suite';

const HOUR_MS = 60 * 60_000;
const goodImage = { url: 'https://cdn.example/a.png', sizeBytes: 2048, contentType: 'image/png' };

const suite = useGenerationSuite();

function imageGeneration(walletId: string): GenerationInput {
  return { generationId: `gen-${randomUUID()}`, walletId, userId: 'user-1', feature: 'image', params: { resolution: '1K' }, platform: 'web' };
}

/** The sweeper's run at a time past every hold made now (image: 30 min cap + 60 min grace). */
async function sweepLater(): Promise<void> {
  const nowMs = Math.max(Date.now(), await suite.harness.env.currentTimeMs());
  await createHoldSweeperActivities({ pool: suite.pool, refundLotValidityDays: 30 })
    .releaseExpiredHolds({ now: new Date(nowMs + 2 * HOUR_MS).toISOString() });
}

describe('the hold sweeper released the hold while the workflow still waited', () => {
  test.each([
    ['an outcome', (id: string) => reportOutcome(suite.deps, id, { status: 'succeeded', outputs: [goodImage] } satisfies OutcomeReport)],
    ['a cancel', (id: string) => cancelGeneration(suite.deps, id, {})],
  ])('%s is answered the same way before and after the run closes', async (_label, verdict) => {
    const walletId = await suite.fundedWallet(100);
    const input = imageGeneration(walletId);
    await suite.harness.withWorker(() => startGeneration(suite.deps, input));
    // The worker is gone for longer than the hold's grace: the sweeper releases the hold meanwhile.
    await sweepLater();
    expect(await getBalance(suite.pool, { walletId })).toMatchObject({ availableCredits: 100, heldCredits: 0 });
    const handle = suite.harness.env.client.workflow.getHandle(generationWorkflowId(input.generationId));
    const [whileOpen, state] = await suite.harness.withWorker(async () => {
      const answer = await verdict(input.generationId).then((s) => ({ ok: s }), (e: unknown) => ({ err: e }));
      await handle.result();
      return [answer, await handle.query(generationStateQuery)] as const;
    });
    const afterClose = await verdict(input.generationId).then((s) => ({ ok: s }), (e: unknown) => ({ err: e }));
    expect(state.settlement).toMatchObject({ action: 'release', reason: 'hold_expired', capturedCredits: 0 });
    expect(await getGeneration(suite.pool, input.generationId)).toMatchObject({ status: 'released', failureReason: 'hold_expired' });
    // Refused as for a terminated run: the credits were released without the verdict; the same from the table.
    expect(whileOpen).toMatchObject({ err: { code: 'AlreadySettled', details: { settlement: { reason: 'hold_expired' } } } });
    expect(JSON.stringify(afterClose)).toBe(JSON.stringify(whileOpen));
  });
});
