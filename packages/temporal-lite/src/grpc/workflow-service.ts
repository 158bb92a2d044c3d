/** temporal.api.workflowservice.v1.WorkflowService handlers → engine operations. */
import { activityRpc } from '../engine/activities';
import type { Engine, PollCtx } from '../engine/engine';
import { startWorkflow, terminateRun } from '../engine/lifecycle';
import { queryWorkflow, respondQueryTaskCompleted } from '../engine/queries';
import { countWorkflows, describeWorkflow, getHistory, getHistoryReverse, listWorkflows } from '../engine/read';
import { requestCancelWorkflow, signalWithStart, signalWorkflow } from '../engine/signals';
import { STATUS_ENUM, type Namespace, type P } from '../engine/types';
import { admitUpdate, awaitUpdate, pollUpdate, updateWorkflow } from '../engine/updates';
import { checkBlobSize, dur, ts, uuid } from '../engine/util';
import { respondWorkflowTaskCompleted, respondWorkflowTaskFailed } from '../engine/workflow-tasks';
import type { TaskQueue } from '../engine/matching';
import { ApiError, errors } from './errors';
import type { HandlerCall, HandlerMap } from './server';
import { packAny } from '../proto';
import { status as Status } from '@grpc/grpc-js';

const POLL_MAX_MS = 60_000;
/** What GetSystemInfo and GetClusterInfo report (the UI gates features on it). */
const SERVER_VERSION = '1.29.0-temporal-lite';
/** The real server's poller rate when the worker sets none (matching's default max dispatch rate). */
const DEFAULT_POLLER_RATE = 100_000;

export const CAPABILITIES = {
  signalAndQueryHeader: true,
  internalErrorDifferentiation: true,
  activityFailureIncludeHeartbeat: true,
  supportsSchedules: false,
  encodedFailureAttributes: true,
  buildIdBasedVersioning: false,
  upsertMemo: true,
  eagerWorkflowStart: false,
  sdkMetadata: true,
  countGroupByExecutionStatus: true,
  nexus: false,
};

export function describeNamespace(ns: Namespace): P {
  return {
    namespaceInfo: {
      name: ns.name,
      state: 'NAMESPACE_STATE_REGISTERED',
      description: ns.description ?? '',
      id: ns.id,
      capabilities: { syncUpdate: true, asyncUpdate: true, eagerWorkflowStart: false, workerHeartbeats: false },
      supportsSchedules: false,
    },
    config: { workflowExecutionRetentionTtl: dur(ns.retentionSeconds * 1000), historyArchivalState: 'ARCHIVAL_STATE_DISABLED', visibilityArchivalState: 'ARCHIVAL_STATE_DISABLED' },
    isGlobalNamespace: false,
  };
}

/** Long-polls a task queue; a cancelled call never receives (and so never loses) a task. */
function longPoll<Ref>(q: TaskQueue<Ref, P, PollCtx>, req: P, call: HandlerCall): Promise<P> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: P | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      q.removePoller(poller);
      resolve(r ?? {});
    };
    const poller = { ctx: { identity: req.identity ?? '', requestId: uuid(), workerInstanceKey: req.workerInstanceKey || undefined }, isCancelled: () => done || call.cancelled(), deliver: finish };
    const timer = setTimeout(() => finish(undefined), Math.max(0, Math.min(call.deadlineMs() - 1000, POLL_MAX_MS)));
    call.onCancel(() => finish(undefined));
    // DescribeTaskQueue lists pollers from this history (the UI's workers tab, `temporal task-queue describe`).
    q.recordPoll(req.identity ?? '', Number(req.taskQueueMetadata?.maxTasksPerSecond?.value) || DEFAULT_POLLER_RATE);
    q.addPoller(poller);
  });
}

/** ShutdownWorker: like newer servers, answer the worker's outstanding polls right away. */
function releaseWorkerPolls(engine: Engine, ns: string, req: P): void {
  // The sticky queue is unloaded: its polls end, later tasks go to the normal queue at once,
  // and tasks already waiting there reach their sticky schedule-to-start timeout.
  if (req.stickyTaskQueue) engine.stickyQueueShutdown(ns, req.stickyTaskQueue);
  const key: string | undefined = req.workerHeartbeat?.workerInstanceKey;
  if (!key) return;
  const pred = (ctx: PollCtx): boolean => ctx.workerInstanceKey === key;
  for (const q of engine.wfQueues.values()) q.releaseWhere(pred);
  for (const q of engine.actQueues.values()) q.releaseWhere(pred);
}

const TQ_TYPE_NUMBER: Record<string, number> = { TASK_QUEUE_TYPE_WORKFLOW: 1, TASK_QUEUE_TYPE_ACTIVITY: 2, TASK_QUEUE_TYPE_NEXUS: 3 };

/**
 * DescribeTaskQueue as the real frontend answers it: pollers seen in the last 5 minutes for one task queue
 * type (legacy mode, what the UI asks for each type), or per type under the unversioned build id ""
 * (ENHANCED mode, the CLI's default). No Nexus here, so Nexus queues have no pollers.
 */
function describeTaskQueue(engine: Engine, n: Namespace, req: P): P {
  const name = requireTaskQueue(req);
  const queueOf = (type: string) =>
    type === 'TASK_QUEUE_TYPE_ACTIVITY' ? engine.existingQueue('activity', n.name, name)
      : type === 'TASK_QUEUE_TYPE_WORKFLOW' ? engine.existingQueue('workflow', n.name, name) : undefined;
  const pollers = (type: string): P[] => (queueOf(type)?.recentPollers() ?? []).map((r) => ({ identity: r.identity, lastAccessTime: ts(r.lastAccessTime), ratePerSecond: r.ratePerSecond }));
  const stats = (type: string): P => ({ approximateBacklogCount: String(queueOf(type)?.backlog ?? 0), approximateBacklogAge: dur(0), tasksAddRate: 0, tasksDispatchRate: 0 });
  if (req.apiMode === 'DESCRIBE_TASK_QUEUE_MODE_ENHANCED') {
    if (req.taskQueue.kind === 'TASK_QUEUE_KIND_STICKY') throw errors.invalidArgument('DescribeTaskQueue with ENHANCED mode is not supported for sticky task queues.');
    const types: string[] = req.taskQueueTypes?.length ? req.taskQueueTypes : ['TASK_QUEUE_TYPE_WORKFLOW', 'TASK_QUEUE_TYPE_ACTIVITY'];
    const typesInfo: Record<number, P> = {};
    for (const t of types) {
      const num = TQ_TYPE_NUMBER[t];
      if (num) typesInfo[num] = { pollers: req.reportPollers ? pollers(t) : [], stats: req.reportStats ? stats(t) : undefined };
    }
    return { versionsInfo: { '': { typesInfo, taskReachability: 'BUILD_ID_TASK_REACHABILITY_UNSPECIFIED' } } };
  }
  const type: string = req.taskQueueType && req.taskQueueType !== 'TASK_QUEUE_TYPE_UNSPECIFIED' ? req.taskQueueType : 'TASK_QUEUE_TYPE_WORKFLOW';
  const backlog = queueOf(type)?.backlog ?? 0;
  return {
    pollers: pollers(type),
    stats: req.reportStats ? stats(type) : undefined,
    // The CLI's legacy mode reads this (deprecated) status unconditionally when it asks for it.
    taskQueueStatus: req.includeTaskQueueStatus ? { backlogCountHint: String(backlog), readLevel: '0', ackLevel: '0', ratePerSecond: DEFAULT_POLLER_RATE, taskIdBlock: { startId: '1', endId: '100000' } } : undefined,
  };
}

function requireTaskQueue(req: P): string {
  const name: string | undefined = req.taskQueue?.name;
  if (!name) throw errors.invalidArgument('TaskQueue is not set on request.');
  return name;
}

export function workflowServiceHandlers(engine: Engine): HandlerMap {
  const ns = (req: P): Namespace => engine.ns(req.namespace);
  const clusterId = uuid();
  return {
    GetSystemInfo: () => ({ serverVersion: SERVER_VERSION, capabilities: CAPABILITIES }),
    // The UI's root layout awaits this (/api/v1/cluster-info) before any page renders; `temporal operator
    // cluster describe` prints it. Stores named like the dev server's (in-memory SQLite): SQL visibility.
    GetClusterInfo: () => ({
      supportedClients: {},
      serverVersion: SERVER_VERSION,
      clusterId,
      clusterName: 'active',
      historyShardCount: 1,
      persistenceStore: 'sqlite',
      visibilityStore: 'sqlite',
      initialFailoverVersion: '1',
      failoverVersionIncrement: '10',
    }),
    DescribeNamespace: (req) => {
      if (req.id) {
        const found = [...engine.namespaces.values()].find((n) => n.id === req.id);
        if (!found) throw errors.namespaceNotFound(req.id);
        return describeNamespace(found);
      }
      return describeNamespace(ns(req));
    },
    ListNamespaces: () => ({ namespaces: [...engine.namespaces.values()].map(describeNamespace) }),
    RegisterNamespace: (req) => {
      if (!req.namespace) throw errors.invalidArgument('Namespace not set on request.');
      if (engine.namespaces.has(req.namespace)) {
        throw new ApiError(Status.ALREADY_EXISTS, 'Namespace already exists.', { type: 'temporal.api.errordetails.v1.NamespaceAlreadyExistsFailure', value: {} });
      }
      const retention = req.workflowExecutionRetentionPeriod ? Math.floor(Number(req.workflowExecutionRetentionPeriod.seconds ?? 0)) : 86400;
      engine.registerNamespace(req.namespace, {}, retention, req.description);
      return {};
    },
    StartWorkflowExecution: (req) => {
      checkBlobSize(req.input);
      const { run, started } = startWorkflow(engine, ns(req), req);
      return { runId: run.runId, started, status: 'WORKFLOW_EXECUTION_STATUS_RUNNING' };
    },
    SignalWithStartWorkflowExecution: (req) => {
      checkBlobSize(req.input, req.signalInput);
      return signalWithStart(engine, ns(req), req);
    },
    SignalWorkflowExecution: (req) => {
      checkBlobSize(req.input);
      return signalWorkflow(engine, ns(req), req);
    },
    RequestCancelWorkflowExecution: (req) => requestCancelWorkflow(engine, ns(req), req),
    TerminateWorkflowExecution: (req) => {
      const run = engine.findOpenRun(ns(req), req.workflowExecution);
      if (req.firstExecutionRunId && run.firstExecutionRunId !== req.firstExecutionRunId) throw errors.workflowNotFound(run.workflowId);
      terminateRun(engine, run, req.reason, req.details, req.identity);
      return {};
    },
    DescribeWorkflowExecution: (req) => describeWorkflow(engine, ns(req), req),
    GetWorkflowExecutionHistory: (req, call) => getHistory(engine, ns(req), req, call),
    GetWorkflowExecutionHistoryReverse: (req) => getHistoryReverse(engine, ns(req), req),
    ListWorkflowExecutions: (req) => listWorkflows(ns(req), req),
    ScanWorkflowExecutions: (req) => listWorkflows(ns(req), req),
    ListOpenWorkflowExecutions: (req) => listWorkflows(ns(req), { ...req, query: 'ExecutionStatus = "Running"' }),
    ListClosedWorkflowExecutions: (req) => listWorkflows(ns(req), { ...req, query: 'ExecutionStatus != "Running"' }),
    CountWorkflowExecutions: (req) => countWorkflows(ns(req), req),
    DescribeTaskQueue: (req) => describeTaskQueue(engine, ns(req), req),
    // No schedules or batch operations exist here: their lists are empty (the UI's pages call them on load).
    ListSchedules: (req) => {
      ns(req);
      return { schedules: [] };
    },
    CountSchedules: (req) => {
      ns(req);
      return { count: '0' };
    },
    ListBatchOperations: (req) => {
      ns(req);
      return { operationInfo: [] };
    },
    GetSearchAttributes: () => {
      const keys: Record<string, string> = {};
      for (const n of engine.namespaces.values()) for (const [k, t] of n.searchAttributes) keys[k] = 'INDEXED_VALUE_TYPE_' + t.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
      return { keys };
    },

    PollWorkflowTaskQueue: (req, call) => {
      const n = ns(req);
      const name = requireTaskQueue(req);
      if (req.taskQueue.kind === 'TASK_QUEUE_KIND_STICKY') {
        const ended = engine.stickyPollStarted(n.name, name);
        return longPoll(engine.wfQueue(n.name, name), req, call).finally(ended);
      }
      return longPoll(engine.wfQueue(n.name, name), req, call);
    },
    PollActivityTaskQueue: (req, call) => {
      const n = ns(req);
      return longPoll(engine.actQueue(n.name, requireTaskQueue(req)), req, call);
    },
    RespondWorkflowTaskCompleted: (req) => respondWorkflowTaskCompleted(engine, req),
    RespondWorkflowTaskFailed: (req) => respondWorkflowTaskFailed(engine, req),
    RespondQueryTaskCompleted: (req) => respondQueryTaskCompleted(engine, req),
    RecordActivityTaskHeartbeat: (req) => activityRpc.heartbeat(engine, req),
    RecordActivityTaskHeartbeatById: (req) => activityRpc.heartbeatById(engine, req),
    RespondActivityTaskCompleted: (req) => activityRpc.completed(engine, req),
    RespondActivityTaskCompletedById: (req) => activityRpc.completedById(engine, req),
    RespondActivityTaskFailed: (req) => activityRpc.failed(engine, req),
    RespondActivityTaskFailedById: (req) => activityRpc.failedById(engine, req),
    RespondActivityTaskCanceled: (req) => activityRpc.canceled(engine, req),
    RespondActivityTaskCanceledById: (req) => activityRpc.canceledById(engine, req),
    QueryWorkflow: (req, call) => {
      checkBlobSize(req.query?.queryArgs);
      return queryWorkflow(engine, ns(req), req, call);
    },
    UpdateWorkflowExecution: (req, call) => {
      checkBlobSize(req.request?.input?.args);
      return updateWorkflow(engine, ns(req), req, call);
    },
    PollWorkflowExecutionUpdate: (req, call) => pollUpdate(engine, ns(req), req, call),
    ExecuteMultiOperation: (req, call) => executeMultiOperation(engine, ns(req), req, call),
    ShutdownWorker: (req) => {
      const n = ns(req);
      releaseWorkerPolls(engine, n.name, req);
      return {};
    },
    RecordWorkerHeartbeat: () => ({}),
    ResetStickyTaskQueue: (req) => {
      // Real server: clears the run's stickiness; a task already waiting on the sticky queue times out.
      engine.findRun(ns(req), req.execution).sticky = undefined;
      return {};
    },
  };
}

/** Update-with-start: the start operation (usually USE_EXISTING) followed by the update on that run. */
async function executeMultiOperation(engine: Engine, n: Namespace, req: P, call: HandlerCall): Promise<P> {
  const ops: P[] = req.operations ?? [];
  const startReq = ops[0]?.startWorkflow;
  const updateReq = ops[1]?.updateWorkflow;
  if (ops.length !== 2 || !startReq || !updateReq) throw errors.invalidArgument('ExecuteMultiOperation supports exactly [startWorkflow, updateWorkflow].');
  // Real server: before any start policy, an update with this id on the workflow's current run is
  // answered from there — its outcome if it completed (even on a closed run), or attached to if the run
  // still runs — and nothing is started.
  const current = startReq.workflowId ? engine.currentRun(n, startReq.workflowId) : undefined;
  const updateId: string | undefined = updateReq.request?.meta?.updateId;
  const existing = current && updateId ? current.updates.get(updateId) : undefined;
  if (current && existing && (existing.stage === 'completed' || current.status === 'Running')) {
    try {
      const updateResp = await awaitUpdate(current, existing, updateReq.waitPolicy, call);
      return { responses: [{ startWorkflow: { runId: current.runId, started: false, status: STATUS_ENUM[current.status] } }, { updateWorkflow: updateResp }] };
    } catch (e) {
      if (e instanceof ApiError) throw multiOpFailure(e, 1);
      throw e;
    }
  }
  let started;
  try {
    started = startWorkflow(engine, n, { ...startReq, namespace: n.name });
  } catch (e) {
    if (e instanceof ApiError) throw multiOpFailure(e, 0);
    throw e;
  }
  const { run } = started;
  try {
    const u = admitUpdate(engine, run, updateReq.request);
    const updateResp = await awaitUpdate(run, u, updateReq.waitPolicy, call);
    return { responses: [{ startWorkflow: { runId: run.runId, started: started.started, status: 'WORKFLOW_EXECUTION_STATUS_RUNNING' } }, { updateWorkflow: updateResp }] };
  } catch (e) {
    if (e instanceof ApiError) throw multiOpFailure(e, 1);
    throw e;
  }
}

function multiOpFailure(e: ApiError, failedIndex: number): ApiError {
  const statusOf = (err: ApiError): P => ({ code: err.code, message: err.message, details: err.detail ? [packAny(err.detail.type, err.detail.value)] : [] });
  const aborted = { code: Status.ABORTED, message: 'Operation was aborted.', details: [packAny('temporal.api.failure.v1.MultiOperationExecutionAborted', {})] };
  const statuses = failedIndex === 0 ? [statusOf(e), aborted] : [aborted, statusOf(e)];
  return new ApiError(e.code, `MultiOperation could not be executed: ${e.message}`, { type: 'temporal.api.errordetails.v1.MultiOperationExecutionFailure', value: { statuses } });
}
