/**
 * Cross-workflow commands: child workflows (start, result back to the parent, parent
 * close policy), signal-external and request-cancel-external. The initiating event is
 * written with the command; the outcome events arrive later, as on the real server.
 */
import type { Engine } from './engine';
import { startWorkflow, terminateRun } from './lifecycle';
import { requestCancelRun } from './signals';
import type { P, Run } from './types';
import { rootOf } from './read';

export function installChildren(engine: Engine): void {
  engine.onRunClosed.push((run) => {
    notifyParent(engine, run);
    applyParentClosePolicies(engine, run);
  });
}

export function startChild(engine: Engine, parent: Run, a: P, completedId: number): () => void {
  const namespace: string = a.namespace || parent.ns.name;
  const taskQueue = a.taskQueue?.name ? a.taskQueue : { name: parent.taskQueue, kind: 'TASK_QUEUE_KIND_NORMAL' };
  const initiatedEventId = engine.append(parent, 'StartChildWorkflowExecutionInitiated', {
    namespace,
    workflowId: a.workflowId,
    workflowType: a.workflowType,
    taskQueue,
    input: a.input,
    workflowExecutionTimeout: a.workflowExecutionTimeout,
    workflowRunTimeout: a.workflowRunTimeout,
    workflowTaskTimeout: a.workflowTaskTimeout,
    parentClosePolicy: a.parentClosePolicy,
    control: a.control,
    workflowTaskCompletedEventId: String(completedId),
    workflowIdReusePolicy: a.workflowIdReusePolicy,
    retryPolicy: a.retryPolicy,
    cronSchedule: a.cronSchedule,
    header: a.header,
    memo: a.memo,
    searchAttributes: a.searchAttributes,
  });
  parent.children.set(initiatedEventId, {
    initiatedEventId,
    namespace,
    workflowId: a.workflowId,
    workflowType: a.workflowType.name,
    parentClosePolicy: a.parentClosePolicy ?? 'PARENT_CLOSE_POLICY_TERMINATE',
  });
  return () => {
    if (parent.status !== 'Running') return;
    const child = parent.children.get(initiatedEventId)!;
    const base = { namespace, workflowId: a.workflowId, workflowType: a.workflowType, initiatedEventId: String(initiatedEventId), control: a.control };
    let started: Run;
    try {
      const ns = engine.namespaces.get(namespace);
      if (!ns) throw new Error('namespace not found');
      const out = startWorkflow(engine, ns, { ...a, taskQueue, requestId: `${parent.runId}:${initiatedEventId}`, workflowIdConflictPolicy: 'WORKFLOW_ID_CONFLICT_POLICY_FAIL' }, {});
      started = out.run;
      started.parent = { namespace: parent.ns.name, workflowId: parent.workflowId, runId: parent.runId, initiatedEventId, root: rootOf(parent) };
      patchParentInfo(started, parent, initiatedEventId);
    } catch {
      parent.children.delete(initiatedEventId);
      engine.addExternal(parent, {
        write: () => engine.append(parent, 'StartChildWorkflowExecutionFailed', { ...base, cause: 'START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_WORKFLOW_ALREADY_EXISTS', workflowTaskCompletedEventId: String(completedId) }),
      });
      return;
    }
    child.runId = started.runId;
    engine.addExternal(parent, {
      write: () => {
        child.startedEventId = engine.append(parent, 'ChildWorkflowExecutionStarted', {
          namespace,
          initiatedEventId: String(initiatedEventId),
          workflowExecution: { workflowId: started.workflowId, runId: started.runId },
          workflowType: a.workflowType,
          header: a.header,
        });
      },
    });
  };
}

/** The child's started event is written before we know it is a child; fill the parent fields in. */
function patchParentInfo(child: Run, parent: Run, initiatedEventId: number): void {
  const attrs = child.events[0]?.workflowExecutionStartedEventAttributes;
  if (!attrs) return;
  attrs.parentWorkflowNamespace = parent.ns.name;
  attrs.parentWorkflowExecution = { workflowId: parent.workflowId, runId: parent.runId };
  attrs.parentInitiatedEventId = String(initiatedEventId);
}

/** A child run closed for good (not continued/retried): tell its parent. */
function notifyParent(engine: Engine, run: Run): void {
  if (!run.parent || run.newExecutionRunId) return;
  const close = run.events[run.events.length - 1];
  const retrying = close?.workflowExecutionFailedEventAttributes?.newExecutionRunId || close?.workflowExecutionTimedOutEventAttributes?.newExecutionRunId;
  if (run.status === 'ContinuedAsNew' || retrying) return;
  const pns = engine.namespaces.get(run.parent.namespace);
  const parent = pns?.workflows.get(run.parent.workflowId)?.runs.find((r) => r.runId === run.parent!.runId);
  if (!parent || parent.status !== 'Running') return;
  const child = parent.children.get(run.parent.initiatedEventId);
  if (!child) return;
  parent.children.delete(run.parent.initiatedEventId);
  const base = () => ({
    namespace: run.ns.name,
    workflowExecution: { workflowId: run.workflowId, runId: run.runId },
    workflowType: { name: run.workflowType },
    initiatedEventId: String(child.initiatedEventId),
    startedEventId: String(child.startedEventId ?? 0),
  });
  const write = (): void => {
    switch (run.status) {
      case 'Completed':
        engine.append(parent, 'ChildWorkflowExecutionCompleted', { ...base(), result: close.workflowExecutionCompletedEventAttributes?.result });
        break;
      case 'Failed':
        engine.append(parent, 'ChildWorkflowExecutionFailed', { ...base(), failure: close.workflowExecutionFailedEventAttributes?.failure, retryState: close.workflowExecutionFailedEventAttributes?.retryState });
        break;
      case 'Canceled':
        engine.append(parent, 'ChildWorkflowExecutionCanceled', { ...base(), details: close.workflowExecutionCanceledEventAttributes?.details });
        break;
      case 'Terminated':
        engine.append(parent, 'ChildWorkflowExecutionTerminated', base());
        break;
      case 'TimedOut':
        engine.append(parent, 'ChildWorkflowExecutionTimedOut', { ...base(), retryState: close.workflowExecutionTimedOutEventAttributes?.retryState });
        break;
      default:
        break;
    }
  };
  // Child started event may still be pending in the same turn; write after it.
  setImmediate(() => engine.addExternal(parent, { write }));
}

function applyParentClosePolicies(engine: Engine, parent: Run): void {
  for (const child of parent.children.values()) {
    if (!child.runId) continue;
    const ns = engine.namespaces.get(child.namespace);
    const wf = ns?.workflows.get(child.workflowId);
    const run = wf?.runs[wf.runs.length - 1];
    if (!run || run.status !== 'Running') continue;
    if (child.parentClosePolicy === 'PARENT_CLOSE_POLICY_ABANDON') continue;
    if (child.parentClosePolicy === 'PARENT_CLOSE_POLICY_REQUEST_CANCEL') {
      requestCancelRun(engine, run, { reason: 'by parent close policy', identity: 'temporal-lite' });
    } else {
      terminateRun(engine, run, 'by parent close policy', undefined, 'temporal-lite');
    }
  }
  parent.children.clear();
}

function findTarget(engine: Engine, namespace: string, execution: P): Run | undefined {
  const ns = engine.namespaces.get(namespace);
  const wf = ns?.workflows.get(execution?.workflowId);
  if (!wf) return undefined;
  const run = execution.runId ? wf.runs.find((r) => r.runId === execution.runId) : wf.runs[wf.runs.length - 1];
  return run && run.status === 'Running' ? run : undefined;
}

export function signalExternal(engine: Engine, run: Run, a: P, completedId: number): () => void {
  const namespace: string = a.namespace || run.ns.name;
  const initiatedEventId = engine.append(run, 'SignalExternalWorkflowExecutionInitiated', {
    namespace,
    workflowExecution: a.execution,
    signalName: a.signalName,
    input: a.input,
    control: a.control,
    childWorkflowOnly: a.childWorkflowOnly,
    header: a.header,
    workflowTaskCompletedEventId: String(completedId),
  });
  return () => {
    const target = findTarget(engine, namespace, a.execution);
    const base = { namespace, workflowExecution: a.execution, initiatedEventId: String(initiatedEventId), control: a.control };
    if (!target) {
      engine.addExternal(run, {
        write: () => engine.append(run, 'SignalExternalWorkflowExecutionFailed', {
          ...base,
          cause: 'SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND',
          workflowTaskCompletedEventId: String(completedId),
        }),
      });
      return;
    }
    engine.addExternal(target, {
      write: () => engine.append(target, 'WorkflowExecutionSignaled', {
        signalName: a.signalName,
        input: a.input,
        identity: '',
        header: a.header,
        externalWorkflowExecution: { workflowId: run.workflowId, runId: run.runId },
      }),
    });
    engine.addExternal(run, {
      write: () => engine.append(run, 'ExternalWorkflowExecutionSignaled', { ...base, workflowExecution: { workflowId: target.workflowId, runId: target.runId } }),
    });
  };
}

export function requestCancelExternal(engine: Engine, run: Run, a: P, completedId: number): () => void {
  const namespace: string = a.namespace || run.ns.name;
  const execution = { workflowId: a.workflowId, runId: a.runId || undefined };
  const initiatedEventId = engine.append(run, 'RequestCancelExternalWorkflowExecutionInitiated', {
    namespace,
    workflowExecution: execution,
    control: a.control,
    childWorkflowOnly: a.childWorkflowOnly,
    reason: a.reason,
    workflowTaskCompletedEventId: String(completedId),
  });
  return () => {
    const target = findTarget(engine, namespace, execution);
    const base = { namespace, workflowExecution: execution, initiatedEventId: String(initiatedEventId), control: a.control };
    if (!target) {
      engine.addExternal(run, {
        write: () => engine.append(run, 'RequestCancelExternalWorkflowExecutionFailed', {
          ...base,
          cause: 'CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND',
          workflowTaskCompletedEventId: String(completedId),
        }),
      });
      return;
    }
    requestCancelRun(engine, target, {
      reason: a.reason,
      identity: '',
      externalInitiatedEventId: initiatedEventId,
      externalWorkflowExecution: { workflowId: run.workflowId, runId: run.runId },
    });
    engine.addExternal(run, {
      write: () => engine.append(run, 'ExternalWorkflowExecutionCancelRequested', { ...base, workflowExecution: { workflowId: target.workflowId, runId: target.runId } }),
    });
  };
}
