/**
 * Workflow task commands → history events, in command order, right after
 * WorkflowTaskCompleted. Validation runs first so that a bad command fails the whole
 * task without writing anything (the real server discards the transaction).
 */
import { requestCancelActivity, scheduleActivity, validateActivityCommand } from './activities';
import { requestCancelExternal, signalExternal, startChild } from './children';
import type { Engine } from './engine';
import { continueAsNew, failRun } from './lifecycle';
import { isRemoval, mergeSearchAttributes, validateSearchAttributes } from './search-attributes';
import { cancelTimer, startTimer } from './timers';
import type { P, Run } from './types';
import { applyUpdateMessage, settleUpdateAfterClose } from './updates';
import { toMs } from './util';

const CLOSE_COMMANDS = new Set([
  'COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION',
  'COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION',
  'COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION',
  'COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION',
]);

export interface CommandProblem { cause: string; message: string }

export function validateCommands(engine: Engine, run: Run, commands: P[], messages: P[]): CommandProblem | undefined {
  const timersInBatch = new Set<string>();
  const activitiesInBatch = new Set<string>();
  for (const cmd of commands) {
    const type: string = cmd.commandType;
    const bad = (what: string, message: string): CommandProblem => ({ cause: `WORKFLOW_TASK_FAILED_CAUSE_BAD_${what}`, message });
    switch (type) {
      case 'COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK': {
        const a = cmd.scheduleActivityTaskCommandAttributes;
        const msg = validateActivityCommand(run, a, activitiesInBatch);
        if (msg) return bad('SCHEDULE_ACTIVITY_ATTRIBUTES', msg);
        activitiesInBatch.add(a.activityId);
        break;
      }
      case 'COMMAND_TYPE_START_TIMER': {
        const a = cmd.startTimerCommandAttributes;
        if (!a?.timerId) return bad('START_TIMER_ATTRIBUTES', 'TimerId is not set.');
        if (run.timers.has(a.timerId) || timersInBatch.has(a.timerId)) return { cause: 'WORKFLOW_TASK_FAILED_CAUSE_BAD_START_TIMER_DUPLICATE_ID', message: `Timer ID ${a.timerId} already in use` };
        if (toMs(a.startToFireTimeout) <= 0) return bad('START_TIMER_ATTRIBUTES', 'A valid StartToFireTimeout is not set on command.');
        timersInBatch.add(a.timerId);
        break;
      }
      case 'COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES':
      case 'COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION':
      case 'COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION': {
        const a = cmd.upsertWorkflowSearchAttributesCommandAttributes ?? cmd.continueAsNewWorkflowExecutionCommandAttributes ?? cmd.startChildWorkflowExecutionCommandAttributes;
        try {
          validateSearchAttributes(run.ns, a?.searchAttributes?.indexedFields ?? {});
        } catch (e) {
          return { cause: 'WORKFLOW_TASK_FAILED_CAUSE_BAD_SEARCH_ATTRIBUTES', message: (e as Error).message };
        }
        if (type === 'COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION' && (!a?.workflowId || !a?.workflowType?.name)) {
          return bad('START_CHILD_EXECUTION_ATTRIBUTES', 'Required field WorkflowId or WorkflowType is not set on command.');
        }
        break;
      }
      case undefined:
      case 'COMMAND_TYPE_UNSPECIFIED':
        return { cause: 'WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND', message: 'Unknown command type.' };
      default:
        break;
    }
    // New events or update requests arrived while the worker was deciding to close: it must see them first.
    if (CLOSE_COMMANDS.has(type)) {
      const undelivered = [...run.updates.values()].some((u) => u.stage === 'admitted' && !u.delivered);
      if (run.buffered.length > 0 || undelivered) {
        return { cause: 'WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND', message: 'UnhandledCommand: new events or messages arrived before the workflow could close.' };
      }
    }
  }
  void engine;
  void messages;
  return undefined;
}

export function applyCommands(engine: Engine, run: Run, commands: P[], messages: P[], completedId: number, identity: string | undefined): { newTaskNeeded: boolean; postCommit: Array<() => void> } {
  const postCommit: Array<() => void> = [];
  let newTaskNeeded = false;
  const wtc = String(completedId);
  const pendingMessages = new Map<string, P>(messages.map((m) => [m.id, m]));
  const takeMessage = (id: string): void => {
    const m = pendingMessages.get(id);
    if (!m) return;
    pendingMessages.delete(id);
    applyUpdateMessage(engine, run, m, completedId);
  };
  for (const cmd of commands) {
    if (run.status !== 'Running') break; // commands after a close command are ignored
    switch (cmd.commandType as string) {
      case 'COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK':
        scheduleActivity(engine, run, cmd.scheduleActivityTaskCommandAttributes, completedId);
        break;
      case 'COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK':
        if (requestCancelActivity(engine, run, Number(cmd.requestCancelActivityTaskCommandAttributes?.scheduledEventId), completedId, identity)) newTaskNeeded = true;
        break;
      case 'COMMAND_TYPE_START_TIMER':
        startTimer(engine, run, cmd.startTimerCommandAttributes, completedId);
        break;
      case 'COMMAND_TYPE_CANCEL_TIMER':
        cancelTimer(engine, run, cmd.cancelTimerCommandAttributes?.timerId, completedId, identity);
        break;
      case 'COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION':
        engine.closeRun(run, 'Completed', 'WorkflowExecutionCompleted', { result: cmd.completeWorkflowExecutionCommandAttributes?.result, workflowTaskCompletedEventId: wtc });
        break;
      case 'COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION':
        failRun(engine, run, cmd.failWorkflowExecutionCommandAttributes?.failure, completedId);
        break;
      case 'COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION':
        engine.closeRun(run, 'Canceled', 'WorkflowExecutionCanceled', { details: cmd.cancelWorkflowExecutionCommandAttributes?.details, workflowTaskCompletedEventId: wtc });
        break;
      case 'COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION':
        continueAsNew(engine, run, cmd.continueAsNewWorkflowExecutionCommandAttributes ?? {}, completedId);
        break;
      case 'COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION':
        postCommit.push(startChild(engine, run, cmd.startChildWorkflowExecutionCommandAttributes, completedId));
        break;
      case 'COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION':
        postCommit.push(signalExternal(engine, run, cmd.signalExternalWorkflowExecutionCommandAttributes, completedId));
        break;
      case 'COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION':
        postCommit.push(requestCancelExternal(engine, run, cmd.requestCancelExternalWorkflowExecutionCommandAttributes, completedId));
        break;
      case 'COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES': {
        const fields = cmd.upsertWorkflowSearchAttributesCommandAttributes?.searchAttributes?.indexedFields ?? {};
        engine.append(run, 'UpsertWorkflowSearchAttributes', { workflowTaskCompletedEventId: wtc, searchAttributes: { indexedFields: fields } });
        mergeSearchAttributes(run.searchAttributes, fields);
        break;
      }
      case 'COMMAND_TYPE_MODIFY_WORKFLOW_PROPERTIES': {
        const memo = cmd.modifyWorkflowPropertiesCommandAttributes?.upsertedMemo;
        engine.append(run, 'WorkflowPropertiesModified', { workflowTaskCompletedEventId: wtc, upsertedMemo: memo });
        for (const [k, v] of Object.entries((memo?.fields ?? {}) as Record<string, P>)) {
          if (isRemoval(v)) delete run.memo[k];
          else run.memo[k] = v;
        }
        break;
      }
      case 'COMMAND_TYPE_RECORD_MARKER': {
        const a = cmd.recordMarkerCommandAttributes ?? {};
        engine.append(run, 'MarkerRecorded', { markerName: a.markerName, details: a.details, workflowTaskCompletedEventId: wtc, header: a.header, failure: a.failure });
        break;
      }
      case 'COMMAND_TYPE_PROTOCOL_MESSAGE':
        takeMessage(cmd.protocolMessageCommandAttributes?.messageId);
        break;
      default:
        break;
    }
  }
  // Messages not sequenced by a command are processed after the commands (real server order).
  // If a close command ended the run first, no event can follow the close event; the outcome a
  // Response carries still reaches the update's callers instead of a bare NOT_FOUND.
  for (const id of [...pendingMessages.keys()]) {
    if (run.status === 'Running') takeMessage(id);
    else settleUpdateAfterClose(run, pendingMessages.get(id));
  }
  return { newTaskNeeded, postCommit };
}
