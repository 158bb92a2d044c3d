import { WorkflowUpdateFailedError, WithStartWorkflowOperation, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { useHarness } from './helpers';
import * as wf from './workflows';

const h = useHarness('timeskip');

const opts = h.workflowOptions;

test('update failure delivered in the same task completion that fails the workflow (executeUpdate)', async () => {
  const handle = await h.env.client.workflow.start(wf.updateFailsThenWorkflowFailsWf, opts('upd-close'));
  const err = await handle.executeUpdate(wf.setValue, { args: ['x'] }).catch((e) => e);
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  expect(err.cause).toBeInstanceOf(ApplicationFailure);
  expect(err.cause.message).toBe('bad update x');
  const res = await handle.result().catch((e) => e);
  expect(res).toBeInstanceOf(WorkflowFailedError);
  const events = (await handle.fetchHistory()).events!;
  const types = events.map((e) => e.eventType);
  const completedIdx = events.findIndex((e) => e.workflowExecutionUpdateCompletedEventAttributes);
  expect(completedIdx).toBeGreaterThan(0);
  expect(events[events.length - 1]!.workflowExecutionFailedEventAttributes).toBeTruthy();
  expect(completedIdx).toBeLessThan(types.length - 1);
});

test('update failure delivered in the same task completion that fails the workflow (executeUpdateWithStart)', async () => {
  const o = opts('upd-close-ws');
  const startOp = new WithStartWorkflowOperation(wf.updateFailsThenWorkflowFailsWf, { ...o, workflowIdConflictPolicy: 'USE_EXISTING' });
  const err = await h.env.client.workflow.executeUpdateWithStart(wf.setValue, { args: ['y'], startWorkflowOperation: startOp }).catch((e) => e);
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  expect(err.cause).toBeInstanceOf(ApplicationFailure);
  expect(err.cause.message).toBe('bad update y');
  const handle = await startOp.workflowHandle();
  expect(await handle.result().catch((e) => e)).toBeInstanceOf(WorkflowFailedError);
});

test('an accepted update still running when its workflow completes fails with AcceptedUpdateCompletedWorkflow', async () => {
  const handle = await h.env.client.workflow.start(wf.closesUnderAcceptedUpdateWf, opts('closes-under-update'));
  const err = await handle.executeUpdate(wf.setValue, { args: ['z'] }).catch((e) => e);
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  expect(err.cause).toBeInstanceOf(ApplicationFailure);
  expect(err.cause.type).toBe('AcceptedUpdateCompletedWorkflow');
  expect(await handle.result()).toBe('closed');
  const events = (await handle.fetchHistory()).events ?? [];
  expect(events.some((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toBe(true);
  expect(events.some((e) => e.workflowExecutionUpdateCompletedEventAttributes)).toBe(false);
});

test('update-with-start whose update is still running when the workflow completes: AcceptedUpdateCompletedWorkflow', async () => {
  const startWorkflowOperation = new WithStartWorkflowOperation(wf.closesUnderAcceptedUpdateWf, {
    ...opts('uws-closes-under-update'), workflowIdConflictPolicy: 'USE_EXISTING',
  });
  const err = await h.env.client.workflow.executeUpdateWithStart(wf.setValue, { args: ['w'], startWorkflowOperation }).catch((e) => e);
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  expect(err.cause.type).toBe('AcceptedUpdateCompletedWorkflow');
  expect(await (await startWorkflowOperation.workflowHandle()).result()).toBe('closed');
});
