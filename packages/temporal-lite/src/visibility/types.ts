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
  /** Set for child workflows (absent for top-level runs). */
  parentWorkflowId?: string;
  parentRunId?: string;
  /** The top-level run of the tree this run belongs to (the run itself when it has no parent). */
  rootWorkflowId?: string;
  rootRunId?: string;
  historyLength?: number;
  historySizeBytes?: number;
  stateTransitionCount?: number;
  /** Nanoseconds from ExecutionTime to CloseTime; absent while running. */
  executionDuration?: number;
  searchAttributes: Record<string, string | number | boolean | Date | string[] | null>;
}
