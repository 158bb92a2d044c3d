/** Read-side APIs: DescribeWorkflowExecution, history (paged, long-polled), visibility list/count. */
import { errors } from '../grpc/errors';
import { compileVisibilityQuery, decodeSearchAttributePayload, VisibilityQueryError, type VisibilityRecord } from '../visibility';
import { describePendingActivity } from './activities';
import { eventCount } from './compact';
import type { Engine } from './engine';
import { STATUS_ENUM, type Namespace, type P, type Run } from './types';
import { dur, ts } from './util';
import type { CallLike } from './updates';

/** The run's root execution, as the real server records it: inherited from the parent, else the run itself. */
export function rootOf(run: Run): { workflowId: string; runId: string } {
  return run.parent?.root ?? { workflowId: run.workflowId, runId: run.runId };
}

export function executionInfo(run: Run): P {
  return {
    execution: { workflowId: run.workflowId, runId: run.runId },
    type: { name: run.workflowType },
    startTime: ts(run.startTime),
    closeTime: run.closeTime !== undefined ? ts(run.closeTime) : undefined,
    status: STATUS_ENUM[run.status],
    historyLength: String(eventCount(run)),
    parentNamespaceId: run.parent ? run.ns.id : undefined,
    parentExecution: run.parent ? { workflowId: run.parent.workflowId, runId: run.parent.runId } : undefined,
    executionTime: ts(run.executionTime),
    memo: { fields: run.memo },
    searchAttributes: { indexedFields: run.searchAttributes },
    taskQueue: run.taskQueue,
    stateTransitionCount: String(run.stateTransitions),
    historySizeBytes: String(run.historySizeBytes),
    executionDuration: run.closeTime !== undefined ? dur(run.closeTime - run.executionTime) : undefined,
    rootExecution: rootOf(run),
    firstRunId: run.firstExecutionRunId,
  };
}

export function describeWorkflow(engine: Engine, ns: Namespace, req: P): P {
  const run = engine.findRun(ns, req.execution);
  const wft = run.wft;
  return {
    executionConfig: {
      taskQueue: { name: run.taskQueue, kind: 'TASK_QUEUE_KIND_NORMAL' },
      workflowExecutionTimeout: run.workflowExecutionTimeoutMs ? dur(run.workflowExecutionTimeoutMs) : undefined,
      workflowRunTimeout: run.workflowRunTimeoutMs ? dur(run.workflowRunTimeoutMs) : undefined,
      defaultWorkflowTaskTimeout: dur(run.workflowTaskTimeoutMs),
      userMetadata: run.userMetadata,
    },
    workflowExecutionInfo: executionInfo(run),
    pendingActivities: [...run.activities.values()].map(describePendingActivity),
    pendingChildren: [...run.children.values()].filter((c) => c.runId).map((c) => ({
      workflowId: c.workflowId,
      runId: c.runId,
      workflowTypeName: c.workflowType,
      initiatedId: String(c.initiatedEventId),
      parentClosePolicy: c.parentClosePolicy,
    })),
    pendingWorkflowTask: wft && run.status === 'Running' ? {
      state: wft.state === 'started' ? 'PENDING_WORKFLOW_TASK_STATE_STARTED' : 'PENDING_WORKFLOW_TASK_STATE_SCHEDULED',
      scheduledTime: ts(wft.scheduledTime),
      startedTime: wft.startedTime ? ts(wft.startedTime) : undefined,
      attempt: wft.attempt,
    } : undefined,
  };
}

const DEFAULT_PAGE_SIZE = 1000;

function decodePageToken(tok: unknown): number {
  if (!tok || !(tok instanceof Uint8Array) || tok.length === 0) return 0;
  const n = Number(Buffer.from(tok).toString('utf8'));
  if (!Number.isInteger(n) || n < 0) throw errors.invalidArgument('Invalid NextPageToken.');
  return n;
}

export async function getHistory(engine: Engine, ns: Namespace, req: P, call: CallLike): Promise<P> {
  const run = engine.findRun(ns, req.execution);
  const closeOnly = req.historyEventFilterType === 'HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT';
  const waitUntil = Date.now() + Math.max(0, Math.min(call.deadlineMs() - 500, 20_000));
  if (closeOnly) {
    while (req.waitNewEvent && run.status === 'Running' && Date.now() < waitUntil) {
      let cancelled = false;
      await engine.waitForChange(run, waitUntil - Date.now(), { onCancel: (cb) => call.onCancel(() => { cancelled = true; cb(); }) });
      if (cancelled) break;
    }
    if (run.status === 'Running') return { history: { events: [] }, nextPageToken: Buffer.from('0') };
    return { history: { events: [run.events[run.events.length - 1]] } };
  }
  const start = decodePageToken(req.nextPageToken);
  const size = Number(req.maximumPageSize) > 0 ? Number(req.maximumPageSize) : DEFAULT_PAGE_SIZE;
  while (req.waitNewEvent && run.status === 'Running' && run.events.length <= start && Date.now() < waitUntil) {
    let cancelled = false;
    await engine.waitForChange(run, waitUntil - Date.now(), { onCancel: (cb) => call.onCancel(() => { cancelled = true; cb(); }) });
    if (cancelled) break;
  }
  const events = run.events.slice(start, start + size);
  const end = start + events.length;
  const more = end < run.events.length || (req.waitNewEvent && run.status === 'Running');
  return { history: { events }, nextPageToken: more ? Buffer.from(String(end)) : undefined, archived: false };
}

export function getHistoryReverse(engine: Engine, ns: Namespace, req: P): P {
  const run = engine.findRun(ns, req.execution);
  const total = run.events.length;
  const end = req.nextPageToken && req.nextPageToken.length ? decodePageToken(req.nextPageToken) : total;
  const size = Number(req.maximumPageSize) > 0 ? Number(req.maximumPageSize) : DEFAULT_PAGE_SIZE;
  const startIdx = Math.max(0, end - size);
  const events = run.events.slice(startIdx, end).reverse();
  return { history: { events }, nextPageToken: startIdx > 0 ? Buffer.from(String(startIdx)) : undefined };
}

// ------------------------------------------------------------------ visibility

export function visibilityRecord(run: Run): VisibilityRecord {
  const searchAttributes: VisibilityRecord['searchAttributes'] = {};
  for (const [k, p] of Object.entries(run.searchAttributes)) {
    const type = run.ns.searchAttributes.get(k);
    if (!type) continue;
    try {
      searchAttributes[k] = decodeSearchAttributePayload(p, type, k);
    } catch {
      // Values were validated on write; skip anything undecodable rather than fail the list.
    }
  }
  return {
    workflowId: run.workflowId,
    runId: run.runId,
    workflowType: run.workflowType,
    status: run.status,
    startTime: new Date(run.startTime),
    closeTime: run.closeTime !== undefined ? new Date(run.closeTime) : undefined,
    executionTime: new Date(run.executionTime),
    taskQueue: run.taskQueue,
    parentWorkflowId: run.parent?.workflowId,
    parentRunId: run.parent?.runId,
    rootWorkflowId: rootOf(run).workflowId,
    rootRunId: rootOf(run).runId,
    historyLength: eventCount(run),
    historySizeBytes: run.historySizeBytes,
    stateTransitionCount: run.stateTransitions,
    executionDuration: run.closeTime !== undefined ? Math.max(0, run.closeTime - run.executionTime) * 1_000_000 : undefined,
    searchAttributes,
  };
}

function compile(ns: Namespace, query: string | undefined): ReturnType<typeof compileVisibilityQuery> {
  try {
    return compileVisibilityQuery(query ?? '', ns.searchAttributes);
  } catch (e) {
    if (e instanceof VisibilityQueryError) throw errors.invalidArgument(`invalid query: ${e.message}`);
    throw e;
  }
}

function allRuns(ns: Namespace): Run[] {
  const out: Run[] = [];
  for (const wf of ns.workflows.values()) for (const r of wf.runs) out.push(r);
  return out;
}

function matching(ns: Namespace, query: string | undefined): Array<{ run: Run; rec: VisibilityRecord }> {
  const q = compile(ns, query);
  const rows = allRuns(ns).map((run) => ({ run, rec: visibilityRecord(run) })).filter((x) => q.matches(x.rec));
  rows.sort((a, b) => q.compare(a.rec, b.rec));
  return rows;
}

export function listWorkflows(ns: Namespace, req: P): P {
  const rows = matching(ns, req.query);
  const start = decodePageToken(req.nextPageToken);
  const size = Number(req.pageSize) > 0 ? Number(req.pageSize) : 1000;
  const page = rows.slice(start, start + size);
  const end = start + page.length;
  return { executions: page.map((x) => executionInfo(x.run)), nextPageToken: end < rows.length ? Buffer.from(String(end)) : undefined };
}

export function countWorkflows(ns: Namespace, req: P): P {
  const q = compile(ns, req.query);
  const recs = allRuns(ns).map(visibilityRecord).filter((r) => q.matches(r));
  if (q.groupBy.length > 0) {
    const counts = new Map<string, number>();
    for (const r of recs) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
    return {
      count: String(recs.length),
      groups: [...counts.entries()].map(([status, n]) => ({
        groupValues: [{ metadata: { encoding: Buffer.from('json/plain'), type: Buffer.from('Keyword') }, data: Buffer.from(JSON.stringify(status)) }],
        count: String(n),
      })),
    };
  }
  return { count: String(recs.length) };
}
