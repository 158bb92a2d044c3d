import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, TimeoutFailure, RetryState } from '@temporalio/common';
import { useHarness, uid } from './helpers';
import * as wf from './workflows';

const h = useHarness('timeskip');

const opts = h.workflowOptions;

test('start → activity → complete', async () => {
  const r = await h.env.client.workflow.execute(wf.greetWf, { ...opts('greet'), args: ['bob'] });
  expect(r).toBe('hello bob');
});

test('activity retried by the server until it succeeds; one ActivityTaskStarted with the final attempt', async () => {
  const key = uid('k');
  const handle = await h.env.client.workflow.start(wf.retryWf, { ...opts('retry'), args: [key, 2] });
  expect(await handle.result()).toBe(3);
  const { events } = await handle.fetchHistory();
  const started = events!.filter((e) => e.activityTaskStartedEventAttributes);
  expect(started).toHaveLength(1);
  expect(started[0]!.activityTaskStartedEventAttributes!.attempt).toBe(3);
  const scheduled = events!.find((e) => e.activityTaskScheduledEventAttributes)!.activityTaskScheduledEventAttributes!;
  // server fills the retry policy defaults and the missing schedule-to-close timeout
  expect(scheduled.retryPolicy!.backoffCoefficient).toBe(2);
  expect(scheduled.retryPolicy!.maximumAttempts).toBe(5);
});

test('non-retryable activity failure fails the workflow with ActivityFailure', async () => {
  const err = await h.env.client.workflow.execute(wf.nonRetryableWf, opts('nonretry')).catch((e) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect(err.cause).toBeInstanceOf(ActivityFailure);
  expect(err.cause.cause).toBeInstanceOf(ApplicationFailure);
  expect(err.cause.cause.type).toBe('PermanentError');
  expect(err.cause.retryState).toBe(RetryState.NON_RETRYABLE_FAILURE);
});

test('maximum attempts reached', async () => {
  const err = await h.env.client.workflow.execute(wf.exhaustRetriesWf, { ...opts('exhaust'), args: [uid('k')] }).catch((e) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect(err.cause).toBeInstanceOf(ActivityFailure);
  expect(err.cause.retryState).toBe(RetryState.MAXIMUM_ATTEMPTS_REACHED);
  expect(err.cause.cause.message).toBe('flaky failure 3');
});

test('start-to-close timeout → TimeoutFailure after retries', async () => {
  const err = await h.env.client.workflow.execute(wf.activityTimeoutWf, { ...opts('s2c'), args: [2000] }).catch((e) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect(err.cause).toBeInstanceOf(ActivityFailure);
  expect(err.cause.cause).toBeInstanceOf(TimeoutFailure);
  expect(err.cause.cause.timeoutType).toBe('START_TO_CLOSE');
});

test('heartbeat timeout retries and carries heartbeat details to the next attempt', async () => {
  const r = await h.env.client.workflow.execute(wf.heartbeatTimeoutWf, opts('hb'));
  expect(r).toEqual({ attempt: 2, details: 'from-attempt-1' });
});

test('timers are skipped with time skipping; workflow clock is the virtual clock', async () => {
  const t0 = await h.env.currentTimeMs();
  const wall = Date.now();
  const r = await h.env.client.workflow.execute(wf.sleepWf, { ...opts('sleep'), args: [3_600_000] });
  expect(r).toBeGreaterThanOrEqual(3_600_000);
  expect(Date.now() - wall).toBeLessThan(5000);
  expect((await h.env.currentTimeMs()) - t0).toBeGreaterThanOrEqual(3_600_000);
});

test('time skips while an activity sleeps in server time (Java test server lock rules)', async () => {
  expect(await h.env.client.workflow.execute(wf.raceActivityAndTimer, { ...opts('race1'), args: [1_000_000, 1_500_000] })).toBe('timer');
  expect(await h.env.client.workflow.execute(wf.raceActivityAndTimer, { ...opts('race2'), args: [1_500_000, 1_000_000] })).toBe('activity');
});

test('env.sleep advances virtual time', async () => {
  const t0 = await h.env.currentTimeMs();
  await h.env.sleep('1 day');
  expect((await h.env.currentTimeMs()) - t0).toBeGreaterThanOrEqual(86_400_000);
});

test('outcome via signal before the deadline', async () => {
  const handle = await h.env.client.workflow.start(wf.outcomeWf, { ...opts('outcome-sig'), args: [600_000] });
  await handle.signal(wf.goSignal, 'ok');
  expect(await handle.result()).toBe('hello signal:ok');
});

test('outcome deadline fires when nothing arrives', async () => {
  const r = await h.env.client.workflow.execute(wf.outcomeWf, { ...opts('outcome-deadline'), args: [600_000] });
  expect(r).toBe('deadline');
});

test('outcome via update (executeUpdate), validator rejection leaves no events', async () => {
  const handle = await h.env.client.workflow.start(wf.outcomeWf, { ...opts('outcome-upd'), args: [600_000] });
  const rejected = await handle.executeUpdate(wf.setValue, { args: ['bad'] }).catch((e) => e);
  expect(rejected).toBeInstanceOf(WorkflowUpdateFailedError);
  expect(rejected.cause.message).toBe('rejected value');
  const before = (await handle.fetchHistory()).events!.length;
  expect(before).toBeGreaterThan(0);
  const hist = (await handle.fetchHistory()).events!;
  expect(hist.some((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toBe(false);
  expect(await handle.executeUpdate(wf.setValue, { args: ['good'] })).toBe('accepted good');
  expect(await handle.result()).toBe('hello update:good');
  const events = (await handle.fetchHistory()).events!;
  expect(events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toHaveLength(1);
  expect(events.filter((e) => e.workflowExecutionUpdateCompletedEventAttributes)).toHaveLength(1);
});

test('startUpdate with ACCEPTED wait stage, then result; duplicate update id returns the same outcome', async () => {
  const handle = await h.env.client.workflow.start(wf.updateThenCompleteWf, opts('upd-accepted'));
  const uh = await handle.startUpdate(wf.setValue, { args: ['x'], waitForStage: 'ACCEPTED', updateId: 'u1' });
  expect(await uh.result()).toBe('got x');
  const again = await handle.executeUpdate(wf.setValue, { args: ['y'], updateId: 'u1' });
  expect(again).toBe('got x');
  expect(await handle.result()).toBe('x');
  const upd = await handle.executeUpdate(wf.setValue, { args: ['z'] }).catch((e) => e);
  expect(upd).toBeInstanceOf(WorkflowNotFoundError);
});

test('queries: while running and after completion', async () => {
  const handle = await h.env.client.workflow.start(wf.queryableWf, opts('query'));
  expect(await handle.query(wf.stateQuery)).toBe('started');
  await handle.signal(wf.goSignal, 'middle');
  expect(await handle.query(wf.stateQuery)).toBe('middle');
  await handle.signal(wf.goSignal, 'finish');
  expect(await handle.result()).toBe('finish');
  expect(await handle.query(wf.stateQuery)).toBe('finish');
});

test('unknown query type is rejected with the worker message', async () => {
  const handle = await h.env.client.workflow.start(wf.queryableWf, opts('query-unknown'));
  const err = await handle.query<string>('nope').catch((e: Error) => e) as Error;
  expect(err).toBeInstanceOf(Error);
  expect(String(err.message)).toMatch(/nope/);
  await handle.terminate('done');
});

test('workflow id conflict → WorkflowExecutionAlreadyStartedError; same request id dedups', async () => {
  const o = opts('dup');
  const handle = await h.env.client.workflow.start(wf.queryableWf, o);
  const err = await h.env.client.workflow.start(wf.queryableWf, o).catch((e) => e);
  expect(err).toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
  const existing = await h.env.client.workflow.start(wf.queryableWf, { ...o, workflowIdConflictPolicy: 'USE_EXISTING' });
  expect(existing.firstExecutionRunId).toBe(handle.firstExecutionRunId);
  const raw = h.env.client.workflowService;
  const req = { namespace: 'default', workflowId: uid('raw'), workflowType: { name: 'queryableWf' }, taskQueue: { name: h.taskQueue }, requestId: 'same-req' };
  const a = await raw.startWorkflowExecution(req);
  const b = await raw.startWorkflowExecution(req);
  expect(b.runId).toBe(a.runId);
  await h.env.client.workflow.getHandle(req.workflowId).terminate();
  await handle.terminate();
});

test('reuse policy REJECT_DUPLICATE and ALLOW_DUPLICATE_FAILED_ONLY', async () => {
  const o = opts('reuse');
  await h.env.client.workflow.execute(wf.greetWf, { ...o, args: ['a'] });
  const e1 = await h.env.client.workflow.start(wf.greetWf, { ...o, args: ['a'], workflowIdReusePolicy: 'REJECT_DUPLICATE' }).catch((e) => e);
  expect(e1).toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
  const e2 = await h.env.client.workflow.start(wf.greetWf, { ...o, args: ['a'], workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY' }).catch((e) => e);
  expect(e2).toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
  expect(await h.env.client.workflow.execute(wf.greetWf, { ...o, args: ['b'] })).toBe('hello b');
});

test('terminate-existing conflict policy', async () => {
  const o = opts('term-existing');
  const first = await h.env.client.workflow.start(wf.queryableWf, o);
  const second = await h.env.client.workflow.start(wf.queryableWf, { ...o, workflowIdConflictPolicy: 'TERMINATE_EXISTING' });
  expect(second.firstExecutionRunId).not.toBe(first.firstExecutionRunId);
  expect((await h.env.client.workflow.getHandle(o.workflowId, first.firstExecutionRunId).describe()).status.name).toBe('TERMINATED');
  await second.terminate();
});

test('unknown workflow → WorkflowNotFoundError', async () => {
  const handle = h.env.client.workflow.getHandle(uid('missing'));
  await expect(handle.describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  await expect(handle.signal(wf.goSignal, 'x')).rejects.toBeInstanceOf(WorkflowNotFoundError);
  await expect(handle.result()).rejects.toBeInstanceOf(WorkflowNotFoundError);
});

test('workflow failure surfaces ApplicationFailure with type', async () => {
  const err = await h.env.client.workflow.execute(wf.failingWf, { ...opts('fail'), args: ['boom'] }).catch((e) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect(err.cause).toBeInstanceOf(ApplicationFailure);
  expect(err.cause.type).toBe('MyError');
  expect(err.cause.message).toBe('boom');
});

test('query before the first workflow task (start delay) → not ready; reject condition NOT_OPEN on a closed run', async () => {
  const delayed = await h.env.client.workflow.start(wf.queryableWf, { ...opts('q-delay'), startDelay: '1 hour' });
  const err = await delayed.query(wf.stateQuery).catch((e: Error) => e) as Error & { cause?: { code?: number } };
  expect(err).toBeInstanceOf(Error);
  expect(err.cause?.code).toBe(9 /* FAILED_PRECONDITION */);
  await delayed.terminate();
  const done = await h.env.client.workflow.start(wf.greetWf, { ...opts('q-closed'), args: ['x'] });
  await done.result();
  const rejected = await h.env.client.workflow
    .getHandle(done.workflowId)
    .query(wf.stateQuery)
    .catch((e: Error) => e);
  expect(String(rejected)).toMatch(/state/); // no handler: the worker answers with an error naming the query
  const client2 = new (await import('@temporalio/client')).Client({ connection: h.env.connection, workflow: { queryRejectCondition: 'NOT_OPEN' } });
  const r = await client2.workflow.getHandle(done.workflowId).query(wf.stateQuery).catch((e: Error) => e);
  expect((r as Error).name).toBe('QueryRejectedError');
});

test('ALLOW_DUPLICATE_FAILED_ONLY allows a new run after a failed one; TERMINATE_IF_RUNNING replaces a running one', async () => {
  const o = opts('failed-only');
  await h.env.client.workflow.execute(wf.failingWf, { ...o, args: ['x'] }).catch(() => undefined);
  const again = await h.env.client.workflow.start(wf.greetWf, { ...o, args: ['y'], workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY' });
  expect(await again.result()).toBe('hello y');
  const o2 = opts('term-if-running');
  const first = await h.env.client.workflow.start(wf.queryableWf, o2);
  const second = await h.env.client.workflow.start(wf.queryableWf, { ...o2, workflowIdReusePolicy: 'TERMINATE_IF_RUNNING' });
  expect(second.firstExecutionRunId).not.toBe(first.firstExecutionRunId);
  expect((await h.env.client.workflow.getHandle(o2.workflowId, first.firstExecutionRunId).describe()).status.name).toBe('TERMINATED');
  await second.terminate();
});

test('update accepted now, completed later: startUpdate(ACCEPTED) then result() via PollWorkflowExecutionUpdate', async () => {
  const handle = await h.env.client.workflow.start(wf.slowUpdateWf, opts('slow-upd'));
  const uh = await handle.startUpdate(wf.setValue, { args: ['v'], waitForStage: 'ACCEPTED' });
  let events = (await handle.fetchHistory()).events!;
  expect(events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toHaveLength(1);
  expect(events.filter((e) => e.workflowExecutionUpdateCompletedEventAttributes)).toHaveLength(0);
  await handle.signal(wf.releaseSignal);
  expect(await uh.result()).toBe('late v');
  const again = h.env.client.workflow.getHandle(handle.workflowId).getUpdateHandle<string>(uh.updateId);
  expect(await again.result()).toBe('late v');
  expect(await handle.result()).toBe('v');
  events = (await handle.fetchHistory()).events!;
  const completed = events.find((e) => e.workflowExecutionUpdateCompletedEventAttributes)!.workflowExecutionUpdateCompletedEventAttributes!;
  const accepted = events.find((e) => e.workflowExecutionUpdateAcceptedEventAttributes)!;
  expect(String(completed.acceptedEventId)).toBe(String(accepted.eventId));
});

test('many results awaited in parallel still skip time (client unlocks outnumber the initial lock)', async () => {
  const wall = Date.now();
  const handles = await Promise.all(Array.from({ length: 40 }, (_, i) => h.env.client.workflow.start(wf.sleepWf, { ...opts(`par${i}`), args: [3_600_000 + i * 60_000] })));
  const slept = await Promise.all(handles.map((x) => x.result()));
  expect(Math.min(...slept)).toBeGreaterThanOrEqual(3_600_000);
  expect(Date.now() - wall).toBeLessThan(20_000);
  // afterwards the client's lock is back: time stands still again
  const t0 = await h.env.currentTimeMs();
  await new Promise((r) => setTimeout(r, 200));
  expect((await h.env.currentTimeMs()) - t0).toBeLessThan(5_000);
});
