/** The record and type vocabulary shared by the visibility module and the server core. */
export type SearchAttributeType = 'Keyword' | 'Text' | 'Int' | 'Double' | 'Bool' | 'Datetime' | 'KeywordList';

export interface VisibilityRecord {
  workflowId: string;
  runId: string;
  workflowType: string;
  status: 'Running' | 'Completed' | 'Failed' | 'Canceled' | 'Terminated' | 'ContinuedAsNew' | 'TimedOut';
  startTime: Date;
  closeTime?: Date;
  executionTime?: Date;
  taskQueue: string;
  searchAttributes: Record<string, string | number | boolean | Date | string[] | null>;
}
