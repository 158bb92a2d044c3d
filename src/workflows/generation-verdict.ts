/**
 * The verdict a generation receives (an outcome report or a cancel), checked by hand because workflow code
 * stays free of non-deterministic or heavy dependencies. The HTTP edge validates the same shapes with zod;
 * this check guards generation services that signal the workflow directly through the Temporal client.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import { failureReasons, type FailureReason } from '../policy/settlement';
import { GenerationFailureType, type OutcomeReport } from './generation-contract';

export type ReceivedVerdict = { kind: 'outcome'; report: OutcomeReport } | { kind: 'cancel' };

export function checkOutcomeReport(report: OutcomeReport): OutcomeReport {
  const invalid = (message: string) =>
    ApplicationFailure.create({ type: GenerationFailureType.InvalidOutcome, message, nonRetryable: true });
  if (report === null || typeof report !== 'object') throw invalid('the outcome must be an object');
  if (report.status !== 'succeeded' && report.status !== 'failed') throw invalid('status must be "succeeded" or "failed"');
  if (report.status === 'failed' && !failureReasons.includes(report.reason as FailureReason)) {
    throw invalid(`a failure needs a reason, one of ${failureReasons.join(', ')}`);
  }
  if (report.status === 'succeeded' && report.reason !== undefined) throw invalid('a success carries no reason');
  if (report.outputs !== undefined && !Array.isArray(report.outputs)) throw invalid('outputs must be a list');
  return report;
}

/** Two verdicts are the same when their canonical JSON matches (key order does not matter). */
export function sameReport(a: ReceivedVerdict, b: ReceivedVerdict): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** JSON with object keys sorted and undefined members dropped: equal values give equal strings. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
