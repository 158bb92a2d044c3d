import { compileVisibilityQuery } from '../../src/visibility';
import { record, TYPES } from './fixtures';

const matches = (query: string, r = record()) => compileVisibilityQuery(query, TYPES).matches(r);

describe('system attributes', () => {
  const r = record({ workflowId: 'order-42', workflowType: 'reserveCredits', taskQueue: 'billing', runId: 'abc' });

  it('an empty or blank query matches everything', () => {
    expect(matches('', r)).toBe(true);
    expect(matches('   \n\t', r)).toBe(true);
  });

  it.each([
    ["WorkflowId = 'order-42'", true],
    ["WorkflowId = 'order-4'", false],
    ["WorkflowId != 'order-42'", false],
    ['WorkflowId = "order-42"', true],
    ["`WorkflowId` = 'order-42'", true],
    ["WorkflowType = 'reserveCredits'", true],
    ["TaskQueue = 'billing'", true],
    ["RunId = 'abc'", true],
    ["WorkflowId IN ('x', 'order-42')", true],
    ["WorkflowId NOT IN ('x', 'order-42')", false],
    ["WorkflowId STARTS_WITH 'order-'", true],
    ["WorkflowId STARTS_WITH 'Order-'", false],
    ["WorkflowId NOT STARTS_WITH 'order-'", false],
    ["WorkflowId > 'order-41' AND WorkflowId < 'order-43'", true],
    ["WorkflowId BETWEEN 'order-40' AND 'order-49'", true],
    ["WorkflowId NOT BETWEEN 'order-40' AND 'order-49'", false],
  ])('%s → %s', (query, expected) => {
    expect(matches(query, r)).toBe(expected);
  });

  it('keywords are case-insensitive, attribute names are not', () => {
    expect(matches("WorkflowId = 'order-42' and TaskQueue in ('billing') oR not WorkflowId starts_with 'x'", r)).toBe(true);
    expect(() => matches("workflowid = 'order-42'", r)).toThrow(/'workflowid' is not a valid search attribute.*did you mean 'WorkflowId'/);
  });

  describe('ExecutionStatus', () => {
    const done = record({ status: 'Completed' });
    it.each([
      ["ExecutionStatus = 'Completed'", true],
      ["ExecutionStatus = 'completed'", true],
      ["ExecutionStatus = 'WORKFLOW_EXECUTION_STATUS_COMPLETED'", true],
      ['ExecutionStatus = 2', true],
      ["ExecutionStatus = 'Running'", false],
      ["ExecutionStatus != 'Running'", true],
      ["ExecutionStatus IN ('Failed', 'Completed')", true],
      ["ExecutionStatus NOT IN ('Failed', 'Completed')", false],
      // Ranges compare the enum numbers: Running=1 < Completed=2 < Failed=3.
      ["ExecutionStatus > 'Running'", true],
      ["ExecutionStatus >= 'Failed'", false],
    ])('%s → %s', (query, expected) => {
      expect(matches(query, done)).toBe(expected);
    });

    it('each of the seven statuses is recognised by name', () => {
      for (const status of ['Running', 'Completed', 'Failed', 'Canceled', 'Terminated', 'ContinuedAsNew', 'TimedOut'] as const) {
        expect(matches(`ExecutionStatus = '${status}'`, record({ status }))).toBe(true);
        expect(matches(`ExecutionStatus != '${status}'`, record({ status }))).toBe(false);
      }
    });

    it('rejects an unknown status and STARTS_WITH', () => {
      expect(() => matches("ExecutionStatus = 'Done'")).toThrow(/invalid value 'Done' for search attribute 'ExecutionStatus'.*Running, Completed/);
      expect(() => matches('ExecutionStatus = 9')).toThrow(/ExecutionStatus/);
      expect(() => matches("ExecutionStatus STARTS_WITH 'Run'")).toThrow(/'STARTS_WITH' is not supported.*'ExecutionStatus'/);
    });
  });

  describe('datetimes', () => {
    const closed = record({
      startTime: new Date('2024-05-01T10:00:00.000Z'),
      closeTime: new Date('2024-05-01T10:00:05.250Z'),
      executionTime: new Date('2024-05-01T10:00:00.000Z'),
    });
    it.each([
      ["StartTime = '2024-05-01T10:00:00Z'", true],
      ["StartTime = '2024-05-01T12:00:00+02:00'", true], // same instant, another offset
      ["StartTime > '2024-05-01T09:59:59.999Z'", true],
      ["StartTime > '2024-05-01T10:00:00.000000001Z'", false], // nanoseconds truncate to the same ms
      ["StartTime < '2024-05-01T10:00:00.001Z'", true],
      ["CloseTime BETWEEN '2024-05-01T10:00:05Z' AND '2024-05-01T10:00:06Z'", true],
      ["CloseTime > '2024-05-01T10:00:05.251Z'", false],
      ["ExecutionTime <= '2024-05-01T10:00:00Z'", true],
      ['StartTime = 1714557600000000000', true], // Unix nanoseconds
      ['CloseTime IS NOT NULL', true],
      ['CloseTime IS NULL', false],
    ])('%s → %s', (query, expected) => {
      expect(matches(query, closed)).toBe(expected);
    });

    it('compares chronologically, not as text', () => {
      // '2024-05-01T12:00:00+05:00' is 07:00Z: earlier than the start, although it sorts later as a string.
      expect(matches("StartTime > '2024-05-01T12:00:00+05:00'", closed)).toBe(true);
    });

    it('a running execution has no CloseTime: comparisons are unknown, even negated', () => {
      const running = record();
      expect(matches('CloseTime IS NULL', running)).toBe(true);
      expect(matches("CloseTime > '2000-01-01T00:00:00Z'", running)).toBe(false);
      expect(matches("NOT (CloseTime > '2000-01-01T00:00:00Z')", running)).toBe(false);
      expect(matches("CloseTime > '2000-01-01T00:00:00Z' OR WorkflowType = 'chargeWorkflow'", running)).toBe(true);
    });

    it.each(["StartTime > '2024-05-01'", "StartTime > 'yesterday'", "StartTime > '2024-13-45T99:00:00Z'", 'StartTime > 1.5', 'StartTime > true'])(
      'rejects %s',
      (query) => {
        expect(() => matches(query)).toThrow(/invalid value .* for search attribute 'StartTime' of type Datetime/);
      },
    );
  });
});
