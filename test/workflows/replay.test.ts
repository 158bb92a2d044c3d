/**
 * Replays every recorded generation history against the current workflow code. A nondeterministic change
 * (a reordered activity, a new timer, a changed condition) makes the replay throw and this test fail.
 */
import { Worker } from '@temporalio/worker';
import { generationWorkflowType } from '../../src/workflows/generation-contract';
import { loadHistoryFixtures } from '../support/history-fixtures';
import { workflowBundle } from '../support/workflow-harness';

const fixtures = loadHistoryFixtures();

test('every generation path has a recorded history', () => {
  const names = fixtures.map((f) => f.name);
  for (const path of ['success-captured', 'failed-system_error', 'failed-safety_filter', 'corrupted-blank', 'partial-capture', 'cancelled', 'deadline-exceeded', 'progress-extended', 'insufficient-then-retried']) {
    expect(names).toContain(path);
  }
});

test('the workflow code replays every recorded history deterministically', async () => {
  const histories = fixtures.map((f) => ({ workflowId: `${generationWorkflowType}:${f.name}`, history: f.history }));
  const results = Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories);
  const failures: string[] = [];
  let replayed = 0;
  for await (const result of results) {
    replayed++;
    if (result.error) failures.push(`${result.workflowId}: ${String(result.error)}`);
  }
  expect(failures).toEqual([]);
  expect(replayed).toBe(fixtures.length);
}, 120_000);
