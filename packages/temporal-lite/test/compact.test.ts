/** Closed runs are compacted (history kept encoded) a while after they close: reads must not change. */
process.env.TEMPORAL_LITE_COMPACT_AFTER_MS = '100';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { startServer } from '../src/index';
import { activities, uid, workflowBundle } from './helpers';
import * as wf from './workflows';

let server: Awaited<ReturnType<typeof startServer>>;
beforeAll(async () => {
  server = await startServer({ port: 0 });
});
afterAll(async () => {
  await server?.stop();
  delete process.env.TEMPORAL_LITE_COMPACT_AFTER_MS;
});

test('a compacted closed run reads the same: history (both directions), describe, query, result', async () => {
  const connection = await Connection.connect({ address: server.address });
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const client = new Client({ connection });
  const taskQueue = uid('compact-tq');
  const worker = await Worker.create({ connection: nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities });
  try {
    await worker.runUntil(async () => {
      const handle = await client.workflow.start(wf.stickyCounterWf, { taskQueue, workflowId: uid('compact'), args: [2] });
      await handle.signal(wf.goSignal, 'a');
      await handle.signal(wf.goSignal, 'b');
      expect(await handle.result()).toBe(2);
      const before = await handle.fetchHistory();
      const describedBefore = await handle.describe();
      await new Promise((r) => setTimeout(r, 600)); // > 2 sweeps
      const after = await handle.fetchHistory();
      expect(JSON.stringify(after)).toEqual(JSON.stringify(before));
      const described = await handle.describe();
      expect(described.historyLength).toBe(describedBefore.historyLength);
      expect(described.status.name).toBe('COMPLETED');
      expect(await handle.query(wf.stateQuery)).toBe('count=2');
      expect(await handle.result()).toBe(2);
      const reverse = await client.workflowService.getWorkflowExecutionHistoryReverse({ namespace: 'default', execution: { workflowId: handle.workflowId } });
      expect(reverse.history!.events!.map((e) => Number(e.eventId))).toEqual(before.events!.map((e) => Number(e.eventId)).reverse());
    });
  } finally {
    await connection.close();
    await nativeConnection.close();
  }
});
