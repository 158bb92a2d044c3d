/**
 * The generation workflow's public contract: its input, its messages and their payloads.
 *
 * Exported so that a generation service can drive a generation with the Temporal client directly
 * (`client.workflow.start(generation, …)`, `handle.executeUpdate(reportOutcomeUpdate, …)`) instead of our
 * HTTP API. `define*` calls are pure, so this file is safe to import from workflows and from clients alike.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { FailureReason, SettlementAction, SettlementReason } from '../policy/settlement';
import type { GenerationOutput, OutputProblem } from '../policy/output-validation';

export type { FailureReason, SettlementReason, GenerationOutput, OutputProblem };

export const generationPlatforms = ['ios', 'android', 'web', 'api'] as const;
export type GenerationPlatform = (typeof generationPlatforms)[number];

export const generationWorkflowType = 'generation';
export const generationWorkflowId = (generationId: string): string => `generation:${generationId}`;

export interface GenerationInput {
  generationId: string;
  walletId: string;
  userId: string;
  feature: string;
  params: Record<string, unknown>;
  platform: GenerationPlatform;
  /** Where in the product the generation was made (editor, batch, catalog, …). */
  context?: string;
}

/** What the price book said when the generation started: recorded in history, never re-read. */
export interface GenerationQuote {
  priceBookVersion: string;
  costCredits: number;
  breakdown: unknown[];
  deadlineMs: number;
  maxDeadlineMs: number;
  acceptedContentTypes: string[];
}

export interface Reservation {
  generationId: string;
  holdId: string;
  costCredits: number;
  quote: GenerationQuote;
  reservedAt: string;
}

export interface OutcomeReport {
  status: 'succeeded' | 'failed';
  reason?: FailureReason;
  outputs?: GenerationOutput[];
}

export interface ProgressReport {
  percent?: number;
  /** Asks for the outcome deadline to move to now + this; capped by the feature's maximum. */
  extendDeadlineMs?: number;
  message?: string;
}

export interface CancelRequest {
  reason?: string;
}

export interface Settlement {
  generationId: string;
  walletId: string;
  action: SettlementAction;
  reason: SettlementReason;
  capturedCredits: number;
  releasedCredits: number;
  availableCreditsAfter: number;
  heldCreditsAfter: number;
  settledAt: string;
  outputProblems: OutputProblem[];
}

export type GenerationPhase = 'reserving' | 'reserved' | 'settling' | 'settled' | 'rejected';

export interface GenerationState {
  generationId: string;
  phase: GenerationPhase;
  costCredits: number | null;
  /** Workflow time when the wait for an outcome began; deadlines count from here. */
  startedAt: string | null;
  deadlineAt: string | null;
  /** How far progress reports may push the deadline. */
  maxDeadlineAt: string | null;
  progressPercent: number | null;
  reservation: Reservation | null;
  settlement: Settlement | null;
  rejection: { code: string; message: string; shortfallCredits?: number } | null;
}

/** Resolves once credits are held (or throws the refusal, e.g. `InsufficientCredits`). */
export const awaitReservationUpdate = defineUpdate<Reservation>('awaitReservation');
/** The generation service's verdict; answers with the settlement. Same report twice → same settlement. */
export const reportOutcomeUpdate = defineUpdate<Settlement, [OutcomeReport]>('reportOutcome');
/** The platform gave up on the generation before it finished: its credits are released. */
export const cancelGenerationUpdate = defineUpdate<Settlement, [CancelRequest]>('cancelGeneration');
export const reportProgressSignal = defineSignal<[ProgressReport]>('reportProgress');
export const generationStateQuery = defineQuery<GenerationState>('status');

/** Stable `ApplicationFailure` types the workflow raises. */
export const GenerationFailureType = {
  InsufficientCredits: 'InsufficientCredits',
  InvalidGenerationRequest: 'InvalidGenerationRequest',
  GenerationConflict: 'GenerationConflict',
  OutcomeConflict: 'OutcomeConflict',
  InvalidOutcome: 'InvalidOutcome',
  AlreadySettled: 'AlreadySettled',
} as const;
