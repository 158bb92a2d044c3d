/**
 * Activities of the generation workflow: thin, idempotent wrappers over the pricing rules, the ledger and
 * the generations table. Every money-moving call carries an idempotency key unique to its operation
 * (`generation:<id>:reserve`, `generation:<id>:settle`), so a retried activity never moves money twice.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Pool } from 'pg';
import { capture, getBalance, getHold, isLedgerError, release, reserve } from '../ledger';
import { FEATURES, PricingError, isAllowedOutputContentType, isFeatureName, quote, type PriceBook } from '../pricing';
import { deliveredCredits } from '../pricing/delivered';
import { findOutputProblems, type GenerationOutput, type OutputProblem } from '../policy/output-validation';
import type { SettlementAction, SettlementPolicy, SettlementReason } from '../policy/settlement';
import { recordRejection, recordReservation, recordSettlement } from '../generations/store';
import {
  GenerationFailureType,
  type GenerationInput,
  type GenerationQuote,
  type OutcomeReport,
  type Reservation,
  type Settlement,
} from '../workflows/generation-contract';

export interface GenerationActivityDeps {
  pool: Pool;
  priceBook: PriceBook;
  settlementPolicy: SettlementPolicy;
  /** Progress reports may push the outcome deadline up to this multiple of the feature's deadline. */
  maxDeadlineFactor: number;
  /** A hold outlives the latest possible outcome deadline by this much; then the hold sweeper releases it. */
  holdExpiryGraceMs: number;
}

export interface PrepareGenerationInput { feature: string; params: Record<string, unknown> }
export interface PrepareGenerationResult { quote: GenerationQuote; settlementPolicy: SettlementPolicy; holdExpiryGraceMs: number }
export interface ReserveGenerationCreditsInput { generation: GenerationInput; quote: GenerationQuote; holdExpiresAt: string }
export interface InspectDeliveryInput { feature: string; params: Record<string, unknown>; quote: GenerationQuote; outputs: GenerationOutput[] }
export interface InspectDeliveryResult { problems: OutputProblem[]; deliveredCredits: number }
export interface SettleGenerationInput {
  generationId: string;
  holdId: string;
  action: SettlementAction;
  /** For a capture: how much to charge (≤ the hold); the rest is released. */
  captureCredits: number;
  reason: SettlementReason;
  report: OutcomeReport | undefined;
  outputProblems: OutputProblem[];
}

/** Ledger refusals that end a generation before it starts (everything else is retried). */
const refusalCodes = new Set(['InsufficientCredits', 'WalletNotFound', 'WalletClosed', 'InvalidAmount', 'IdempotencyConflict']);

export function createGenerationActivities(deps: GenerationActivityDeps) {
  const { pool, priceBook } = deps;

  async function prepareGeneration(input: PrepareGenerationInput): Promise<PrepareGenerationResult> {
    try {
      const q = quote(input.feature, input.params, priceBook);
      const feature = FEATURES[q.feature];
      return {
        quote: {
          priceBookVersion: q.priceBookVersion,
          costCredits: q.totalCredits,
          breakdown: q.breakdown,
          deadlineMs: feature.outcomeDeadlineMs,
          maxDeadlineMs: feature.outcomeDeadlineMs * deps.maxDeadlineFactor,
          acceptedContentTypes: [...feature.outputContentTypes],
        },
        settlementPolicy: deps.settlementPolicy,
        holdExpiryGraceMs: deps.holdExpiryGraceMs,
      };
    } catch (err) {
      if (!(err instanceof PricingError)) throw err;
      throw ApplicationFailure.create({
        type: GenerationFailureType.InvalidGenerationRequest, message: err.message, nonRetryable: true, details: [err.details],
      });
    }
  }

  async function reserveGenerationCredits(input: ReserveGenerationCreditsInput): Promise<Reservation> {
    const { generation, quote: q } = input;
    try {
      const hold = await reserve(pool, {
        walletId: generation.walletId,
        amountCredits: q.costCredits,
        holdExpiresAt: new Date(input.holdExpiresAt),
        generationId: generation.generationId,
        idempotencyKey: `generation:${generation.generationId}:reserve`,
        actor: `user:${generation.userId}`,
        reason: `${generation.feature} generation`,
      });
      const record = await recordReservation(pool, { generation, quote: q, holdId: hold.holdId });
      return { generationId: generation.generationId, holdId: hold.holdId, costCredits: q.costCredits, quote: q, reservedAt: record.reservedAt!.toISOString() };
    } catch (err) {
      if (!isLedgerError(err) || !refusalCodes.has(err.code)) throw err;
      const rejection = { code: err.code, message: err.message, shortfallCredits: err.shortfallCredits };
      await recordRejection(pool, { generation, quote: q, rejection });
      throw ApplicationFailure.create({ type: err.code, message: err.message, nonRetryable: true, details: [rejection] });
    }
  }

  async function inspectDelivery(input: InspectDeliveryInput): Promise<InspectDeliveryResult> {
    const feature = input.feature;
    const problems = findOutputProblems(input.outputs, (contentType) =>
      isFeatureName(feature) && isAllowedOutputContentType(feature, contentType));
    const credits = problems.length > 0 ? input.quote.costCredits
      : deliveredCredits(feature, input.params, input.outputs, input.quote.costCredits, priceBook);
    return { problems, deliveredCredits: credits };
  }

  async function settleGeneration(input: SettleGenerationInput): Promise<Settlement> {
    const settled = await resolveHold(input);
    const balance = await getBalance(pool, { walletId: settled.walletId });
    const settlement: Settlement = {
      generationId: input.generationId,
      walletId: settled.walletId,
      action: settled.capturedCredits > 0 ? 'capture' : 'release',
      reason: input.reason,
      capturedCredits: settled.capturedCredits,
      releasedCredits: settled.releasedCredits,
      availableCreditsAfter: balance.availableCredits,
      heldCreditsAfter: balance.heldCredits,
      settledAt: new Date().toISOString(),
      outputProblems: input.outputProblems,
    };
    const status = settlement.capturedCredits === 0 ? 'released'
      : settlement.releasedCredits > 0 ? 'partially_captured' : 'captured';
    return await recordSettlement(pool, { settlement, status, outcome: input.report });
  }

  /** Captures or releases the hold; if the hold sweeper already expired it, reports what really happened. */
  async function resolveHold(input: SettleGenerationInput) {
    const idempotencyKey = `generation:${input.generationId}:settle`;
    const reason = `generation ${input.reason}`;
    try {
      return input.action === 'capture' && input.captureCredits > 0
        ? await capture(pool, { holdId: input.holdId, amountCredits: input.captureCredits, idempotencyKey, reason })
        : await release(pool, { holdId: input.holdId, idempotencyKey, reason });
    } catch (err) {
      if (!isLedgerError(err, 'HoldAlreadyResolved')) throw err;
      return await getHold(pool, { holdId: input.holdId });
    }
  }

  return { prepareGeneration, reserveGenerationCredits, inspectDelivery, settleGeneration };
}

export type GenerationActivities = ReturnType<typeof createGenerationActivities>;
