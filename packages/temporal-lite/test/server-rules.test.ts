/**
 * Rules of the real history service that a raw "worker" can observe directly: how an activity's
 * retry state is decided (cancel requested, canceled/terminated failures), when RespondActivityTaskCanceled
 * is allowed, signal-with-start under the TERMINATE_IF_RUNNING reuse policy, and the retry state of an
 * execution timeout. Driven through the raw WorkflowService on private task queues.
 */
import * as grpc from '@grpc/grpc-js';
import { temporal } from '@temporalio/proto';
import Long from 'long';
import { useHarness, uid, useCli } from './helpers';

const h = useHarness('local');

const E = temporal.api.enums.v1;
const svc = () => h.env.client.workflowService;
const NS = 'default';

async function history(workflowId: string, runId?: string): Promise<temporal.api.history.v1.IHistoryEvent[]> {
  const r = await svc().getWorkflowExecutionHistory({ namespace: NS, execution: { workflowId, runId } });
  return r.history?.events ?? [];
}

/** Starts a run on a private queue and completes its first task with `commands`. */
async function startWith(commands: temporal.api.command.v1.ICommand[]): Promise<{ workflowId: string; taskQueue: string }> {
  const taskQueue = uid('raw-tq');
  const workflowId = uid('rules');
  await svc().startWorkflowExecution({ namespace: NS, workflowId, workflowType: { name: 'anything' }, taskQueue: { name: taskQueue }, requestId: uid('r') });
  const task = await svc().pollWorkflowTaskQueue({ namespace: NS, taskQueue: { name: taskQueue }, identity: 'raw' });
  await svc().respondWorkflowTaskCompleted({ namespace: NS, taskToken: task.taskToken, identity: 'raw', commands });
  return { workflowId, taskQueue };
}

const scheduleActivity = (activityId: string): temporal.api.command.v1.ICommand => ({
  commandType: E.CommandType.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK,
  scheduleActivityTaskCommandAttributes: {
    activityId, activityType: { name: 'act' }, startToCloseTimeout: { seconds: Long.fromNumber(30) },
    retryPolicy: { initialInterval: { seconds: Long.fromNumber(1) }, maximumAttempts: 5 },
  },
});

/** Schedules one activity (event 5) and hands its first attempt to the raw worker. */
async function startedActivity(): Promise<{ workflowId: string; taskQueue: string; taskToken: Uint8Array }> {
  const started = await startWith([scheduleActivity('a1')]);
  const act = await svc().pollActivityTaskQueue({ namespace: NS, taskQueue: { name: started.taskQueue }, identity: 'raw' });
  expect(act.activityId).toBe('a1');
  return { ...started, taskToken: act.taskToken! };
}

test('an activity that fails after its cancellation was requested closes with retry state CANCEL_REQUESTED', async () => {
  if (useCli) return;
  const { workflowId, taskQueue, taskToken } = await startedActivity();
  // The workflow requests cancellation (needs a new workflow task: a signal brings one).
  await svc().signalWorkflowExecution({ namespace: NS, workflowExecution: { workflowId }, signalName: 'wake', identity: 'raw' });
  const task = await svc().pollWorkflowTaskQueue({ namespace: NS, taskQueue: { name: taskQueue }, identity: 'raw' });
  await svc().respondWorkflowTaskCompleted({
    namespace: NS, taskToken: task.taskToken, identity: 'raw',
    commands: [{ commandType: E.CommandType.COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK, requestCancelActivityTaskCommandAttributes: { scheduledEventId: Long.fromNumber(5) } }],
  });
  expect((await svc().recordActivityTaskHeartbeat({ namespace: NS, taskToken, identity: 'raw' })).cancelRequested).toBe(true);
  await svc().respondActivityTaskFailed({ namespace: NS, taskToken, identity: 'raw', failure: { message: 'boom', applicationFailureInfo: { type: 'Boom' } } });
  const failed = (await history(workflowId)).find((e) => e.activityTaskFailedEventAttributes);
  expect(failed?.activityTaskFailedEventAttributes?.retryState).toBe(E.RetryState.RETRY_STATE_CANCEL_REQUESTED);
});

test.each([
  ['canceled', { canceledFailureInfo: {} }],
  ['terminated', { terminatedFailureInfo: {} }],
  ['non-retryable server', { serverFailureInfo: { nonRetryable: true } }],
])('an activity failure of kind %s is not retried (NON_RETRYABLE_FAILURE on the first attempt)', async (_kind, info) => {
  if (useCli) return;
  const { workflowId, taskToken } = await startedActivity();
  await svc().respondActivityTaskFailed({ namespace: NS, taskToken, identity: 'raw', failure: { message: 'stopped', ...info } });
  const failed = (await history(workflowId)).find((e) => e.activityTaskFailedEventAttributes);
  expect(failed?.activityTaskFailedEventAttributes?.retryState).toBe(E.RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE);
});

test('RespondActivityTaskCanceled without a cancellation request is INVALID_ARGUMENT and leaves the activity running', async () => {
  if (useCli) return;
  const { workflowId, taskToken } = await startedActivity();
  const err = await svc().respondActivityTaskCanceled({ namespace: NS, taskToken, identity: 'raw' }).catch((e) => e);
  expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
  const byId = await svc().respondActivityTaskCanceledById({ namespace: NS, workflowId, activityId: 'a1', identity: 'raw' }).catch((e) => e);
  expect(byId?.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect((await history(workflowId)).some((e) => e.activityTaskCanceledEventAttributes)).toBe(false);
  // The attempt is still alive: it can complete normally.
  await svc().respondActivityTaskCompleted({ namespace: NS, taskToken, identity: 'raw' });
  expect((await history(workflowId)).some((e) => e.activityTaskCompletedEventAttributes)).toBe(true);
});

test('signal-with-start with reuse policy TERMINATE_IF_RUNNING terminates the running run and starts a new one', async () => {
  if (useCli) return;
  const taskQueue = uid('raw-tq');
  const workflowId = uid('sws-terminate');
  const first = await svc().startWorkflowExecution({ namespace: NS, workflowId, workflowType: { name: 'anything' }, taskQueue: { name: taskQueue }, requestId: uid('r') });
  const r = await svc().signalWithStartWorkflowExecution({
    namespace: NS, workflowId, workflowType: { name: 'anything' }, taskQueue: { name: taskQueue }, requestId: uid('r'),
    signalName: 'go', identity: 'raw', workflowIdReusePolicy: E.WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING,
  });
  expect(r.started).toBe(true);
  expect(r.runId).not.toBe(first.runId);
  const old = await history(workflowId, first.runId!);
  expect(old[old.length - 1]!.eventType).toBe(E.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED);
  const fresh = await history(workflowId, r.runId!);
  expect(fresh.some((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'go')).toBe(true);
});

test('an execution timeout closes the run with retry state TIMEOUT (not RETRY_POLICY_NOT_SET)', async () => {
  if (useCli) return;
  const workflowId = uid('exec-timeout');
  await svc().startWorkflowExecution({
    namespace: NS, workflowId, workflowType: { name: 'anything' }, taskQueue: { name: uid('nobody-polls') }, requestId: uid('r'),
    workflowExecutionTimeout: { seconds: Long.fromNumber(1) },
  });
  const end = Date.now() + 10_000;
  let last: temporal.api.history.v1.IHistoryEvent | undefined;
  while (Date.now() < end) {
    const events = await history(workflowId);
    last = events[events.length - 1];
    if (last?.workflowExecutionTimedOutEventAttributes) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  expect(last?.workflowExecutionTimedOutEventAttributes?.retryState).toBe(E.RetryState.RETRY_STATE_TIMEOUT);
});

test('cancelling a workflow that already closed succeeds as a no-op; an unknown workflow is NOT_FOUND', async () => {
  if (useCli) return;
  const { workflowId } = await startWith([{ commandType: E.CommandType.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION, completeWorkflowExecutionCommandAttributes: {} }]);
  const before = (await history(workflowId)).length;
  await svc().requestCancelWorkflowExecution({ namespace: NS, workflowExecution: { workflowId }, identity: 'raw', requestId: uid('c') });
  expect((await history(workflowId)).length).toBe(before);
  const missing = await svc().requestCancelWorkflowExecution({ namespace: NS, workflowExecution: { workflowId: uid('nobody') }, identity: 'raw' }).catch((e) => e);
  expect(missing?.code).toBe(grpc.status.NOT_FOUND);
});
