/**
 * Sticky task queues: a cached run's later tasks go to the worker's sticky queue with a partial
 * history; an unserved sticky task times out (SCHEDULE_TO_START) and goes to the normal queue with
 * the full history; failures and worker shutdown clear stickiness. Partly driven through the raw
 * WorkflowService (a hand-rolled "worker") so the poll responses themselves can be checked.
 */
import { Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import Long from 'long';
import { activities, useHarness, uid, workflowBundle } from './helpers';
import * as wf from './workflows';

const EventType = temporal.api.enums.v1.EventType;

const h = useHarness('timeskip');

const svc = () => h.env.client.workflowService;
const poll = (taskQueue: { name: string; kind?: number; normalName?: string }, ms: number) =>
  h.env.client.connection.withDeadline(Date.now() + ms, () => svc().pollWorkflowTaskQueue({ namespace: 'default', taskQueue, identity: 'raw-worker' }));
const STICKY = temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_STICKY;

test('cached run: later tasks go to the sticky queue and the workflow completes across activities and signals', async () => {
  const handle = await h.env.client.workflow.start(wf.stickyCounterWf, { taskQueue: h.taskQueue, workflowId: uid('sticky-cached'), args: [3] });
  await handle.signal(wf.goSignal, 'a');
  expect(await handle.query(wf.stateQuery)).toMatch(/^count=/);
  await handle.signal(wf.goSignal, 'b');
  expect(await handle.result()).toBe(2);
  const events = (await handle.fetchHistory()).events!;
  const scheduled = events.filter((e) => e.workflowTaskScheduledEventAttributes);
  expect(scheduled[0]!.workflowTaskScheduledEventAttributes!.taskQueue!.name).toBe(h.taskQueue);
  const sticky = scheduled.slice(1).filter((e) => e.workflowTaskScheduledEventAttributes!.taskQueue!.kind === STICKY);
  expect(sticky.length).toBeGreaterThan(0);
  expect(sticky[0]!.workflowTaskScheduledEventAttributes!.taskQueue!.normalName).toBe(h.taskQueue);
  expect(events.some((e) => e.workflowTaskTimedOutEventAttributes)).toBe(false);
});

test('raw worker: partial history on the sticky queue; a failed task clears stickiness (full history on the normal queue)', async () => {
  const tq = uid('raw-tq');
  const stickyName = uid('raw-sticky');
  const handle = await h.env.client.workflow.start(wf.stickyCounterWf, { taskQueue: tq, workflowId: uid('sticky-raw'), args: [0] });
  const first = await poll({ name: tq }, 5000);
  expect(first.taskToken?.length).toBeGreaterThan(0);
  expect(first.history!.events!.length).toBe(3);
  await svc().respondWorkflowTaskCompleted({
    namespace: 'default', taskToken: first.taskToken, identity: 'raw-worker', commands: [],
    stickyAttributes: { workerTaskQueue: { name: stickyName, kind: STICKY, normalName: tq }, scheduleToStartTimeout: { seconds: Long.fromNumber(10) } },
  });
  const stickyPoll = poll({ name: stickyName, kind: STICKY, normalName: tq }, 5000);
  await handle.signal(wf.goSignal, 'x');
  const second = await stickyPoll;
  expect(Number(second.previousStartedEventId)).toBe(3);
  const ids = second.history!.events!.map((e) => Number(e.eventId));
  expect(ids[0]).toBe(4); // WorkflowTaskCompleted of the previous task onwards
  expect(ids[ids.length - 1]).toBe(Number(second.startedEventId));
  expect(second.history!.events![0]!.eventType).toBe(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
  await svc().respondWorkflowTaskFailed({ namespace: 'default', taskToken: second.taskToken, identity: 'raw-worker', cause: temporal.api.enums.v1.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_STICKY_TASK_QUEUE });
  const third = await poll({ name: tq }, 5000);
  expect(Number(third.history!.events![0]!.eventId)).toBe(1);
  // Real server: a sticky run's failed task is retried once as a normal attempt-1 task (no increment).
  expect(third.attempt).toBe(1);
  expect(third.history!.events!.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)).toHaveLength(1);
  await h.env.client.workflow.getHandle(handle.workflowId).terminate('done');
});

test('sticky worker gone without shutdown: WorkflowTaskTimedOut (SCHEDULE_TO_START), then a new worker gets the full history', async () => {
  const tq = uid('restart-tq');
  const stickyName = uid('dead-sticky');
  const handle = await h.env.client.workflow.start(wf.stickyCounterWf, { taskQueue: tq, workflowId: uid('sticky-timeout'), args: [0] });
  const first = await poll({ name: tq }, 5000);
  await svc().respondWorkflowTaskCompleted({
    namespace: 'default', taskToken: first.taskToken, identity: 'raw-worker', commands: [],
    stickyAttributes: { workerTaskQueue: { name: stickyName, kind: STICKY, normalName: tq }, scheduleToStartTimeout: { seconds: Long.fromNumber(1) } },
  });
  await poll({ name: stickyName, kind: STICKY, normalName: tq }, 1200); // the sticky worker was alive recently
  const before = await h.env.currentTimeMs();
  await handle.signal(wf.goSignal, 'a'); // → a task on the (now unserved) sticky queue
  await handle.signal(wf.goSignal, 'b');
  const worker = await Worker.create({ connection: h.env.nativeConnection, taskQueue: tq, workflowBundle: await workflowBundle(), activities });
  expect(await worker.runUntil(handle.result())).toBe(2);
  const events = (await handle.fetchHistory()).events!;
  const timedOut = events.filter((e) => e.workflowTaskTimedOutEventAttributes);
  expect(timedOut).toHaveLength(1);
  expect(timedOut[0]!.workflowTaskTimedOutEventAttributes!.timeoutType).toBe(temporal.api.enums.v1.TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START);
  const toIdx = events.indexOf(timedOut[0]!);
  const next = events.slice(toIdx).find((e) => e.workflowTaskScheduledEventAttributes)!;
  expect(next.workflowTaskScheduledEventAttributes!.taskQueue!.name).toBe(tq);
  expect(next.workflowTaskScheduledEventAttributes!.attempt).toBe(1);
  // The schedule-to-start timeout ran in real time: virtual time did not jump ahead.
  expect(Number(await h.env.currentTimeMs()) - Number(before)).toBeLessThan(30_000);
}, 30_000);

test('ResetStickyTaskQueue: the task already on the sticky queue still times out; later tasks go to the normal queue', async () => {
  const tq = uid('reset-tq');
  const stickyName = uid('reset-sticky');
  const handle = await h.env.client.workflow.start(wf.stickyCounterWf, { taskQueue: tq, workflowId: uid('sticky-reset'), args: [0] });
  const first = await poll({ name: tq }, 5000);
  await svc().respondWorkflowTaskCompleted({
    namespace: 'default', taskToken: first.taskToken, identity: 'raw-worker', commands: [],
    stickyAttributes: { workerTaskQueue: { name: stickyName, kind: STICKY, normalName: tq }, scheduleToStartTimeout: { seconds: Long.fromNumber(1) } },
  });
  await poll({ name: stickyName, kind: STICKY, normalName: tq }, 1200);
  await handle.signal(wf.goSignal, 'a');
  await svc().resetStickyTaskQueue({ namespace: 'default', execution: { workflowId: handle.workflowId } });
  const next = await poll({ name: tq }, 5000); // after the sticky schedule-to-start timeout
  expect(Number(next.history!.events![0]!.eventId)).toBe(1);
  const types = next.history!.events!.map((e) => e.eventType);
  expect(types).toContain(EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT);
  await handle.terminate('done');
}, 20_000);

test('legacy query of a sticky run: sticky queue with an empty history; unanswered → stickiness reset, normal queue, full history', async () => {
  const tq = uid('query-tq');
  const stickyName = uid('query-sticky');
  const handle = await h.env.client.workflow.start(wf.stickyCounterWf, { taskQueue: tq, workflowId: uid('sticky-query'), args: [0] });
  const first = await poll({ name: tq }, 5000);
  await svc().respondWorkflowTaskCompleted({
    namespace: 'default', taskToken: first.taskToken, identity: 'raw-worker', commands: [],
    stickyAttributes: { workerTaskQueue: { name: stickyName, kind: STICKY, normalName: tq }, scheduleToStartTimeout: { seconds: Long.fromNumber(1) } },
  });
  const stickyPoll = poll({ name: stickyName, kind: STICKY, normalName: tq }, 5000);
  const answer = handle.query(wf.stateQuery);
  const onSticky = await stickyPoll;
  expect(onSticky.query?.queryType).toBe('state');
  expect(onSticky.history?.events ?? []).toHaveLength(0);
  // The "sticky worker" never answers: after the sticky schedule-to-start timeout the query goes to the normal queue.
  const onNormal = await poll({ name: tq }, 5000);
  expect(onNormal.query?.queryType).toBe('state');
  expect(Number(onNormal.history!.events![0]!.eventId)).toBe(1);
  await svc().respondQueryTaskCompleted({
    namespace: 'default', taskToken: onNormal.taskToken, completedType: temporal.api.enums.v1.QueryResultType.QUERY_RESULT_TYPE_ANSWERED,
    queryResult: { payloads: [{ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('"from-normal"') }] },
  });
  expect(await answer).toBe('from-normal');
  // Stickiness was reset: the next workflow task goes to the normal queue.
  await handle.signal(wf.goSignal, 'x');
  const next = await poll({ name: tq }, 5000);
  expect(Number(next.history!.events![0]!.eventId)).toBe(1);
  await handle.terminate('done');
}, 20_000);

test('worker restart with the default settings: results stay correct (ShutdownWorker sends later tasks to the normal queue)', async () => {
  const tq = uid('restart2-tq');
  const handle = await h.env.client.workflow.start(wf.stickyCounterWf, { taskQueue: tq, workflowId: uid('sticky-restart'), args: [2] });
  const w1 = await Worker.create({ connection: h.env.nativeConnection, taskQueue: tq, workflowBundle: await workflowBundle(), activities });
  await w1.runUntil(async () => {
    await handle.signal(wf.goSignal, 'a');
    while (!(await handle.query(wf.stateQuery)).includes('count=1')) await new Promise((r) => setTimeout(r, 50));
  });
  await handle.signal(wf.goSignal, 'b');
  const w2 = await Worker.create({ connection: h.env.nativeConnection, taskQueue: tq, workflowBundle: await workflowBundle(), activities });
  expect(await w2.runUntil(handle.result())).toBe(2);
  const events = (await handle.fetchHistory()).events!;
  expect(events.some((e) => e.workflowTaskFailedEventAttributes)).toBe(false);
}, 30_000);
