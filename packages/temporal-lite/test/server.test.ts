/**
 * The public in-process API (startServer), the CLI argument forms, gRPC health, and services
 * that exist only with time skipping.
 */
import * as grpc from '@grpc/grpc-js';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { startServer } from '../src/index';
import { parseArgs } from '../src/cli';
import { serviceDefinition } from '../src/proto';
import { activities, uid, workflowBundle } from './helpers';
import * as wf from './workflows';

describe('parseArgs', () => {
  test('dev-server form as the SDK passes it (time skipping off)', () => {
    const o = parseArgs(['server', 'start-dev', '--port', '43619', '--namespace', 'default', '--ip', '127.0.0.1', '--log-format', 'pretty',
      '--log-level', 'warn', '--dynamic-config-value', 'frontend.enableServerVersionCheck=false', '--headless',
      '--search-attribute', 'CreditStatus=Keyword', '--search-attribute', 'Amount=Int', '--db-filename', '/tmp/x', '--foo']);
    expect(o).toMatchObject({ port: 43619, host: '127.0.0.1', namespace: 'default', timeSkipping: false, searchAttributes: { CreditStatus: 'Keyword', Amount: 'Int' } });
  });
  test('time-skipping form: port first, extra args ignored', () => {
    expect(parseArgs(['40979', '--bar'])).toMatchObject({ port: 40979, timeSkipping: true });
  });
  test('keyword lists and other namespaces', () => {
    const o = parseArgs(['server', 'start-dev', '--port=1234', '-n', 'a', '-n', 'b', '--search-attribute', 'Tags=KeywordList']);
    expect(o).toMatchObject({ port: 1234, namespace: 'a', extraNamespaces: ['b'], searchAttributes: { Tags: 'KeywordList' } });
  });
});

describe('startServer', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    server = await startServer({ port: 0, namespace: 'apps', searchAttributes: { CreditStatus: 'Keyword' } });
  });
  afterAll(async () => {
    await server.stop();
  });

  test('address/port; SDK client and worker run a workflow in the chosen namespace', async () => {
    expect(server.address).toBe(`127.0.0.1:${server.port}`);
    expect(server.port).toBeGreaterThan(0);
    const connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection, namespace: 'apps' });
    const nativeConnection = await NativeConnection.connect({ address: server.address });
    const taskQueue = uid('inproc');
    const worker = await Worker.create({ connection: nativeConnection, namespace: 'apps', taskQueue, workflowBundle: await workflowBundle(), activities });
    const key = defineSearchAttributeKey('CreditStatus', SearchAttributeType.KEYWORD);
    const r = await worker.runUntil(client.workflow.execute(wf.greetWf, { taskQueue, workflowId: uid('w'), args: ['ns'], typedSearchAttributes: [{ key, value: 'held' }] }));
    expect(r).toBe('hello ns');
    expect((await client.workflow.count('CreditStatus = "held"')).count).toBe(1);
    await connection.close();
    await nativeConnection.close();
  });

  test('gRPC health, UNIMPLEMENTED for streaming and for TestService without time skipping', async () => {
    const client = new grpc.Client(server.address, grpc.credentials.createInsecure());
    const unary = (svc: string, method: string, req: object) => new Promise<{ err?: grpc.ServiceError; res?: Record<string, unknown> }>((resolve) => {
      const def = serviceDefinition(svc)[method]!;
      client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, req, (err, res) => resolve({ err: err ?? undefined, res: res as Record<string, unknown> }));
    });
    const health = await unary('grpc.health.v1.Health', 'Check', { service: '' });
    expect(health.res).toEqual({ status: 'SERVING' });
    const ts = await unary('temporal.api.testservice.v1.TestService', 'GetCurrentTime', {});
    expect(ts.res?.time).toBeDefined();
    const lock = await unary('temporal.api.testservice.v1.TestService', 'LockTimeSkipping', {});
    expect(lock.err?.code).toBe(grpc.status.UNIMPLEMENTED);
    const watchDef = serviceDefinition('grpc.health.v1.Health').Watch!;
    const code = await new Promise<number>((resolve) => {
      const stream = client.makeServerStreamRequest(watchDef.path, watchDef.requestSerialize, watchDef.responseDeserialize, { service: '' });
      stream.on('error', (e: grpc.ServiceError) => resolve(e.code));
      stream.on('data', () => undefined);
    });
    expect(code).toBe(grpc.status.UNIMPLEMENTED);
    client.close();
  });

  test('ShutdownWorker answers that worker\'s outstanding polls (normal and sticky) at once', async () => {
    const connection = await Connection.connect({ address: server.address });
    const svc = connection.workflowService;
    const t0 = Date.now();
    const polls = [
      svc.pollWorkflowTaskQueue({ namespace: 'apps', taskQueue: { name: 'q-shut' }, workerInstanceKey: 'k1' }),
      svc.pollActivityTaskQueue({ namespace: 'apps', taskQueue: { name: 'q-shut' }, workerInstanceKey: 'k1' }),
      svc.pollWorkflowTaskQueue({ namespace: 'apps', taskQueue: { name: 'sticky-1', kind: 2 /* STICKY */, normalName: 'q-shut' }, workerInstanceKey: 'k1' }),
    ];
    const other = svc.pollWorkflowTaskQueue({ namespace: 'apps', taskQueue: { name: 'q-shut' }, workerInstanceKey: 'k2' }, );
    await new Promise((r) => setTimeout(r, 100));
    await svc.shutdownWorker({ namespace: 'apps', stickyTaskQueue: 'sticky-1', workerHeartbeat: { workerInstanceKey: 'k1' } });
    const res = await Promise.all(polls);
    expect(Date.now() - t0).toBeLessThan(5000);
    for (const r of res) expect(r.taskToken?.length ?? 0).toBe(0);
    // the other worker's poll still gets the next task
    await svc.startWorkflowExecution({ namespace: 'apps', workflowId: uid('after-shut'), workflowType: { name: 'x' }, taskQueue: { name: 'q-shut' }, requestId: uid('r') });
    expect((await other).taskToken?.length).toBeGreaterThan(0);
    await connection.close();
  });

  test('stop() returns promptly while long polls are waiting', async () => {
    const s = await startServer();
    const connection = await Connection.connect({ address: s.address });
    const poll = connection.workflowService.pollWorkflowTaskQueue({ namespace: 'default', taskQueue: { name: 'idle' } }).catch((e) => e);
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await s.stop();
    expect(Date.now() - t0).toBeLessThan(3000);
    await poll;
    await connection.close();
  });
});
