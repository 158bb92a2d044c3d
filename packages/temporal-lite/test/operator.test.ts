/**
 * What operators' tools call: the Temporal UI (its ui-server maps the web app's /api/v1 routes onto
 * WorkflowService / OperatorService) and the `temporal` CLI. Driven here through the raw services,
 * with a real SDK worker answering workflow tasks and the built-in queries.
 */
import * as grpc from '@grpc/grpc-js';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import Long from 'long';
import { startServer } from '../src/index';
import { activities, uid, workflowBundle } from './helpers';
import * as wf from './workflows';

const ns = 'default';
let server: Awaited<ReturnType<typeof startServer>>;
let connection: Connection;
let client: Client;
let worker: Worker;
let nativeConnection: NativeConnection;
let running: Promise<void>;
const taskQueue = uid('ops-tq');
const WalletId = defineSearchAttributeKey('WalletId', SearchAttributeType.KEYWORD);
const GenerationStatus = defineSearchAttributeKey('GenerationStatus', SearchAttributeType.KEYWORD);

beforeAll(async () => {
  server = await startServer({ port: 0, searchAttributes: { WalletId: 'Keyword', GenerationStatus: 'Keyword' } });
  connection = await Connection.connect({ address: server.address });
  client = new Client({ connection, namespace: ns });
  nativeConnection = await NativeConnection.connect({ address: server.address });
  worker = await Worker.create({ connection: nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities, identity: 'ops-worker' });
  running = worker.run();
}, 60_000);

afterAll(async () => {
  worker.shutdown();
  await running;
  await nativeConnection.close();
  await connection.close();
  await server.stop();
});

const svc = () => connection.workflowService;
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

const list = async (query: string) => (await svc().listWorkflowExecutions({ namespace: ns, query })).executions!.map((e) => e.execution!.workflowId!);

test('UI app shell: GetClusterInfo, GetSystemInfo, namespaces and search attributes answer', async () => {
  // The UI's root layout awaits GetClusterInfo (/api/v1/cluster-info): an error there fails every page.
  const cluster = await svc().getClusterInfo({});
  expect(cluster.serverVersion).toMatch(/^\d+\.\d+\.\d+/);
  expect(cluster.clusterId).toBeTruthy();
  expect(cluster.clusterName).toBeTruthy();
  expect(cluster.visibilityStore).toBeTruthy();
  expect(cluster.persistenceStore).toBeTruthy();
  const sys = await svc().getSystemInfo({});
  expect(sys.serverVersion).toBe(cluster.serverVersion);
  const nss = await svc().listNamespaces({});
  expect(nss.namespaces!.map((n) => n.namespaceInfo!.name)).toContain(ns);
  const d = await svc().describeNamespace({ namespace: ns });
  expect(d.namespaceInfo!.state).toBe(temporal.api.enums.v1.NamespaceState.NAMESPACE_STATE_REGISTERED);
  const sa = await connection.operatorService.listSearchAttributes({ namespace: ns });
  expect(sa.customAttributes).toMatchObject({ WalletId: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD });
  // The UI's relationship views query these system attributes.
  for (const name of ['ParentWorkflowId', 'ParentRunId', 'RootWorkflowId', 'RootRunId', 'HistoryLength', 'StateTransitionCount', 'HistorySizeBytes']) {
    expect(sa.systemAttributes).toHaveProperty(name);
  }
});

test('workflow list and count with the UI\'s default, saved and filtered queries', async () => {
  const before = new Date(Date.now() - 1000).toISOString();
  const w1 = uid('list-a');
  const w2 = uid('list-b');
  const wallet = uid('wallet');
  await client.workflow.start(wf.queryableWf, { taskQueue, workflowId: w1, typedSearchAttributes: [{ key: WalletId, value: wallet }, { key: GenerationStatus, value: 'reserved' }] });
  await client.workflow.execute(wf.greetWf, { taskQueue, workflowId: w2, args: ['x'], typedSearchAttributes: [{ key: WalletId, value: wallet }, { key: GenerationStatus, value: 'captured' }] });
  const parent = uid('list-parent');
  await client.workflow.execute(wf.parentWf, { taskQueue, workflowId: parent, args: [2] });
  const parentRunId = (await client.workflow.getHandle(parent).describe()).runId;

  expect(await list('')).toEqual(expect.arrayContaining([w1, w2, parent]));
  expect(await list('`ExecutionStatus`="Running"')).toContain(w1);
  expect(await list('`ExecutionStatus`="Running"')).not.toContain(w2);
  expect(await list(`StartTime >= "${before}"`)).toEqual(expect.arrayContaining([w1, w2]));
  expect(await list(`StartTime BETWEEN "${before}" AND "${new Date(Date.now() + 86400_000).toISOString()}"`)).toContain(w2);
  expect(await list('WorkflowType="greetWf" AND ExecutionStatus="Completed"')).toContain(w2);
  expect(await list(`WalletId = "${wallet}" AND GenerationStatus = "reserved"`)).toEqual([w1]);
  // Saved view "Parent Workflows" and the relationship queries of the workflow page.
  const roots = await list('`ParentWorkflowId` is null');
  expect(roots).toEqual(expect.arrayContaining([w1, parent]));
  expect(roots).not.toContain(`${parent}-child`);
  expect(await list(`ParentWorkflowId = "${parent}" AND ParentRunId = "${parentRunId}"`)).toEqual([`${parent}-child`]);
  expect(await list(`RootWorkflowId = "${parent}"`)).toEqual(expect.arrayContaining([parent, `${parent}-child`]));
  expect(await list(`HistoryLength > 3 AND WalletId = "${wallet}"`)).toEqual(expect.arrayContaining([w2]));

  const counted = await svc().countWorkflowExecutions({ namespace: ns, query: `WalletId = "${wallet}" GROUP BY ExecutionStatus` });
  expect(Number(counted.count)).toBe(2);
  expect(counted.groups).toHaveLength(2);
  // The UI's schedule count falls back to this legacy query when CountSchedules is not there.
  const legacy = await svc().countWorkflowExecutions({ namespace: ns, query: 'TemporalNamespaceDivision="TemporalScheduler" AND ExecutionStatus="Running"' });
  expect(Number(legacy.count)).toBe(0);
  // The child's describe names its root (the UI's relationship tree starts there).
  const child = await svc().describeWorkflowExecution({ namespace: ns, execution: { workflowId: `${parent}-child` } });
  expect(child.workflowExecutionInfo!.rootExecution).toMatchObject({ workflowId: parent, runId: parentRunId });
  expect(child.workflowExecutionInfo!.parentExecution).toMatchObject({ workflowId: parent, runId: parentRunId });
  await client.workflow.getHandle(w1).terminate();
});

test('describe: pending activity and child, memo, search attributes, execution config, history length', async () => {
  const wallet = uid('wallet');
  const h = await client.workflow.start(wf.pendingActivityWf, {
    taskQueue, workflowId: uid('desc'), args: [uid('nobody-polls')], memo: { userId: 'u1' },
    typedSearchAttributes: [{ key: WalletId, value: wallet }], workflowExecutionTimeout: '1 hour',
  });
  const d = await waitFor(async () => {
    const r = await svc().describeWorkflowExecution({ namespace: ns, execution: { workflowId: h.workflowId } });
    return r.pendingActivities?.length ? r : undefined;
  });
  expect(d.executionConfig!.taskQueue!.name).toBe(taskQueue);
  expect(d.executionConfig!.workflowExecutionTimeout!.seconds?.toString()).toBe('3600');
  expect(d.workflowExecutionInfo!.status).toBe(temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING);
  expect(Number(d.workflowExecutionInfo!.historyLength)).toBe((await h.fetchHistory()).events!.length);
  expect(d.workflowExecutionInfo!.memo!.fields!.userId).toBeDefined();
  expect(d.workflowExecutionInfo!.searchAttributes!.indexedFields!.WalletId).toBeDefined();
  expect(d.pendingActivities![0]!.activityType!.name).toBeTruthy();
  const desc = await h.describe();
  expect(desc.memo).toEqual({ userId: 'u1' });
  expect(desc.typedSearchAttributes.get(WalletId)).toBe(wallet);
  await h.terminate('done');

  const p = await client.workflow.start(wf.parentWaitsForChildWf, { taskQueue, workflowId: uid('desc-parent') });
  const pd = await waitFor(async () => {
    const r = await svc().describeWorkflowExecution({ namespace: ns, execution: { workflowId: p.workflowId } });
    return r.pendingChildren?.length ? r : undefined;
  });
  expect(pd.pendingChildren![0]).toMatchObject({ workflowId: `${p.workflowId}-child`, workflowTypeName: 'queryableWf' });
  await p.terminate();
});

test('history: pages, long poll for new events, close-event filter, reverse', async () => {
  const h = await client.workflow.start(wf.queryableWf, { taskQueue, workflowId: uid('hist') });
  await waitFor(async () => ((await h.fetchHistory()).events!.length >= 4 ? true : undefined));
  const execution = { workflowId: h.workflowId };
  // Paging with maximumPageSize/nextPageToken (the UI asks 1000 per page, the CLI follows tokens).
  const p1 = await svc().getWorkflowExecutionHistory({ namespace: ns, execution, maximumPageSize: 2 });
  expect(p1.history!.events!.map((e) => Number(e.eventId))).toEqual([1, 2]);
  const p2 = await svc().getWorkflowExecutionHistory({ namespace: ns, execution, maximumPageSize: 2, nextPageToken: p1.nextPageToken });
  expect(p2.history!.events!.map((e) => Number(e.eventId))).toEqual([3, 4]);
  // Live poll (UI's live updates, `temporal workflow show --follow`): waits at the frontier for new events.
  const tail = await svc().getWorkflowExecutionHistory({ namespace: ns, execution });
  const frontier = tail.history!.events!.length;
  const t0 = Date.now();
  const poll = svc().getWorkflowExecutionHistory({ namespace: ns, execution, waitNewEvent: true, nextPageToken: (await svc().getWorkflowExecutionHistory({ namespace: ns, execution, waitNewEvent: true })).nextPageToken });
  await sleep(300);
  await h.signal(wf.goSignal, 'finish');
  const got = await poll;
  expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
  expect(Number(got.history!.events![0]!.eventId)).toBe(frontier + 1);
  await h.result();
  const close = await svc().getWorkflowExecutionHistory({ namespace: ns, execution, historyEventFilterType: temporal.api.enums.v1.HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT });
  expect(close.history!.events).toHaveLength(1);
  expect(close.history!.events![0]!.workflowExecutionCompletedEventAttributes).toBeTruthy();
  const all = (await h.fetchHistory()).events!;
  const r1 = await svc().getWorkflowExecutionHistoryReverse({ namespace: ns, execution, maximumPageSize: 3 });
  expect(r1.history!.events!.map((e) => Number(e.eventId))).toEqual([all.length, all.length - 1, all.length - 2]);
  const r2 = await svc().getWorkflowExecutionHistoryReverse({ namespace: ns, execution, maximumPageSize: 1000, nextPageToken: r1.nextPageToken });
  expect(r2.history!.events!.map((e) => Number(e.eventId))).toEqual(all.slice(0, all.length - 3).map((e) => Number(e.eventId)).reverse());
  expect(r2.nextPageToken?.length ?? 0).toBe(0);
});

test('__stack_trace and __temporal_workflow_metadata queries are answered by the worker', async () => {
  const h = await client.workflow.start(wf.queryableWf, { taskQueue, workflowId: uid('stack') });
  const query = (queryType: string) => svc().queryWorkflow({ namespace: ns, execution: { workflowId: h.workflowId }, query: { queryType } });
  const stack = await query('__stack_trace');
  expect(Buffer.from(stack.queryResult!.payloads![0]!.data!).toString()).toMatch(/queryableWf/);
  const meta = await query('__temporal_workflow_metadata');
  expect(Buffer.from(meta.queryResult!.payloads![0]!.data!).toString()).toMatch(/state/);
  await h.terminate();
});

test('DescribeTaskQueue lists the pollers of each task queue type (UI workers tab, `temporal task-queue describe`)', async () => {
  const { TaskQueueType } = temporal.api.enums.v1;
  const describe = (taskQueueType: number) => svc().describeTaskQueue({ namespace: ns, taskQueue: { name: taskQueue }, taskQueueType });
  const wfPollers = await waitFor(async () => {
    const r = await describe(TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW);
    return r.pollers?.length ? r.pollers : undefined;
  });
  expect(wfPollers[0]!.identity).toBe('ops-worker');
  expect(Date.now() - Number(wfPollers[0]!.lastAccessTime!.seconds) * 1000).toBeLessThan(120_000);
  const actPollers = (await describe(TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)).pollers!;
  expect(actPollers.map((p) => p.identity)).toEqual(['ops-worker']);
  expect((await describe(TaskQueueType.TASK_QUEUE_TYPE_NEXUS)).pollers ?? []).toEqual([]);
  expect((await svc().describeTaskQueue({ namespace: ns, taskQueue: { name: uid('nobody') }, taskQueueType: 1 })).pollers ?? []).toEqual([]);
  // Enhanced mode (the CLI's default): pollers per type under the unversioned ("") version.
  const enhanced = await svc().describeTaskQueue({ namespace: ns, taskQueue: { name: taskQueue }, apiMode: temporal.api.enums.v1.DescribeTaskQueueMode.DESCRIBE_TASK_QUEUE_MODE_ENHANCED, reportPollers: true });
  const types = enhanced.versionsInfo![''].typesInfo!;
  expect(types[TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW]!.pollers![0]!.identity).toBe('ops-worker');
  expect(types[TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY]!.pollers![0]!.identity).toBe('ops-worker');
});

test('schedules and batch operations list empty; reset fails UNIMPLEMENTED at once', async () => {
  expect((await svc().listSchedules({ namespace: ns })).schedules ?? []).toEqual([]);
  expect(Number((await svc().countSchedules({ namespace: ns })).count ?? 0)).toBe(0);
  expect((await svc().listBatchOperations({ namespace: ns })).operationInfo ?? []).toEqual([]);
  const h = await client.workflow.start(wf.queryableWf, { taskQueue, workflowId: uid('reset') });
  const err = await svc().resetWorkflowExecution({ namespace: ns, workflowExecution: { workflowId: h.workflowId }, workflowTaskFinishEventId: Long.fromNumber(4), requestId: uid('r') }).catch((e) => e);
  expect(err.code).toBe(grpc.status.UNIMPLEMENTED);
  expect(err.details ?? err.message).toMatch(/ResetWorkflowExecution/);
  await h.terminate();
});

test('operator actions by id: signal, cancel, terminate', async () => {
  const a = await client.workflow.start(wf.queryableWf, { taskQueue, workflowId: uid('sig') });
  await svc().signalWorkflowExecution({ namespace: ns, workflowExecution: { workflowId: a.workflowId }, signalName: 'go', input: { payloads: [{ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('"finish"') }] }, identity: 'ui', requestId: uid('r') });
  expect(await a.result()).toBe('finish');
  const b = await client.workflow.start(wf.cancellableWf, { taskQueue, workflowId: uid('cancel') });
  await svc().requestCancelWorkflowExecution({ namespace: ns, workflowExecution: { workflowId: b.workflowId }, identity: 'ui', requestId: uid('r'), reason: 'operator' });
  await expect(b.result()).rejects.toThrow();
  expect((await b.describe()).status.name).toBe('CANCELLED');
  const c = await client.workflow.start(wf.queryableWf, { taskQueue, workflowId: uid('term') });
  await svc().terminateWorkflowExecution({ namespace: ns, workflowExecution: { workflowId: c.workflowId }, reason: 'operator', identity: 'ui' });
  expect((await c.describe()).status.name).toBe('TERMINATED');
});
