/**
 * What a generation's verdict means for its hold: capture how much, or release — the whole settlement
 * policy (architecture §3) applied to one generation. Pure, so it is unit-tested apart from any I/O.
 */
import { deliveredCredits } from '../pricing/delivered';
import { contentTypeMatches, type PriceBook } from '../pricing';
import { findOutputProblems, type GenerationOutput, type OutputProblem } from './output-validation';
import { settlementActionFor, type SettlementAction, type SettlementPolicy, type SettlementReason } from './settlement';

export interface SettlementDecisionInput {
  feature: string;
  params: Record<string, unknown>;
  quotedCredits: number;
  /** The output content types the feature allowed when the generation was quoted (exact or `type/*`). */
  acceptedContentTypes: readonly string[];
  /** Why the wait ended: the reported outcome, `deadline_exceeded` or `cancelled`. */
  reason: SettlementReason;
  /** The outputs of a success. */
  outputs: readonly GenerationOutput[] | undefined;
  policy: SettlementPolicy;
  book: PriceBook;
}

export interface SettlementDecision {
  action: SettlementAction;
  /** A success whose outputs fail validation becomes `corrupted_output`. */
  reason: SettlementReason;
  /** For a capture: what to charge (≤ the quote); the rest of the hold is released. */
  captureCredits: number;
  outputProblems: OutputProblem[];
}

export function decideSettlement(input: SettlementDecisionInput): SettlementDecision {
  if (input.reason !== 'succeeded') {
    return { action: settlementActionFor(input.reason, input.policy), reason: input.reason, captureCredits: input.quotedCredits, outputProblems: [] };
  }
  const outputProblems = findOutputProblems(input.outputs, (contentType) => contentTypeMatches(input.acceptedContentTypes, contentType));
  if (outputProblems.length > 0) {
    return { action: settlementActionFor('corrupted_output', input.policy), reason: 'corrupted_output', captureCredits: input.quotedCredits, outputProblems };
  }
  const captureCredits = deliveredCredits(input.feature, input.params, input.outputs ?? [], input.quotedCredits, input.book);
  // Nothing delivered is nothing to charge.
  return { action: captureCredits > 0 ? 'capture' : 'release', reason: 'succeeded', captureCredits, outputProblems: [] };
}
