/** Retry policy defaults and the retry decision shared by activities and workflows (server rules). */
import type { P } from './types';
import { dur, toMs } from './util';

export function fillRetryPolicy(rp: P | undefined): P {
  const initial = toMs(rp?.initialInterval) || 1000;
  const coefficient = rp?.backoffCoefficient && rp.backoffCoefficient > 0 ? rp.backoffCoefficient : 2;
  const maxInterval = toMs(rp?.maximumInterval) || 100 * initial;
  return {
    initialInterval: dur(initial),
    backoffCoefficient: coefficient,
    maximumInterval: dur(maxInterval),
    maximumAttempts: rp?.maximumAttempts ?? 0,
    nonRetryableErrorTypes: rp?.nonRetryableErrorTypes ?? [],
  };
}

export interface RetryDecision { retryState: string; backoffMs: number }

/**
 * Decides whether attempt `attempt` (1-based) that failed with `failure` is retried.
 * Timeouts are retryable except schedule-to-start / schedule-to-close; an application
 * failure is not when flagged nonRetryable or its type is listed as non-retryable; canceled and
 * terminated failures never are.
 */
export function computeRetry(now: number, attempt: number, rp: P, failure: P, deadline: number | undefined): RetryDecision {
  const none = (retryState: string): RetryDecision => ({ retryState, backoffMs: 0 });
  // Real server (retrypolicy.IsRetryableFailure): a canceled or terminated failure is never retried,
  // nor is a server failure flagged non-retryable.
  if (failure?.canceledFailureInfo || failure?.terminatedFailureInfo || failure?.serverFailureInfo?.nonRetryable) {
    return none('RETRY_STATE_NON_RETRYABLE_FAILURE');
  }
  const app = failure?.applicationFailureInfo;
  if (app?.nonRetryable) return none('RETRY_STATE_NON_RETRYABLE_FAILURE');
  const t = failure?.timeoutFailureInfo?.timeoutType;
  if (t === 'TIMEOUT_TYPE_SCHEDULE_TO_START' || t === 'TIMEOUT_TYPE_SCHEDULE_TO_CLOSE') return none('RETRY_STATE_TIMEOUT');
  const errorType: string | undefined = app?.type ?? (t ? 'TemporalTimeout:' + timeoutName(t) : undefined);
  if (errorType && (rp.nonRetryableErrorTypes ?? []).includes(errorType)) return none('RETRY_STATE_NON_RETRYABLE_FAILURE');
  const maxAttempts = Number(rp.maximumAttempts ?? 0);
  if (maxAttempts > 0 && attempt >= maxAttempts) return none('RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED');
  const initial = toMs(rp.initialInterval) || 1000;
  const coefficient = Number(rp.backoffCoefficient) || 2;
  const maxInterval = toMs(rp.maximumInterval) || 100 * initial;
  let backoff = Math.min(initial * Math.pow(coefficient, attempt - 1), maxInterval);
  const nextDelay = toMs(app?.nextRetryDelay);
  if (nextDelay > 0) backoff = nextDelay;
  if (deadline !== undefined && now + backoff >= deadline) return none('RETRY_STATE_TIMEOUT');
  return { retryState: 'RETRY_STATE_IN_PROGRESS', backoffMs: Math.round(backoff) };
}

function timeoutName(t: string): string {
  return t.replace('TIMEOUT_TYPE_', '').split('_').map((w) => w[0] + w.slice(1).toLowerCase()).join('');
}
