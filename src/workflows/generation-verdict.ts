/**
 * The verdict a generation receives (an outcome report or a cancel), checked by hand because workflow code
 * stays free of non-deterministic or heavy dependencies. The HTTP edge validates the same shapes with zod;
 * this check guards generation services that signal the workflow directly through the Temporal client.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import { boundedTextReason } from '../db/text';
import { failureReasons, type FailureReason } from '../policy/settlement';
import { GenerationFailureType, type OutcomeReport } from './generation-contract';

export type ReceivedVerdict = { kind: 'outcome'; report: OutcomeReport } | { kind: 'cancel' };

export function checkOutcomeReport(report: OutcomeReport): OutcomeReport {
  const invalid = (message: string) =>
    ApplicationFailure.create({ type: GenerationFailureType.InvalidOutcome, message, nonRetryable: true });
  if (report === null || typeof report !== 'object' || Array.isArray(report)) throw invalid('the outcome must be an object');
  const unknownKey = Object.keys(report).find((key) => !OUTCOME_KEYS.has(key));
  if (unknownKey !== undefined) throw invalid(`unknown field ${JSON.stringify(unknownKey)}`);
  if (report.status !== 'succeeded' && report.status !== 'failed') throw invalid('status must be "succeeded" or "failed"');
  if (report.status === 'failed' && !failureReasons.includes(report.reason as FailureReason)) {
    throw invalid(`a failure needs a reason, one of ${failureReasons.join(', ')}`);
  }
  if (report.status === 'succeeded' && report.reason !== undefined) throw invalid('a success carries no reason');
  if (report.outputs !== undefined) {
    if (!Array.isArray(report.outputs) || report.outputs.length > MAX_OUTPUTS) throw invalid(`outputs must be a list of at most ${MAX_OUTPUTS}`);
    report.outputs.forEach((output, index) => {
      const problem = outputShapeProblem(output);
      if (problem) throw invalid(`outputs[${index}]: ${problem}`);
    });
  }
  return report;
}

const MAX_OUTPUTS = 100;
// The fields the HTTP schema (OutcomeBody, GenerationOutputSchema) knows: the report is stored as it came, so an
// unknown field — possibly carrying text Postgres cannot hold — would fail the settlement after the money moved.
const OUTCOME_KEYS = new Set(['status', 'reason', 'outputs']);
const OUTPUT_KEYS = new Set(['url', 'sizeBytes', 'contentType', 'sha256', 'width', 'height', 'durationSeconds', 'blank']);
const SHA256 = /^[0-9a-f]{64}$/i;

/** `field` and why its value is not storable text of at most `max` characters, or null. */
function textProblem(value: unknown, field: string, max: number): string | null {
  const reason = boundedTextReason(value, max);
  return reason === null ? null : `${field} ${reason}`;
}

/**
 * The shape the HTTP schema enforces, for reports that arrive through the Temporal client: a malformed output
 * must be refused here, where the reporter gets the error, not fail the settlement (which would retry forever).
 */
function outputShapeProblem(output: unknown): string | null {
  if (output === null || typeof output !== 'object' || Array.isArray(output)) return 'must be an object';
  const o = output as Record<string, unknown>;
  const unknownKey = Object.keys(o).find((key) => !OUTPUT_KEYS.has(key));
  if (unknownKey !== undefined) return `unknown field ${JSON.stringify(unknownKey)}`;
  const urlProblem = textProblem(o['url'], 'url', 2048);
  if (urlProblem) return urlProblem;
  if (!Number.isSafeInteger(o['sizeBytes']) || (o['sizeBytes'] as number) < 0) return 'sizeBytes must be an integer ≥ 0';
  const contentTypeProblem = textProblem(o['contentType'], 'contentType', 200);
  if (contentTypeProblem) return contentTypeProblem;
  if (o['sha256'] !== undefined && !(typeof o['sha256'] === 'string' && SHA256.test(o['sha256']))) return 'sha256 must be 64 hex characters';
  for (const field of ['width', 'height'] as const) {
    if (o[field] !== undefined && !(Number.isSafeInteger(o[field]) && (o[field] as number) > 0)) return `${field} must be a positive integer`;
  }
  const duration = o['durationSeconds'];
  if (duration !== undefined && !(typeof duration === 'number' && Number.isFinite(duration) && duration >= 0)) {
    return 'durationSeconds must be a number ≥ 0';
  }
  if (o['blank'] !== undefined && typeof o['blank'] !== 'boolean') return 'blank must be true or false';
  return null;
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
