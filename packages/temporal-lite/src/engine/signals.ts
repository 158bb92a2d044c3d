/** Signals and cancellation requests delivered to a run (from clients or other workflows). */
import { errors } from '../grpc/errors';
import type { Engine } from './engine';
import { startWorkflow } from './lifecycle';
import type { Namespace, P, Run } from './types';

export function signalWorkflow(engine: Engine, ns: Namespace, req: P): P {
  if (!req.signalName) throw errors.invalidArgument('SignalName is not set on request.');
  const run = engine.findOpenRun(ns, req.workflowExecution);
  // Same request id twice (client retry) → one signal.
  if (req.requestId && run.requestIds.has(req.requestId)) return {};
  if (req.requestId) run.requestIds.add(req.requestId);
  engine.addExternal(run, {
    write: () => engine.append(run, 'WorkflowExecutionSignaled', { signalName: req.signalName, input: req.input, identity: req.identity, header: req.header ?? {} }),
  });
  return {};
}

export function signalWithStart(engine: Engine, ns: Namespace, req: P): P {
  if (!req.signalName) throw errors.invalidArgument('SignalName is not set on request.');
  const signal = { signalName: req.signalName, input: req.signalInput, identity: req.identity, header: req.header ?? {} };
  const current = engine.currentRun(ns, req.workflowId ?? '');
  // Real server (MigrateWorkflowIDReusePolicyForRunningWorkflow): reuse policy TERMINATE_IF_RUNNING is
  // conflict policy TERMINATE_EXISTING, so it restarts a running workflow instead of signalling it.
  const terminateIfRunning = req.workflowIdReusePolicy === 'WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING';
  if (current && current.status === 'Running' && !terminateIfRunning && req.workflowIdConflictPolicy !== 'WORKFLOW_ID_CONFLICT_POLICY_FAIL' && req.workflowIdConflictPolicy !== 'WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING') {
    engine.addExternal(current, { write: () => engine.append(current, 'WorkflowExecutionSignaled', signal) });
    return { runId: current.runId, started: false };
  }
  const { run, started } = startWorkflow(engine, ns, req, { signal, defaultConflictPolicy: 'WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING' });
  return { runId: run.runId, started };
}

export function requestCancelRun(engine: Engine, run: Run, o: { reason?: string; identity?: string; externalInitiatedEventId?: number; externalWorkflowExecution?: P }): void {
  if (run.status !== 'Running' || run.cancelRequested) return;
  run.cancelRequested = true;
  engine.addExternal(run, {
    write: () => engine.append(run, 'WorkflowExecutionCancelRequested', {
      cause: o.reason ?? '',
      identity: o.identity,
      externalInitiatedEventId: o.externalInitiatedEventId ? String(o.externalInitiatedEventId) : undefined,
      externalWorkflowExecution: o.externalWorkflowExecution,
    }),
  });
}

export function requestCancelWorkflow(engine: Engine, ns: Namespace, req: P): P {
  const run = engine.findRun(ns, req.workflowExecution);
  // Real server (requestcancelworkflow): cancelling a run that already closed is a successful no-op,
  // not NOT_FOUND (cancellation is idempotent); only a run that does not exist is NOT_FOUND.
  if (run.status !== 'Running') return {};
  if (req.firstExecutionRunId && run.firstExecutionRunId !== req.firstExecutionRunId) throw errors.workflowNotFound(run.workflowId);
  if (req.requestId && run.requestIds.has(req.requestId)) return {};
  if (req.requestId) run.requestIds.add(req.requestId);
  requestCancelRun(engine, run, { reason: req.reason, identity: req.identity });
  return {};
}
