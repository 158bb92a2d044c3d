/**
 * Workflow task lifecycle: handing a task to a poller (WorkflowTaskStarted + full
 * history), completion (WorkflowTaskCompleted, command events, then buffered events),
 * failure and start-to-close timeout (retried as a new attempt).
 */
import { errors } from '../grpc/errors';
import { applyCommands, validateCommands } from './commands';
import type { Engine, PollCtx, QueryRef, WftRef } from './engine';
import { attachQueries, dispatchQueries, materializeQueryTask, resolveQueryResults } from './queries';
import type { P, Run, WorkflowTask } from './types';
import { abortDeliveredUpdates, applyRejections, isRejectionMessage, rejectUnprocessedUpdates, resetUndeliveredUpdates, takeUpdateMessages } from './updates';
import { decodeToken, encodeToken, toMs, ts } from './util';

export function installWorkflowTasks(engine: Engine): void {
  engine.materializeWft = (ref: WftRef | QueryRef, ctx: PollCtx) =>
    ref.kind === 'query' ? materializeQueryTask(engine, ref, ctx) : materializeWft(engine, ref, ctx);
  engine.stickyTimedOut = (run, wft) => stickyScheduleToStartTimeout(engine, run, wft);
}

/**
 * Real server (timer queue, SCHEDULE_TO_START of a sticky task): WorkflowTaskTimedOut with no
 * started event, stickiness cleared, and a new task on the normal queue. The attempt is not
 * incremented (so the new task is a normal, persisted one and carries the full history).
 */
function stickyScheduleToStartTimeout(engine: Engine, run: Run, wft: WorkflowTask): void {
  if (run.wft !== wft || wft.state !== 'scheduled' || run.status !== 'Running') return;
  if (wft.queue) engine.wfQueue(run.ns.name, wft.queue).remove((r) => r.kind === 'wft' && r.nonce === wft.nonce);
  if (wft.transient) {
    wft.transient = false;
    wft.speculative = false;
    wft.scheduledEventId = engine.append(run, 'WorkflowTaskScheduled', engine.wftScheduledAttrs(run, wft.attempt, wft.stickyQueue));
  }
  engine.append(run, 'WorkflowTaskTimedOut', { scheduledEventId: String(wft.scheduledEventId), timeoutType: 'TIMEOUT_TYPE_SCHEDULE_TO_START' });
  run.sticky = undefined;
  engine.clearWft(run);
  resetUndeliveredUpdates(run, wft);
  engine.flushBuffered(run);
  engine.scheduleWft(run, { attempt: wft.attempt });
  dispatchQueries(engine, run);
}

function materializeWft(engine: Engine, ref: WftRef, ctx: PollCtx): P | undefined {
  const run = ref.run;
  const wft = run.wft;
  if (!wft || wft.nonce !== ref.nonce || wft.state !== 'scheduled' || run.status !== 'Running') return undefined;
  wft.state = 'started';
  wft.stickyTimer?.cancel();
  wft.stickyTimer = undefined;
  // Taken from the sticky queue: only the events after the last task this worker completed
  // (real server: from previousStartedEventId + 1); from the normal queue: the full history.
  const partial = wft.stickyQueue !== undefined && wft.queue === wft.stickyQueue;
  wft.identity = ctx.identity;
  wft.requestId = ctx.requestId;
  wft.startedTime = engine.now();
  // Real server defaults: continue-as-new is suggested from 4 Ki events or 4 MiB of history.
  const suggestContinueAsNew = run.events.length >= 4096 || run.historySizeBytes >= 4 * 1024 * 1024;
  const startedAttrs = {
    scheduledEventId: String(wft.scheduledEventId),
    identity: ctx.identity,
    requestId: ctx.requestId,
    historySizeBytes: String(run.historySizeBytes),
    suggestContinueAsNew,
  };
  if (wft.transient) {
    // Transient events take the next ids at the moment they are handed out.
    wft.scheduledEventId = run.events.length + 1;
    startedAttrs.scheduledEventId = String(wft.scheduledEventId);
    wft.startedEventId = wft.scheduledEventId + 1;
    wft.transientEvents = [
      engine.makeEvent(run, 'WorkflowTaskScheduled', engine.wftScheduledAttrs(run, wft.attempt, wft.stickyQueue), wft.scheduledEventId),
      engine.makeEvent(run, 'WorkflowTaskStarted', startedAttrs, wft.startedEventId),
    ];
  } else {
    wft.startedEventId = engine.append(run, 'WorkflowTaskStarted', startedAttrs);
  }
  wft.timeoutTimer = engine.clock.after(run.workflowTaskTimeoutMs, () => timeoutWft(engine, run, wft));
  const messages = takeUpdateMessages(engine, run, wft);
  const queries = attachQueries(run, wft);
  return {
    taskToken: encodeToken({ k: 'wft', ns: run.ns.name, wid: run.workflowId, rid: run.runId, id: wft.scheduledEventId, n: wft.nonce, a: wft.attempt }),
    workflowExecution: { workflowId: run.workflowId, runId: run.runId },
    workflowType: { name: run.workflowType },
    previousStartedEventId: String(run.lastCompletedWftStartedEventId),
    startedEventId: String(wft.startedEventId),
    attempt: wft.attempt,
    history: { events: historyFor(run, wft, partial) },
    workflowExecutionTaskQueue: { name: run.taskQueue, kind: 'TASK_QUEUE_KIND_NORMAL' },
    scheduledTime: ts(wft.scheduledTime),
    startedTime: ts(wft.startedTime),
    queries,
    messages,
  };
}

function historyFor(run: Run, wft: WorkflowTask, partial: boolean): P[] {
  const persisted = partial ? run.events.slice(run.lastCompletedWftStartedEventId) : run.events;
  return wft.transientEvents ? [...persisted, ...wft.transientEvents] : persisted;
}

/** Real server: every completion sets (or, without `stickyAttributes`, clears) the run's sticky queue. */
function setStickiness(run: Run, attrs: P): void {
  const queue: string | undefined = attrs?.workerTaskQueue?.name;
  run.sticky = queue ? { queue, scheduleToStartMs: toMs(attrs.scheduleToStartTimeout) || 10_000 } : undefined;
}

/** Finds the run and started workflow task a token refers to, or NOT_FOUND like the real server. */
export function lookupWftToken(engine: Engine, token: unknown): { run: Run; wft: WorkflowTask } {
  const t = decodeToken(token);
  if (t.k !== 'wft') throw errors.invalidArgument('Task token is not a workflow task token.');
  const ns = engine.ns(t.ns);
  const run = ns.workflows.get(t.wid)?.runs.find((r) => r.runId === t.rid);
  if (!run) throw errors.notFound('Workflow task not found.');
  if (run.status !== 'Running') throw errors.notFound('Workflow task not found: workflow execution already completed.');
  const wft = run.wft;
  if (!wft || wft.nonce !== t.n || wft.state !== 'started') throw errors.notFound('Workflow task not found.');
  return { run, wft };
}

/** Makes a transient task's scheduled/started events part of the history. */
function persistTransient(run: Run, wft: WorkflowTask): void {
  if (!wft.transient) return;
  wft.transient = false;
  wft.speculative = false;
  for (const ev of wft.transientEvents ?? []) {
    run.events.push(ev);
    run.historySizeBytes += 100;
  }
  wft.transientEvents = undefined;
}

/** After a task closed without closing the run: new task if needed, pending queries. */
function afterTaskClosed(engine: Engine, run: Run, needNewTask: boolean): void {
  if (run.status === 'Running') {
    const hadBuffered = engine.flushBuffered(run);
    const undelivered = [...run.updates.values()].some((u) => u.stage === 'admitted' && !u.delivered);
    if (hadBuffered || needNewTask || run.needsWft) {
      run.needsWft = false;
      engine.scheduleWft(run);
    } else if (undelivered) {
      // Updates that arrived during the task get their own (speculative) task.
      engine.scheduleWft(run, { speculative: true });
    }
  }
  dispatchQueries(engine, run);
  engine.clock.poke();
}

export function respondWorkflowTaskCompleted(engine: Engine, req: P): P {
  const { run, wft } = lookupWftToken(engine, req.taskToken);
  const commands: P[] = req.commands ?? [];
  const messages: P[] = req.messages ?? [];
  resolveQueryResults(run, req.queryResults);
  setStickiness(run, req.stickyAttributes);

  // A speculative task that only rejected updates leaves no trace in history.
  if (wft.speculative && commands.length === 0 && run.buffered.length === 0 && !req.forceCreateNewWorkflowTask && messages.every(isRejectionMessage)) {
    engine.clearWft(run);
    applyRejections(engine, run, messages);
    rejectUnprocessedUpdates(run, wft);
    afterTaskClosed(engine, run, false);
    // Tells the SDK to roll its history back to before the dropped task's events.
    return { resetHistoryEventId: String(run.lastCompletedWftStartedEventId) };
  }

  const problem = validateCommands(engine, run, commands, messages);
  if (problem) {
    // Real server: a retried task that keeps producing bad commands is dropped (it will time
    // out); otherwise WorkflowTaskFailed + a new task. The worker gets INVALID_ARGUMENT either way.
    const unhandled = problem.cause === 'WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND';
    abortDeliveredUpdates(run, wft);
    if (wft.attempt > 1 && !unhandled) throw errors.invalidArgument(problem.message);
    failWorkflowTask(engine, run, wft, problem.cause, { message: problem.message, serverFailureInfo: { nonRetryable: true } }, req.identity);
    throw errors.invalidArgument(problem.message);
  }

  wft.timeoutTimer?.cancel();
  persistTransient(run, wft);
  const completedId = engine.append(run, 'WorkflowTaskCompleted', {
    scheduledEventId: String(wft.scheduledEventId),
    startedEventId: String(wft.startedEventId),
    identity: req.identity,
    binaryChecksum: req.binaryChecksum,
    sdkMetadata: req.sdkMetadata,
    meteringMetadata: req.meteringMetadata,
    workerVersion: req.workerVersionStamp,
  });
  run.lastCompletedWftStartedEventId = wft.startedEventId!;
  engine.clearWft(run);
  const { newTaskNeeded, postCommit } = applyCommands(engine, run, commands, messages, completedId, req.identity);
  if (!req.forceCreateNewWorkflowTask) rejectUnprocessedUpdates(run, wft);
  afterTaskClosed(engine, run, newTaskNeeded || !!req.forceCreateNewWorkflowTask);
  for (const f of postCommit) f();
  return {};
}

export function respondWorkflowTaskFailed(engine: Engine, req: P): P {
  const { run, wft } = lookupWftToken(engine, req.taskToken);
  failWorkflowTask(engine, run, wft, req.cause ?? 'WORKFLOW_TASK_FAILED_CAUSE_UNSPECIFIED', req.failure, req.identity);
  return {};
}

/** WorkflowTaskFailed, then a retry attempt (with backoff after the first retries). */
export function failWorkflowTask(engine: Engine, run: Run, wft: WorkflowTask, cause: string, failure: P, identity: string | undefined): void {
  wft.timeoutTimer?.cancel();
  // Real server: a failing task of a sticky run first clears stickiness and is retried as attempt 1
  // (a normal task on the normal queue, full history) before retries become transient attempts.
  const wasSticky = clearStickiness(run);
  // A failing retry (transient, attempt > 1) leaves no events: only the first failure is recorded.
  if (!(wft.transient && wft.attempt > 1)) {
    persistTransient(run, wft);
    engine.append(run, 'WorkflowTaskFailed', {
      scheduledEventId: String(wft.scheduledEventId),
      startedEventId: String(wft.startedEventId),
      cause,
      failure,
      identity,
    });
  }
  retryTask(engine, run, wft, cause === 'WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND' || wasSticky);
}

function clearStickiness(run: Run): boolean {
  const was = run.sticky !== undefined;
  run.sticky = undefined;
  return was;
}

function timeoutWft(engine: Engine, run: Run, wft: WorkflowTask): void {
  if (run.wft !== wft || wft.state !== 'started' || run.status !== 'Running') return;
  const wasSticky = clearStickiness(run);
  if (!(wft.transient && wft.attempt > 1)) {
    persistTransient(run, wft);
    engine.append(run, 'WorkflowTaskTimedOut', {
      scheduledEventId: String(wft.scheduledEventId),
      startedEventId: String(wft.startedEventId),
      timeoutType: 'TIMEOUT_TYPE_START_TO_CLOSE',
    });
  }
  retryTask(engine, run, wft, wasSticky);
}

function retryTask(engine: Engine, run: Run, wft: WorkflowTask, immediate: boolean): void {
  engine.clearWft(run);
  resetUndeliveredUpdates(run, wft);
  for (const q of run.queries.values()) if (wft.deliveredQueries.includes(q.id)) q.state = 'waiting';
  engine.flushBuffered(run);
  const attempt = immediate ? 1 : wft.attempt + 1;
  // Hot-looping a deterministic failure helps nobody: back off after a couple of attempts.
  const delayMs = attempt > 2 ? Math.min(1000 * 2 ** (attempt - 3), 60_000) : 0;
  engine.scheduleWft(run, { attempt, delayMs });
  dispatchQueries(engine, run);
}
