import { compileVisibilityQuery } from '../../src/visibility';
import type { VisibilityRecord } from '../../src/visibility';
import { record, TYPES, withAttrs } from './fixtures';

const sortBy = (query: string, records: VisibilityRecord[]) =>
  [...records].sort(compileVisibilityQuery(query, TYPES).compare).map((r) => r.workflowId);

describe('ordering', () => {
  const at = (iso: string) => new Date(iso);
  const a = record({ workflowId: 'a', runId: 'r2', startTime: at('2024-01-01T00:00:02Z') });
  const b = record({ workflowId: 'b', runId: 'r1', startTime: at('2024-01-01T00:00:02Z') });
  const c = record({ workflowId: 'c', runId: 'r3', startTime: at('2024-01-01T00:00:03Z'), closeTime: at('2024-01-01T00:01:00Z') });
  const d = record({ workflowId: 'd', runId: 'r0', startTime: at('2024-01-01T00:00:01Z'), closeTime: at('2024-01-01T00:00:30Z') });

  it('defaults to open runs first, then CloseTime DESC, StartTime DESC, RunId ascending (as the real server)', () => {
    expect(sortBy('', [a, b, c, d])).toEqual(['b', 'a', 'c', 'd']);
    expect(sortBy("WorkflowId != 'zzz'", [d, c, b, a])).toEqual(['b', 'a', 'c', 'd']);
    // A closed run that started last still comes after every open run, and closed runs go by close time.
    const e = record({ workflowId: 'e', runId: 'r4', startTime: at('2024-01-01T00:00:09Z'), closeTime: at('2024-01-01T00:00:10Z') });
    expect(sortBy('', [e, d, c, b, a])).toEqual(['b', 'a', 'c', 'd', 'e']);
  });

  it('orders by the given fields and directions, RunId breaking ties', () => {
    expect(sortBy('ORDER BY StartTime', [a, b, c, d])).toEqual(['d', 'b', 'a', 'c']);
    expect(sortBy('ORDER BY StartTime ASC', [a, b, c, d])).toEqual(['d', 'b', 'a', 'c']);
    expect(sortBy('order by WorkflowId desc', [a, b, c, d])).toEqual(['d', 'c', 'b', 'a']);
    expect(sortBy('ORDER BY StartTime DESC, WorkflowId DESC', [a, b, c, d])).toEqual(['c', 'b', 'a', 'd']);
  });

  it('puts absent values last in both directions', () => {
    expect(sortBy('ORDER BY CloseTime ASC', [a, b, c, d])).toEqual(['d', 'c', 'b', 'a']);
    expect(sortBy('ORDER BY CloseTime DESC', [a, b, c, d])).toEqual(['c', 'd', 'b', 'a']);
  });

  it('orders custom numbers numerically and statuses by their enum number', () => {
    const n = (id: string, v: number) => withAttrs({ CustomInt: v }, { workflowId: id });
    expect(sortBy('ORDER BY CustomInt', [n('ten', 10), n('two', 2), n('minus', -1)])).toEqual(['minus', 'two', 'ten']);
    const s = (id: string, status: VisibilityRecord['status']) => record({ workflowId: id, status });
    expect(sortBy('ORDER BY ExecutionStatus', [s('t', 'TimedOut'), s('r', 'Running'), s('f', 'Failed')])).toEqual(['r', 'f', 't']);
  });

  it('combines a filter with ORDER BY', () => {
    const q = compileVisibilityQuery("StartTime >= '2024-01-01T00:00:02Z' ORDER BY RunId", TYPES);
    expect([a, b, c, d].filter(q.matches).sort(q.compare).map((r) => r.runId)).toEqual(['r1', 'r2', 'r3']);
  });

  it('reports GROUP BY ExecutionStatus for Count', () => {
    expect(compileVisibilityQuery("WorkflowType = 'x' GROUP BY ExecutionStatus", TYPES).groupBy).toEqual(['ExecutionStatus']);
    expect(compileVisibilityQuery('', TYPES).groupBy).toEqual([]);
  });
});
