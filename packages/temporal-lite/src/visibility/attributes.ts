import { errorAt, VisibilityQueryError } from './errors';
import type { Literal, NameRef } from './parser';
import type { SearchAttributeType, VisibilityRecord } from './types';

/**
 * How a query sees an attribute. ExecutionStatus is a Keyword to the server but compares by its enum
 * number (Running=1 ... TimedOut=7), so it gets a kind of its own.
 */
export type AttributeKind = SearchAttributeType | 'ExecutionStatus';

/** A record value in comparable form: Datetime and ExecutionStatus become numbers; null means absent. */
export type Comparable = string | number | boolean | string[] | null;

export interface ResolvedAttribute {
  name: string;
  kind: AttributeKind;
  get(r: VisibilityRecord): Comparable;
}

export const EXECUTION_STATUSES = ['Running', 'Completed', 'Failed', 'Canceled', 'Terminated', 'ContinuedAsNew', 'TimedOut'] as const;

const SYSTEM: Record<string, { kind: AttributeKind; get(r: VisibilityRecord): Comparable }> = {
  WorkflowId: { kind: 'Keyword', get: (r) => r.workflowId },
  RunId: { kind: 'Keyword', get: (r) => r.runId },
  WorkflowType: { kind: 'Keyword', get: (r) => r.workflowType },
  TaskQueue: { kind: 'Keyword', get: (r) => r.taskQueue },
  ExecutionStatus: { kind: 'ExecutionStatus', get: (r) => EXECUTION_STATUSES.indexOf(r.status) + 1 },
  StartTime: { kind: 'Datetime', get: (r) => r.startTime.getTime() },
  CloseTime: { kind: 'Datetime', get: (r) => r.closeTime?.getTime() ?? null },
  ExecutionTime: { kind: 'Datetime', get: (r) => r.executionTime?.getTime() ?? null },
  // The real server's other system attributes; the UI's relationship views and saved views query the
  // parent/root ones (e.g. `ParentWorkflowId is null`, `RootWorkflowId = "..."`).
  ParentWorkflowId: { kind: 'Keyword', get: (r) => r.parentWorkflowId ?? null },
  ParentRunId: { kind: 'Keyword', get: (r) => r.parentRunId ?? null },
  RootWorkflowId: { kind: 'Keyword', get: (r) => r.rootWorkflowId ?? null },
  RootRunId: { kind: 'Keyword', get: (r) => r.rootRunId ?? null },
  HistoryLength: { kind: 'Int', get: (r) => r.historyLength ?? null },
  HistorySizeBytes: { kind: 'Int', get: (r) => r.historySizeBytes ?? null },
  StateTransitionCount: { kind: 'Int', get: (r) => r.stateTransitionCount ?? null },
  ExecutionDuration: { kind: 'Int', get: (r) => r.executionDuration ?? null },
};

/** System attribute names (kept as columns, not in `searchAttributes`), for ListSearchAttributes. */
export const SYSTEM_SEARCH_ATTRIBUTES: ReadonlyMap<string, SearchAttributeType> = new Map(
  Object.entries(SYSTEM).map(([name, a]) => [name, a.kind === 'ExecutionStatus' ? 'Keyword' : a.kind]),
);

/**
 * Search attributes the server itself (or the SDK) sets on executions, kept in `searchAttributes` like
 * custom ones; queryable without being registered, as on a real server.
 */
export const PREDEFINED_SEARCH_ATTRIBUTES: ReadonlyMap<string, SearchAttributeType> = new Map<string, SearchAttributeType>([
  ['TemporalChangeVersion', 'KeywordList'],
  ['BinaryChecksums', 'KeywordList'],
  ['BuildIds', 'KeywordList'],
  ['BatcherNamespace', 'Keyword'],
  ['BatcherUser', 'Keyword'],
  ['TemporalScheduledStartTime', 'Datetime'],
  ['TemporalScheduledById', 'Keyword'],
  ['TemporalSchedulePaused', 'Bool'],
  // Never set here (no schedules); the UI's legacy schedule count queries it.
  ['TemporalNamespaceDivision', 'Keyword'],
]);

export function resolveAttribute(ref: NameRef, types: ReadonlyMap<string, SearchAttributeType>): ResolvedAttribute {
  const system = SYSTEM[ref.name];
  if (system) return { name: ref.name, ...system };
  const type = types.get(ref.name) ?? PREDEFINED_SEARCH_ATTRIBUTES.get(ref.name);
  if (!type) {
    const known = [...Object.keys(SYSTEM), ...types.keys()];
    const twin = known.find((k) => k.toLowerCase() === ref.name.toLowerCase());
    const hint = twin ? ` (names are case-sensitive: did you mean '${twin}'?)` : '';
    throw errorAt(ref.pos, `'${ref.name}' is not a valid search attribute${hint}`);
  }
  const name = ref.name;
  return { name, kind: type, get: (r) => normalizeStored(r.searchAttributes[name], type) };
}

/** Brings a stored custom value to comparable form, tolerating the shapes a server may have kept. */
function normalizeStored(value: VisibilityRecord['searchAttributes'][string] | undefined, type: SearchAttributeType): Comparable {
  if (value === undefined || value === null) return null;
  if (type === 'KeywordList') {
    const list = Array.isArray(value) ? value : [String(value)];
    return list.length === 0 ? null : list;
  }
  // A legacy (untyped) search attribute arrives as a one-element list.
  const single = Array.isArray(value) ? (value.length === 1 ? value[0] : null) : value;
  if (single === null) return null;
  if (type === 'Datetime') {
    const ms = single instanceof Date ? single.getTime() : new Date(single as string | number).getTime();
    return Number.isNaN(ms) ? null : ms;
  }
  if (type === 'Int' || type === 'Double') {
    const n = typeof single === 'number' ? single : Number(single);
    return Number.isNaN(n) ? null : n;
  }
  if (type === 'Bool') return typeof single === 'boolean' ? single : single === 'true';
  return single instanceof Date ? single.toISOString() : String(single);
}

/** Converts a query literal to the attribute's comparable form, rejecting values of the wrong type. */
export function coerceLiteral(attr: ResolvedAttribute, lit: Literal): string | number | boolean {
  const bad = (expected: string): VisibilityQueryError =>
    errorAt(lit.pos, `invalid value ${lit.kind === 'string' ? `'${lit.text}'` : lit.text} for search attribute '${attr.name}' of type ${attr.kind}: expected ${expected}`);
  switch (attr.kind) {
    case 'Keyword': case 'Text': case 'KeywordList':
      if (lit.kind !== 'string') throw bad('a quoted string');
      return lit.value;
    case 'Int':
      if (lit.kind !== 'number' || !/^[-+]?[0-9]+$/.test(lit.text)) throw bad('an integer');
      if (!Number.isSafeInteger(lit.value)) throw bad('an integer within ±2^53');
      return lit.value;
    case 'Double':
      if (lit.kind !== 'number') throw bad('a number');
      return lit.value;
    case 'Bool':
      if (lit.kind === 'bool') return lit.value;
      if (lit.kind === 'string' && /^(true|false)$/i.test(lit.text)) return lit.text.toLowerCase() === 'true';
      throw bad('true or false');
    case 'Datetime':
      return coerceDatetime(lit, bad);
    case 'ExecutionStatus':
      return coerceStatus(lit, bad);
  }
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** RFC 3339 strings (as Go's time.RFC3339Nano parses them) or integer Unix nanoseconds → epoch ms. */
function coerceDatetime(lit: Literal, bad: (expected: string) => VisibilityQueryError): number {
  if (lit.kind === 'number' && /^[-+]?[0-9]+$/.test(lit.text)) return Number(BigInt(lit.text) / 1_000_000n);
  const m = lit.kind === 'string' ? RFC3339.exec(lit.text) : null;
  if (!m) throw bad('an RFC 3339 datetime such as 2024-01-02T03:04:05Z');
  // JS dates hold milliseconds: finer fractions are truncated, as they cannot be compared anyway.
  const fraction = m[2] ? m[2].slice(0, 4) : '';
  const ms = Date.parse(`${m[1]}${fraction}${m[3]}`.toUpperCase());
  if (Number.isNaN(ms)) throw bad('a valid calendar date and time');
  return ms;
}

/** Status names are matched case-insensitively; the enum numbers 1..7 are accepted too. */
function coerceStatus(lit: Literal, bad: (expected: string) => VisibilityQueryError): number {
  const expected = `one of ${EXECUTION_STATUSES.join(', ')}`;
  if (lit.kind === 'number') {
    if (Number.isInteger(lit.value) && (lit.value as number) >= 1 && (lit.value as number) <= 7) return lit.value as number;
    throw bad(expected);
  }
  if (lit.kind !== 'string') throw bad(expected);
  const text = lit.text.toLowerCase().replace(/^workflow_execution_status_/, '').replace(/_/g, '');
  const index = EXECUTION_STATUSES.findIndex((s) => s.toLowerCase() === text);
  if (index < 0) throw bad(expected);
  return index + 1;
}
