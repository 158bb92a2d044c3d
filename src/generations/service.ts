/**
 * What generation services can do, over the Temporal client: start a generation and learn whether its credits
 * are held, report its outcome, its progress, or cancel it. The HTTP routes are a thin skin over this.
 *
 * The workflow is the source of truth while it runs; once it has closed, the `generations` table answers
 * (a repeated outcome report for a settled generation gets the recorded settlement, a different one a conflict).
 */
import {
  ServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WithStartWorkflowOperation,
  isGrpcServiceError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Pool } from 'pg';
import { generation } from '../workflows/generation';
import {
  awaitReservationUpdate,
  cancelGenerationUpdate,
  generationWorkflowId,
  reportOutcomeUpdate,
  reportProgressSignal,
  type CancelRequest,
  type GenerationInput,
  type OutcomeReport,
  type ProgressReport,
  type Settlement,
} from '../workflows/generation-contract';
import { canonicalJson, sameReport } from '../workflows/generation-verdict';
import { featureKey, generationStatusKey, platformKey, walletIdKey } from '../workflows/search-attributes';
import { GenerationError, isGenerationErrorCode } from './errors';
import { getGeneration } from './store';
import type { GenerationRecord } from './types';

export interface GenerationServiceDeps {
  client: Client;
  pool: Pool;
  taskQueue: string;
}

/**
 * Starts the workflow (or finds the one already running for this id) and waits until its credits are held.
 * Repeating a start returns the same generation in its current state and never holds credits twice.
 * A generation refused earlier (e.g. for lack of credits) may be started again: its run failed, and the id
 * reuse policy allows a new run only after a failure, so a settled generation can never be charged twice.
 */
export async function startGeneration(deps: GenerationServiceDeps, input: GenerationInput): Promise<GenerationRecord> {
  // Update-with-start: the start and the wait for the reservation travel in one request, and the workflow
  // receives the update in its first task.
  const startWorkflowOperation = new WithStartWorkflowOperation(generation, {
    workflowId: generationWorkflowId(input.generationId),
    taskQueue: deps.taskQueue,
    args: [input],
    workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: [
      { key: walletIdKey, value: input.walletId },
      { key: featureKey, value: input.feature },
      { key: platformKey, value: input.platform },
      { key: generationStatusKey, value: 'reserving' },
    ],
    memo: { userId: input.userId, context: input.context ?? null },
  });
  try {
    await deps.client.workflow.executeUpdateWithStart(awaitReservationUpdate, { startWorkflowOperation });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      // The generation ran before and settled: the same generation, never a second hold.
      return sameGenerationOrConflict(await requireRecord(deps, input.generationId), input);
    }
    // The run closed before answering (it was refused): the refusal is in the table.
    if (!closedBeforeAnswering(err)) throw asGenerationError(err);
  }
  const record = await requireRecord(deps, input.generationId);
  if (record.status === 'rejected') throw refusalOf(record);
  return sameGenerationOrConflict(record, input);
}

export async function reportOutcome(deps: GenerationServiceDeps, generationId: string, report: OutcomeReport): Promise<Settlement> {
  try {
    return await sendAgainIfNotReady(() => handleOf(deps, generationId).executeUpdate(reportOutcomeUpdate, { args: [report] }));
  } catch (err) {
    if (!closedBeforeAnswering(err)) throw asGenerationError(err);
  }
  const record = await requireRecord(deps, generationId);
  if (!record.settlement) throw nothingToSettle(record);
  if (settledWithoutVerdict(record)) throw noVerdictError(record.settlement);
  const recorded = record.outcome ? { kind: 'outcome' as const, report: record.outcome } : { kind: 'cancel' as const };
  if (sameReport(recorded, { kind: 'outcome', report })) return record.settlement;
  throw new GenerationError('OutcomeConflict', `generation ${generationId} already settled (${record.settlement.reason})`, {
    settlement: record.settlement,
  });
}

export async function cancelGeneration(deps: GenerationServiceDeps, generationId: string, request: CancelRequest): Promise<Settlement> {
  try {
    return await sendAgainIfNotReady(() => handleOf(deps, generationId).executeUpdate(cancelGenerationUpdate, { args: [request] }));
  } catch (err) {
    if (!closedBeforeAnswering(err)) throw asGenerationError(err);
  }
  const record = await requireRecord(deps, generationId);
  if (record.settlement?.reason === 'cancelled') return record.settlement;
  if (!record.settlement) throw nothingToSettle(record);
  if (settledWithoutVerdict(record)) throw noVerdictError(record.settlement);
  throw new GenerationError('AlreadySettled', `generation ${generationId} already settled (${record.settlement.reason})`, {
    settlement: record.settlement,
  });
}

export async function reportProgress(deps: GenerationServiceDeps, generationId: string, progress: ProgressReport): Promise<GenerationRecord> {
  const record = await requireRecord(deps, generationId);
  if (record.status !== 'reserved') {
    throw new GenerationError('AlreadySettled', `generation ${generationId} is ${record.status}; progress no longer applies`);
  }
  try {
    await handleOf(deps, generationId).signal(reportProgressSignal, progress);
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
    throw new GenerationError('AlreadySettled', `generation ${generationId} has already settled`);
  }
  return record;
}

function handleOf(deps: GenerationServiceDeps, generationId: string): WorkflowHandle<typeof generation> {
  return deps.client.workflow.getHandle<typeof generation>(generationWorkflowId(generationId));
}

async function requireRecord(deps: GenerationServiceDeps, generationId: string): Promise<GenerationRecord> {
  const record = await getGeneration(deps.pool, generationId);
  if (!record) throw new GenerationError('GenerationNotFound', `no generation ${generationId}`);
  return record;
}

/** A repeated start must describe the same generation; reusing an id for something else is a conflict. */
function sameGenerationOrConflict(record: GenerationRecord, input: GenerationInput): GenerationRecord {
  const same = record.walletId === input.walletId && record.userId === input.userId && record.feature === input.feature
    && record.platform === input.platform && canonicalJson(record.params) === canonicalJson(input.params);
  if (!same) {
    throw new GenerationError('GenerationConflict', `generation ${input.generationId} already exists with different content`);
  }
  return record;
}

/**
 * No verdict was received — the deadline or the hold sweeper settled it — so a late one is not a conflict.
 * Read from what the row recorded, as the workflow decides from what it received.
 */
function settledWithoutVerdict(record: GenerationRecord): boolean {
  // A hold the sweeper expired was released whatever verdict the run received meanwhile (the run may have
  // recorded it, if it got to the row before the sweeper did): the run refused that verdict too.
  if (record.settlement?.reason === 'hold_expired') return true;
  return !record.outcome && record.settlement?.reason !== 'cancelled';
}

function noVerdictError(settlement: Settlement): GenerationError {
  return new GenerationError('AlreadySettled', `generation ${settlement.generationId} was settled without a verdict (${settlement.reason})`, {
    settlement,
  });
}

/**
 * An outcome or a cancel with no workflow to settle it: its reservation was refused (no hold), or the row says
 * `reserved` but the workflow is gone (terminated, or a local Temporal's memory lost at a restart) — then the
 * hold sweeper releases the hold at its expiry.
 */
function nothingToSettle(record: GenerationRecord): GenerationError {
  const refused = record.rejection ? ` (refused: ${record.rejection.code})` : '';
  const message = record.status === 'reserved'
    ? `generation ${record.generationId} can no longer be settled: its workflow is gone; its hold is released when it expires`
    : `generation ${record.generationId} holds no credits to settle${refused}`;
  return new GenerationError('AlreadySettled', message, {
    status: record.status,
  });
}

function refusalOf(record: GenerationRecord): GenerationError {
  const rejection = record.rejection ?? { code: 'InvalidGenerationRequest', message: 'the generation was refused' };
  const code = isGenerationErrorCode(rejection.code) ? rejection.code : 'InvalidGenerationRequest';
  const details = rejection.shortfallCredits === undefined ? {} : { shortfallCredits: rejection.shortfallCredits };
  return new GenerationError(code, rejection.message, details);
}

/**
 * The run had closed (or closed while the update was in flight) so the workflow never answered: the server
 * says the execution is not found, or — for an update it had accepted — fails it with
 * `AcceptedUpdateCompletedWorkflow`. Either way the `generations` table holds what happened.
 */
function closedBeforeAnswering(err: unknown): boolean {
  if (err instanceof WorkflowNotFoundError) return true;
  const cause = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
  return cause instanceof ApplicationFailure && cause.type === 'AcceptedUpdateCompletedWorkflow';
}

/**
 * Sends an outcome or cancel update again when the server aborted it because the workflow task carrying it
 * failed (WorkflowNotReady, gRPC FAILED_PRECONDITION) — e.g. a progress signal arrived while that task was
 * closing the workflow. Nothing was recorded for it; the workflow answers the same verdict again with the same
 * settlement, so sending it again is safe. A few attempts: the next task normally takes it.
 */
async function sendAgainIfNotReady<T>(send: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (err) {
      if (attempt >= NOT_READY_ATTEMPTS || !workflowNotReady(err)) throw err;
      await new Promise((resolve) => setTimeout(resolve, 20 * attempt));
    }
  }
}

const NOT_READY_ATTEMPTS = 5;
const GRPC_FAILED_PRECONDITION = 9;

function workflowNotReady(err: unknown): boolean {
  return err instanceof ServiceError && isGrpcServiceError(err.cause) && err.cause.code === GRPC_FAILED_PRECONDITION;
}

/** Business refusals raised by the workflow become GenerationErrors; anything else stays an internal error. */
function asGenerationError(err: unknown): unknown {
  const cause = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
  if (!(cause instanceof ApplicationFailure) || !cause.type || !isGenerationErrorCode(cause.type)) return err;
  const details = (cause.details?.[0] ?? {}) as Record<string, unknown>;
  const shortfall = typeof details.shortfallCredits === 'number' ? { shortfallCredits: details.shortfallCredits } : {};
  // A verdict refused because the generation settled without it names that settlement, as the table's answer does.
  const settled = details.settlement !== null && typeof details.settlement === 'object' ? { settlement: details.settlement } : {};
  return new GenerationError(cause.type, cause.message, { ...shortfall, ...settled });
}
