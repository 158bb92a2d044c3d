/**
 * `generation` — id `generation:<generationId>`: quote and reserve → await the outcome under a deadline →
 * validate the delivery, apply the settlement policy, capture or release → done (architecture §4).
 *
 * Money moves only in activities, each with an idempotency key derived from the generation id, so a retried
 * activity, a replayed history or a crashed worker can never move it twice. The workflow decides; the ledger
 * enforces.
 */
import {
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  isCancellation,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { GenerationActivities } from '../activities/generation';
import type { SettlementReason } from '../policy/settlement';
import {
  GenerationFailureType,
  awaitReservationUpdate,
  cancelGenerationUpdate,
  generationStateQuery,
  reportOutcomeUpdate,
  reportProgressSignal,
  type GenerationInput,
  type GenerationState,
  type Settlement,
} from './generation-contract';
import { checkOutcomeReport, sameReport, type ReceivedVerdict } from './generation-verdict';
import { generationStatusKey } from './search-attributes';

// Both steps are short (a quote and one ledger transaction; a check of metadata and one ledger transaction),
// so they run as local activities: in the worker, within the workflow task, without a round trip through the
// task queue — a generation costs two workflow tasks. Their results are still recorded in history (as markers)
// and they retry like any activity. They move money idempotently by key and must eventually succeed, so they
// retry without a cap; business refusals (InsufficientCredits, …) are non-retryable ApplicationFailures.
const { reserveGeneration, settleGeneration } = proxyLocalActivities<GenerationActivities>({
  startToCloseTimeout: '30 seconds',
  localRetryThreshold: '10 seconds',
  retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

export async function generation(input: GenerationInput): Promise<Settlement> {
  const state: GenerationState = {
    generationId: input.generationId,
    phase: 'reserving',
    costCredits: null,
    startedAt: null,
    deadlineAt: null,
    maxDeadlineAt: null,
    progressPercent: null,
    reservation: null,
    settlement: null,
    rejection: null,
  };
  let verdict: ReceivedVerdict | undefined;
  let deadlineAtMs = Number.POSITIVE_INFINITY;
  let maxDeadlineAtMs = Number.POSITIVE_INFINITY;

  setHandler(generationStateQuery, () => state);
  setHandler(awaitReservationUpdate, async () => {
    await condition(() => state.phase !== 'reserving');
    if (state.rejection) {
      throw ApplicationFailure.create({ type: state.rejection.code, message: state.rejection.message, nonRetryable: true, details: [state.rejection] });
    }
    return state.reservation!;
  });
  setHandler(reportProgressSignal, (progress) => {
    if (state.phase !== 'reserved') return;
    if (progress.percent !== undefined) state.progressPercent = progress.percent;
    if (progress.extendDeadlineMs !== undefined && progress.extendDeadlineMs > 0) {
      deadlineAtMs = Math.min(maxDeadlineAtMs, Math.max(deadlineAtMs, Date.now() + progress.extendDeadlineMs));
      state.deadlineAt = new Date(deadlineAtMs).toISOString();
    }
  });
  setHandler(
    reportOutcomeUpdate,
    async (report) => {
      verdict ??= { kind: 'outcome', report };
      return await settlementOnceDone();
    },
    { validator: (report) => checkVerdict({ kind: 'outcome', report: checkOutcomeReport(report) }) },
  );
  setHandler(
    cancelGenerationUpdate,
    async (_request) => {
      verdict ??= { kind: 'cancel' };
      return await settlementOnceDone();
    },
    { validator: (_request) => checkVerdict({ kind: 'cancel' }) },
  );

  /** A verdict can arrive before the reservation is decided; if the reservation is then refused, say so. */
  async function settlementOnceDone(): Promise<Settlement> {
    await condition(() => state.settlement !== null || state.phase === 'rejected');
    if (state.settlement) return state.settlement;
    throw ApplicationFailure.create({ type: GenerationFailureType.AlreadySettled, message: 'the generation was never reserved', nonRetryable: true });
  }

  /** Rejects a verdict that contradicts the one already received; an identical one is answered again. */
  function checkVerdict(candidate: ReceivedVerdict): void {
    if (state.phase === 'rejected') {
      throw ApplicationFailure.create({ type: GenerationFailureType.AlreadySettled, message: 'the generation was never reserved', nonRetryable: true });
    }
    if (verdict === undefined || sameReport(verdict, candidate)) return;
    throw ApplicationFailure.create({
      type: GenerationFailureType.OutcomeConflict,
      message: `generation ${input.generationId} already has a different outcome (${describeVerdict(verdict)})`,
      nonRetryable: true,
    });
  }

  // The quote and the settlement policy are fixed when the generation starts and kept in its history.
  const startedAtMs = Date.now();
  let reserved: Awaited<ReturnType<typeof reserveGeneration>>;
  try {
    reserved = await reserveGeneration({ generation: input, startedAt: new Date(startedAtMs).toISOString() });
  } catch (err) {
    return await refuse(err);
  }
  const { quote, settlementPolicy } = reserved;
  deadlineAtMs = startedAtMs + quote.deadlineMs;
  maxDeadlineAtMs = startedAtMs + Math.max(quote.deadlineMs, quote.maxDeadlineMs);
  state.phase = 'reserved';
  state.costCredits = quote.costCredits;
  state.reservation = reserved.reservation;
  state.startedAt = new Date(startedAtMs).toISOString();
  state.deadlineAt = new Date(deadlineAtMs).toISOString();
  state.maxDeadlineAt = new Date(maxDeadlineAtMs).toISOString();
  upsertSearchAttributes([{ key: generationStatusKey, value: 'reserved' }]);

  const reason = await awaitVerdict();
  state.phase = 'settling';
  state.settlement = await CancellationScope.nonCancellable(() => settleGeneration({
    generation: input,
    holdId: reserved.reservation.holdId,
    quote,
    settlementPolicy,
    reason,
    report: verdict?.kind === 'outcome' ? verdict.report : undefined,
  }));
  state.phase = 'settled';
  upsertSearchAttributes([{ key: generationStatusKey, value: statusOf(state.settlement) }]);
  await condition(allHandlersFinished);
  return state.settlement;

  /** Waits for an outcome, a cancel or the deadline (which progress reports may push back). */
  async function awaitVerdict(): Promise<SettlementReason> {
    try {
      while (verdict === undefined && Date.now() < deadlineAtMs) {
        const waitingFor = deadlineAtMs;
        await condition(() => verdict !== undefined || deadlineAtMs !== waitingFor, deadlineAtMs - Date.now());
      }
    } catch (err) {
      // Cancelling the workflow itself (e.g. an operator in the Temporal UI) is the platform giving up.
      if (!isCancellation(err)) throw err;
      verdict ??= { kind: 'cancel' };
    }
    if (verdict === undefined) return 'deadline_exceeded';
    if (verdict.kind === 'cancel') return 'cancelled';
    return verdict.report.status === 'succeeded' ? 'succeeded' : verdict.report.reason!;
  }

  /** The reservation was refused: record why, answer waiting callers, and fail the run (so the same id may retry). */
  async function refuse(err: unknown): Promise<never> {
    const failure = err instanceof Error && 'cause' in err && err.cause instanceof ApplicationFailure ? err.cause : undefined;
    if (!failure?.type) throw err;
    const details = (failure.details?.[0] ?? {}) as { shortfallCredits?: number };
    state.rejection = { code: failure.type, message: failure.message, shortfallCredits: details.shortfallCredits };
    state.phase = 'rejected';
    upsertSearchAttributes([{ key: generationStatusKey, value: 'rejected' }]);
    await condition(allHandlersFinished);
    throw ApplicationFailure.create({ type: failure.type, message: failure.message, nonRetryable: true, details: [state.rejection] });
  }
}

function describeVerdict(verdict: ReceivedVerdict): string {
  if (verdict.kind === 'cancel') return 'cancelled';
  return verdict.report.reason ? `${verdict.report.status}: ${verdict.report.reason}` : verdict.report.status;
}

function statusOf(settlement: Settlement): string {
  if (settlement.action === 'release') return 'released';
  return settlement.releasedCredits > 0 ? 'partially_captured' : 'captured';
}
