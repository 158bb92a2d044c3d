/**
 * Real-time (dev-server form) environment: search attributes, visibility, update-with-start,
 * async activity completion, and the error paths of the raw API.
 */
import * as grpc from '@grpc/grpc-js';
import { WithStartWorkflowOperation, WorkflowExecutionAlreadyStartedError, NamespaceNotFoundError, Client } from '@temporalio/client';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { useHarness, uid, useCli } from './helpers';
import * as wf from './workflows';

const creditStatus = defineSearchAttributeKey('CreditStatus', SearchAttributeType.KEYWORD);
const creditAmount = defineSearchAttributeKey('CreditAmount', SearchAttributeType.INT);

const h = useHarness('local', { server: { searchAttributes: [creditStatus, creditAmount] } });

const opts = h.workflowOptions;

test('search attributes at start, list and count with a query', async () => {
  const tag = uid('tag');
  const a = await h.env.client.workflow.start(wf.queryableWf, { ...opts('sa-a'), typedSearchAttributes: [{ key: creditStatus, value: tag }, { key: creditAmount, value: 10 }] });
  const b = await h.env.client.workflow.start(wf.queryableWf, { ...opts('sa-b'), typedSearchAttributes: [{ key: creditStatus, value: tag }, { key: creditAmount, value: 30 }] });
  const listed: string[] = [];
  for await (const x of h.env.client.workflow.list({ query: `CreditStatus = "${tag}" AND CreditAmount > 20` })) listed.push(x.workflowId);
  expect(listed).toEqual([b.workflowId]);
  const all: string[] = [];
  for await (const x of h.env.client.workflow.list({ query: `CreditStatus = "${tag}"` })) all.push(x.workflowId);
  expect(all).toEqual([b.workflowId, a.workflowId]); // StartTime desc
  expect((await h.env.client.workflow.count(`CreditStatus = "${tag}"`)).count).toBe(2);
  const d = await a.describe();
  expect(d.typedSearchAttributes.get(creditAmount)).toBe(10);
  await a.terminate();
  await b.terminate();
  expect((await h.env.client.workflow.count(`CreditStatus = "${tag}" AND ExecutionStatus = "Terminated"`)).count).toBe(2);
});

test('unknown search attribute at start → INVALID_ARGUMENT; bad list query → error', async () => {
  const bogus = defineSearchAttributeKey('NotRegisteredAttr', SearchAttributeType.KEYWORD);
  const err = await h.env.client.workflow.start(wf.queryableWf, { ...opts('sa-bad'), typedSearchAttributes: [{ key: bogus, value: 'x' }] }).catch((e) => e);
  expect(err.cause.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(err.cause.details).toMatch(/NotRegisteredAttr/);
  const it = h.env.client.workflow.list({ query: 'NoSuchAttr = 1' });
  await expect((async () => { for await (const _ of it) void _; })()).rejects.toThrow();
});

test('upsert search attributes + memo from the workflow', async () => {
  const handle = await h.env.client.workflow.start(wf.upsertWf, opts('upsert'));
  await handle.result();
  const d = await handle.describe();
  expect(d.searchAttributes.CustomKeywordField).toEqual(['upserted']);
  expect(d.memo).toEqual({ note: 'hello' });
});

test('OperatorService: add/list/remove search attributes', async () => {
  const name = `Attr${uid('x').replace(/-/g, '')}`;
  await h.env.connection.operatorService.addSearchAttributes({ namespace: 'default', searchAttributes: { [name]: 2 /* KEYWORD */ } });
  const listed = await h.env.connection.operatorService.listSearchAttributes({ namespace: 'default' });
  expect(listed.customAttributes[name]).toBe(2);
  expect(listed.customAttributes.CreditAmount).toBe(3 /* INT */);
  await h.env.connection.operatorService.removeSearchAttributes({ namespace: 'default', searchAttributes: [name] });
  const after = await h.env.connection.operatorService.listSearchAttributes({ namespace: 'default' });
  expect(after.customAttributes[name]).toBeUndefined();
});

test('update-with-start (ExecuteMultiOperation)', async () => {
  const o = opts('uws');
  const startOp = new WithStartWorkflowOperation(wf.updateThenCompleteWf, { ...o, workflowIdConflictPolicy: 'USE_EXISTING' });
  const r = await h.env.client.workflow.executeUpdateWithStart(wf.setValue, { args: ['v1'], startWorkflowOperation: startOp });
  expect(r).toBe('got v1');
  const handle = await startOp.workflowHandle();
  expect(await handle.result()).toBe('v1');
  const startOp2 = new WithStartWorkflowOperation(wf.updateThenCompleteWf, { ...o, workflowIdConflictPolicy: 'FAIL', workflowIdReusePolicy: 'REJECT_DUPLICATE' });
  await expect(h.env.client.workflow.executeUpdateWithStart(wf.setValue, { args: ['v2'], startWorkflowOperation: startOp2 })).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
});

test('update-with-start repeating an update id: the current run answers it, even closed, and nothing is started', async () => {
  const o = opts('uws-same-id');
  const updateId = uid('upd');
  const startOptions = { ...o, workflowIdConflictPolicy: 'USE_EXISTING', workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY' } as const;
  const startOp = new WithStartWorkflowOperation(wf.updateThenCompleteWf, startOptions);
  expect(await h.env.client.workflow.executeUpdateWithStart(wf.setValue, { args: ['v1'], updateId, startWorkflowOperation: startOp })).toBe('got v1');
  const handle = await startOp.workflowHandle();
  expect(await handle.result()).toBe('v1');
  // Real server (update-with-start): an update with this id completed on the current run → its outcome,
  // before the id reuse policy is consulted (which would refuse a new run after a completed one).
  const again = new WithStartWorkflowOperation(wf.updateThenCompleteWf, startOptions);
  expect(await h.env.client.workflow.executeUpdateWithStart(wf.setValue, { args: ['v2'], updateId, startWorkflowOperation: again })).toBe('got v1');
  expect((await (await again.workflowHandle()).describe()).runId).toBe((await handle.describe()).runId);
  expect((await h.env.client.workflow.count(`WorkflowId = "${o.workflowId}"`)).count).toBe(1);
  // A different update id still meets the reuse policy.
  const other = new WithStartWorkflowOperation(wf.updateThenCompleteWf, startOptions);
  await expect(h.env.client.workflow.executeUpdateWithStart(wf.setValue, { args: ['v3'], startWorkflowOperation: other })).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
});

test('raw API error paths: unknown namespace, bogus task tokens, missing fields', async () => {
  const svc = h.env.connection.workflowService;
  const code = (p: Promise<unknown>) => p.then(() => 'OK', (e: grpc.ServiceError) => e.code);
  expect(await code(svc.describeNamespace({ namespace: 'nope' }))).toBe(grpc.status.NOT_FOUND);
  const c2 = new Client({ connection: h.env.connection, namespace: 'nope' });
  await expect(c2.workflow.start(wf.greetWf, { ...opts('ns'), args: ['x'] })).rejects.toBeInstanceOf(NamespaceNotFoundError);
  expect(await code(svc.respondWorkflowTaskCompleted({ namespace: 'default', taskToken: Buffer.from('garbage') }))).toBe(grpc.status.INVALID_ARGUMENT);
  if (!useCli) {
    // well-formed tokens (in temporal-lite's format) for tasks that do not exist
    const stale = Buffer.from(JSON.stringify({ k: 'wft', ns: 'default', wid: 'x', rid: 'y', id: 1, n: 1 }));
    expect(await code(svc.respondWorkflowTaskCompleted({ namespace: 'default', taskToken: stale }))).toBe(grpc.status.NOT_FOUND);
    expect(await code(svc.respondActivityTaskCompleted({ namespace: 'default', taskToken: stale }))).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await code(svc.recordActivityTaskHeartbeat({ namespace: 'default', taskToken: Buffer.from(JSON.stringify({ k: 'act', ns: 'default', wid: 'x', rid: 'y', id: 1, n: 1 })) }))).toBe(grpc.status.NOT_FOUND);
  }
  expect(await code(svc.startWorkflowExecution({ namespace: 'default' }))).toBe(grpc.status.INVALID_ARGUMENT);
  expect(await code(svc.startWorkflowExecution({ namespace: 'default', workflowId: 'a', workflowType: { name: 't' } }))).toBe(grpc.status.INVALID_ARGUMENT);
  expect(await code(svc.signalWorkflowExecution({ namespace: 'default', workflowExecution: { workflowId: uid('none') }, signalName: 's' }))).toBe(grpc.status.NOT_FOUND);
  expect(await code(svc.pollWorkflowTaskQueue({ namespace: 'default' }))).toBe(grpc.status.INVALID_ARGUMENT);
  if (!useCli) expect(await code(svc.startBatchOperation({ namespace: 'default', jobId: uid('batch'), visibilityQuery: 'WorkflowType="x"', reason: 'r', terminationOperation: {} }))).toBe(grpc.status.UNIMPLEMENTED);
});

test('async activity completion by id is rejected for unknown activities', async () => {
  const handle = await h.env.client.workflow.start(wf.queryableWf, opts('async'));
  await expect(h.env.client.activity.complete({ workflowId: handle.workflowId, activityId: 'nope' }, 'r')).rejects.toThrow();
  await handle.terminate();
});

test('200 concurrent workflows', async () => {
  const handles = await Promise.all(Array.from({ length: 200 }, (_, i) => h.env.client.workflow.start(wf.greetWf, { ...opts(`many${i}`), args: [`n${i}`] })));
  const results = await Promise.all(handles.map((x) => x.result()));
  expect(results[199]).toBe('hello n199');
}, 120_000);

test('history paging and long-poll for new events', async () => {
  const handle = await h.env.client.workflow.start(wf.signalDuringTaskWf, opts('paging'));
  for (let i = 0; i < 5; i++) await handle.signal(wf.goSignal, `p${i}`);
  await handle.signal(wf.goSignal, 'stop');
  await handle.result();
  const svc = h.env.connection.workflowService;
  const all: unknown[] = [];
  let token: Uint8Array | undefined;
  do {
    const page = await svc.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId: handle.workflowId }, maximumPageSize: 3, nextPageToken: token });
    all.push(...page.history!.events!);
    token = page.nextPageToken && page.nextPageToken.length ? page.nextPageToken : undefined;
  } while (token);
  const full = (await handle.fetchHistory()).events!;
  expect(all).toHaveLength(full.length);
});

test('upserting an unregistered search attribute fails the workflow task (BAD_SEARCH_ATTRIBUTES)', async () => {
  const handle = await h.env.client.workflow.start(wf.badUpsertWf, opts('bad-upsert'));
  let failed: { cause?: unknown; failure?: { message?: string | null } | null } | undefined;
  for (let i = 0; i < 100 && !failed; i++) {
    const events = (await handle.fetchHistory()).events!;
    failed = events.find((e) => e.workflowTaskFailedEventAttributes)?.workflowTaskFailedEventAttributes ?? undefined;
    if (!failed) await new Promise((r) => setTimeout(r, 50));
  }
  expect(failed?.cause).toBe(23 /* BAD_SEARCH_ATTRIBUTES */);
  expect(failed?.failure?.message).toMatch(/NotRegisteredAttr/);
  expect((await handle.describe()).status.name).toBe('RUNNING');
  await handle.terminate();
});

test('history size is reported to the workflow; continue-as-new suggested past 4 MiB', async () => {
  const small = await h.env.client.workflow.start(wf.historyInfoWf, { ...opts('hist-small'), args: [1] });
  await small.signal(wf.goSignal, 'x');
  const s = await small.result();
  expect(s.size).toBeGreaterThan(0);
  expect(s.suggested).toBe(false);
  const big = await h.env.client.workflow.start(wf.historyInfoWf, { ...opts('hist-big'), args: [5] });
  for (let i = 0; i < 5; i++) await big.signal(wf.goSignal, 'y'.repeat(1024 * 1024));
  const b = await big.result();
  expect(b.size).toBeGreaterThan(4 * 1024 * 1024);
  expect(b.suggested).toBe(true);
});
