/**
 * Queries. With no workflow task outstanding a query goes out as a legacy query task
 * (poll response `query` + full history, answered by RespondQueryTaskCompleted) — also
 * for closed runs. A query arriving while a task is scheduled rides along in that task's
 * `queries` map; while a task is running it waits for the task to finish.
 */
import { errors } from '../grpc/errors';
import type { Engine, PollCtx, QueryRef } from './engine';
import type { Namespace, P, QueryState, Run, WorkflowTask } from './types';
import { decodeToken, encodeToken, nextNonce, ts, uuid } from './util';
import type { CallLike } from './updates';

/** Sends waiting queries out as legacy query tasks when no workflow task is outstanding. */
export function dispatchQueries(engine: Engine, run: Run): void {
  if (run.wft && run.status === 'Running') return; // scheduled: attached at poll; started: wait
  for (const q of run.queries.values()) {
    if (q.state !== 'waiting') continue;
    q.state = 'queued';
    q.nonce = nextNonce();
    // Real server: a sticky run's query goes to the sticky queue (no history: the worker has the run
    // cached), bounded by the sticky schedule-to-start timeout; if the sticky worker is unavailable or
    // does not answer in time, stickiness is reset and the query goes to the normal queue.
    let sticky = run.status === 'Running' ? run.sticky : undefined;
    if (sticky && !engine.stickyAvailable(run.ns.name, sticky.queue)) {
      run.sticky = sticky = undefined; // StickyWorkerUnavailable: the server resets stickiness
    }
    q.sticky = !!sticky;
    if (sticky && q.sticky) {
      const nonce = q.nonce;
      const t = setTimeout(() => {
        if (run.queries.get(q.id) !== q || q.nonce !== nonce || !q.sticky) return;
        engine.wfQueue(run.ns.name, sticky.queue).remove((r) => r.kind === 'query' && r.nonce === nonce);
        if (run.sticky?.queue === sticky.queue) run.sticky = undefined;
        q.sticky = false;
        q.state = 'waiting';
        dispatchQueries(engine, run);
      }, sticky.scheduleToStartMs);
      t.unref?.();
    }
    engine.wfQueue(run.ns.name, q.sticky && sticky ? sticky.queue : run.taskQueue).offer({ kind: 'query', run, queryId: q.id, nonce: q.nonce });
  }
}

export function attachQueries(run: Run, wft: WorkflowTask): Record<string, P> {
  const out: Record<string, P> = {};
  for (const q of run.queries.values()) {
    if (q.state !== 'waiting') continue;
    q.state = 'dispatched';
    wft.deliveredQueries.push(q.id);
    out[q.id] = q.query;
  }
  return out;
}

export function materializeQueryTask(engine: Engine, ref: QueryRef, ctx: PollCtx): P | undefined {
  const run = ref.run;
  const q = run.queries.get(ref.queryId);
  if (!q || q.state !== 'queued' || q.nonce !== ref.nonce) return undefined;
  // A workflow task got scheduled meanwhile: the query will ride along with it instead.
  if (run.status === 'Running' && run.wft) {
    q.state = 'waiting';
    q.sticky = false;
    return undefined;
  }
  q.state = 'dispatched';
  void ctx;
  const lastStarted = lastWftStarted(run);
  return {
    taskToken: encodeToken({ k: 'query', ns: run.ns.name, wid: run.workflowId, rid: run.runId, id: 0, n: q.nonce, q: q.id }),
    workflowExecution: { workflowId: run.workflowId, runId: run.runId },
    workflowType: { name: run.workflowType },
    previousStartedEventId: String(lastStarted),
    startedEventId: String(lastStarted),
    attempt: 1,
    history: { events: q.sticky ? [] : run.events },
    query: q.query,
    workflowExecutionTaskQueue: { name: run.taskQueue, kind: 'TASK_QUEUE_KIND_NORMAL' },
    scheduledTime: ts(engine.now()),
    startedTime: ts(engine.now()),
  };
}

function lastWftStarted(run: Run): number {
  for (let i = run.events.length - 1; i >= 0; i--) {
    if (run.events[i].eventType === 'EVENT_TYPE_WORKFLOW_TASK_STARTED') return Number(run.events[i].eventId);
  }
  return 0;
}

/** Answers to queries delivered within a workflow task (RespondWorkflowTaskCompleted.queryResults). */
export function resolveQueryResults(run: Run, results: Record<string, P> | undefined): void {
  for (const [id, r] of Object.entries(results ?? {})) answer(run, id, r);
}

function answer(run: Run, id: string, r: P): void {
  const q = run.queries.get(id);
  if (!q) return;
  run.queries.delete(id);
  if (r.resultType === 'QUERY_RESULT_TYPE_FAILED' || r.completedType === 'QUERY_RESULT_TYPE_FAILED') {
    q.resolve({ failure: { message: r.errorMessage ?? 'query failed', failure: r.failure } });
  } else {
    q.resolve({ result: r.answer ?? r.queryResult });
  }
}

export function respondQueryTaskCompleted(engine: Engine, req: P): P {
  const t = decodeToken(req.taskToken);
  if (t.k !== 'query' || !t.q) throw errors.invalidArgument('Task token is not a query task token.');
  const ns = engine.ns(req.namespace || t.ns);
  const run = ns.workflows.get(t.wid)?.runs.find((r) => r.runId === t.rid);
  const q = run?.queries.get(t.q);
  if (!run || !q || q.nonce !== t.n) throw errors.notFound('query task not found, or already expired');
  answer(run, t.q, req);
  return {};
}

export async function queryWorkflow(engine: Engine, ns: Namespace, req: P, call: CallLike): Promise<P> {
  if (!req.query?.queryType) throw errors.invalidArgument('QueryType is not set on request.');
  const run = engine.findRun(ns, req.execution);
  const reject = req.queryRejectCondition as string | undefined;
  if (run.status !== 'Running') {
    if (reject === 'QUERY_REJECT_CONDITION_NOT_OPEN' || (reject === 'QUERY_REJECT_CONDITION_NOT_COMPLETED_CLEANLY' && run.status !== 'Completed')) {
      return { queryRejected: { status: `WORKFLOW_EXECUTION_STATUS_${statusName(run.status)}` } };
    }
  }
  // Real server: a workflow whose task keeps failing cannot answer queries.
  if (run.status === 'Running' && run.wft && run.wft.attempt > 1) {
    throw errors.failedPrecondition('Cannot query workflow due to Workflow Task in failed state.');
  }
  // Real server: a run that never had a workflow task scheduled (e.g. during its start delay)
  // or never completed one (closed before any) is not ready to answer queries.
  const hadTask = run.events.some((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_TASK_SCHEDULED') || (run.wft !== undefined && run.wft.notBefore === undefined);
  const completedTask = run.events.some((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED');
  if ((run.status === 'Running' && !hadTask) || (run.status !== 'Running' && !completedTask)) throw errors.workflowNotReady();
  const id = uuid();
  const result = await new Promise<{ result?: P; failure?: { message: string; failure?: P } }>((resolve, rejectP) => {
    const q: QueryState = { id, query: req.query, resolve, reject: rejectP, state: 'waiting', nonce: 0 };
    run.queries.set(id, q);
    const timer = setTimeout(() => {
      run.queries.delete(id);
      rejectP(errors.deadlineExceeded('query timed out'));
    }, Math.max(0, Math.min(call.deadlineMs() - 500, 120_000)));
    call.onCancel(() => {
      clearTimeout(timer);
      run.queries.delete(id);
      rejectP(errors.deadlineExceeded('query cancelled'));
    });
    const origResolve = q.resolve;
    q.resolve = (r) => {
      clearTimeout(timer);
      origResolve(r);
    };
    dispatchQueries(engine, run);
  });
  if (result.failure) throw errors.queryFailed(result.failure.message, result.failure.failure);
  return { queryResult: result.result };
}

function statusName(s: Run['status']): string {
  return s.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
}
