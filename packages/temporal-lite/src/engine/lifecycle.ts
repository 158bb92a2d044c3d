/**
 * Starting runs (client start, signal-with-start, child, retry, continue-as-new) and
 * closing them with the real server's follow-up rules (workflow retry policy).
 */
import { errors } from '../grpc/errors';
import type { Engine } from './engine';
import { computeRetry, fillRetryPolicy } from './retry';
import type { Namespace, P, Run } from './types';
import { dur, toMs, uuid } from './util';
import { validateSearchAttributes } from './search-attributes';

const DEFAULT_WFT_TIMEOUT_MS = 10_000;
const MAX_WFT_TIMEOUT_MS = 120_000;

export interface RunParams {
  ns: Namespace;
  workflowId: string;
  workflowType: string;
  taskQueue: string;
  input?: P;
  header?: P;
  memo?: Record<string, P>;
  searchAttributes?: Record<string, P>;
  retryPolicy?: P;
  executionTimeoutMs: number;
  runTimeoutMs: number;
  taskTimeoutMs: number;
  identity?: string;
  requestId: string;
  firstWftBackoffMs?: number;
  parent?: Run['parent'];
  attempt?: number;
  firstExecutionRunId?: string;
  continuedExecutionRunId?: string;
  initiator?: string;
  continuedFailure?: P;
  lastCompletionResult?: P;
  executionDeadline?: number;
  userMetadata?: P;
  /** Written between WorkflowExecutionStarted and the first workflow task (signal-with-start). */
  signal?: P;
  runId?: string;
}

/** Creates a run, writes WorkflowExecutionStarted and schedules its first workflow task. */
export function createRun(engine: Engine, p: RunParams): Run {
  const now = engine.now();
  const runId = p.runId ?? uuid();
  let wf = p.ns.workflows.get(p.workflowId);
  if (!wf) {
    wf = { workflowId: p.workflowId, runs: [] };
    p.ns.workflows.set(p.workflowId, wf);
  }
  const taskTimeoutMs = Math.min(p.taskTimeoutMs > 0 ? p.taskTimeoutMs : DEFAULT_WFT_TIMEOUT_MS, MAX_WFT_TIMEOUT_MS);
  // The real server bounds the run by the execution timeout when only that is given.
  let runTimeoutMs = p.runTimeoutMs;
  if (p.executionTimeoutMs > 0 && (runTimeoutMs === 0 || runTimeoutMs > p.executionTimeoutMs)) runTimeoutMs = p.executionTimeoutMs;
  const executionDeadline = p.executionDeadline ?? (p.executionTimeoutMs > 0 ? now + p.executionTimeoutMs : undefined);
  const backoff = p.firstWftBackoffMs ?? 0;
  const run: Run = {
    ns: p.ns,
    workflowId: p.workflowId,
    runId,
    workflowType: p.workflowType,
    taskQueue: p.taskQueue,
    status: 'Running',
    events: [],
    startTime: now,
    executionTime: now + backoff,
    startRequestId: p.requestId,
    requestIds: new Set([p.requestId]),
    input: p.input,
    header: p.header,
    memo: { ...(p.memo ?? {}) },
    searchAttributes: { ...(p.searchAttributes ?? {}) },
    retryPolicy: p.retryPolicy,
    workflowExecutionTimeoutMs: p.executionTimeoutMs,
    workflowRunTimeoutMs: runTimeoutMs,
    workflowTaskTimeoutMs: taskTimeoutMs,
    executionDeadline,
    attempt: p.attempt ?? 1,
    firstExecutionRunId: p.firstExecutionRunId ?? runId,
    parent: p.parent,
    lastCompletedWftStartedEventId: 0,
    buffered: [],
    activities: new Map(),
    bufferedActivityFinishes: new Set(),
    timers: new Map(),
    children: new Map(),
    updates: new Map(),
    queries: new Map(),
    cancelRequested: false,
    runTimers: [],
    watchers: new Set(),
    userMetadata: p.userMetadata,
    stateTransitions: 0,
    historySizeBytes: 0,
    needsWft: false,
  };
  wf.runs.push(run);
  const attrs: P = {
    workflowType: { name: p.workflowType },
    taskQueue: { name: p.taskQueue, kind: 'TASK_QUEUE_KIND_NORMAL' },
    input: p.input,
    workflowTaskTimeout: dur(taskTimeoutMs),
    originalExecutionRunId: runId,
    identity: p.identity,
    firstExecutionRunId: run.firstExecutionRunId,
    attempt: run.attempt,
    header: p.header ?? {},
    workflowId: p.workflowId,
  };
  if (p.executionTimeoutMs > 0) attrs.workflowExecutionTimeout = dur(p.executionTimeoutMs);
  if (runTimeoutMs > 0) attrs.workflowRunTimeout = dur(runTimeoutMs);
  if (executionDeadline) attrs.workflowExecutionExpirationTime = { seconds: String(Math.floor(executionDeadline / 1000)), nanos: (executionDeadline % 1000) * 1e6 };
  if (p.retryPolicy) attrs.retryPolicy = p.retryPolicy;
  if (Object.keys(run.memo).length) attrs.memo = { fields: run.memo };
  if (Object.keys(run.searchAttributes).length) attrs.searchAttributes = { indexedFields: run.searchAttributes };
  if (backoff > 0) attrs.firstWorkflowTaskBackoff = dur(backoff);
  if (p.parent) {
    attrs.parentWorkflowNamespace = p.parent.namespace;
    attrs.parentWorkflowExecution = { workflowId: p.parent.workflowId, runId: p.parent.runId };
    attrs.parentInitiatedEventId = String(p.parent.initiatedEventId);
  }
  if (p.continuedExecutionRunId) attrs.continuedExecutionRunId = p.continuedExecutionRunId;
  if (p.initiator) attrs.initiator = p.initiator;
  if (p.continuedFailure) attrs.continuedFailure = p.continuedFailure;
  if (p.lastCompletionResult) attrs.lastCompletionResult = p.lastCompletionResult;
  engine.append(run, 'WorkflowExecutionStarted', attrs);
  if (p.signal) engine.append(run, 'WorkflowExecutionSignaled', p.signal);

  if (runTimeoutMs > 0) run.runTimers.push(engine.clock.after(runTimeoutMs + backoff, () => timeoutRun(engine, run)));
  if (executionDeadline && executionDeadline < now + runTimeoutMs + backoff) {
    run.runTimers.push(engine.clock.schedule(executionDeadline, () => timeoutRun(engine, run)));
  }
  engine.scheduleWft(run, { delayMs: backoff });
  return run;
}

export const terminal = (run: Run): boolean => run.status !== 'Running';

/** Writes the buffered events and fails an in-flight workflow task before a forced close. */
function prepareForcedClose(engine: Engine, run: Run): void {
  const wft = run.wft;
  if (wft?.state === 'started') {
    if (wft.transient) {
      wft.transient = false;
      wft.speculative = false;
      wft.scheduledEventId = engine.append(run, 'WorkflowTaskScheduled', engine.wftScheduledAttrs(run, wft.attempt, wft.stickyQueue));
      wft.startedEventId = engine.append(run, 'WorkflowTaskStarted', { scheduledEventId: String(wft.scheduledEventId), identity: wft.identity, requestId: wft.requestId });
    }
    engine.append(run, 'WorkflowTaskFailed', {
      scheduledEventId: String(wft.scheduledEventId),
      startedEventId: String(wft.startedEventId),
      cause: 'WORKFLOW_TASK_FAILED_CAUSE_FORCE_CLOSE_COMMAND',
      identity: 'temporal-lite',
    });
  }
  engine.clearWft(run);
  engine.flushBuffered(run);
}

export function terminateRun(engine: Engine, run: Run, reason: string | undefined, details: P, identity: string | undefined): void {
  if (terminal(run)) return;
  prepareForcedClose(engine, run);
  engine.closeRun(run, 'Terminated', 'WorkflowExecutionTerminated', { reason: reason ?? '', details, identity });
}

/** Run or execution timeout; retried as a new run if the retry policy allows. */
export function timeoutRun(engine: Engine, run: Run): void {
  if (terminal(run)) return;
  prepareForcedClose(engine, run);
  const timeoutFailure = { message: 'workflow timeout', timeoutFailureInfo: { timeoutType: 'TIMEOUT_TYPE_START_TO_CLOSE' } };
  // Real server (workflow run timeout task): once the execution deadline has passed the retry state is
  // TIMEOUT and the retry policy is not even consulted; before it, the retry policy decides.
  const expired = run.executionDeadline !== undefined && engine.now() >= run.executionDeadline;
  const decision = expired
    ? { retryState: 'RETRY_STATE_TIMEOUT', backoffMs: 0 }
    : run.retryPolicy ? computeRetry(engine.now(), run.attempt, run.retryPolicy, timeoutFailure, run.executionDeadline) : undefined;
  if (decision && decision.retryState === 'RETRY_STATE_IN_PROGRESS') {
    const newRunId = uuid();
    engine.closeRun(run, 'TimedOut', 'WorkflowExecutionTimedOut', { retryState: 'RETRY_STATE_IN_PROGRESS', newExecutionRunId: newRunId });
    startRetryRun(engine, run, newRunId, decision.backoffMs, timeoutFailure);
    return;
  }
  engine.closeRun(run, 'TimedOut', 'WorkflowExecutionTimedOut', { retryState: decision?.retryState ?? 'RETRY_STATE_RETRY_POLICY_NOT_SET' });
}

/** FailWorkflowExecution: either the final failure or a retry as a new run. */
export function failRun(engine: Engine, run: Run, failure: P, wftCompletedEventId: number): void {
  const decision = run.retryPolicy ? computeRetry(engine.now(), run.attempt, run.retryPolicy, failure, run.executionDeadline) : undefined;
  if (decision && decision.retryState === 'RETRY_STATE_IN_PROGRESS') {
    const newRunId = uuid();
    engine.closeRun(run, 'Failed', 'WorkflowExecutionFailed', {
      failure,
      retryState: 'RETRY_STATE_IN_PROGRESS',
      workflowTaskCompletedEventId: String(wftCompletedEventId),
      newExecutionRunId: newRunId,
    });
    startRetryRun(engine, run, newRunId, decision.backoffMs, failure);
    return;
  }
  engine.closeRun(run, 'Failed', 'WorkflowExecutionFailed', {
    failure,
    retryState: decision?.retryState ?? 'RETRY_STATE_RETRY_POLICY_NOT_SET',
    workflowTaskCompletedEventId: String(wftCompletedEventId),
  });
}

function startRetryRun(engine: Engine, prev: Run, runId: string, backoffMs: number, failure: P): void {
  createRun(engine, {
    ns: prev.ns,
    workflowId: prev.workflowId,
    workflowType: prev.workflowType,
    taskQueue: prev.taskQueue,
    input: prev.input,
    header: prev.header,
    memo: prev.memo,
    searchAttributes: prev.searchAttributes,
    retryPolicy: prev.retryPolicy,
    executionTimeoutMs: prev.workflowExecutionTimeoutMs,
    runTimeoutMs: prev.workflowRunTimeoutMs,
    taskTimeoutMs: prev.workflowTaskTimeoutMs,
    requestId: uuid(),
    firstWftBackoffMs: backoffMs,
    parent: prev.parent,
    attempt: prev.attempt + 1,
    firstExecutionRunId: prev.firstExecutionRunId,
    continuedExecutionRunId: prev.runId,
    initiator: 'CONTINUE_AS_NEW_INITIATOR_RETRY',
    continuedFailure: failure,
    executionDeadline: prev.executionDeadline,
    runId,
  });
}

/** ContinueAsNewWorkflowExecution command: closes `run` and starts the next run of the chain. */
export function continueAsNew(engine: Engine, run: Run, a: P, wftCompletedEventId: number): void {
  const newRunId = uuid();
  const taskQueue = a.taskQueue?.name || run.taskQueue;
  const workflowType = a.workflowType?.name || run.workflowType;
  const runTimeoutMs = a.workflowRunTimeout ? toMs(a.workflowRunTimeout) : run.workflowRunTimeoutMs;
  const taskTimeoutMs = a.workflowTaskTimeout ? toMs(a.workflowTaskTimeout) : run.workflowTaskTimeoutMs;
  const backoffMs = toMs(a.backoffStartInterval);
  const memo = a.memo?.fields ? a.memo.fields : run.memo;
  const searchAttributes = a.searchAttributes?.indexedFields ? a.searchAttributes.indexedFields : run.searchAttributes;
  engine.closeRun(run, 'ContinuedAsNew', 'WorkflowExecutionContinuedAsNew', {
    newExecutionRunId: newRunId,
    workflowType: { name: workflowType },
    taskQueue: { name: taskQueue, kind: 'TASK_QUEUE_KIND_NORMAL' },
    input: a.input,
    workflowRunTimeout: runTimeoutMs > 0 ? dur(runTimeoutMs) : undefined,
    workflowTaskTimeout: dur(taskTimeoutMs),
    workflowTaskCompletedEventId: String(wftCompletedEventId),
    backoffStartInterval: a.backoffStartInterval,
    initiator: a.initiator ?? 'CONTINUE_AS_NEW_INITIATOR_WORKFLOW',
    failure: a.failure,
    lastCompletionResult: a.lastCompletionResult,
    header: a.header,
    memo: { fields: memo },
    searchAttributes: { indexedFields: searchAttributes },
  });
  createRun(engine, {
    ns: run.ns,
    workflowId: run.workflowId,
    workflowType,
    taskQueue,
    input: a.input,
    header: a.header,
    memo,
    searchAttributes,
    retryPolicy: a.retryPolicy ?? run.retryPolicy,
    executionTimeoutMs: run.workflowExecutionTimeoutMs,
    runTimeoutMs,
    taskTimeoutMs,
    requestId: uuid(),
    firstWftBackoffMs: backoffMs,
    parent: run.parent,
    attempt: 1,
    firstExecutionRunId: run.firstExecutionRunId,
    continuedExecutionRunId: run.runId,
    initiator: a.initiator ?? 'CONTINUE_AS_NEW_INITIATOR_WORKFLOW',
    lastCompletionResult: a.lastCompletionResult,
    executionDeadline: run.executionDeadline,
    runId: newRunId,
  });
}

export interface StartOutcome { run: Run; started: boolean }

/**
 * StartWorkflowExecution rules: request-id dedup, id conflict policy for a running
 * workflow, id reuse policy for a closed one.
 */
export function startWorkflow(engine: Engine, ns: Namespace, req: P, extra: { signal?: P; defaultConflictPolicy?: string } = {}): StartOutcome {
  const workflowId: string | undefined = req.workflowId;
  if (!workflowId) throw errors.invalidArgument('WorkflowId is not set on request.');
  if (workflowId.length > 1000) throw errors.invalidArgument('WorkflowId length exceeds limit.');
  const workflowType: string | undefined = req.workflowType?.name;
  if (!workflowType) throw errors.invalidArgument('WorkflowType is not set on request.');
  const taskQueue: string | undefined = req.taskQueue?.name;
  if (!taskQueue) throw errors.invalidArgument('TaskQueue is not set on request.');
  const requestId: string = req.requestId || uuid();
  for (const [name, d] of [['WorkflowExecutionTimeout', req.workflowExecutionTimeout], ['WorkflowRunTimeout', req.workflowRunTimeout], ['WorkflowTaskTimeout', req.workflowTaskTimeout]] as const) {
    if (d && toMs(d) < 0) throw errors.invalidArgument(`Invalid ${name}.`);
  }
  const searchAttributes = req.searchAttributes?.indexedFields ?? {};
  validateSearchAttributes(ns, searchAttributes);
  const retryPolicy = req.retryPolicy ? fillRetryPolicy(req.retryPolicy) : undefined;
  if (retryPolicy && Number(retryPolicy.maximumAttempts ?? 0) < 0) throw errors.invalidArgument('MaximumAttempts cannot be negative on retry policy.');

  const current = engine.currentRun(ns, workflowId);
  let terminateExisting: Run | undefined;
  if (current) {
    if (current.requestIds.has(requestId) && current.startRequestId === requestId) return { run: current, started: true };
    const reuse: string = req.workflowIdReusePolicy ?? 'WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE';
    if (current.status === 'Running') {
      let conflict: string = req.workflowIdConflictPolicy ?? extra.defaultConflictPolicy ?? 'WORKFLOW_ID_CONFLICT_POLICY_FAIL';
      if (conflict === 'WORKFLOW_ID_CONFLICT_POLICY_UNSPECIFIED') conflict = extra.defaultConflictPolicy ?? 'WORKFLOW_ID_CONFLICT_POLICY_FAIL';
      if (reuse === 'WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING') conflict = 'WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING';
      if (conflict === 'WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING') {
        if (extra.signal) engine.addExternal(current, { write: () => engine.append(current, 'WorkflowExecutionSignaled', extra.signal) });
        return { run: current, started: false };
      }
      if (conflict === 'WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING') {
        terminateExisting = current;
      } else {
        throw errors.alreadyStarted(
          `Workflow execution is already running. WorkflowId: ${workflowId}, RunId: ${current.runId}.`,
          current.startRequestId,
          current.runId,
        );
      }
    } else {
      const failedLike = current.status !== 'Completed' && current.status !== 'ContinuedAsNew';
      if (reuse === 'WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE' || (reuse === 'WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY' && !failedLike)) {
        throw errors.alreadyStarted(
          `Workflow execution already finished and its workflow ID reuse policy does not allow it to be started again. WorkflowId: ${workflowId}, RunId: ${current.runId}.`,
          current.startRequestId,
          current.runId,
        );
      }
    }
  }
  const runId = uuid();
  if (terminateExisting) terminateRun(engine, terminateExisting, 'terminated by new runID', undefined, req.identity);
  const run = createRun(engine, {
    ns,
    workflowId,
    workflowType,
    taskQueue,
    input: req.input,
    header: req.header,
    memo: req.memo?.fields,
    searchAttributes,
    retryPolicy,
    executionTimeoutMs: toMs(req.workflowExecutionTimeout),
    runTimeoutMs: toMs(req.workflowRunTimeout),
    taskTimeoutMs: toMs(req.workflowTaskTimeout),
    identity: req.identity,
    requestId,
    firstWftBackoffMs: toMs(req.workflowStartDelay),
    userMetadata: req.userMetadata,
    signal: extra.signal,
    runId,
  });
  return { run, started: true };
}
