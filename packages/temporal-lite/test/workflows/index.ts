/* Workflows used by the conformance tests (run inside the SDK's workflow sandbox). */
import {
  proxyActivities, sleep, defineSignal, defineQuery, defineUpdate, setHandler, condition, workflowInfo,
  ApplicationFailure, CancellationScope, isCancellation, startChild, executeChild, continueAsNew,
  upsertSearchAttributes, getExternalWorkflowHandle, ActivityCancellationType, patched, proxyLocalActivities,
  upsertMemo, ParentClosePolicy,
} from '@temporalio/workflow';

export interface Acts {
  greet(name: string): Promise<string>;
  flaky(key: string, failTimes: number): Promise<number>;
  failNonRetryable(): Promise<void>;
  slow(ms: number): Promise<string>;
  heartbeating(ms: number): Promise<string>;
  attemptInfo(): Promise<{ attempt: number; details: unknown }>;
  envSleep(ms: number): Promise<string>;
  asyncComplete(): Promise<string>;
}

const acts = proxyActivities<Acts>({ startToCloseTimeout: '10s', retry: { initialInterval: '50ms', maximumAttempts: 5 } });

export const goSignal = defineSignal<[string]>('go');
export const stateQuery = defineQuery<string>('state');
export const setValue = defineUpdate<string, [string]>('setValue');

export async function greetWf(name: string): Promise<string> {
  return await acts.greet(name);
}

export async function retryWf(key: string, failTimes: number): Promise<number> {
  return await acts.flaky(key, failTimes);
}

export async function nonRetryableWf(): Promise<void> {
  await proxyActivities<Acts>({ startToCloseTimeout: '10s', retry: { initialInterval: '10ms', maximumAttempts: 5 } }).failNonRetryable();
}

export async function exhaustRetriesWf(key: string): Promise<number> {
  return await proxyActivities<Acts>({ startToCloseTimeout: '10s', retry: { initialInterval: '10ms', maximumAttempts: 3 } }).flaky(key, 100);
}

export async function activityTimeoutWf(ms: number): Promise<string> {
  return await proxyActivities<Acts>({ startToCloseTimeout: '200ms', retry: { maximumAttempts: 2, initialInterval: '10ms' } }).slow(ms);
}

export async function heartbeatTimeoutWf(): Promise<{ attempt: number; details: unknown }> {
  const a = proxyActivities<Acts>({ startToCloseTimeout: '20s', heartbeatTimeout: '300ms', retry: { maximumAttempts: 3, initialInterval: '10ms' } });
  return await a.attemptInfo();
}

/** A timer racing an activity that sleeps in server time; the shorter one must win. */
export async function raceActivityAndTimer(timerMs: number, activityMs: number): Promise<string> {
  const a = proxyActivities<Acts>({ startToCloseTimeout: '1 hour' });
  const activity = a.envSleep(activityMs);
  const winner = await Promise.race([sleep(timerMs).then(() => 'timer'), activity]);
  await activity;
  return winner;
}

export async function sleepWf(ms: number): Promise<number> {
  const start = Date.now();
  await sleep(ms);
  return Date.now() - start;
}

/** The app's shape: wait for an outcome (signal or update) with a deadline timer. */
export async function outcomeWf(deadlineMs: number): Promise<string> {
  let outcome: string | undefined;
  let state = 'waiting';
  setHandler(stateQuery, () => state);
  setHandler(goSignal, (v) => { outcome = `signal:${v}`; });
  setHandler(setValue, async (v) => {
    outcome = `update:${v}`;
    return `accepted ${v}`;
  }, { validator: (v) => { if (v === 'bad') throw new Error('rejected value'); } });
  const got = await condition(() => outcome !== undefined, deadlineMs);
  state = got ? 'settled' : 'expired';
  if (!got) return 'deadline';
  const r = await acts.greet(outcome!);
  await condition(() => false, 1); // give the last handlers a turn
  return r;
}

export async function queryableWf(): Promise<string> {
  let state = 'started';
  let done = false;
  setHandler(stateQuery, () => state);
  setHandler(goSignal, (v) => { state = v; if (v === 'finish') done = true; });
  await condition(() => done);
  return state;
}

export async function failingWf(msg: string): Promise<void> {
  throw ApplicationFailure.nonRetryable(msg, 'MyError');
}

export async function retryingWorkflow(): Promise<number> {
  const attempt = workflowInfo().attempt;
  if (attempt < 3) throw ApplicationFailure.retryable(`attempt ${attempt}`);
  return attempt;
}

export async function cancellableWf(): Promise<string> {
  try {
    await sleep('1 day');
    return 'slept';
  } catch (e) {
    if (isCancellation(e)) {
      await CancellationScope.nonCancellable(() => acts.greet('cleanup'));
      throw e;
    }
    throw e;
  }
}

export async function cancelActivityWf(mode: 'TRY_CANCEL' | 'WAIT_CANCELLATION_COMPLETED'): Promise<string> {
  const a = proxyActivities<Acts>({
    startToCloseTimeout: '20s', heartbeatTimeout: '2s',
    cancellationType: mode === 'TRY_CANCEL' ? ActivityCancellationType.TRY_CANCEL : ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
  try {
    await CancellationScope.withTimeout(300, () => a.heartbeating(10_000));
    return 'completed';
  } catch (e) {
    return isCancellation(e) ? 'cancelled' : `other:${(e as Error).message}`;
  }
}

export async function childWf(x: number): Promise<number> {
  if (x < 0) throw ApplicationFailure.nonRetryable('negative', 'ChildError');
  return x * 2;
}

export async function parentWf(x: number): Promise<number> {
  return await executeChild(childWf, { args: [x], workflowId: `${workflowInfo().workflowId}-child` });
}

export async function parentAbandonWf(): Promise<string> {
  const h = await startChild(queryableWf, { workflowId: `${workflowInfo().workflowId}-child`, parentClosePolicy: ParentClosePolicy.ABANDON });
  return h.workflowId;
}

export async function parentTerminateWf(): Promise<string> {
  const h = await startChild(queryableWf, { workflowId: `${workflowInfo().workflowId}-child` });
  return h.workflowId;
}

export async function canWf(n: number): Promise<number> {
  if (n > 0) await continueAsNew<typeof canWf>(n - 1);
  return workflowInfo().continuedFromExecutionRunId ? 100 : 0;
}

export async function signalOtherWf(target: string): Promise<string> {
  try {
    await getExternalWorkflowHandle(target).signal(goSignal, 'from-other');
    return 'ok';
  } catch (e) {
    return `failed:${(e as Error).name}`;
  }
}

export async function cancelOtherWf(target: string): Promise<string> {
  try {
    await getExternalWorkflowHandle(target).cancel();
    return 'ok';
  } catch (e) {
    return `failed:${(e as Error).name}`;
  }
}

export async function upsertWf(): Promise<string> {
  upsertSearchAttributes({ CustomKeywordField: ['upserted'] });
  upsertMemo({ note: 'hello' });
  await sleep(10);
  return 'ok';
}

export async function badUpsertWf(): Promise<void> {
  upsertSearchAttributes({ NotRegisteredAttr: ['x'] });
  await sleep(10);
}

export async function localActivityWf(): Promise<string> {
  const la = proxyLocalActivities<Acts>({ startToCloseTimeout: '5s' });
  const p = patched('my-patch');
  return `${await la.greet('local')}:${p}`;
}

export async function signalDuringTaskWf(): Promise<string[]> {
  const got: string[] = [];
  setHandler(goSignal, (v) => { got.push(v); });
  await condition(() => got.includes('stop'));
  return got;
}

export async function updateThenCompleteWf(): Promise<string> {
  let v = '';
  setHandler(setValue, (x) => { v = x; return `got ${x}`; });
  await condition(() => v !== '');
  return v;
}

/** Throws a plain Error: the TS SDK fails the workflow task (not the workflow), so the server retries the task. */
export async function wftFailWf(): Promise<void> {
  throw new Error('workflow task failure');
}

export async function asyncActivityWf(): Promise<string> {
  return await proxyActivities<Acts>({ startToCloseTimeout: '1 minute' }).asyncComplete();
}

export async function scheduleToStartWf(taskQueue: string): Promise<string> {
  const a = proxyActivities<Acts>({ taskQueue, scheduleToStartTimeout: '300ms', startToCloseTimeout: '10s' });
  try {
    return await a.greet('x');
  } catch (e) {
    const cause = (e as { cause?: { timeoutType?: string; name?: string } }).cause;
    return `${cause?.name}:${cause?.timeoutType}`;
  }
}

export async function scheduleToCloseWf(key: string, slow: boolean): Promise<string> {
  const a = proxyActivities<Acts>({ scheduleToCloseTimeout: slow ? '500ms' : '1s', retry: { initialInterval: '400ms', backoffCoefficient: 1 } });
  try {
    return String(slow ? await a.slow(1500) : await a.flaky(key, 100));
  } catch (e) {
    const err = e as { retryState?: string; cause?: { timeoutType?: string; name?: string; message?: string } };
    return [err.retryState, err.cause?.name, err.cause?.message, err.cause?.timeoutType].filter(Boolean).join(':');
  }
}

export async function pendingActivityWf(taskQueue: string): Promise<string> {
  return await proxyActivities<Acts>({ taskQueue, startToCloseTimeout: '1 minute' }).greet('never');
}

export async function noUpdateHandlerWf(): Promise<void> {
  await condition(() => false);
}

/** Completes shortly after a timer while signals keep arriving: no accepted signal may be lost. */
export async function lateSignalWf(busyIterations: number): Promise<string[]> {
  const got: string[] = [];
  setHandler(goSignal, (v) => { got.push(v); });
  await sleep(300);
  let x = 0;
  for (let i = 0; i < busyIterations; i++) x += i % 7; // keep the final workflow task busy for a while
  return x >= 0 ? got : [];
}

export async function parentRequestCancelWf(): Promise<string> {
  const h = await startChild(cancellableWf, { workflowId: `${workflowInfo().workflowId}-child`, parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL });
  return h.workflowId;
}

/** Parent cancels its child through a cancellation scope and sees ChildWorkflowFailure(CancelledFailure). */
export async function parentCancelsChildWf(): Promise<string> {
  try {
    await CancellationScope.cancellable(async () => {
      const p = executeChild(queryableWf, { workflowId: `${workflowInfo().workflowId}-child` });
      await sleep(10);
      CancellationScope.current().cancel();
      await p;
    });
    return 'not cancelled';
  } catch (e) {
    return `${(e as Error).name}:${((e as { cause?: Error }).cause)?.name}`;
  }
}

/** The child continues as new twice; the parent gets the final run's result. */
export async function parentOfCanWf(): Promise<number> {
  return await executeChild(canWf, { args: [2], workflowId: `${workflowInfo().workflowId}-child` });
}

/** Signals its own child (SignalExternal with childWorkflowOnly). */
export async function parentSignalsChildWf(): Promise<string> {
  const child = await startChild(queryableWf, { workflowId: `${workflowInfo().workflowId}-child` });
  await child.signal(goSignal, 'finish');
  return await child.result();
}

export const addUpdate = defineUpdate<number, [number]>('add');
export const finishSignal = defineSignal('finish');

/** Accumulates concurrent updates; finishes on a signal. */
export async function counterWf(): Promise<number> {
  let total = 0;
  let done = false;
  setHandler(addUpdate, async (n) => {
    await sleep(1); // an update handler that spans workflow tasks
    total += n;
    return total;
  }, { validator: (n) => { if (n < 0) throw new Error('negative'); } });
  setHandler(finishSignal, () => { done = true; });
  await condition(() => done);
  return total;
}

/** A local activity that outlives the workflow task timeout: the SDK heartbeats the task (forceCreateNewWorkflowTask). */
export async function longLocalActivityWf(ms: number): Promise<string> {
  return await proxyLocalActivities<Acts>({ startToCloseTimeout: '1 minute' }).slow(ms);
}

/** Waits for a child that never finishes by itself. */
export async function parentWaitsForChildWf(): Promise<string> {
  try {
    return await executeChild(queryableWf, { workflowId: `${workflowInfo().workflowId}-child` });
  } catch (e) {
    return `${(e as Error).name}:${((e as { cause?: Error }).cause)?.name}`;
  }
}

/** Reports the history size the server announces, after `n` signals. */
export async function historyInfoWf(n: number): Promise<{ size: number; suggested: boolean }> {
  let count = 0;
  setHandler(goSignal, () => { count++; });
  await condition(() => count >= n);
  return { size: workflowInfo().historySize, suggested: workflowInfo().continueAsNewSuggested };
}

export const releaseSignal = defineSignal('release');

/** An update whose handler waits for a signal: accepted now, completed later. */
export async function slowUpdateWf(): Promise<string> {
  let released = false;
  let last = '';
  setHandler(releaseSignal, () => { released = true; });
  setHandler(setValue, async (v) => {
    await condition(() => released);
    last = v;
    return `late ${v}`;
  });
  await condition(() => last !== '');
  return last;
}

/** The update handler fails and, in the same activation, so does the workflow (one task completion carries both). */
export async function updateFailsThenWorkflowFailsWf(): Promise<void> {
  let failed = false;
  setHandler(setValue, (x) => {
    failed = true;
    throw ApplicationFailure.create({ message: `bad update ${x}`, type: 'BadUpdate', nonRetryable: true });
  });
  await condition(() => failed);
  throw ApplicationFailure.create({ message: 'workflow failed after update', type: 'WfFailed', nonRetryable: true });
}

/** Waits for signals, counting them; a cached run gets partial histories on the sticky queue. */
export async function stickyCounterWf(n: number): Promise<number> {
  let count = 0;
  setHandler(goSignal, () => { count++; });
  setHandler(stateQuery, () => `count=${count}`);
  for (let i = 0; i < n; i++) {
    await acts.greet(`step${i}`);
  }
  await condition(() => count >= 2);
  return count;
}

/** Like updateFailsThenWorkflowFailsWf, but the (async) handler fails only after the main function has failed. */
export async function workflowFailsBeforeUpdateWf(): Promise<void> {
  let started = false;
  setHandler(setValue, async (x) => {
    started = true;
    for (let i = 0; i < 5; i++) await Promise.resolve();
    throw ApplicationFailure.create({ message: `bad update ${x}`, type: 'BadUpdate', nonRetryable: true });
  });
  await condition(() => started);
  throw ApplicationFailure.create({ message: 'workflow failed after update', type: 'WfFailed', nonRetryable: true });
}

/** Accepts an update that waits forever, then returns: the run closes under an accepted, unfinished update. */
export async function closesUnderAcceptedUpdateWf(): Promise<string> {
  let accepted = false;
  setHandler(setValue, async () => {
    accepted = true;
    await condition(() => false);
    return 'never';
  });
  await condition(() => accepted);
  return 'closed';
}
