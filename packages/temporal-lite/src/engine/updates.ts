/**
 * Workflow updates. A request is admitted in memory, delivered to the worker as a
 * protocol message with a (speculative if possible) workflow task, and its lifecycle
 * follows the worker's protocol replies: Acceptance → WorkflowExecutionUpdateAccepted,
 * Response → WorkflowExecutionUpdateCompleted, Rejection → failure outcome, no events.
 */
import { errors, type ApiError } from '../grpc/errors';
import { packAny, unpackAny } from '../proto';
import type { Engine } from './engine';
import type { Namespace, P, Run, UpdateState, WorkflowTask } from './types';

const STAGE = {
  admitted: 'UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED',
  accepted: 'UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ACCEPTED',
  completed: 'UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED',
} as const;
const ORDER = { admitted: 1, accepted: 2, completed: 3 } as const;

/**
 * Real server (update registry abort, AbortReasonWorkflowCompleted): an update the workflow had accepted
 * but not completed when its run closed completes with this failure, so callers see an update failure
 * rather than a bare NOT_FOUND. No event is written for it.
 */
const acceptedUpdateCompletedWorkflowFailure = {
  message: 'Workflow Update failed because the Workflow completed before the Update completed.',
  source: 'Server',
  applicationFailureInfo: { type: 'AcceptedUpdateCompletedWorkflow', nonRetryable: true },
};

/** Real server (RejectUnprocessed): a delivered request the worker completed its task without answering. */
const unprocessedUpdateFailure = {
  message: "Workflow Update is rejected because it wasn't processed by worker. Probably, Workflow Update is not supported by the worker.",
  source: 'Server',
  applicationFailureInfo: { type: 'UnprocessedUpdate', nonRetryable: true },
};

export function installUpdates(engine: Engine): void {
  engine.onRunClosed.push((run) => {
    // Real server: the close started a new run (continue-as-new, workflow retry) → AbortReasonWorkflowContinuing.
    const close = run.events[run.events.length - 1];
    const continuing = run.status === 'ContinuedAsNew' || !!(close?.workflowExecutionFailedEventAttributes?.newExecutionRunId || close?.workflowExecutionTimedOutEventAttributes?.newExecutionRunId);
    for (const u of run.updates.values()) {
      if (u.stage === 'accepted') {
        u.stage = 'completed';
        u.outcome = { failure: acceptedUpdateCompletedWorkflowFailure };
        wake(u);
      } else if (u.stage !== 'completed') {
        // Admitted (maybe sent) but never accepted: aborted. Without a new run the callers get NOT_FOUND;
        // with one, the retryable "workflow is closing", so that the client's retry reaches the new run.
        // Later requests for this id on this run find nothing (see `findUpdate`).
        u.error = continuing ? errors.workflowClosing() : errors.updateAbortedByClosing();
        wake(u);
      }
    }
  });
}

function wake(u: UpdateState): void {
  const ws = u.waiters;
  u.waiters = [];
  for (const w of ws) w();
}

/** Protocol messages carrying the requests not yet sent to the worker. */
export function takeUpdateMessages(engine: Engine, run: Run, wft: WorkflowTask): P[] {
  const out: P[] = [];
  for (const u of run.updates.values()) {
    if (u.stage !== 'admitted' || u.delivered) continue;
    u.delivered = true;
    wft.deliveredUpdates.push(u.updateId);
    out.push({
      id: `${u.updateId}/request`,
      protocolInstanceId: u.updateId,
      eventId: String(wft.startedEventId! - 1),
      body: packAny('temporal.api.update.v1.Request', u.request),
    });
  }
  void engine;
  return out;
}

/** A failed/timed-out task did not handle its update requests: send them again. */
export function resetUndeliveredUpdates(run: Run, wft: WorkflowTask): void {
  for (const id of wft.deliveredUpdates) {
    const u = run.updates.get(id);
    if (u && u.stage === 'admitted') u.delivered = false;
  }
}

/**
 * Real server: an update request delivered with a task that the worker completed without
 * accepting or rejecting it is rejected (old SDK / unknown handler), so callers never hang.
 * Not when that completion closed the run: the worker may skip updates then, and the close aborts them.
 */
export function rejectUnprocessedUpdates(run: Run, wft: WorkflowTask): void {
  if (run.status !== 'Running') return;
  for (const id of wft.deliveredUpdates) {
    const u = run.updates.get(id);
    if (!u || u.stage !== 'admitted') continue;
    u.stage = 'completed';
    u.outcome = { failure: unprocessedUpdateFailure };
    run.updates.delete(id);
    wake(u);
  }
}

/**
 * Real server (AbortReasonWorkflowTaskFailed): when the server fails a task's completion, the update
 * requests that task delivered are aborted with WorkflowNotReady and forgotten (not sent again; a new
 * request with the same id is a new update). Requests not yet delivered stay and go out with the next task.
 */
export function abortDeliveredUpdates(run: Run, wft: WorkflowTask): void {
  for (const id of wft.deliveredUpdates) {
    const u = run.updates.get(id);
    if (!u || u.stage !== 'admitted') continue;
    u.error = errors.updateWorkflowTaskFailed();
    run.updates.delete(id);
    wake(u);
  }
}

export function isRejectionMessage(m: P): boolean {
  return typeof m?.body?.type_url === 'string' && m.body.type_url.endsWith('temporal.api.update.v1.Rejection');
}

export function applyRejections(engine: Engine, run: Run, messages: P[]): void {
  for (const m of messages) applyUpdateMessage(engine, run, m, 0);
}

export function applyUpdateMessage(engine: Engine, run: Run, m: P, completedId: number): void {
  const body = unpackAny(m.body);
  const u = run.updates.get(m.protocolInstanceId);
  if (!body || !u) return;
  const v = body.value as P;
  switch (body.typeName) {
    case 'temporal.api.update.v1.Acceptance':
      if (u.stage !== 'admitted') return;
      u.acceptedEventId = engine.append(run, 'WorkflowExecutionUpdateAccepted', {
        protocolInstanceId: u.updateId,
        acceptedRequestMessageId: v.acceptedRequestMessageId,
        acceptedRequestSequencingEventId: v.acceptedRequestSequencingEventId,
        acceptedRequest: v.acceptedRequest ?? u.request,
      });
      u.stage = 'accepted';
      wake(u);
      break;
    case 'temporal.api.update.v1.Rejection':
      if (u.stage !== 'admitted') return;
      u.stage = 'completed';
      u.outcome = { failure: v.failure };
      // Rejected updates leave no trace: a later request with the same id is a new update.
      run.updates.delete(u.updateId);
      wake(u);
      break;
    case 'temporal.api.update.v1.Response':
      if (u.stage === 'completed') return;
      engine.append(run, 'WorkflowExecutionUpdateCompleted', { meta: v.meta ?? u.request.meta, acceptedEventId: String(u.acceptedEventId ?? 0), outcome: v.outcome });
      u.stage = 'completed';
      u.outcome = v.outcome;
      wake(u);
      break;
    default:
      break;
  }
  void completedId;
}

/** A Response for an update of a run that the same task completion already closed: outcome only, no event. */
export function settleUpdateAfterClose(run: Run, m: P): void {
  const body = unpackAny(m?.body);
  const u = run.updates.get(m?.protocolInstanceId);
  if (!body || !u || u.stage === 'completed' || body.typeName !== 'temporal.api.update.v1.Response') return;
  u.stage = 'completed';
  u.outcome = (body.value as P).outcome;
  u.error = undefined;
  wake(u);
}

function response(run: Run, u: UpdateState): P {
  return {
    updateRef: { workflowExecution: { workflowId: run.workflowId, runId: run.runId }, updateId: u.updateId },
    outcome: u.stage === 'completed' ? u.outcome : undefined,
    stage: STAGE[u.stage],
  };
}

export interface CallLike { onCancel(cb: () => void): void; deadlineMs(): number }

function waitStage(u: UpdateState, wanted: keyof typeof ORDER, call: CallLike): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (u.error || ORDER[u.stage] >= ORDER[wanted]) {
        clearTimeout(t);
        resolve();
      } else {
        u.waiters.push(check);
      }
    };
    // Answer before the caller's deadline (the client re-polls) rather than let the call fail.
    const t = setTimeout(() => resolve(), Math.max(0, Math.min(call.deadlineMs() - 1000, 60_000)));
    call.onCancel(() => {
      clearTimeout(t);
      resolve();
    });
    check();
  });
}

function wantedStage(waitPolicy: P): keyof typeof ORDER {
  const s: string | undefined = waitPolicy?.lifecycleStage;
  if (s === STAGE.completed) return 'completed';
  if (s === STAGE.admitted) return 'admitted';
  return 'accepted';
}

/** Admits (or finds, by update id) an update on `run` and schedules its delivery. */
export function admitUpdate(engine: Engine, run: Run, request: P): UpdateState {
  const updateId: string | undefined = request?.meta?.updateId;
  if (!updateId) throw errors.invalidArgument('Update id is not set on request.');
  if (!request?.input?.name) throw errors.invalidArgument('Update name is not set on request.');
  const existing = run.updates.get(updateId);
  if (existing) return existing;
  if (run.status !== 'Running') throw errors.workflowCompleted();
  const u: UpdateState = { updateId, request, stage: 'admitted', delivered: false, waiters: [] };
  run.updates.set(updateId, u);
  // No task outstanding: a speculative one. Otherwise it goes out with the scheduled
  // task, or (task running) with the one scheduled after it completes.
  if (!run.wft) engine.scheduleWft(run, { speculative: true });
  engine.clock.poke();
  return u;
}

export async function awaitUpdate(run: Run, u: UpdateState, waitPolicy: P, call: CallLike): Promise<P> {
  await waitStage(u, wantedStage(waitPolicy), call);
  if (u.error && u.stage !== 'completed') throw u.error as ApiError;
  return response(run, u);
}

export async function updateWorkflow(engine: Engine, ns: Namespace, req: P, call: CallLike): Promise<P> {
  // Real server: an update id is looked up in the addressed run only (the current run when no run id is given).
  const run = engine.findRun(ns, req.workflowExecution);
  const updateId = req.request?.meta?.updateId;
  const existing = updateId ? findUpdate(run, updateId) : undefined;
  if (existing) return awaitUpdate(run, existing, req.waitPolicy, call);
  if (run.status !== 'Running') throw errors.workflowCompleted();
  const u = admitUpdate(engine, run, req.request);
  return awaitUpdate(run, u, req.waitPolicy, call);
}

/** An update of this run, unless the run's close aborted it. */
function findUpdate(run: Run, updateId: string): UpdateState | undefined {
  const u = run.updates.get(updateId);
  return u && (u.stage === 'completed' || !u.error) ? u : undefined;
}

export async function pollUpdate(engine: Engine, ns: Namespace, req: P, call: CallLike): Promise<P> {
  const ref = req.updateRef;
  const run = engine.findRun(ns, ref?.workflowExecution);
  const u = findUpdate(run, ref?.updateId);
  if (!u) throw errors.notFound(`update ${ref?.updateId} not found`);
  return awaitUpdate(run, u, req.waitPolicy ?? { lifecycleStage: STAGE.completed }, call);
}
