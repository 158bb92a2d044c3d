/**
 * Updates the worker never answered when their run closed or their task failed, and update ids reused
 * across runs, driven through a hand-made raw "worker" (real server: update registry abort reasons,
 * RejectUnprocessed, registry lookup per run).
 */
import * as grpc from '@grpc/grpc-js';
import { ServiceError } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { useHarness, uid } from './helpers';

const h = useHarness('local');

const NS = 'default';
const CT = temporal.api.enums.v1.CommandType;
const COMPLETED_STAGE = temporal.api.enums.v1.UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED;
type Task = temporal.api.workflowservice.v1.IPollWorkflowTaskQueueResponse;

const svc = () => h.env.connection.workflowService;

function any(typeName: 'Acceptance' | 'Response', value: object): { type_url: string; value: Uint8Array } {
  const t = temporal.api.update.v1[typeName];
  return { type_url: `type.googleapis.com/temporal.api.update.v1.${typeName}`, value: t.encode(t.fromObject(value)).finish() };
}

/** Starts a workflow on a private queue and completes its first task with no commands (nothing pending). */
async function startIdle(prefix: string): Promise<{ workflowId: string; taskQueue: string; runId: string }> {
  const taskQueue = uid('raw-upd-tq');
  const workflowId = uid(prefix);
  const { runId } = await svc().startWorkflowExecution({ namespace: NS, workflowId, workflowType: { name: 'anything' }, taskQueue: { name: taskQueue }, requestId: uid('r') });
  const first = await poll(taskQueue);
  await svc().respondWorkflowTaskCompleted({ namespace: NS, taskToken: first.taskToken, identity: 'raw', commands: [] });
  return { workflowId, taskQueue, runId: runId! };
}

const poll = (taskQueue: string): Promise<Task> => svc().pollWorkflowTaskQueue({ namespace: NS, taskQueue: { name: taskQueue }, identity: 'raw' });

function update(workflowId: string, updateId: string, runId?: string): Promise<temporal.api.workflowservice.v1.UpdateWorkflowExecutionResponse> {
  return svc().updateWorkflowExecution({
    namespace: NS,
    workflowExecution: { workflowId, runId },
    waitPolicy: { lifecycleStage: COMPLETED_STAGE },
    request: { meta: { updateId, identity: 'caller' }, input: { name: 'u' } },
  });
}

/** Accept + complete `updateId` (sequenced by protocol-message commands), then the extra commands. */
function handleUpdate(task: Task, updateId: string, result: string, extra: object[] = []) {
  const req = task.messages!.find((m) => m.protocolInstanceId === updateId)!;
  return svc().respondWorkflowTaskCompleted({
    namespace: NS, taskToken: task.taskToken, identity: 'raw',
    messages: [
      { id: `${updateId}/accept`, protocolInstanceId: updateId, body: any('Acceptance', { acceptedRequestMessageId: req.id, acceptedRequestSequencingEventId: req.eventId }) },
      { id: `${updateId}/complete`, protocolInstanceId: updateId, body: any('Response', { meta: { updateId }, outcome: { success: { payloads: [defaultPayloadConverter.toPayload(result)] } } }) },
    ],
    commands: [
      { commandType: CT.COMMAND_TYPE_PROTOCOL_MESSAGE, protocolMessageCommandAttributes: { messageId: `${updateId}/accept` } },
      { commandType: CT.COMMAND_TYPE_PROTOCOL_MESSAGE, protocolMessageCommandAttributes: { messageId: `${updateId}/complete` } },
      ...extra,
    ],
  });
}

/** Polls tasks of `taskQueue` (answering ones without the update with no commands) until one carries `updateId`. */
async function pollForUpdate(taskQueue: string, updateId: string): Promise<Task> {
  for (;;) {
    const task = await poll(taskQueue);
    if (task.messages?.some((m) => m.protocolInstanceId === updateId)) return task;
    if (task.taskToken?.length) await svc().respondWorkflowTaskCompleted({ namespace: NS, taskToken: task.taskToken, identity: 'raw', commands: [] });
  }
}

const outcomeValue = (r: temporal.api.workflowservice.v1.IUpdateWorkflowExecutionResponse | temporal.api.workflowservice.v1.IPollWorkflowExecutionUpdateResponse) =>
  defaultPayloadConverter.fromPayload(r.outcome!.success!.payloads![0]!);

const complete = { commandType: CT.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION, completeWorkflowExecutionCommandAttributes: {} };
const continueAsNew = { commandType: CT.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION, continueAsNewWorkflowExecutionCommandAttributes: { workflowType: { name: 'anything' } } };

test('a running workflow that ignores a delivered update: rejected with the server failure UnprocessedUpdate', async () => {
  const { workflowId, taskQueue } = await startIdle('upd-ignored');
  const pending = update(workflowId, 'u1');
  const task = await pollForUpdate(taskQueue, 'u1');
  await svc().respondWorkflowTaskCompleted({ namespace: NS, taskToken: task.taskToken, identity: 'raw', commands: [] });
  const res = await pending;
  expect(res.outcome?.failure?.applicationFailureInfo?.type).toBe('UnprocessedUpdate');
  expect(res.outcome?.failure?.applicationFailureInfo?.nonRetryable).toBe(true);
  expect(res.outcome?.failure?.source).toBe('Server');
  await svc().terminateWorkflowExecution({ namespace: NS, workflowExecution: { workflowId } });
});

test('an update ignored by the completion that closes the workflow is aborted (NOT_FOUND), not rejected', async () => {
  const { workflowId, taskQueue } = await startIdle('upd-ignored-close');
  const pending = update(workflowId, 'u1').catch((e) => e);
  const task = await pollForUpdate(taskQueue, 'u1');
  await svc().respondWorkflowTaskCompleted({ namespace: NS, taskToken: task.taskToken, identity: 'raw', commands: [complete] });
  const err = await pending;
  expect(err.code).toBe(grpc.status.NOT_FOUND);
  expect(err.details).toMatch(/aborted by closing workflow/);
  const events = (await svc().getWorkflowExecutionHistory({ namespace: NS, execution: { workflowId } })).history!.events!;
  expect(events.some((e) => e.workflowExecutionUpdateAcceptedEventAttributes || e.workflowExecutionUpdateCompletedEventAttributes)).toBe(false);
});

test('an update ignored by a continue-as-new completion is retried by the client and lands on the new run', async () => {
  const { workflowId, taskQueue, runId } = await startIdle('upd-ignored-can');
  const pending = update(workflowId, 'u1');
  const task = await pollForUpdate(taskQueue, 'u1');
  await svc().respondWorkflowTaskCompleted({ namespace: NS, taskToken: task.taskToken, identity: 'raw', commands: [continueAsNew] });
  // Real server: aborted with the retryable "workflow is closing" (RESOURCE_EXHAUSTED); the client's retry
  // addresses the current run, which is the new one.
  const next = await pollForUpdate(taskQueue, 'u1');
  expect(next.workflowExecution!.runId).not.toBe(runId);
  await handleUpdate(next, 'u1', 'on the new run');
  const res = await pending;
  expect(res.updateRef!.workflowExecution!.runId).toBe(next.workflowExecution!.runId);
  expect(outcomeValue(res)).toBe('on the new run');
  await svc().terminateWorkflowExecution({ namespace: NS, workflowExecution: { workflowId } });
}, 30_000);

test('an update id reused after continue-as-new is a new update of the current run, not the old run\'s outcome', async () => {
  const { workflowId, taskQueue, runId } = await startIdle('upd-reused-id');
  const first = update(workflowId, 'u1');
  const task = await pollForUpdate(taskQueue, 'u1');
  await handleUpdate(task, 'u1', 'first run', [continueAsNew]);
  const firstRes = await first;
  expect(firstRes.updateRef!.workflowExecution!.runId).toBe(runId);
  expect(outcomeValue(firstRes)).toBe('first run');

  // Polling: the addressed run only (the current run when no run id is given).
  const pollReq = (rid?: string) => svc().pollWorkflowExecutionUpdate({
    namespace: NS, updateRef: { workflowExecution: { workflowId, runId: rid }, updateId: 'u1' }, waitPolicy: { lifecycleStage: COMPLETED_STAGE },
  });
  expect(outcomeValue(await pollReq(runId))).toBe('first run');
  expect((await pollReq().catch((e) => e)).code).toBe(grpc.status.NOT_FOUND);
  // The same id sent again to the old run gets its outcome back.
  expect(outcomeValue(await update(workflowId, 'u1', runId))).toBe('first run');

  const second = update(workflowId, 'u1');
  const next = await pollForUpdate(taskQueue, 'u1');
  expect(next.workflowExecution!.runId).not.toBe(runId);
  await handleUpdate(next, 'u1', 'second run');
  const secondRes = await second;
  expect(secondRes.updateRef!.workflowExecution!.runId).toBe(next.workflowExecution!.runId);
  expect(outcomeValue(secondRes)).toBe('second run');
  await svc().terminateWorkflowExecution({ namespace: NS, workflowExecution: { workflowId } });
}, 30_000);

test('a completion the server fails (UNHANDLED_COMMAND) aborts the updates its task delivered: WorkflowNotReady, not re-sent', async () => {
  const { workflowId, taskQueue } = await startIdle('upd-wft-failed');
  // The SDK client: FAILED_PRECONDITION is not retried; executeUpdate rejects with a ServiceError.
  const pending = h.env.client.workflow.getHandle(workflowId).executeUpdate<string, []>('u', { updateId: 'u1' }).catch((e) => e);
  const task = await pollForUpdate(taskQueue, 'u1');
  await svc().signalWorkflowExecution({ namespace: NS, workflowExecution: { workflowId }, signalName: 'late', identity: 'raw' });
  const failed = await handleUpdate(task, 'u1', 'never', [complete]).catch((e) => e);
  expect(failed.code).toBe(grpc.status.INVALID_ARGUMENT);
  const err = await pending;
  expect(err).toBeInstanceOf(ServiceError);
  expect(err.cause.code).toBe(grpc.status.FAILED_PRECONDITION);
  expect(err.cause.details).toMatch(/unexpected workflow task failure/);
  // The retried task carries the signal but not the aborted update.
  const next = await poll(taskQueue);
  expect(next.history!.events!.some((e) => e.workflowTaskFailedEventAttributes?.cause === temporal.api.enums.v1.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND)).toBe(true);
  expect(next.messages ?? []).toEqual([]);
  // The id is free again: a new request is a new update.
  const again = update(workflowId, 'u1');
  await svc().respondWorkflowTaskCompleted({ namespace: NS, taskToken: next.taskToken, identity: 'raw', commands: [] });
  const retry = await pollForUpdate(taskQueue, 'u1');
  await handleUpdate(retry, 'u1', 'second try');
  expect(outcomeValue(await again)).toBe('second try');
  await svc().terminateWorkflowExecution({ namespace: NS, workflowExecution: { workflowId } });
}, 30_000);
