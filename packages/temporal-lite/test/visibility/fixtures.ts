import type { SearchAttributeType, VisibilityRecord } from '../../src/visibility';

/** Registered custom attributes used across the visibility tests. */
export const TYPES: ReadonlyMap<string, SearchAttributeType> = new Map<string, SearchAttributeType>([
  ['CustomKeyword', 'Keyword'],
  ['CustomText', 'Text'],
  ['CustomInt', 'Int'],
  ['CustomDouble', 'Double'],
  ['CustomBool', 'Bool'],
  ['CustomDatetime', 'Datetime'],
  ['CustomList', 'KeywordList'],
  ['Weird-Name', 'Keyword'],
]);

let seq = 0;

export function record(overrides: Partial<VisibilityRecord> = {}): VisibilityRecord {
  seq++;
  return {
    workflowId: `wf-${seq}`,
    runId: `run-${String(seq).padStart(4, '0')}`,
    workflowType: 'chargeWorkflow',
    status: 'Running',
    startTime: new Date('2024-05-01T10:00:00Z'),
    taskQueue: 'main',
    searchAttributes: {},
    ...overrides,
  };
}

export function withAttrs(searchAttributes: VisibilityRecord['searchAttributes'], overrides: Partial<VisibilityRecord> = {}): VisibilityRecord {
  return record({ ...overrides, searchAttributes });
}
