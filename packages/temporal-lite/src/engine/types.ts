/**
 * In-memory state of namespaces, workflow runs, and their pending work.
 * Proto-shaped values (payloads, failures, events) are kept as the plain objects
 * @grpc/proto-loader produces, so they can be sent back without conversion.
 */
import type { ClockTimer } from '../clock';
import type { SearchAttributeType } from '../visibility';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type P = any; // a proto-shaped plain object

export type RunStatus = 'Running' | 'Completed' | 'Failed' | 'Canceled' | 'Terminated' | 'ContinuedAsNew' | 'TimedOut';

export const STATUS_ENUM: Record<RunStatus, string> = {
  Running: 'WORKFLOW_EXECUTION_STATUS_RUNNING',
  Completed: 'WORKFLOW_EXECUTION_STATUS_COMPLETED',
  Failed: 'WORKFLOW_EXECUTION_STATUS_FAILED',
  Canceled: 'WORKFLOW_EXECUTION_STATUS_CANCELED',
  Terminated: 'WORKFLOW_EXECUTION_STATUS_TERMINATED',
  ContinuedAsNew: 'WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW',
  TimedOut: 'WORKFLOW_EXECUTION_STATUS_TIMED_OUT',
};

export interface Namespace {
  name: string;
  id: string;
  retentionSeconds: number;
  searchAttributes: Map<string, SearchAttributeType>;
  workflows: Map<string, WorkflowRecord>;
  description?: string;
}

export interface WorkflowRecord {
  workflowId: string;
  runs: Run[];
}

/** An event write that is deferred while a workflow task is in flight (event ids are assigned on flush). */
export interface BufferedWrite {
  write: () => void;
  timerId?: string;
  activityScheduledEventId?: number;
}

export interface WorkflowTask {
  scheduledEventId: number;
  startedEventId?: number;
  attempt: number;
  state: 'scheduled' | 'started';
  /**
   * Transient task: its scheduled/started events are only sent to the worker, not persisted,
   * until it completes. Used for retries (attempt > 1: failures/timeouts leave no events, like the
   * real server) and for speculative tasks (updates: dropped entirely when all updates are rejected).
   */
  transient: boolean;
  speculative: boolean;
  nonce: number;
  scheduledTime: number;
  startedTime?: number;
  identity?: string;
  requestId?: string;
  timeoutTimer?: ClockTimer;
  /** Update ids whose requests were delivered with this task. */
  deliveredUpdates: string[];
  /** Query ids delivered in the `queries` map of this task. */
  deliveredQueries: string[];
  /** The scheduled/started events of a transient task, as sent to the worker. */
  transientEvents?: P[];
  /** Whether this task currently holds a time-skipping lock. */
  timeLock?: boolean;
  /** Backoff timer when the task is not yet dispatchable (workflowStartDelay, retry backoff). */
  notBefore?: number;
  /** The run's sticky queue when the task was scheduled (recorded in WorkflowTaskScheduled). */
  stickyQueue?: string;
  /** The queue the task was offered to (the sticky queue, or the normal one when the sticky worker is gone). */
  queue?: string;
  /** Sticky schedule-to-start timeout: WorkflowTaskTimedOut(SCHEDULE_TO_START), then the normal queue. */
  stickyTimer?: ClockTimer;
}

export interface ActivityState {
  scheduledEventId: number;
  activityId: string;
  activityType: string;
  taskQueue: string;
  attrs: P; // the ActivityTaskScheduled attributes (timeouts filled in)
  attempt: number;
  state: 'scheduled' | 'backoff' | 'started';
  scheduledTime: number; // first schedule
  currentAttemptScheduledTime: number;
  startedTime?: number;
  startedIdentity?: string;
  startedRequestId?: string;
  nonce: number;
  heartbeatDetails?: P;
  lastHeartbeatTime?: number;
  lastFailure?: P;
  cancelRequested: boolean;
  cancelRequestedEventId?: number;
  timers: ClockTimer[];
  heartbeatTimer?: ClockTimer;
  scheduleToCloseDeadline?: number;
  retryPolicy: P;
  /** Set while the activity sits in its task queue (so a poll can pick it). */
  queued: boolean;
  /** Whether this activity currently holds a time-skipping lock (scheduled or running). */
  timeLock?: boolean;
}

export interface ChildState {
  initiatedEventId: number;
  startedEventId?: number;
  namespace: string;
  workflowId: string;
  runId?: string;
  workflowType: string;
  parentClosePolicy: string;
}

export interface UpdateState {
  updateId: string;
  request: P; // temporal.api.update.v1.Request
  stage: 'admitted' | 'accepted' | 'completed';
  outcome?: P;
  acceptedEventId?: number;
  delivered: boolean;
  waiters: Array<() => void>;
  /** Error to report to waiters when the update can never complete (run closed). */
  error?: Error;
}

export interface QueryState {
  id: string;
  query: P;
  resolve: (r: { result?: P; failure?: { message: string; failure?: P } }) => void;
  reject: (e: Error) => void;
  /** 'waiting' until dispatched either as a legacy task or attached to a workflow task. */
  state: 'waiting' | 'queued' | 'dispatched';
  nonce: number;
  /** Set while the query is offered to (or answered on) the run's sticky queue. */
  sticky?: boolean;
}

export interface Run {
  ns: Namespace;
  workflowId: string;
  runId: string;
  workflowType: string;
  taskQueue: string;
  status: RunStatus;
  events: P[];
  startTime: number;
  executionTime: number;
  closeTime?: number;
  startRequestId: string;
  requestIds: Set<string>;
  input?: P;
  header?: P;
  memo: Record<string, P>;
  searchAttributes: Record<string, P>;
  retryPolicy?: P;
  workflowExecutionTimeoutMs: number;
  workflowRunTimeoutMs: number;
  workflowTaskTimeoutMs: number;
  executionDeadline?: number;
  attempt: number;
  firstExecutionRunId: string;
  /** `root`: the top-level run of the parent's tree (the parent itself when it has no parent). */
  parent?: { namespace: string; workflowId: string; runId: string; initiatedEventId: number; root?: { workflowId: string; runId: string } };
  wft?: WorkflowTask;
  lastCompletedWftStartedEventId: number;
  buffered: BufferedWrite[];
  activities: Map<number, ActivityState>;
  bufferedActivityFinishes: Set<number>;
  timers: Map<string, { startedEventId: number; timer: ClockTimer }>;
  children: Map<number, ChildState>;
  updates: Map<string, UpdateState>;
  queries: Map<string, QueryState>;
  cancelRequested: boolean;
  runTimers: ClockTimer[];
  newExecutionRunId?: string;
  watchers: Set<() => void>;
  userMetadata?: P;
  stateTransitions: number;
  /** Approximate encoded size of the persisted history (payload bytes + per-event overhead). */
  historySizeBytes: number;
  /** Forces a new workflow task after the current completes (e.g. an update arrived mid-task). */
  needsWft: boolean;
  /** Stickiness from the last RespondWorkflowTaskCompleted (`stickyAttributes`), cleared on task failure/timeout. */
  sticky?: { queue: string; scheduleToStartMs: number };
}

export type Obj = Record<string, unknown>;
