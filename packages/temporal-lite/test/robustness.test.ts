/**
 * Hostile and malformed requests against the real server (started with startServer), sent with a raw
 * grpc-js client so that nothing in an SDK can tidy them up first. Each must get a precise status code and
 * the server must keep serving. Then 200 concurrent workflows run to completion through the real SDK worker.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { randomBytes, randomUUID } from 'node:crypto';
import { startServer } from '../src/index';
import { createBenchActivities } from '../bench/activities';
import { benchWorkflow } from '../bench/workflows';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const packageDefinition = protoLoader.fromJSON(require('@temporalio/proto/protos/json-module.js').toJSON(), {
  longs: String, enums: String, oneofs: true, defaults: false,
});
const SERVICE = 'temporal.api.workflowservice.v1.WorkflowService';
const NAMESPACE = 'default';

type Raw = Record<string, unknown>;
interface Outcome { error?: grpc.ServiceError; response?: Raw }

let server: Awaited<ReturnType<typeof startServer>>;
let rpc: grpc.Client;

/** Calls a WorkflowService method by name and returns the error or the response, never throwing. */
function call(method: string, request: Raw, deadlineMs = 10_000): Promise<Outcome> {
  const def = (packageDefinition[SERVICE] as grpc.ServiceDefinition)[method];
  if (!def) throw new Error(`no such method in the proto: ${method}`);
  return new Promise((resolve) => {
    rpc.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, request, new grpc.Metadata(),
      { deadline: Date.now() + deadlineMs },
      (error, response) => resolve(error ? { error } : { response: response as Raw }));
  });
}

/** Sends raw bytes to any path, for requests a proto definition would never produce. */
function callRaw(path: string, body: Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    rpc.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => ({ bytes: b.length }), body, new grpc.Metadata(),
      { deadline: Date.now() + 10_000 },
      (error, response) => resolve(error ? { error } : { response: response as Raw }));
  });
}

const codeName = (code?: number) => (code === undefined ? 'OK' : grpc.status[code]);

async function expectCode(outcome: Promise<Outcome>, ...allowed: grpc.status[]): Promise<grpc.ServiceError> {
  const { error, response } = await outcome;
  if (!error) throw new Error(`expected ${allowed.map(codeName).join('/')} but the call succeeded: ${JSON.stringify(response)?.slice(0, 300)}`);
  expect(allowed.map(codeName)).toContain(codeName(error.code));
  return error;
}

const startRequest = (overrides: Raw = {}): Raw => ({
  namespace: NAMESPACE,
  workflowId: `robust-${randomUUID()}`,
  workflowType: { name: 'benchWorkflow' },
  taskQueue: { name: `robust-${randomUUID()}` },
  identity: 'robustness-test',
  requestId: randomUUID(),
  ...overrides,
});

beforeAll(async () => {
  server = await startServer({ port: 0, host: '127.0.0.1' });
  rpc = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
});

afterAll(async () => {
  rpc?.close();
  await server?.stop();
});

afterEach(async () => {
  // Whatever a test sent, the server must still answer.
  const { error, response } = await call('GetSystemInfo', {});
  expect(error).toBeUndefined();
  expect(response).toBeDefined();
});

describe('missing or invalid fields → INVALID_ARGUMENT', () => {
  it.each<[string, Raw]>([
    ['no namespace', { namespace: undefined }],
    ['no workflow id', { workflowId: undefined }],
    ['no workflow type', { workflowType: undefined }],
    ['an empty workflow type name', { workflowType: { name: '' } }],
    ['no task queue', { taskQueue: undefined }],
  ])('StartWorkflowExecution with %s', async (_what, overrides) => {
    const err = await expectCode(call('StartWorkflowExecution', startRequest(overrides)), grpc.status.INVALID_ARGUMENT);
    expect(err.details.length).toBeGreaterThan(0);
  });

  it('PollWorkflowTaskQueue without a task queue', async () => {
    await expectCode(call('PollWorkflowTaskQueue', { namespace: NAMESPACE, identity: 'x' }), grpc.status.INVALID_ARGUMENT);
  });

  it('SignalWorkflowExecution without an execution', async () => {
    await expectCode(call('SignalWorkflowExecution', { namespace: NAMESPACE, signalName: 's' }), grpc.status.INVALID_ARGUMENT);
  });

  it('ListWorkflowExecutions with a malformed query names the problem', async () => {
    const err = await expectCode(call('ListWorkflowExecutions', { namespace: NAMESPACE, query: "WorkflowId = 'a' AND" }), grpc.status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/end of the query/);
  });

  it('ListWorkflowExecutions on an unknown search attribute names it', async () => {
    const err = await expectCode(call('ListWorkflowExecutions', { namespace: NAMESPACE, query: "NoSuchAttribute = 'a'" }), grpc.status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/NoSuchAttribute/);
  });

  it('CountWorkflowExecutions with a type mismatch', async () => {
    await expectCode(call('CountWorkflowExecutions', { namespace: NAMESPACE, query: "StartTime > 'yesterday'" }), grpc.status.INVALID_ARGUMENT);
  });
});

describe('unknown things → NOT_FOUND', () => {
  const ns = `no-such-namespace-${randomUUID()}`;
  it.each<[string, Raw]>([
    ['DescribeNamespace', { namespace: ns }],
    ['StartWorkflowExecution', startRequest({ namespace: ns })],
    ['PollActivityTaskQueue', { namespace: ns, taskQueue: { name: 'q' }, identity: 'x' }],
  ])('%s in an unknown namespace', async (method, request) => {
    await expectCode(call(method, request), grpc.status.NOT_FOUND);
  });

  it.each<[string, Raw]>([
    ['DescribeWorkflowExecution', { namespace: NAMESPACE, execution: { workflowId: 'never-started' } }],
    ['GetWorkflowExecutionHistory', { namespace: NAMESPACE, execution: { workflowId: 'never-started' } }],
    ['SignalWorkflowExecution', { namespace: NAMESPACE, workflowExecution: { workflowId: 'never-started' }, signalName: 's' }],
    ['TerminateWorkflowExecution', { namespace: NAMESPACE, workflowExecution: { workflowId: 'never-started' } }],
  ])('%s of a workflow that never existed', async (method, request) => {
    await expectCode(call(method, request), grpc.status.NOT_FOUND);
  });
});

describe('bogus task tokens', () => {
  // A token the server never issued: malformed (INVALID_ARGUMENT) or unknown (NOT_FOUND), never a crash.
  const bogus = () => randomBytes(48);
  it.each<[string, () => Raw]>([
    ['RespondWorkflowTaskCompleted', () => ({ namespace: NAMESPACE, taskToken: bogus(), identity: 'x', commands: [] })],
    ['RespondWorkflowTaskFailed', () => ({ namespace: NAMESPACE, taskToken: bogus(), identity: 'x' })],
    ['RespondActivityTaskCompleted', () => ({ namespace: NAMESPACE, taskToken: bogus(), identity: 'x' })],
    ['RespondActivityTaskFailed', () => ({ namespace: NAMESPACE, taskToken: bogus(), identity: 'x' })],
    ['RecordActivityTaskHeartbeat', () => ({ namespace: NAMESPACE, taskToken: bogus(), identity: 'x' })],
    ['RespondQueryTaskCompleted', () => ({ namespace: NAMESPACE, taskToken: bogus() })],
  ])('%s', async (method, request) => {
    await expectCode(call(method, request()), grpc.status.INVALID_ARGUMENT, grpc.status.NOT_FOUND);
  });

  it('an empty task token is INVALID_ARGUMENT', async () => {
    await expectCode(call('RespondActivityTaskCompleted', { namespace: NAMESPACE, identity: 'x' }), grpc.status.INVALID_ARGUMENT);
  });
});

describe('oversized and undecodable requests', () => {
  it('a start with a 5 MB input is refused', async () => {
    const input = { payloads: [{ metadata: { encoding: Buffer.from('binary/plain') }, data: randomBytes(5 * 1024 * 1024) }] };
    await expectCode(call('StartWorkflowExecution', startRequest({ input }), 30_000), grpc.status.RESOURCE_EXHAUSTED, grpc.status.INVALID_ARGUMENT);
  });

  it('bytes that are not protobuf are refused', async () => {
    const { error } = await callRaw(`/${SERVICE}/StartWorkflowExecution`, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]));
    expect(error).toBeDefined();
    expect(['INTERNAL', 'INVALID_ARGUMENT']).toContain(codeName(error!.code));
  });
});

describe('RPCs the server does not serve → UNIMPLEMENTED', () => {
  it('a method the service does not have', async () => {
    await expectCode(callRaw(`/${SERVICE}/NoSuchRpc`, Buffer.alloc(0)), grpc.status.UNIMPLEMENTED);
  });

  it.each(['ValidateWorkerDeploymentVersionComputeConfig', 'DeleteNexusOperationExecution'])('%s, named in the message', async (method) => {
    const err = await expectCode(call(method, { namespace: NAMESPACE }), grpc.status.UNIMPLEMENTED);
    expect(err.details).toContain(method);
  });
});

describe('abandoned long polls', () => {
  it('a poll whose caller gives up does not wedge the queue', async () => {
    const taskQueue = { name: `abandoned-${randomUUID()}` };
    // Like the real frontend, the server may answer an empty poll just before the caller's deadline.
    const abandoned = await call('PollWorkflowTaskQueue', { namespace: NAMESPACE, taskQueue, identity: 'x' }, 300);
    if (abandoned.error) expect(codeName(abandoned.error.code)).toBe('DEADLINE_EXCEEDED');
    else expect(abandoned.response?.taskToken).toBeUndefined();
    // A task added after the abandoned poll must reach the next poller rather than the dead one.
    expect((await call('StartWorkflowExecution', startRequest({ taskQueue }))).error).toBeUndefined();
    const { error, response } = await call('PollWorkflowTaskQueue', { namespace: NAMESPACE, taskQueue, identity: 'x' }, 10_000);
    expect(error).toBeUndefined();
    expect(response?.taskToken).toBeDefined();
  });
});

describe('200 concurrent workflows through the real SDK', () => {
  it('all complete with their own results', async () => {
    const address = `127.0.0.1:${server.port}`;
    const taskQueue = `robust-sdk-${randomUUID()}`;
    const nativeConnection = await NativeConnection.connect({ address });
    const connection = await Connection.connect({ address });
    try {
      const worker = await Worker.create({
        connection: nativeConnection,
        taskQueue,
        workflowsPath: require.resolve('../bench/workflows'),
        activities: createBenchActivities(),
      });
      const client = new Client({ connection });
      const results = await worker.runUntil(() =>
        Promise.all(Array.from({ length: 200 }, (_, seq) =>
          client.workflow.execute(benchWorkflow, { workflowId: `robust-${taskQueue}-${seq}`, taskQueue, args: [{ seq }] }))),
      );
      expect(results.map((r) => r.seq)).toEqual(Array.from({ length: 200 }, (_, seq) => seq));
      const count = await client.workflow.count(`TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Completed'`);
      expect(count.count).toBe(200);
    } finally {
      await connection.close();
      await nativeConnection.close();
    }
  }, 180_000);
});
