/**
 * Typed API errors. The SDK recognises error kinds through gRPC status codes plus
 * `google.rpc.Status` details in the `grpc-status-details-bin` trailer, exactly as the
 * real frontend sends them.
 */
import { Metadata, status as Status } from '@grpc/grpc-js';
import { packAny, root } from '../proto';

export interface ErrorDetail { type: string; value: Record<string, unknown> }

export class ApiError extends Error {
  constructor(public readonly code: Status, message: string, public readonly detail?: ErrorDetail) {
    super(message);
  }

  toServiceError(): { code: Status; details: string; metadata: Metadata } {
    const metadata = new Metadata();
    // Never let error reporting itself fail: without details the status code still tells the story.
    try {
      const statusType = root.lookupType('google.rpc.Status');
      const details = this.detail ? [packAny(this.detail.type, this.detail.value)] : [];
      const buf = statusType.encode(statusType.fromObject({ code: this.code, message: this.message, details })).finish();
      metadata.set('grpc-status-details-bin', Buffer.from(buf));
    } catch (e) {
      console.error('temporal-lite: could not encode error details', e);
    }
    return { code: this.code, details: this.message, metadata };
  }
}

const ED = 'temporal.api.errordetails.v1.';

export const errors = {
  invalidArgument: (msg: string) => new ApiError(Status.INVALID_ARGUMENT, msg),
  notFound: (msg: string) => new ApiError(Status.NOT_FOUND, msg, { type: ED + 'NotFoundFailure', value: {} }),
  namespaceNotFound: (ns: string) =>
    new ApiError(Status.NOT_FOUND, `Namespace ${ns} is not found.`, { type: ED + 'NamespaceNotFoundFailure', value: { namespace: ns } }),
  alreadyStarted: (msg: string, startRequestId: string, runId: string) =>
    new ApiError(Status.ALREADY_EXISTS, msg, { type: ED + 'WorkflowExecutionAlreadyStartedFailure', value: { startRequestId, runId } }),
  workflowNotFound: (workflowId: string, runId?: string) =>
    new ApiError(Status.NOT_FOUND, `workflow not found for ID: ${workflowId}${runId ? ` run: ${runId}` : ''}`, { type: ED + 'NotFoundFailure', value: {} }),
  workflowCompleted: () => new ApiError(Status.NOT_FOUND, 'workflow execution already completed', { type: ED + 'NotFoundFailure', value: {} }),
  failedPrecondition: (msg: string) => new ApiError(Status.FAILED_PRECONDITION, msg),
  queryFailed: (msg: string, failure?: unknown) =>
    new ApiError(Status.INVALID_ARGUMENT, msg, { type: ED + 'QueryFailedFailure', value: failure ? { failure } : {} }),
  /** Real server (update registry abort, workflow completed): an update the run closed under before accepting it. */
  updateAbortedByClosing: () =>
    new ApiError(Status.NOT_FOUND, 'workflow update was aborted by closing workflow', { type: ED + 'NotFoundFailure', value: {} }),
  /** Real server (ErrWorkflowClosing): retryable; the caller's retry reaches the run that continued this one. */
  workflowClosing: () =>
    new ApiError(Status.RESOURCE_EXHAUSTED, 'workflow operation can not be applied because workflow is closing', {
      type: ED + 'ResourceExhaustedFailure',
      value: { cause: 'RESOURCE_EXHAUSTED_CAUSE_BUSY_WORKFLOW', scope: 'RESOURCE_EXHAUSTED_SCOPE_NAMESPACE' },
    }),
  /** Real server (update registry abort, workflow task failed): an update sent with a task the server failed. */
  updateWorkflowTaskFailed: () =>
    new ApiError(Status.FAILED_PRECONDITION, 'Unable to perform workflow execution update due to unexpected workflow task failure.', { type: ED + 'WorkflowNotReadyFailure', value: {} }),
  workflowNotReady: () =>
    new ApiError(Status.FAILED_PRECONDITION, 'Workflow Execution not ready to handle query.', { type: ED + 'WorkflowNotReadyFailure', value: {} }),
  unimplemented: (msg: string) => new ApiError(Status.UNIMPLEMENTED, msg),
  internal: (msg: string) => new ApiError(Status.INTERNAL, msg),
  deadlineExceeded: (msg: string) => new ApiError(Status.DEADLINE_EXCEEDED, msg),
  alreadyExists: (msg: string) => new ApiError(Status.ALREADY_EXISTS, msg),
};
