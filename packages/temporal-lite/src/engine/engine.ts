/**
 * The engine: namespaces, workflow runs and their histories, and the rules that
 * tie them together (event writing and buffering, workflow task scheduling, run
 * closing). Task-specific logic lives in sibling modules (workflow-tasks,
 * activities, updates, queries, children) which operate on this engine.
 */
import { Clock } from '../clock';
import { errors } from '../grpc/errors';
import { PREDEFINED_SEARCH_ATTRIBUTES, type SearchAttributeType } from '../visibility';
import { TaskQueue } from './matching';
import type { BufferedWrite, Namespace, P, Run, RunStatus, WorkflowRecord, WorkflowTask } from './types';
import { nextNonce, ts, uuid } from './util';

export interface EngineOptions {
  timeSkipping: boolean;
  namespace: string;
  searchAttributes?: Record<string, SearchAttributeType>;
}

/** Attributes the dev server registers out of the box, so apps can use them without setup. */
const DEFAULT_CUSTOM_SEARCH_ATTRIBUTES: Record<string, SearchAttributeType> = {
  CustomKeywordField: 'Keyword',
  CustomStringField: 'Text',
  CustomTextField: 'Text',
  CustomIntField: 'Int',
  CustomDatetimeField: 'Datetime',
  CustomDoubleField: 'Double',
  CustomBoolField: 'Bool',
};

export interface WftRef { kind: 'wft'; run: Run; nonce: number }
export interface QueryRef { kind: 'query'; run: Run; queryId: string; nonce: number }
export interface ActRef { run: Run; scheduledEventId: number; nonce: number }
export interface PollCtx { identity: string; requestId: string; workerInstanceKey?: string }

/** Real matching service: a sticky queue with no poll for this long counts as unavailable (StickyWorkerUnavailable). */
const STICKY_POLLER_UNAVAILABLE_WINDOW_MS = 10_000;
interface StickyQueueState { polling: number; lastPoll: number; shutdown: boolean }

/** Rough encoded size of an event: its bytes fields plus a fixed overhead (good enough for CAN suggestions). */
function approxSize(v: unknown, depth = 0): number {
  if (depth === 0) return 48 + approxSize(v, 1);
  if (v instanceof Uint8Array) return v.length + 2;
  if (typeof v === 'string') return v.length + 2;
  if (Array.isArray(v)) return v.reduce((n: number, x) => n + approxSize(x, depth + 1), 0);
  if (v && typeof v === 'object' && depth < 12) {
    let n = 0;
    for (const x of Object.values(v as Record<string, unknown>)) n += 2 + approxSize(x, depth + 1);
    return n;
  }
  return 4;
}

/** CamelCase event name → EVENT_TYPE_UPPER_SNAKE. */
const eventNames = new Map<string, { type: string; attrKey: string }>();
function eventNameInfo(name: string): { type: string; attrKey: string } {
  let info = eventNames.get(name);
  if (!info) {
    info = { type: 'EVENT_TYPE_' + name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase(), attrKey: name[0]!.toLowerCase() + name.slice(1) + 'EventAttributes' };
    eventNames.set(name, info);
  }
  return info;
}

export class Engine {
  readonly clock: Clock;
  readonly namespaces = new Map<string, Namespace>();
  readonly wfQueues = new Map<string, TaskQueue<WftRef | QueryRef, P, PollCtx>>();
  readonly actQueues = new Map<string, TaskQueue<ActRef, P, PollCtx>>();
  private taskId = 1000;
  /** Hooks installed by the task modules (avoids import cycles). */
  materializeWft: (ref: WftRef | QueryRef, ctx: PollCtx) => P | undefined = () => undefined;
  materializeActivity: (ref: ActRef, ctx: PollCtx) => P | undefined = () => undefined;
  onRunClosed: Array<(run: Run) => void> = [];
  onWftIdle: Array<(run: Run) => void> = [];
  stickyTimedOut: (run: Run, wft: WorkflowTask) => void = () => undefined;
  /** Poller bookkeeping of sticky queues (key: namespace + NUL + queue). */
  readonly stickyQueues = new Map<string, StickyQueueState>();
  startFollowUpRun: (prev: Run, kind: 'retry' | 'continueAsNew', attrs: P) => Run = () => {
    throw new Error('not wired');
  };

  constructor(readonly options: EngineOptions) {
    this.clock = new Clock(options.timeSkipping);
    this.registerNamespace(options.namespace, options.searchAttributes ?? {});
  }

  registerNamespace(name: string, searchAttributes: Record<string, SearchAttributeType> = {}, retentionSeconds = 86400, description?: string): Namespace {
    const sa = new Map<string, SearchAttributeType>(PREDEFINED_SEARCH_ATTRIBUTES);
    for (const [k, v] of Object.entries(DEFAULT_CUSTOM_SEARCH_ATTRIBUTES)) sa.set(k, v);
    for (const [k, v] of Object.entries(searchAttributes)) sa.set(k, v);
    const ns: Namespace = { name, id: uuid(), retentionSeconds, searchAttributes: sa, workflows: new Map(), description };
    this.namespaces.set(name, ns);
    return ns;
  }

  ns(name: unknown): Namespace {
    if (typeof name !== 'string' || name === '') throw errors.invalidArgument('Namespace not set on request.');
    const ns = this.namespaces.get(name);
    if (!ns) throw errors.namespaceNotFound(name);
    return ns;
  }

  now(): number {
    return this.clock.now();
  }

  /** Ends the run's workflow task (if any) and lets time skip again. */
  clearWft(run: Run): void {
    const wft = run.wft;
    if (!wft) return;
    wft.timeoutTimer?.cancel();
    wft.stickyTimer?.cancel();
    this.clock.release(wft);
    run.wft = undefined;
  }

  // ---------------------------------------------------------------- sticky queues

  private stickyState(ns: string, queue: string): StickyQueueState {
    const key = ns + '\u0000' + queue;
    let s = this.stickyQueues.get(key);
    if (!s) this.stickyQueues.set(key, (s = { polling: 0, lastPoll: 0, shutdown: false }));
    return s;
  }

  /** A poll on a sticky queue starts; returns the function to call when it ends. */
  stickyPollStarted(ns: string, queue: string): () => void {
    const s = this.stickyState(ns, queue);
    s.polling++;
    s.shutdown = false;
    s.lastPoll = Date.now();
    return () => {
      s.polling--;
      s.lastPoll = Date.now();
    };
  }

  /** ShutdownWorker with the sticky queue name: the queue is gone (real server unloads it). */
  stickyQueueShutdown(ns: string, queue: string): void {
    const s = this.stickyState(ns, queue);
    s.shutdown = true;
    this.wfQueue(ns, queue).releaseAll();
  }

  /** Whether a worker still serves the sticky queue (else matching answers StickyWorkerUnavailable). */
  stickyAvailable(ns: string, queue: string): boolean {
    const s = this.stickyQueues.get(ns + '\u0000' + queue);
    if (!s || s.shutdown) return false;
    return s.polling > 0 || Date.now() - s.lastPoll < STICKY_POLLER_UNAVAILABLE_WINDOW_MS;
  }

  // ---------------------------------------------------------------- lookup

  workflow(ns: Namespace, workflowId: string): WorkflowRecord | undefined {
    return ns.workflows.get(workflowId);
  }

  currentRun(ns: Namespace, workflowId: string): Run | undefined {
    const wf = ns.workflows.get(workflowId);
    return wf ? wf.runs[wf.runs.length - 1] : undefined;
  }

  /** Finds a run by id (or the latest run of the workflow id), NOT_FOUND otherwise. */
  findRun(ns: Namespace, execution: P): Run {
    const workflowId = execution?.workflowId;
    if (!workflowId) throw errors.invalidArgument('WorkflowId is not set on request.');
    const wf = ns.workflows.get(workflowId);
    const runId: string | undefined = execution.runId || undefined;
    const run = wf ? (runId ? wf.runs.find((r) => r.runId === runId) : wf.runs[wf.runs.length - 1]) : undefined;
    if (!run) throw errors.workflowNotFound(workflowId, runId);
    return run;
  }

  /** Like findRun but requires the run to be open (signals, cancels, updates...). */
  findOpenRun(ns: Namespace, execution: P): Run {
    const run = this.findRun(ns, execution);
    if (run.status !== 'Running') throw errors.workflowCompleted();
    return run;
  }

  wfQueue(ns: string, name: string): TaskQueue<WftRef | QueryRef, P, PollCtx> {
    const key = ns + '\u0000' + name;
    let q = this.wfQueues.get(key);
    if (!q) {
      q = new TaskQueue((ref, ctx) => this.materializeWft(ref, ctx));
      this.wfQueues.set(key, q);
    }
    return q;
  }

  /** A task queue if anything ever polled or used it (DescribeTaskQueue must not create one). */
  existingQueue(type: 'workflow' | 'activity', ns: string, name: string): TaskQueue<WftRef | QueryRef, P, PollCtx> | TaskQueue<ActRef, P, PollCtx> | undefined {
    return (type === 'workflow' ? this.wfQueues : this.actQueues).get(ns + '\u0000' + name);
  }

  actQueue(ns: string, name: string): TaskQueue<ActRef, P, PollCtx> {
    const key = ns + '\u0000' + name;
    let q = this.actQueues.get(key);
    if (!q) {
      q = new TaskQueue((ref, ctx) => this.materializeActivity(ref, ctx));
      this.actQueues.set(key, q);
    }
    return q;
  }

  // ---------------------------------------------------------------- events

  /** Builds an event with the next id; does not append it. */
  makeEvent(run: Run, name: string, attrs: P, eventId = run.events.length + 1): P {
    const info = eventNameInfo(name);
    return {
      eventId: String(eventId),
      eventTime: ts(this.now()),
      eventType: info.type,
      taskId: String(this.taskId++),
      [info.attrKey]: attrs,
    };
  }

  /** Appends an event to the persisted history right now; returns its id. */
  append(run: Run, name: string, attrs: P): number {
    const ev = this.makeEvent(run, name, attrs);
    run.events.push(ev);
    run.historySizeBytes += approxSize(attrs);
    run.stateTransitions++;
    this.notify(run);
    return run.events.length;
  }

  /**
   * Writes an event caused by something outside the workflow (signal, activity result,
   * timer...). While a workflow task is in flight the write is buffered and happens after
   * the task completes (real server semantics); otherwise it is written now. Either way a
   * workflow task follows.
   */
  addExternal(run: Run, bw: BufferedWrite): void {
    if (run.status !== 'Running') return;
    if (run.wft?.state === 'started') {
      run.buffered.push(bw);
      return;
    }
    bw.write();
    if (run.wft?.transient) this.persistTransientScheduled(run);
    this.scheduleWft(run);
  }

  /**
   * A transient (retry or speculative) task's scheduled event becomes real when other events join it.
   * Real server: new events since a transient/speculative task was scheduled turn it into a normal task
   * with attempt 1, its WorkflowTaskScheduled written after those events.
   */
  persistTransientScheduled(run: Run): void {
    const wft = run.wft;
    if (!wft || !wft.transient || wft.state !== 'scheduled') return;
    wft.transient = false;
    wft.speculative = false;
    wft.attempt = 1;
    // Not dispatched yet (backoff): its scheduled event is written when it is enqueued.
    if (wft.notBefore !== undefined) return;
    wft.scheduledEventId = this.append(run, 'WorkflowTaskScheduled', this.wftScheduledAttrs(run, wft.attempt, wft.stickyQueue));
  }

  wftScheduledAttrs(run: Run, attempt: number, stickyQueue?: string): P {
    return {
      taskQueue: stickyQueue ? { name: stickyQueue, kind: 'TASK_QUEUE_KIND_STICKY', normalName: run.taskQueue } : { name: run.taskQueue, kind: 'TASK_QUEUE_KIND_NORMAL' },
      startToCloseTimeout: { seconds: String(Math.floor(run.workflowTaskTimeoutMs / 1000)), nanos: (run.workflowTaskTimeoutMs % 1000) * 1e6 },
      attempt,
    };
  }

  /** Writes buffered events (after a workflow task closed). Returns whether any were written. */
  flushBuffered(run: Run): boolean {
    const list = run.buffered;
    run.buffered = [];
    run.bufferedActivityFinishes.clear();
    for (const bw of list) bw.write();
    return list.length > 0;
  }

  /** Schedules a workflow task if the run has none outstanding. */
  scheduleWft(run: Run, opts: { speculative?: boolean; attempt?: number; delayMs?: number } = {}): void {
    if (run.status !== 'Running' || run.wft) return;
    const attempt = opts.attempt ?? 1;
    const speculative = opts.speculative ?? false;
    const transient = speculative || attempt > 1;
    const nonce = nextNonce();
    const wft: Run['wft'] = {
      scheduledEventId: transient ? run.events.length + 1 : 0,
      attempt,
      state: 'scheduled',
      transient,
      speculative,
      nonce,
      scheduledTime: this.now(),
      deliveredUpdates: [],
      deliveredQueries: [],
    };
    run.wft = wft;
    const enqueue = (): void => {
      if (run.wft !== wft || run.status !== 'Running') return;
      wft.notBefore = undefined;
      // Real server: a run with a sticky queue schedules its task there (the event records the sticky
      // queue) with a schedule-to-start timeout. If no worker polls that queue any more, matching
      // answers StickyWorkerUnavailable and the task goes to the normal queue right away; the
      // schedule-to-start timer stays (it is harmless once the task started).
      const sticky = run.sticky;
      wft.stickyQueue = sticky?.queue;
      if (!wft.transient) wft.scheduledEventId = this.append(run, 'WorkflowTaskScheduled', this.wftScheduledAttrs(run, wft.attempt, wft.stickyQueue));
      wft.scheduledTime = this.now();
      // An outstanding workflow task holds time still (Java test server rule); so does a task waiting
      // on a sticky queue: its schedule-to-start timeout then runs in real time, never skipped to.
      this.clock.hold(wft);
      wft.queue = sticky && this.stickyAvailable(run.ns.name, sticky.queue) ? sticky.queue : run.taskQueue;
      if (sticky) wft.stickyTimer = this.clock.after(sticky.scheduleToStartMs, () => this.stickyTimedOut(run, wft));
      this.wfQueue(run.ns.name, wft.queue).offer({ kind: 'wft', run, nonce });
      this.clock.poke();
    };
    if (opts.delayMs && opts.delayMs > 0) {
      wft.notBefore = this.now() + opts.delayMs;
      run.runTimers.push(this.clock.after(opts.delayMs, enqueue));
    } else {
      enqueue();
    }
  }

  /** Wakes history long-polls and other waiters on this run. */
  notify(run: Run): void {
    if (run.watchers.size === 0) return;
    const ws = [...run.watchers];
    run.watchers.clear();
    for (const w of ws) w();
  }

  /** Resolves when the run changes (new event or close), or after `timeoutMs` of wall time. */
  waitForChange(run: Run, timeoutMs: number, cancelled: { onCancel(cb: () => void): void }): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        run.watchers.delete(done);
        resolve();
      };
      const t = setTimeout(done, Math.max(0, timeoutMs));
      run.watchers.add(done);
      cancelled.onCancel(done);
    });
  }

  // ---------------------------------------------------------------- closing

  /**
   * Closes a run with its close event. Callers have already written anything that must
   * precede the close event. Cleans up pending work and informs parents and waiters.
   */
  closeRun(run: Run, status: RunStatus, eventName: string, attrs: P): number {
    const id = this.append(run, eventName, attrs);
    run.status = status;
    run.closeTime = this.now();
    for (const t of run.runTimers) t.cancel();
    run.runTimers = [];
    for (const t of run.timers.values()) t.timer.cancel();
    run.timers.clear();
    for (const a of run.activities.values()) {
      for (const t of a.timers) t.cancel();
      this.clock.release(a);
    }
    run.activities.clear();
    this.clearWft(run);
    run.buffered = [];
    // Real server: closing a run clears its stickiness (queries on closed runs go to the normal queue).
    run.sticky = undefined;
    for (const cb of this.onRunClosed) cb(run);
    this.notify(run);
    this.clock.poke();
    return id;
  }
}
