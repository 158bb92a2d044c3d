import { WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure, ChildWorkflowFailure, TerminatedFailure, TimeoutFailure, defaultPayloadConverter } from '@temporalio/common';
import { useHarness, uid } from './helpers';
import * as wf from './workflows';

const h = useHarness('timeskip');

const opts = h.workflowOptions;

test('cancel: WorkflowExecutionCancelRequested, cleanup activity, Canceled close', async () => {
  const handle = await h.env.client.workflow.start(wf.cancellableWf, opts('cancel'));
  await handle.query(wf.stateQuery).catch(() => undefined); // wait until the first task ran
  await handle.cancel();
  const err = await handle.result().catch((e) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect(err.cause).toBeInstanceOf(CancelledFailure);
  const events = (await handle.fetchHistory()).events!;
  expect(events.some((e) => e.workflowExecutionCancelRequestedEventAttributes)).toBe(true);
  expect(events.some((e) => e.activityTaskCompletedEventAttributes)).toBe(true);
  expect(events[events.length - 1]!.workflowExecutionCanceledEventAttributes).toBeTruthy();
});

test('terminate: TerminatedFailure; signal afterwards → not found', async () => {
  const handle = await h.env.client.workflow.start(wf.queryableWf, opts('terminate'));
  await handle.terminate('bye');
  const err = await handle.result().catch((e) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect(err.cause).toBeInstanceOf(TerminatedFailure);
  expect(err.message).toBe('bye');
  await expect(handle.signal(wf.goSignal, 'x')).rejects.toBeInstanceOf(WorkflowNotFoundError);
  expect((await handle.describe()).status.name).toBe('TERMINATED');
});

test('activity cancellation WAIT_CANCELLATION_COMPLETED: heartbeat reports cancel, ActivityTaskCanceled written', async () => {
  const handle = await h.env.client.workflow.start(wf.cancelActivityWf, { ...opts('act-cancel'), args: ['WAIT_CANCELLATION_COMPLETED'] });
  expect(await handle.result()).toBe('cancelled');
  const events = (await handle.fetchHistory()).events!;
  expect(events.some((e) => e.activityTaskCancelRequestedEventAttributes)).toBe(true);
  expect(events.some((e) => e.activityTaskCanceledEventAttributes)).toBe(true);
});

test('child workflow result and failure', async () => {
  expect(await h.env.client.workflow.execute(wf.parentWf, { ...opts('parent'), args: [21] })).toBe(42);
  const err = await h.env.client.workflow.execute(wf.parentWf, { ...opts('parent-fail'), args: [-1] }).catch((e) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect(err.cause).toBeInstanceOf(ChildWorkflowFailure);
  expect(err.cause.cause).toBeInstanceOf(ApplicationFailure);
  expect(err.cause.cause.type).toBe('ChildError');
});

test('parent close policy: TERMINATE (default) and ABANDON', async () => {
  const tId = await h.env.client.workflow.execute(wf.parentTerminateWf, opts('pcp-term'));
  const child = h.env.client.workflow.getHandle(tId);
  await expect(child.result()).rejects.toBeInstanceOf(WorkflowFailedError);
  expect((await child.describe()).status.name).toBe('TERMINATED');
  const aId = await h.env.client.workflow.execute(wf.parentAbandonWf, opts('pcp-abandon'));
  const abandoned = h.env.client.workflow.getHandle(aId);
  expect((await abandoned.describe()).status.name).toBe('RUNNING');
  await abandoned.signal(wf.goSignal, 'finish');
  expect(await abandoned.result()).toBe('finish');
});

test('continue-as-new: client follows runs; ContinuedAsNew status', async () => {
  const handle = await h.env.client.workflow.start(wf.canWf, { ...opts('can'), args: [2], memo: { m: 1 } });
  expect(await handle.result()).toBe(100);
  const first = h.env.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId);
  expect((await first.describe()).status.name).toBe('CONTINUED_AS_NEW');
  const latest = await h.env.client.workflow.getHandle(handle.workflowId).describe();
  expect(latest.status.name).toBe('COMPLETED');
  expect(latest.runId).not.toBe(handle.firstExecutionRunId);
  expect(latest.memo).toEqual({ m: 1 });
});

test('signal external + failed variant when target is missing', async () => {
  const target = await h.env.client.workflow.start(wf.signalDuringTaskWf, opts('sig-target'));
  expect(await h.env.client.workflow.execute(wf.signalOtherWf, { ...opts('sig-src'), args: [target.workflowId] })).toBe('ok');
  await target.signal(wf.goSignal, 'stop');
  expect(await target.result()).toEqual(['from-other', 'stop']);
  const r = await h.env.client.workflow.execute(wf.signalOtherWf, { ...opts('sig-src2'), args: [uid('nobody')] });
  expect(r).toMatch(/^failed:/);
});

test('request cancel external', async () => {
  const target = await h.env.client.workflow.start(wf.cancellableWf, opts('rc-target'));
  expect(await h.env.client.workflow.execute(wf.cancelOtherWf, { ...opts('rc-src'), args: [target.workflowId] })).toBe('ok');
  const err = await target.result().catch((e) => e);
  expect(err.cause).toBeInstanceOf(CancelledFailure);
  expect(await h.env.client.workflow.execute(wf.cancelOtherWf, { ...opts('rc-src2'), args: [uid('nobody')] })).toMatch(/^failed:/);
});

test('workflow retry policy: new runs with the same firstExecutionRunId until success', async () => {
  const handle = await h.env.client.workflow.start(wf.retryingWorkflow, { ...opts('wf-retry'), retry: { initialInterval: '1s', maximumAttempts: 5 } });
  expect(await handle.result()).toBe(3);
  const latest = await h.env.client.workflow.getHandle(handle.workflowId).describe();
  expect(latest.runId).not.toBe(handle.firstExecutionRunId);
  const first = (await h.env.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId).fetchHistory()).events!;
  const failed = first[first.length - 1]!.workflowExecutionFailedEventAttributes!;
  expect(failed.newExecutionRunId).toBeTruthy();
  const hist = (await h.env.client.workflow.getHandle(handle.workflowId).fetchHistory()).events!;
  expect(hist[0]!.workflowExecutionStartedEventAttributes!.firstExecutionRunId).toBe(handle.firstExecutionRunId);
  expect(hist[0]!.workflowExecutionStartedEventAttributes!.attempt).toBe(3);
});

test('workflowStartDelay: first workflow task after the delay', async () => {
  const t0 = await h.env.currentTimeMs();
  const handle = await h.env.client.workflow.start(wf.sleepWf, { ...opts('delay'), args: [1], startDelay: '2 hours' });
  await handle.result();
  const events = (await handle.fetchHistory()).events!;
  expect(events[0]!.workflowExecutionStartedEventAttributes!.firstWorkflowTaskBackoff).toBeTruthy();
  const sched = events.find((e) => e.workflowTaskScheduledEventAttributes)!;
  expect(Number(sched.eventTime!.seconds) * 1000 - t0).toBeGreaterThanOrEqual(2 * 3600 * 1000 - 1000);
});

test('workflow run timeout → TimedOut', async () => {
  const o = opts('run-timeout');
  const err = await h.env.client.workflow.execute(wf.sleepWf, { ...o, args: [3_600_000], workflowRunTimeout: '1 minute' }).catch((e) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect(err.cause).toBeInstanceOf(TimeoutFailure);
  expect((await h.env.client.workflow.getHandle(o.workflowId).describe()).status.name).toBe('TIMED_OUT');
});

test('local activity and patch markers', async () => {
  const handle = await h.env.client.workflow.start(wf.localActivityWf, opts('la'));
  expect(await handle.result()).toBe('hello local:true');
  const events = (await handle.fetchHistory()).events!;
  expect(events.filter((e) => e.markerRecordedEventAttributes).length).toBeGreaterThanOrEqual(2);
  const completed = events.find((e) => e.workflowTaskCompletedEventAttributes)!;
  expect(completed.workflowTaskCompletedEventAttributes!.sdkMetadata).toBeTruthy();
});

test('signals buffered during a workflow task are all delivered in order', async () => {
  const handle = await h.env.client.workflow.start(wf.signalDuringTaskWf, opts('burst'));
  await Promise.all(Array.from({ length: 10 }, (_, i) => handle.signal(wf.goSignal, `s${i}`)));
  await handle.signal(wf.goSignal, 'stop');
  const got = await handle.result();
  expect(got).toHaveLength(11);
  expect(got[10]).toBe('stop');
});

test('describe: status, memo, pending activity, history length', async () => {
  const handle = await h.env.client.workflow.start(wf.queryableWf, { ...opts('describe'), memo: { owner: 'me' } });
  const d = await handle.describe();
  expect(d.status.name).toBe('RUNNING');
  expect(d.memo).toEqual({ owner: 'me' });
  expect(d.taskQueue).toBe(h.taskQueue);
  expect(d.historyLength).toBeGreaterThan(0);
  await handle.terminate();
});

test('signalWithStart starts then signals the running workflow', async () => {
  const o = opts('sws');
  const handle = await h.env.client.workflow.signalWithStart(wf.signalDuringTaskWf, { ...o, signal: wf.goSignal, signalArgs: ['a'] });
  await h.env.client.workflow.signalWithStart(wf.signalDuringTaskWf, { ...o, signal: wf.goSignal, signalArgs: ['stop'] });
  expect(await handle.result()).toEqual(['a', 'stop']);
});

test('payload converter round trip (bytes are preserved)', async () => {
  const big = 'x'.repeat(200_000);
  expect(await h.env.client.workflow.execute(wf.greetWf, { ...opts('big'), args: [big] })).toBe(`hello ${big}`);
  void defaultPayloadConverter;
});

test('parent close policy REQUEST_CANCEL: the child gets a cancel request', async () => {
  const id = await h.env.client.workflow.execute(wf.parentRequestCancelWf, opts('pcp-cancel'));
  const err = await h.env.client.workflow.getHandle(id).result().catch((e) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect(err.cause).toBeInstanceOf(CancelledFailure);
});

test('parent cancels a child: ChildWorkflowFailure caused by CancelledFailure', async () => {
  expect(await h.env.client.workflow.execute(wf.parentCancelsChildWf, opts('cancel-child'))).toBe('ChildWorkflowFailure:CancelledFailure');
});

test('child continue-as-new: parent receives the last run result', async () => {
  expect(await h.env.client.workflow.execute(wf.parentOfCanWf, opts('child-can'))).toBe(100);
});

test('parent signals its child', async () => {
  expect(await h.env.client.workflow.execute(wf.parentSignalsChildWf, opts('sig-child'))).toBe('finish');
});

test('activity cancellation TRY_CANCEL resolves at once; the request is recorded', async () => {
  const handle = await h.env.client.workflow.start(wf.cancelActivityWf, { ...opts('act-try-cancel'), args: ['TRY_CANCEL'] });
  expect(await handle.result()).toBe('cancelled');
  const events = (await handle.fetchHistory()).events!;
  expect(events.some((e) => e.activityTaskCancelRequestedEventAttributes)).toBe(true);
});

test('child terminated from outside: parent sees ChildWorkflowFailure(TerminatedFailure)', async () => {
  const parent = await h.env.client.workflow.start(wf.parentWaitsForChildWf, opts('child-term'));
  const child = h.env.client.workflow.getHandle(`${parent.workflowId}-child`);
  for (let i = 0; i < 200; i++) {
    if (await child.describe().then(() => true, () => false)) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  await child.terminate('stop');
  expect(await parent.result()).toBe('ChildWorkflowFailure:TerminatedFailure');
});
