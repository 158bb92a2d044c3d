import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { startHarness, uid, type Harness } from './helpers';
import * as wf from './workflows';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('timeskip');
}, 60_000);
afterAll(async () => {
  await h?.stop();
});

test('start → activity → complete', async () => {
  const r = await h.env.client.workflow.execute(wf.greetWf, { taskQueue: h.taskQueue, workflowId: uid('greet'), args: ['bob'] });
  expect(r).toBe('hello bob');
});
