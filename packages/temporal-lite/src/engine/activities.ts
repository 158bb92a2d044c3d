/**
 * Activities: scheduling (with the server's timeout filling), dispatch to pollers,
 * server-side retries with backoff, the four timeouts, heartbeats, cancellation.
 * History gets ActivityTaskScheduled when scheduled and — only when the activity
 * closes — one ActivityTaskStarted (last attempt) plus the close event.
 */
import { errors } from '../grpc/errors';
import type { ActRef, Engine, PollCtx } from './engine';
import { computeRetry, fillRetryPolicy } from './retry';
import type { ActivityState, P, Run } from './types';
import { decodeToken, dur, encodeToken, nextNonce, toMs, ts } from './util';

export function installActivities(engine: Engine): void {
  engine.materializeActivity = (ref, ctx) => materializeActivity(engine, ref, ctx);
}

export function validateActivityCommand(run: Run, a: P, inBatch: Set<string>): string | undefined {
  if (!a) return 'ScheduleActivityTaskCommandAttributes is not set on command.';
  if (!a.activityId) return 'ActivityId is not set on command.';
  if (!a.activityType?.name) return 'ActivityType is not set on command.';
  if ([...run.activities.values()].some((x) => x.activityId === a.activityId) || inBatch.has(a.activityId)) return `Activity ID ${a.activityId} already in use.`;
  for (const k of ['scheduleToCloseTimeout', 'scheduleToStartTimeout', 'startToCloseTimeout', 'heartbeatTimeout']) {
    if (a[k] && toMs(a[k]) < 0) return `Invalid ${k}.`;
  }
  if (toMs(a.scheduleToCloseTimeout) <= 0 && toMs(a.startToCloseTimeout) <= 0) return 'A valid StartToClose or ScheduleToCloseTimeout is not set on command.';
  return undefined;
}

/** The real server's defaults: bounded by the run timeout, start-to-close from schedule-to-close and vice versa. */
function fillTimeouts(run: Run, a: P): { s2c: number; s2s: number; st2c: number; hb: number } {
  const runTimeout = run.workflowRunTimeoutMs;
  let s2c = toMs(a.scheduleToCloseTimeout);
  let s2s = toMs(a.scheduleToStartTimeout);
  let st2c = toMs(a.startToCloseTimeout);
  let hb = toMs(a.heartbeatTimeout);
  if (runTimeout > 0) {
    if (s2c === 0 || s2c > runTimeout) s2c = runTimeout;
    if (s2s === 0 || s2s > runTimeout) s2s = runTimeout;
    if (st2c === 0 || st2c > runTimeout) st2c = runTimeout;
  }
  if (s2c > 0) {
    if (s2s === 0 || s2s > s2c) s2s = s2c;
    if (st2c === 0 || st2c > s2c) st2c = s2c;
  }
  if (hb > st2c && st2c > 0) hb = st2c;
  return { s2c, s2s, st2c, hb };
}

export function scheduleActivity(engine: Engine, run: Run, a: P, completedId: number): void {
  const { s2c, s2s, st2c, hb } = fillTimeouts(run, a);
  const taskQueue: string = a.taskQueue?.name || run.taskQueue;
  const retryPolicy = fillRetryPolicy(a.retryPolicy);
  const attrs: P = {
    activityId: a.activityId,
    activityType: a.activityType,
    taskQueue: { name: taskQueue, kind: 'TASK_QUEUE_KIND_NORMAL' },
    header: a.header ?? {},
    input: a.input,
    scheduleToCloseTimeout: dur(s2c),
    scheduleToStartTimeout: dur(s2s),
    startToCloseTimeout: dur(st2c),
    heartbeatTimeout: dur(hb),
    workflowTaskCompletedEventId: String(completedId),
    retryPolicy,
    useWorkflowBuildId: a.useWorkflowBuildId,
    priority: a.priority,
  };
  const scheduledEventId = engine.append(run, 'ActivityTaskScheduled', attrs);
  const now = engine.now();
  const act: ActivityState = {
    scheduledEventId,
    activityId: a.activityId,
    activityType: a.activityType.name,
    taskQueue,
    attrs,
    attempt: 1,
    state: 'scheduled',
    scheduledTime: now,
    currentAttemptScheduledTime: now,
    nonce: nextNonce(),
    cancelRequested: false,
    timers: [],
    scheduleToCloseDeadline: s2c > 0 ? now + s2c : undefined,
    retryPolicy,
    queued: false,
  };
  run.activities.set(scheduledEventId, act);
  if (act.scheduleToCloseDeadline) {
    act.timers.push(engine.clock.schedule(act.scheduleToCloseDeadline, () => timeoutActivity(engine, run, act, 'TIMEOUT_TYPE_SCHEDULE_TO_CLOSE')));
  }
  enqueue(engine, run, act, s2s);
}

/** Puts an attempt in its task queue, with a schedule-to-start timeout for that attempt. */
function enqueue(engine: Engine, run: Run, act: ActivityState, s2s: number): void {
  act.state = 'scheduled';
  act.nonce = nextNonce();
  act.queued = true;
  act.currentAttemptScheduledTime = engine.now();
  // A scheduled or running attempt holds time still (Java test server rule); backoff does not.
  engine.clock.hold(act);
  if (s2s > 0 && (!act.scheduleToCloseDeadline || s2s < act.scheduleToCloseDeadline - engine.now())) {
    const nonce = act.nonce;
    act.timers.push(engine.clock.after(s2s, () => {
      if (act.nonce === nonce && act.state === 'scheduled') timeoutActivity(engine, run, act, 'TIMEOUT_TYPE_SCHEDULE_TO_START');
    }));
  }
  engine.actQueue(run.ns.name, act.taskQueue).offer({ run, scheduledEventId: act.scheduledEventId, nonce: act.nonce });
  engine.clock.poke();
}

function materializeActivity(engine: Engine, ref: ActRef, ctx: PollCtx): P | undefined {
  const run = ref.run;
  const act = run.activities.get(ref.scheduledEventId);
  if (!act || act.nonce !== ref.nonce || act.state !== 'scheduled' || run.status !== 'Running') return undefined;
  act.state = 'started';
  act.queued = false;
  act.startedTime = engine.now();
  act.startedIdentity = ctx.identity;
  act.startedRequestId = ctx.requestId;
  act.lastHeartbeatTime = undefined;
  const nonce = act.nonce;
  const st2c = toMs(act.attrs.startToCloseTimeout);
  if (st2c > 0) {
    act.timers.push(engine.clock.after(st2c, () => {
      if (act.nonce === nonce && act.state === 'started') attemptFailed(engine, run, act, timeoutFailure('TIMEOUT_TYPE_START_TO_CLOSE', act), 'TIMEOUT_TYPE_START_TO_CLOSE');
    }));
  }
  armHeartbeatTimer(engine, run, act);
  return {
    taskToken: encodeToken({ k: 'act', ns: run.ns.name, wid: run.workflowId, rid: run.runId, id: act.scheduledEventId, n: nonce, a: act.attempt }),
    workflowNamespace: run.ns.name,
    workflowType: { name: run.workflowType },
    workflowExecution: { workflowId: run.workflowId, runId: run.runId },
    activityType: act.attrs.activityType,
    activityId: act.activityId,
    header: act.attrs.header,
    input: act.attrs.input,
    heartbeatDetails: act.heartbeatDetails,
    scheduledTime: ts(act.scheduledTime),
    currentAttemptScheduledTime: ts(act.currentAttemptScheduledTime),
    startedTime: ts(act.startedTime),
    attempt: act.attempt,
    scheduleToCloseTimeout: act.attrs.scheduleToCloseTimeout,
    startToCloseTimeout: act.attrs.startToCloseTimeout,
    heartbeatTimeout: act.attrs.heartbeatTimeout,
    retryPolicy: act.retryPolicy,
    priority: act.attrs.priority,
  };
}

function armHeartbeatTimer(engine: Engine, run: Run, act: ActivityState): void {
  const hb = toMs(act.attrs.heartbeatTimeout);
  if (hb <= 0) return;
  const nonce = act.nonce;
  const beat = act.lastHeartbeatTime;
  // One live heartbeat deadline per attempt: each heartbeat replaces the previous one.
  const prev = act.heartbeatTimer;
  if (prev) {
    prev.cancel();
    act.timers = act.timers.filter((t) => t !== prev);
  }
  act.heartbeatTimer = engine.clock.after(hb, () => {
    if (act.nonce === nonce && act.state === 'started' && act.lastHeartbeatTime === beat) {
      attemptFailed(engine, run, act, timeoutFailure('TIMEOUT_TYPE_HEARTBEAT', act), 'TIMEOUT_TYPE_HEARTBEAT');
    }
  });
  act.timers.push(act.heartbeatTimer);
}

function timeoutFailure(timeoutType: string, act: ActivityState): P {
  const name = timeoutType.replace('TIMEOUT_TYPE_', '').split('_').map((w) => w[0] + w.slice(1).toLowerCase()).join('');
  return { message: `activity ${name} timeout`, timeoutFailureInfo: { timeoutType, lastHeartbeatDetails: act.heartbeatDetails } };
}

function clearTimers(act: ActivityState): void {
  for (const t of act.timers) t.cancel();
  act.timers = [];
}

function releaseTime(engine: Engine, act: ActivityState): void {
  engine.clock.release(act);
}

/** Removes the activity and writes [ActivityTaskStarted,] close event (buffered if a workflow task is in flight). */
function closeActivity(engine: Engine, run: Run, act: ActivityState, name: string, attrs: P): void {
  clearTimers(act);
  releaseTime(engine, act);
  act.nonce = nextNonce();
  run.activities.delete(act.scheduledEventId);
  const wasStarted = act.state === 'started';
  const attempt = act.attempt;
  if (run.wft?.state === 'started') run.bufferedActivityFinishes.add(act.scheduledEventId);
  engine.addExternal(run, {
    activityScheduledEventId: act.scheduledEventId,
    write: () => {
      let startedEventId = 0;
      if (wasStarted) {
        startedEventId = engine.append(run, 'ActivityTaskStarted', {
          scheduledEventId: String(act.scheduledEventId),
          identity: act.startedIdentity,
          requestId: act.startedRequestId,
          attempt,
          lastFailure: attempt > 1 ? act.lastFailure : undefined,
        });
      }
      engine.append(run, name, { ...attrs, scheduledEventId: String(act.scheduledEventId), startedEventId: String(startedEventId) });
    },
  });
}

/** A failed or timed-out attempt: retry with backoff, or close the activity for good. */
function attemptFailed(engine: Engine, run: Run, act: ActivityState, failure: P, timeoutType: string | undefined, identity?: string): void {
  // Real server (RetryActivity): once cancellation was requested, a failed attempt is final and its
  // retry state says so, whatever the retry policy would have decided.
  const decision = act.cancelRequested
    ? { retryState: 'RETRY_STATE_CANCEL_REQUESTED', backoffMs: 0 }
    : computeRetry(engine.now(), act.attempt, act.retryPolicy, failure, act.scheduleToCloseDeadline);
  if (decision.retryState === 'RETRY_STATE_IN_PROGRESS') {
    clearTimers(act);
    act.lastFailure = failure;
    act.state = 'backoff';
    act.nonce = nextNonce();
    act.attempt++;
    if (act.scheduleToCloseDeadline) {
      act.timers.push(engine.clock.schedule(act.scheduleToCloseDeadline, () => timeoutActivity(engine, run, act, 'TIMEOUT_TYPE_SCHEDULE_TO_CLOSE')));
    }
    const nonce = act.nonce;
    act.timers.push(engine.clock.after(decision.backoffMs, () => {
      if (act.nonce === nonce && act.state === 'backoff') enqueue(engine, run, act, toMs(act.attrs.scheduleToStartTimeout));
    }));
    releaseTime(engine, act);
    return;
  }
  if (timeoutType) {
    closeActivity(engine, run, act, 'ActivityTaskTimedOut', { failure, retryState: decision.retryState });
  } else {
    closeActivity(engine, run, act, 'ActivityTaskFailed', { failure, identity, retryState: decision.retryState });
  }
}

function timeoutActivity(engine: Engine, run: Run, act: ActivityState, timeoutType: string): void {
  if (!run.activities.has(act.scheduledEventId) || run.status !== 'Running') return;
  const failure = timeoutFailure(timeoutType, act);
  if (timeoutType === 'TIMEOUT_TYPE_SCHEDULE_TO_CLOSE' && act.lastFailure) failure.cause = act.lastFailure;
  closeActivity(engine, run, act, 'ActivityTaskTimedOut', { failure, retryState: 'RETRY_STATE_TIMEOUT' });
}

/**
 * RequestCancelActivityTask. Not started → ActivityTaskCanceled right away (and the
 * workflow needs a new task to see it); started → the worker learns it via heartbeat.
 * Returns whether a new workflow task is required.
 */
export function requestCancelActivity(engine: Engine, run: Run, scheduledEventId: number, completedId: number, identity: string | undefined): boolean {
  const act = run.activities.get(scheduledEventId);
  if (!act) {
    // The activity finished while the task was in flight (its events are buffered).
    engine.append(run, 'ActivityTaskCancelRequested', { scheduledEventId: String(scheduledEventId), workflowTaskCompletedEventId: String(completedId) });
    return false;
  }
  const reqId = engine.append(run, 'ActivityTaskCancelRequested', { scheduledEventId: String(scheduledEventId), workflowTaskCompletedEventId: String(completedId) });
  act.cancelRequested = true;
  act.cancelRequestedEventId = reqId;
  if (act.state !== 'started') {
    clearTimers(act);
    releaseTime(engine, act);
    act.nonce = nextNonce();
    run.activities.delete(scheduledEventId);
    engine.append(run, 'ActivityTaskCanceled', {
      latestCancelRequestedEventId: String(reqId),
      scheduledEventId: String(scheduledEventId),
      startedEventId: '0',
      identity,
    });
    return true;
  }
  return false;
}

// ------------------------------------------------------------------ worker/client RPCs

function byToken(engine: Engine, token: unknown): { run: Run; act: ActivityState } {
  const t = decodeToken(token);
  if (t.k !== 'act') throw errors.invalidArgument('Task token is not an activity task token.');
  const ns = engine.ns(t.ns);
  const run = ns.workflows.get(t.wid)?.runs.find((r) => r.runId === t.rid);
  if (!run) throw errors.notFound('Workflow execution not found.');
  if (run.status !== 'Running') throw errors.workflowCompleted();
  const act = run.activities.get(t.id);
  if (!act || act.nonce !== t.n || act.state !== 'started') throw errors.notFound('Activity task not found.');
  return { run, act };
}

function byId(engine: Engine, req: P): { run: Run; act: ActivityState } {
  const ns = engine.ns(req.namespace);
  if (!req.workflowId) throw errors.invalidArgument('WorkflowId is not set on request.');
  if (!req.activityId) throw errors.invalidArgument('ActivityId is not set on request.');
  const run = engine.findRun(ns, { workflowId: req.workflowId, runId: req.runId });
  if (run.status !== 'Running') throw errors.workflowCompleted();
  const act = [...run.activities.values()].find((a) => a.activityId === req.activityId);
  if (!act) throw errors.notFound('Activity task not found.');
  if (act.state !== 'started') throw errors.notFound('Activity task not started.');
  return { run, act };
}

function recordHeartbeat(engine: Engine, run: Run, act: ActivityState, details: P): P {
  if (details !== undefined) act.heartbeatDetails = details;
  act.lastHeartbeatTime = engine.now();
  armHeartbeatTimer(engine, run, act);
  return { cancelRequested: act.cancelRequested, activityPaused: false, activityReset: false };
}

function completed(engine: Engine, run: Run, act: ActivityState, req: P): P {
  closeActivity(engine, run, act, 'ActivityTaskCompleted', { result: req.result, identity: req.identity });
  return {};
}

function failed(engine: Engine, run: Run, act: ActivityState, req: P): P {
  if (req.lastHeartbeatDetails !== undefined) act.heartbeatDetails = req.lastHeartbeatDetails;
  const failure = req.failure ?? { message: 'activity failed' };
  attemptFailed(engine, run, act, failure, undefined, req.identity);
  return {};
}

function canceled(engine: Engine, run: Run, act: ActivityState, req: P): P {
  // Real server (ErrActivityTaskNotCancelRequested): an attempt can only be reported canceled after the
  // workflow asked for it; otherwise the call fails and the attempt keeps running.
  if (!act.cancelRequested) throw errors.invalidArgument('unable to mark activity as canceled without activity being request canceled first');
  closeActivity(engine, run, act, 'ActivityTaskCanceled', {
    details: req.details,
    latestCancelRequestedEventId: String(act.cancelRequestedEventId ?? 0),
    identity: req.identity,
  });
  return {};
}

export const activityRpc = {
  heartbeat: (e: Engine, req: P): P => { const { run, act } = byToken(e, req.taskToken); return recordHeartbeat(e, run, act, req.details); },
  heartbeatById: (e: Engine, req: P): P => { const { run, act } = byId(e, req); return recordHeartbeat(e, run, act, req.details); },
  completed: (e: Engine, req: P): P => { const { run, act } = byToken(e, req.taskToken); return completed(e, run, act, req); },
  completedById: (e: Engine, req: P): P => { const { run, act } = byId(e, req); return completed(e, run, act, req); },
  failed: (e: Engine, req: P): P => { const { run, act } = byToken(e, req.taskToken); return failed(e, run, act, req); },
  failedById: (e: Engine, req: P): P => { const { run, act } = byId(e, req); return failed(e, run, act, req); },
  canceled: (e: Engine, req: P): P => { const { run, act } = byToken(e, req.taskToken); return canceled(e, run, act, req); },
  canceledById: (e: Engine, req: P): P => { const { run, act } = byId(e, req); return canceled(e, run, act, req); },
};

/** PendingActivityInfo for DescribeWorkflowExecution. */
export function describePendingActivity(act: ActivityState): P {
  const state = act.cancelRequested ? 'PENDING_ACTIVITY_STATE_CANCEL_REQUESTED' : act.state === 'started' ? 'PENDING_ACTIVITY_STATE_STARTED' : 'PENDING_ACTIVITY_STATE_SCHEDULED';
  return {
    activityId: act.activityId,
    activityType: { name: act.activityType },
    state,
    heartbeatDetails: act.heartbeatDetails,
    lastHeartbeatTime: act.lastHeartbeatTime ? ts(act.lastHeartbeatTime) : undefined,
    lastStartedTime: act.startedTime ? ts(act.startedTime) : undefined,
    attempt: act.attempt,
    maximumAttempts: Number(act.retryPolicy.maximumAttempts ?? 0),
    scheduledTime: ts(act.currentAttemptScheduledTime),
    expirationTime: act.scheduleToCloseDeadline ? ts(act.scheduleToCloseDeadline) : undefined,
    lastFailure: act.lastFailure,
    lastWorkerIdentity: act.startedIdentity,
  };
}
