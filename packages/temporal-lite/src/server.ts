/** Assembles engine + gRPC services into a running server. */
import * as grpc from '@grpc/grpc-js';
import { installActivities } from './engine/activities';
import { installChildren } from './engine/children';
import { installCompaction } from './engine/compact';
import { Engine } from './engine/engine';
import { dispatchQueries } from './engine/queries';
import { installUpdates } from './engine/updates';
import { installWorkflowTasks } from './engine/workflow-tasks';
import { operatorServiceHandlers } from './grpc/operator-service';
import { createGrpcServer } from './grpc/server';
import { healthHandlers, testServiceHandlers } from './grpc/test-service';
import { workflowServiceHandlers } from './grpc/workflow-service';
import { SERVICE_NAMES } from './proto';
import type { SearchAttributeType } from './visibility';

export interface ServerOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  timeSkipping?: boolean;
  namespace?: string;
  searchAttributes?: Record<string, SearchAttributeType>;
  /** More namespaces to register (same search attributes). */
  extraNamespaces?: string[];
}

export interface RunningServer {
  address: string;
  port: number;
  stop(): Promise<void>;
}

const retentionTimers = new WeakMap<Engine, Set<NodeJS.Timeout>>();
const compactions = new WeakMap<Engine, { stop(): void }>();

export function createEngine(opts: ServerOptions): Engine {
  const engine = new Engine({ timeSkipping: !!opts.timeSkipping, namespace: opts.namespace ?? 'default', searchAttributes: opts.searchAttributes });
  installWorkflowTasks(engine);
  installActivities(engine);
  installUpdates(engine);
  installChildren(engine);
  engine.onRunClosed.push((run) => dispatchQueries(engine, run));
  compactions.set(engine, installCompaction(engine));
  // Like the real server, closed runs are deleted after the namespace retention. It is counted in
  // wall-clock time, also with time skipping (the Java test server never deletes; counting skipped
  // time would make runs vanish mid-test), so a long-lived time-skipping server stops growing too.
  {
    const timers = new Set<NodeJS.Timeout>();
    retentionTimers.set(engine, timers);
    engine.onRunClosed.push((run) => {
      const t = setTimeout(() => {
        timers.delete(t);
        const wf = run.ns.workflows.get(run.workflowId);
        if (!wf) return;
        wf.runs = wf.runs.filter((r) => r !== run);
        if (wf.runs.length === 0) run.ns.workflows.delete(run.workflowId);
      }, Math.min(run.ns.retentionSeconds * 1000, 2 ** 31 - 1));
      t.unref();
      timers.add(t);
    });
  }
  for (const n of opts.extraNamespaces ?? []) if (!engine.namespaces.has(n)) engine.registerNamespace(n, opts.searchAttributes ?? {});
  return engine;
}

export async function startServer(opts: ServerOptions = {}): Promise<RunningServer> {
  const engine = createEngine(opts);
  const server = createGrpcServer({
    [SERVICE_NAMES.workflow]: workflowServiceHandlers(engine),
    [SERVICE_NAMES.operator]: operatorServiceHandlers(engine),
    [SERVICE_NAMES.test]: testServiceHandlers(engine),
    [SERVICE_NAMES.health]: healthHandlers(),
  });
  const host = opts.host ?? '127.0.0.1';
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${opts.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  return {
    address: `${host}:${port}`,
    port,
    stop: async () => {
      engine.clock.stop();
      for (const t of retentionTimers.get(engine) ?? []) clearTimeout(t);
      compactions.get(engine)?.stop();
      for (const q of engine.wfQueues.values()) q.releaseAll();
      for (const q of engine.actQueues.values()) q.releaseAll();
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000);
        server.tryShutdown(() => {
          clearTimeout(t);
          resolve();
        });
      });
    },
  };
}
