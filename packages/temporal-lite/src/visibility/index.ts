/**
 * Visibility queries (the `query` of ListWorkflowExecutions / CountWorkflowExecutions): Temporal's
 * SQL-like list filter compiled to a predicate and an order over in-memory records.
 */
import { resolveAttribute } from './attributes';
import { errorAt } from './errors';
import { compileExpr, compileOrder } from './evaluate';
import { parseQuery } from './parser';
import type { SearchAttributeType, VisibilityRecord } from './types';

export type { SearchAttributeType, VisibilityRecord } from './types';
export { VisibilityQueryError } from './errors';
export { EXECUTION_STATUSES, PREDEFINED_SEARCH_ATTRIBUTES, SYSTEM_SEARCH_ATTRIBUTES } from './attributes';
export { decodeSearchAttributePayload } from './payload';

export interface CompiledVisibilityQuery {
  matches(r: VisibilityRecord): boolean;
  compare(a: VisibilityRecord, b: VisibilityRecord): number;
  /** `GROUP BY` attributes (Count only; the server allows just ExecutionStatus). Empty when absent. */
  groupBy: readonly string[];
}

/** Throws VisibilityQueryError (→ INVALID_ARGUMENT) for syntax errors, unknown attributes and bad values. */
export function compileVisibilityQuery(query: string, types: ReadonlyMap<string, SearchAttributeType>): CompiledVisibilityQuery {
  const parsed = parseQuery(query);
  const predicate = parsed.where ? compileExpr(parsed.where, types) : () => true;
  for (const ref of parsed.groupBy) {
    resolveAttribute(ref, types);
    if (ref.name !== 'ExecutionStatus') throw errorAt(ref.pos, `'GROUP BY' is only supported for ExecutionStatus, not '${ref.name}'`);
  }
  if (parsed.groupBy.length > 1) throw errorAt(parsed.groupBy[1].pos, "'GROUP BY' supports only a single field");
  return {
    matches: (r) => predicate(r) === true,
    compare: compileOrder(parsed.orderBy, types),
    groupBy: parsed.groupBy.map((ref) => ref.name),
  };
}
