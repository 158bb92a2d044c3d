/**
 * Workflow task and activity edge cases in real time: task failures and retries, UNHANDLED_COMMAND,
 * async activity completion, schedule-to-start / schedule-to-close timeouts, pending activities.
 */
import * as grpc from '@grpc/grpc-js';
import { msToTs } from '@temporalio/common/lib/time';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { useHarness, uid, useCli } from './helpers';
import * as wf from './workflows';

const h = useHarness('local');

const opts = h.workflowOptions;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(f: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(50);
  }
}

test('a failing workflow task is retried; WorkflowTaskFailed in history; queries refused while failing', async () => {
  const handle = await h.env.client.workflow.start(wf.wftFailWf, opts('wft-fail'));
  await waitFor(async () => ((await handle.describe()).raw.pendingWorkflowTask?.attempt ?? 0) >= 2 ? true : undefined);
  const events = (await handle.fetchHistory()).events!;
  const failed = events.filter((e) => e.workflowTaskFailedEventAttributes);
  expect(failed).toHaveLength(1); // retries (attempt > 1) are transient: no further events
  expect(failed[0]!.workflowTaskFailedEventAttributes!.failure!.message).toMatch(/workflow task failure/);
  const qErr = await handle.query(wf.stateQuery).catch((e) => e);
  expect(qErr).toBeInstanceOf(Error);
  expect(qErr.cause?.code ?? qErr.code).toBe(grpc.status.FAILED_PRECONDITION);
  await handle.terminate();
});

test('completing while a signal arrived during the task → UNHANDLED_COMMAND, then a new task with the signal', async () => {
  if (useCli) return; // drives the raw task protocol, needs a private task queue
  const svc = h.env.connection.workflowService;
  const taskQueue = uid('raw-tq');
  const workflowId = uid('unhandled');
  await svc.startWorkflowExecution({ namespace: 'default', workflowId, workflowType: { name: 'anything' }, taskQueue: { name: taskQueue }, requestId: uid('r') });
  const task = await svc.pollWorkflowTaskQueue({ namespace: 'default', taskQueue: { name: taskQueue }, identity: 'raw' });
  expect(Number(task.startedEventId)).toBe(3);
  await svc.signalWorkflowExecution({ namespace: 'default', workflowExecution: { workflowId }, signalName: 'late', identity: 'raw' });
  const err = await svc.respondWorkflowTaskCompleted({
    namespace: 'default', taskToken: task.taskToken, identity: 'raw',
    commands: [{ commandType: 4 /* COMPLETE_WORKFLOW_EXECUTION */, completeWorkflowExecutionCommandAttributes: {} }],
  }).catch((e) => e);
  expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
  const next = await svc.pollWorkflowTaskQueue({ namespace: 'default', taskQueue: { name: taskQueue }, identity: 'raw' });
  const types = next.history!.events!.map((e) => e.eventType);
  // started, scheduled, started, failed(unhandled), signaled, scheduled, started
  expect(types).toEqual([1, 5, 6, 9, 26, 5, 6]);
  expect(next.history!.events![3]!.workflowTaskFailedEventAttributes!.cause).toBe(1 /* UNHANDLED_COMMAND */);
  expect(Number(next.previousStartedEventId)).toBe(0);
  // the stale token of the first task is now NOT_FOUND
  const stale = await svc.respondWorkflowTaskCompleted({ namespace: 'default', taskToken: task.taskToken, identity: 'raw', commands: [] }).catch((e) => e);
  expect(stale.code).toBe(grpc.status.NOT_FOUND);
  await svc.respondWorkflowTaskCompleted({
    namespace: 'default', taskToken: next.taskToken, identity: 'raw',
    commands: [{ commandType: 4, completeWorkflowExecutionCommandAttributes: {} }],
  });
  const d = await h.env.client.workflow.getHandle(workflowId).describe();
  expect(d.status.name).toBe('COMPLETED');
});

test('a signal arriving while a retried (transient) task waits makes it a normal attempt-1 task, scheduled after the signal', async () => {
  if (useCli) return; // drives the raw task protocol, needs a private task queue
  const svc = h.env.connection.workflowService;
  const taskQueue = uid('raw-tq');
  const workflowId = uid('retry-then-signal');
  await svc.startWorkflowExecution({ namespace: 'default', workflowId, workflowType: { name: 'anything' }, taskQueue: { name: taskQueue }, requestId: uid('r') });
  const first = await svc.pollWorkflowTaskQueue({ namespace: 'default', taskQueue: { name: taskQueue }, identity: 'raw' });
  await svc.respondWorkflowTaskFailed({ namespace: 'default', taskToken: first.taskToken, identity: 'raw', cause: 2 /* BAD_SCHEDULE_ACTIVITY_ATTRIBUTES */ });
  // The retry (attempt 2, transient) is scheduled and not yet polled when the signal arrives.
  await svc.signalWorkflowExecution({ namespace: 'default', workflowExecution: { workflowId }, signalName: 'late', identity: 'raw' });
  const next = await svc.pollWorkflowTaskQueue({ namespace: 'default', taskQueue: { name: taskQueue }, identity: 'raw' });
  // Real server: new events since the transient task was scheduled → WorkflowTaskScheduled written now, attempt 1.
  expect(next.attempt).toBe(1);
  const events = next.history!.events!;
  // started, scheduled, started, failed, signaled, scheduled, started
  expect(events.map((e) => e.eventType)).toEqual([1, 5, 6, 9, 26, 5, 6]);
  expect(events[5]!.workflowTaskScheduledEventAttributes!.attempt).toBe(1);
  expect(Number(next.startedEventId)).toBe(7);
  // Not a failing task any more: queries are not refused as "workflow task in failed state".
  expect((await h.env.client.workflow.getHandle(workflowId).describe()).raw.pendingWorkflowTask?.attempt).toBe(1);
  await svc.respondWorkflowTaskCompleted({
    namespace: 'default', taskToken: next.taskToken, identity: 'raw',
    commands: [{ commandType: 4, completeWorkflowExecutionCommandAttributes: {} }],
  });
  expect((await h.env.client.workflow.getHandle(workflowId).describe()).status.name).toBe('COMPLETED');
});

test('async activity completion by id', async () => {
  const handle = await h.env.client.workflow.start(wf.asyncActivityWf, opts('async'));
  await waitFor(async () => ((await handle.describe()).raw.pendingActivities?.[0]?.state === 2 /* STARTED */ ? true : undefined));
  await h.env.client.activity.heartbeat({ workflowId: handle.workflowId, activityId: '1' }, 'beat');
  const d = await handle.describe();
  expect(d.raw.pendingActivities![0]!.heartbeatDetails).toBeTruthy();
  await h.env.client.activity.complete({ workflowId: handle.workflowId, activityId: '1' }, 'done later');
  expect(await handle.result()).toBe('done later');
});

test('schedule-to-start timeout when no worker polls the activity queue', async () => {
  const r = await h.env.client.workflow.execute(wf.scheduleToStartWf, { ...opts('s2s'), args: [uid('nobody-polls')] });
  expect(r).toBe('TimeoutFailure:SCHEDULE_TO_START');
});

test('schedule-to-close: no retry past the deadline (ActivityTaskFailed, retryState TIMEOUT); running attempt → TimeoutFailure', async () => {
  const r = await h.env.client.workflow.execute(wf.scheduleToCloseWf, { ...opts('s2close'), args: [uid('k'), false] });
  expect(r).toMatch(/^TIMEOUT:ApplicationFailure:flaky failure \d+$/);
  const r2 = await h.env.client.workflow.execute(wf.scheduleToCloseWf, { ...opts('s2close-run'), args: [uid('k'), true] });
  expect(r2).toBe('TIMEOUT:TimeoutFailure:activity ScheduleToClose timeout:SCHEDULE_TO_CLOSE');
});

test('describe shows a scheduled activity that no worker picked up', async () => {
  const handle = await h.env.client.workflow.start(wf.pendingActivityWf, { ...opts('pending'), args: [uid('idle-tq')] });
  const pa = await waitFor(async () => (await handle.describe()).raw.pendingActivities?.[0] ?? undefined);
  expect(pa.activityType!.name).toBe('greet');
  expect(pa.state).toBe(1 /* SCHEDULED */);
  expect(pa.attempt).toBe(1);
  await handle.terminate();
});

test('update with no handler is rejected and leaves no events', async () => {
  const handle = await h.env.client.workflow.start(wf.noUpdateHandlerWf, opts('no-handler'));
  await waitFor(async () => ((await handle.fetchHistory()).events!.some((e) => e.workflowTaskCompletedEventAttributes) ? true : undefined));
  const before = (await handle.fetchHistory()).events!.length;
  const err = await handle.executeUpdate(wf.setValue, { args: ['x'] }).catch((e) => e);
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  expect((await handle.fetchHistory()).events!.length).toBe(before);
  // the workflow still works afterwards
  expect(await handle.query(wf.stateQuery).catch((e) => e.message)).toMatch(/state/);
  await handle.terminate();
});

test('signals accepted while the final task runs are never lost (UNHANDLED_COMMAND → new task)', async () => {
  const handle = await h.env.client.workflow.start(wf.lateSignalWf, { ...opts('late-sig'), args: [40_000_000] });
  const accepted: string[] = [];
  let closed = false;
  for (let i = 0; i < 60 && !closed; i++) {
    try {
      await handle.signal(wf.goSignal, `s${i}`);
      accepted.push(`s${i}`);
    } catch {
      closed = true;
    }
    await sleep(20);
  }
  const result = await handle.result();
  expect(result).toEqual(accepted);
  const events = (await handle.fetchHistory()).events!;
  expect(events.filter((e) => e.workflowExecutionSignaledEventAttributes)).toHaveLength(accepted.length);
  // the completions that raced with signals were refused as UNHANDLED_COMMAND
  expect(events.some((e) => e.workflowTaskFailedEventAttributes?.cause === 1 /* UNHANDLED_COMMAND */)).toBe(true);
});

test('concurrent updates (some rejected) on one workflow all get their outcome', async () => {
  const handle = await h.env.client.workflow.start(wf.counterWf, opts('concurrent-upd'));
  const values = Array.from({ length: 20 }, (_, i) => (i % 5 === 4 ? -1 : i + 1));
  const outcomes = await Promise.all(values.map((v) => handle.executeUpdate(wf.addUpdate, { args: [v] }).then((r) => ({ ok: r }), (e: Error) => ({ err: e }))));
  const rejected = outcomes.filter((o) => 'err' in o);
  expect(rejected).toHaveLength(4);
  for (const r of rejected) expect((r as { err: Error }).err).toBeInstanceOf(WorkflowUpdateFailedError);
  const expectedTotal = values.filter((v) => v > 0).reduce((a, b) => a + b, 0);
  const oks = outcomes.filter((o) => 'ok' in o).map((o) => (o as { ok: number }).ok);
  expect(Math.max(...oks)).toBe(expectedTotal);
  await handle.signal(wf.finishSignal);
  expect(await handle.result()).toBe(expectedTotal);
  const events = (await handle.fetchHistory()).events!;
  expect(events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toHaveLength(16);
  expect(events.filter((e) => e.workflowExecutionUpdateCompletedEventAttributes)).toHaveLength(16);
});

test('a local activity longer than the workflow task timeout (workflow task heartbeats)', async () => {
  const handle = await h.env.client.workflow.start(wf.longLocalActivityWf, { ...opts('long-la'), args: [2500], workflowTaskTimeout: '1s' });
  expect(await handle.result()).toBe('slow done');
  const events = (await handle.fetchHistory()).events!;
  expect(events.filter((e) => e.workflowTaskCompletedEventAttributes).length).toBeGreaterThanOrEqual(3);
  expect(events.some((e) => e.workflowTaskTimedOutEventAttributes)).toBe(false);
});

test('workflow task start-to-close timeout → WorkflowTaskTimedOut, then a transient retry (attempt 2)', async () => {
  if (useCli) return; // drives the raw task protocol
  const svc = h.env.connection.workflowService;
  const taskQueue = uid('raw-timeout');
  const workflowId = uid('wft-timeout');
  await svc.startWorkflowExecution({ namespace: 'default', workflowId, workflowType: { name: 'anything' }, taskQueue: { name: taskQueue }, requestId: uid('r'), workflowTaskTimeout: msToTs('1s') });
  const first = await svc.pollWorkflowTaskQueue({ namespace: 'default', taskQueue: { name: taskQueue }, identity: 'raw' });
  expect(first.attempt).toBe(1);
  // no answer: the server times the task out after 1 s
  const second = await svc.pollWorkflowTaskQueue({ namespace: 'default', taskQueue: { name: taskQueue }, identity: 'raw' });
  expect(second.attempt).toBe(2);
  const types = second.history!.events!.map((e) => e.eventType);
  expect(types).toEqual([1, 5, 6, 8 /* TIMED_OUT */, 5, 6]); // the retry's scheduled/started are transient
  const persisted = await svc.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId } });
  expect(persisted.history!.events!.map((e) => e.eventType)).toEqual([1, 5, 6, 8]);
  const late = await svc.respondWorkflowTaskCompleted({ namespace: 'default', taskToken: first.taskToken, commands: [] }).catch((e) => e);
  expect(late.code).toBe(grpc.status.NOT_FOUND);
  await svc.respondWorkflowTaskCompleted({ namespace: 'default', taskToken: second.taskToken, identity: 'raw', commands: [{ commandType: 4, completeWorkflowExecutionCommandAttributes: {} }] });
  const done = await svc.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId } });
  expect(done.history!.events!.map((e) => e.eventType)).toEqual([1, 5, 6, 8, 5, 6, 7, 2 /* COMPLETED */]);
});
