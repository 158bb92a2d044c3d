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
  patched,
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
import type { ReserveGenerationResult } from '../activities/generation';
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

/** One generation's mutable state, shared by the main flow and the message handlers. */
interface Run {
  input: GenerationInput;
  state: GenerationState;
  /** The first outcome report or cancel received; later ones must match it. */
  verdict: ReceivedVerdict | undefined;
  deadlineAtMs: number;
  maxDeadlineAtMs: number;
  /** Resolved once the reservation is held or refused. */
  decided: Latch;
  /** Resolved once the generation is settled or refused. */
  finished: Latch;
  /** The workflow itself was cancelled (e.g. from the Temporal UI); it still settles and completes. */
  workflowCancelled: boolean;
}

/**
 * Before this patch a cancelled workflow settled, then ended CANCELLED, because waiting for the handlers in
 * the cancelled root scope threw; a CANCELLED run lets the same generation id be started again.
 */
const COMPLETE_AFTER_WORKFLOW_CANCEL = 'complete-after-workflow-cancel';

/**
 * Before this patch cancelling the workflow failed every outcome or cancel update still waiting for its
 * settlement with `CancelledFailure` (the SDK's `Trigger` rejects when its scope is cancelled), although the
 * run went on to settle that generation; since, they wait and get the settlement.
 */
const UPDATES_OUTLIVE_WORKFLOW_CANCEL = 'updates-outlive-workflow-cancel';

/**
 * Before this patch a workflow cancelled while its reservation ran ended CANCELLED: the reservation's local
 * activity was abandoned, the credits it held stayed held until the hold sweeper's turn, and the id could start
 * a second run. Since, the reservation is finished by its key (the same hold, or the credits held now) and
 * released as a cancel by the platform, and the run completes.
 */
const RELEASE_WHEN_CANCELLED_WHILE_RESERVING = 'release-when-cancelled-while-reserving';

/**
 * Before this patch a refused reservation failed the run at once: a local activity's failure arrives as the
 * ApplicationFailure itself, not wrapped in an ActivityFailure as `refuse` expected. Waiting updates then got
 * "workflow completed" instead of the refusal, and the run's status and search attribute never said `rejected`.
 */
const ANSWER_UNWRAPPED_REFUSALS = 'answer-unwrapped-refusals';

/**
 * Before this patch an outcome or cancel that arrived after the hold sweeper had released the hold (the worker
 * was gone past the hold's grace) was answered with that `hold_expired` release as if it were its settlement,
 * while the same verdict repeated once the run had closed was refused as AlreadySettled (as for a terminated
 * run): the credits were released without it. Since, the run refuses it the same way.
 */
const REFUSE_VERDICTS_AFTER_HOLD_EXPIRY = 'refuse-verdicts-after-hold-expiry';

/** Before this patch a progress report's non-numeric `extendDeadlineMs` (e.g. `'600000'`) moved the deadline. */
const PROGRESS_EXTENSION_NUMBERS_ONLY = 'progress-extension-numbers-only';

export async function generation(input: GenerationInput): Promise<Settlement> {
  const run: Run = {
    input, state: initialState(input), verdict: undefined,
    deadlineAtMs: Number.POSITIVE_INFINITY, maxDeadlineAtMs: Number.POSITIVE_INFINITY,
    decided: new Latch(), finished: new Latch(), workflowCancelled: false,
  };
  void CancellationScope.current().cancelRequested.catch((err: unknown) => {
    // Histories recorded before the patch: fail the waiting updates as the Triggers used here then did.
    if (!run.finished.resolved && !patched(UPDATES_OUTLIVE_WORKFLOW_CANCEL)) {
      run.decided.reject(err);
      run.finished.reject(err);
    }
  });
  installHandlers(run);

  // The quote and the settlement policy are fixed when the generation starts and kept in its history.
  const startedAtMs = Date.now();
  const reservationInput = { generation: input, startedAt: new Date(startedAtMs).toISOString() };
  let reserved: ReserveGenerationResult;
  try {
    reserved = await reserveGeneration(reservationInput);
  } catch (err) {
    if (!isCancellation(err) || !patched(RELEASE_WHEN_CANCELLED_WHILE_RESERVING)) return await refuse(run, err);
    // The cancelled activity may have held the credits already (it runs on, unheard): running the reservation
    // again under its key either answers that hold or makes it, so there is exactly one hold to release.
    try {
      reserved = await CancellationScope.nonCancellable(() => reserveGeneration(reservationInput));
    } catch (refusal) {
      return await refuse(run, refusal);
    }
    run.workflowCancelled = true;
    run.verdict ??= { kind: 'cancel' };
  }
  markReserved(run, reserved, startedAtMs);

  const reason = await awaitVerdict(run);
  const { state, verdict } = run;
  state.phase = 'settling';
  state.settlement = await CancellationScope.nonCancellable(() => settleGeneration({
    generation: input,
    holdId: reserved.reservation.holdId,
    quote: reserved.quote,
    settlementPolicy: reserved.settlementPolicy,
    priceBook: reserved.priceBook,
    reason,
    report: verdict?.kind === 'outcome' ? verdict.report : undefined,
  }));
  state.phase = 'settled';
  run.finished.resolve();
  upsertSearchAttributes([{ key: generationStatusKey, value: statusOf(state.settlement) }]);
  await handlersFinished(run);
  return state.settlement;
}

/**
 * Lets update handlers answer before the run completes — even once the workflow has been cancelled, also when
 * the cancel request arrived after the wait for a verdict had ended (e.g. while the settlement ran): waiting in
 * the cancelled root scope would throw, even with every handler finished, and end the run CANCELLED.
 */
async function handlersFinished(run: Run): Promise<void> {
  const cancelled = run.workflowCancelled || CancellationScope.current().consideredCancelled;
  if (cancelled && patched(COMPLETE_AFTER_WORKFLOW_CANCEL)) {
    await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
  } else {
    await condition(allHandlersFinished);
  }
}

function initialState(input: GenerationInput): GenerationState {
  return {
    // The input may be anything a client sent (the reservation refuses it): reading it here must not throw.
    generationId: (input as Partial<GenerationInput> | null)?.generationId ?? '', phase: 'reserving', costCredits: null, startedAt: null, deadlineAt: null,
    maxDeadlineAt: null, progressPercent: null, reservation: null, settlement: null, rejection: null,
  };
}

// The handlers wait on latches the main flow resolves rather than on `condition`s: a condition is
// re-evaluated after every activation job, a latch wakes its waiters exactly once.
function installHandlers(run: Run): void {
  const { state } = run;
  setHandler(generationStateQuery, () => state);
  // Handlers return the latch's continuation rather than awaiting it in an async function: the workflow
  // sandbox records a stack trace for every promise it sees created, and each async frame and await adds some.
  setHandler(awaitReservationUpdate, () => afterTrigger(run.decided, () => {
    if (state.rejection) {
      throw ApplicationFailure.create({ type: state.rejection.code, message: state.rejection.message, nonRetryable: true, details: [state.rejection] });
    }
    return state.reservation!;
  }));
  setHandler(reportProgressSignal, (progress) => {
    if (state.phase !== 'reserved') return;
    // Sent with the Temporal client, a report may be anything, and a signal cannot be refused: what is not a
    // report is ignored (a throw here would fail the workflow task, again on every retry).
    if (progress === null || typeof progress !== 'object') return;
    const { percent, extendDeadlineMs } = progress as { percent?: unknown; extendDeadlineMs?: unknown };
    if (typeof percent === 'number' && percent >= 0 && percent <= 100) state.progressPercent = percent;
    if (extendDeadlineMs !== undefined && (extendDeadlineMs as number) > 0) {
      // `'600000' > 0`, but `now + '600000'` concatenates: such an extension went to the cap. Patched, because
      // ignoring it starts no new timer where earlier histories did.
      if (typeof extendDeadlineMs !== 'number' && patched(PROGRESS_EXTENSION_NUMBERS_ONLY)) return;
      const progressExtension = extendDeadlineMs as number;
      run.deadlineAtMs = Math.min(run.maxDeadlineAtMs, Math.max(run.deadlineAtMs, Date.now() + progressExtension));
      state.deadlineAt = new Date(run.deadlineAtMs).toISOString();
    }
  });
  setHandler(
    reportOutcomeUpdate,
    (report) => {
      run.verdict ??= { kind: 'outcome', report };
      return settlementOnceDone(run);
    },
    { validator: (report) => checkVerdict(run, { kind: 'outcome', report: checkOutcomeReport(report) }) },
  );
  setHandler(
    cancelGenerationUpdate,
    (_request) => {
      run.verdict ??= { kind: 'cancel' };
      return settlementOnceDone(run);
    },
    { validator: (_request) => checkVerdict(run, { kind: 'cancel' }) },
  );
}

/**
 * A one-shot signal from the main flow to the handlers. Not the SDK's `Trigger`: a Trigger made in the root scope
 * rejects when the workflow is cancelled, which would fail a waiting outcome or cancel update with
 * `CancelledFailure` although the run still settles (and answers) that generation.
 */
class Latch implements PromiseLike<void> {
  resolved = false;
  private readonly promise: Promise<void>;
  private settle!: { resolve: () => void; reject: (err: unknown) => void };
  constructor() {
    this.promise = new Promise<void>((resolve, reject) => { this.settle = { resolve, reject }; });
    // Never an unhandled rejection (a rejected latch nobody waits on), as with Trigger.
    void this.promise.catch(() => undefined);
  }
  resolve(): void {
    this.resolved = true;
    this.settle.resolve();
  }
  reject(err: unknown): void {
    this.settle.reject(err);
  }
  then<A = void, B = never>(onfulfilled?: ((value: void) => A | PromiseLike<A>) | null, onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.promise.then(onfulfilled, onrejected);
  }
}

/** `latch.then(next)`. */
function afterTrigger<T>(latch: Latch, next: () => T): Promise<T> {
  return latch.then(next);
}

/** A verdict can arrive before the reservation is decided; if the reservation is then refused, say so. */
function settlementOnceDone(run: Run): Promise<Settlement> {
  return afterTrigger(run.finished, () => {
    const { settlement } = run.state;
    if (settlement?.reason === 'hold_expired' && patched(REFUSE_VERDICTS_AFTER_HOLD_EXPIRY)) {
      throw ApplicationFailure.create({
        type: GenerationFailureType.AlreadySettled,
        message: `generation ${run.input.generationId} was released at its hold's expiry, without this verdict`,
        nonRetryable: true,
        details: [{ settlement }],
      });
    }
    if (settlement) return settlement;
    throw ApplicationFailure.create({ type: GenerationFailureType.AlreadySettled, message: 'the generation was never reserved', nonRetryable: true });
  });
}

/** Rejects a verdict that contradicts the one already received; an identical one is answered again. */
function checkVerdict(run: Run, candidate: ReceivedVerdict): void {
  if (run.state.phase === 'rejected') {
    throw ApplicationFailure.create({ type: GenerationFailureType.AlreadySettled, message: 'the generation was never reserved', nonRetryable: true });
  }
  if (run.verdict === undefined && (run.state.phase === 'settling' || run.state.phase === 'settled')) {
    // The deadline ended the wait: the credits were released without this verdict, and it is not recorded.
    throw ApplicationFailure.create({
      type: GenerationFailureType.AlreadySettled, message: `generation ${run.input.generationId} was settled at its deadline`, nonRetryable: true,
    });
  }
  if (run.verdict === undefined || sameReport(run.verdict, candidate)) return;
  throw ApplicationFailure.create({
    type: GenerationFailureType.OutcomeConflict,
    message: `generation ${run.input.generationId} already has a different outcome (${describeVerdict(run.verdict)})`,
    nonRetryable: true,
  });
}

function markReserved(run: Run, reserved: ReserveGenerationResult, startedAtMs: number): void {
  const { quote } = reserved;
  run.deadlineAtMs = startedAtMs + quote.deadlineMs;
  run.maxDeadlineAtMs = startedAtMs + Math.max(quote.deadlineMs, quote.maxDeadlineMs);
  const { state } = run;
  state.phase = 'reserved';
  state.costCredits = quote.costCredits;
  state.reservation = reserved.reservation;
  state.startedAt = new Date(startedAtMs).toISOString();
  state.deadlineAt = new Date(run.deadlineAtMs).toISOString();
  state.maxDeadlineAt = new Date(run.maxDeadlineAtMs).toISOString();
  upsertSearchAttributes([{ key: generationStatusKey, value: 'reserved' }]);
  run.decided.resolve();
}

/** Waits for an outcome, a cancel or the deadline (which progress reports may push back). */
async function awaitVerdict(run: Run): Promise<SettlementReason> {
  try {
    while (run.verdict === undefined && Date.now() < run.deadlineAtMs) {
      const waitingFor = run.deadlineAtMs;
      await condition(() => run.verdict !== undefined || run.deadlineAtMs !== waitingFor, run.deadlineAtMs - Date.now());
    }
  } catch (err) {
    // Cancelling the workflow itself (e.g. an operator in the Temporal UI) is the platform giving up.
    if (!isCancellation(err)) throw err;
    run.workflowCancelled = true;
    run.verdict ??= { kind: 'cancel' };
  }
  const { verdict } = run;
  if (verdict === undefined) return 'deadline_exceeded';
  if (verdict.kind === 'cancel') return 'cancelled';
  return verdict.report.status === 'succeeded' ? 'succeeded' : verdict.report.reason!;
}

/** The reservation was refused: record why, answer waiting callers, and fail the run (so the same id may retry). */
async function refuse(run: Run, err: unknown): Promise<never> {
  const failure = refusalIn(err);
  if (!failure?.type) throw err;
  if (failure === err && !patched(ANSWER_UNWRAPPED_REFUSALS)) throw err;
  const details = (failure.details?.[0] ?? {}) as { shortfallCredits?: number };
  run.state.rejection = { code: failure.type, message: failure.message, shortfallCredits: details.shortfallCredits };
  run.state.phase = 'rejected';
  upsertSearchAttributes([{ key: generationStatusKey, value: 'rejected' }]);
  run.decided.resolve();
  run.finished.resolve();
  await handlersFinished(run);
  throw ApplicationFailure.create({ type: failure.type, message: failure.message, nonRetryable: true, details: [run.state.rejection] });
}

/** A local activity's business refusal is its ApplicationFailure itself; an activity's is the cause of an ActivityFailure. */
function refusalIn(err: unknown): ApplicationFailure | undefined {
  if (err instanceof ApplicationFailure) return err;
  return err instanceof Error && 'cause' in err && err.cause instanceof ApplicationFailure ? err.cause : undefined;
}

function describeVerdict(verdict: ReceivedVerdict): string {
  if (verdict.kind === 'cancel') return 'cancelled';
  return verdict.report.reason ? `${verdict.report.status}: ${verdict.report.reason}` : verdict.report.status;
}

function statusOf(settlement: Settlement): string {
  if (settlement.action === 'release') return 'released';
  return settlement.releasedCredits > 0 ? 'partially_captured' : 'captured';
}
