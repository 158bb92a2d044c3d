/**
 * Activities of the generation workflow — reserve (quote + hold) and settle (validate + decide + capture or
 * release): thin, idempotent wrappers over the pricing and settlement rules, the ledger and the generations table. Every money-moving call carries an idempotency key unique to its operation
 * (`generation:<id>:reserve`, `generation:<id>:settle`), so a retried activity never moves money twice.
 */
import { createHash } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Pool } from 'pg';
import { boundedTextReason } from '../db/text';
import { capture, getBalance, getHold, isLedgerError, release, reserve } from '../ledger';
import { FEATURES, PricingError, quote, type PriceBook } from '../pricing';
import type { SettlementPolicy, SettlementReason } from '../policy/settlement';
import { decideSettlement, type SettlementDecision } from '../policy/settlement-decision';
import { settlementOf } from '../generations/settlement';
import { recordRejection, recordReservation, recordSettlement } from '../generations/store';
import {
  GenerationFailureType,
  generationPlatforms,
  generationWorkflowId,
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
  /** Validity of the refund lot that released credits of an expired lot come back as (REFUND_LOT_VALIDITY_DAYS). */
  refundLotValidityDays: number;
}

export interface ReserveGenerationInput {
  generation: GenerationInput;
  /** Workflow time when the generation started: deadlines and the hold's expiry count from it. */
  startedAt: string;
}
export interface ReserveGenerationResult {
  quote: GenerationQuote;
  /** The policy in force when the generation started; it settles with this one, whatever changes later. */
  settlementPolicy: SettlementPolicy;
  /** The price book it was quoted from: a short delivery is re-priced with this one, not a newer one. */
  priceBook: PriceBook;
  reservation: Reservation;
}
export interface SettleGenerationInput {
  generation: GenerationInput;
  holdId: string;
  quote: GenerationQuote;
  settlementPolicy: SettlementPolicy;
  /** Absent in histories recorded before it was kept: then the worker's current book re-prices. */
  priceBook?: PriceBook;
  /** Why the wait ended: the reported outcome, `deadline_exceeded` or `cancelled`. */
  reason: SettlementReason;
  report: OutcomeReport | undefined;
}

/**
 * Ledger refusals that end a generation before it starts (everything else is retried), as the generation's
 * callers know them: the reserve key already holding credits for other content (a run of the same id quoted
 * differently) is a GenerationConflict; an amount the ledger refuses, a bad request.
 */
const refusalCodes = new Map<string, string>([
  ['InsufficientCredits', GenerationFailureType.InsufficientCredits],
  ['WalletNotFound', 'WalletNotFound'],
  ['WalletClosed', 'WalletClosed'],
  ['InvalidAmount', GenerationFailureType.InvalidGenerationRequest],
  ['IdempotencyConflict', GenerationFailureType.GenerationConflict],
]);

export function createGenerationActivities(deps: GenerationActivityDeps) {
  const { pool, priceBook } = deps;

  /** Quotes the generation (recording the price book's version) and holds its credits, in one step. */
  async function reserveGeneration(input: ReserveGenerationInput): Promise<ReserveGenerationResult> {
    requireWellFormed(input.generation);
    const quoted = quoteGeneration(input.generation);
    const startedAtMs = Date.parse(input.startedAt);
    // The hold outlives the longest possible wait by a grace period; past it, the hold sweeper releases it. A
    // reservation made late (the ledger was out of reach for longer than the wait) still gets the grace from now.
    const holdExpiresAt = new Date(Math.max(startedAtMs + quoted.maxDeadlineMs, Date.now()) + deps.holdExpiryGraceMs);
    const reservation = await reserveCredits(input.generation, quoted, holdExpiresAt);
    return { quote: quoted, settlementPolicy: deps.settlementPolicy, priceBook, reservation };
  }

  function quoteGeneration(generation: GenerationInput): GenerationQuote {
    try {
      const q = quote(generation.feature, generation.params, priceBook);
      const feature = FEATURES[q.feature];
      return {
        priceBookVersion: q.priceBookVersion,
        costCredits: q.totalCredits,
        breakdown: q.breakdown,
        deadlineMs: feature.outcomeDeadlineMs,
        maxDeadlineMs: feature.outcomeDeadlineMs * deps.maxDeadlineFactor,
        acceptedContentTypes: [...feature.outputContentTypes],
      };
    } catch (err) {
      if (!(err instanceof PricingError)) throw err;
      throw ApplicationFailure.create({
        type: GenerationFailureType.InvalidGenerationRequest, message: err.message, nonRetryable: true, details: [err.details],
      });
    }
  }

  async function reserveCredits(generation: GenerationInput, q: GenerationQuote, holdExpiresAt: Date): Promise<Reservation> {
    try {
      const hold = await reserve(pool, {
        walletId: generation.walletId,
        amountCredits: q.costCredits,
        holdExpiresAt,
        generationId: generation.generationId,
        idempotencyKey: ledgerKey(generation.generationId, 'reserve'),
        actor: `user:${generation.userId}`,
        reason: `${generation.feature} generation`,
      });
      const record = await recordReservation(pool, { generation, quote: q, holdId: hold.holdId });
      return { generationId: generation.generationId, holdId: hold.holdId, costCredits: q.costCredits, quote: q, reservedAt: record.reservedAt!.toISOString() };
    } catch (err) {
      if (!isLedgerError(err) || !refusalCodes.has(err.code)) throw err;
      const rejection = { code: refusalCodes.get(err.code)!, message: err.message, shortfallCredits: err.shortfallCredits };
      await recordRejection(pool, { generation, quote: q, rejection });
      throw ApplicationFailure.create({ type: rejection.code, message: err.message, nonRetryable: true, details: [rejection] });
    }
  }

  /**
   * Validates a success's outputs, applies the settlement policy, and captures (possibly partially) or
   * releases the hold — then records the settlement. Retried, it answers the first settlement.
   */
  async function settleGeneration(input: SettleGenerationInput): Promise<Settlement> {
    const { generation } = input;
    const decision = decideSettlement({
      feature: generation.feature, params: generation.params, quotedCredits: input.quote.costCredits,
      acceptedContentTypes: input.quote.acceptedContentTypes, reason: input.reason,
      outputs: input.report?.outputs, policy: input.settlementPolicy, book: input.priceBook ?? priceBook,
    });
    const settled = await resolveHold({ generationId: generation.generationId, holdId: input.holdId, ...decision });
    const { settlement, status } = settlementOf({
      generationId: generation.generationId,
      hold: settled,
      // Only the hold sweeper expires holds: it got there first, and the settlement says so.
      reason: settled.state === 'expired' ? 'hold_expired' : decision.reason,
      balanceAfter: await getBalance(pool, { walletId: settled.walletId }),
      settledAt: new Date(),
      outputProblems: decision.outputProblems,
    });
    return await recordSettlement(pool, { settlement, status, outcome: input.report });
  }

  /**
   * Captures or releases the hold. If it was already resolved — by the hold sweeper, or under this key by an
   * earlier run of the same generation with another verdict — reports what really happened to it.
   */
  async function resolveHold(input: { generationId: string; holdId: string } & SettlementDecision) {
    const idempotencyKey = ledgerKey(input.generationId, 'settle');
    const reason = `generation ${input.reason}`;
    const { refundLotValidityDays } = deps;
    try {
      return input.action === 'capture' && input.captureCredits > 0
        ? await capture(pool, { holdId: input.holdId, amountCredits: input.captureCredits, idempotencyKey, reason, refundLotValidityDays })
        : await release(pool, { holdId: input.holdId, idempotencyKey, reason, refundLotValidityDays });
    } catch (err) {
      if (!isLedgerError(err, 'HoldAlreadyResolved') && !isLedgerError(err, 'IdempotencyConflict')) throw err;
      return await getHold(pool, { holdId: input.holdId });
    }
  }

  return { reserveGeneration, settleGeneration };
}

export type GenerationActivities = ReturnType<typeof createGenerationActivities>;

/**
 * The ledger key of a generation's step: `generation:<id>:<step>`. The ledger takes keys of at most 200
 * characters and a generation id may have 200 (the HTTP schema, the table): a key that would be longer names the
 * id by its SHA-256 instead, under a prefix no `generation:` key can have. Shorter ids keep their keys unchanged.
 */
export function ledgerKey(generationId: string, step: 'reserve' | 'settle'): string {
  const key = `generation:${generationId}:${step}`;
  if (key.length <= MAX_LEDGER_KEY_LENGTH) return key;
  return `generation-sha256:${createHash('sha256').update(generationId).digest('hex')}:${step}`;
}
const MAX_LEDGER_KEY_LENGTH = 200;

/**
 * Generation services may start the workflow with the Temporal client, past the HTTP edge's schema: anything
 * malformed is refused here, before a credit is held or a row written, as a non-retryable
 * InvalidGenerationRequest. Otherwise it would fail later inside Postgres (a NUL, a lone surrogate, an unknown
 * platform, a missing user), after the hold, and the activity would retry forever with the credits held.
 * An id that is not a UUID is left to the ledger: it names no wallet (WalletNotFound, recorded as a refusal).
 */
function requireWellFormed(generation: unknown): asserts generation is GenerationInput {
  const problem = generationInputProblem(generation);
  if (!problem) return;
  throw ApplicationFailure.create({
    type: GenerationFailureType.InvalidGenerationRequest,
    message: `invalid generation: ${problem.field} ${problem.reason}`,
    nonRetryable: true,
    details: [[problem]],
  });
}

type FieldProblem = { field: string; reason: string };

function generationInputProblem(generation: unknown): FieldProblem | null {
  if (generation === null || typeof generation !== 'object' || Array.isArray(generation)) {
    return { field: 'generation', reason: 'must be an object' };
  }
  const g = generation as Record<string, unknown>;
  const problem = textProblem(g, 'generationId', 200) ?? textProblem(g, 'walletId', 200) ?? textProblem(g, 'userId', 200)
    ?? textProblem(g, 'feature', 100);
  if (problem) return problem;
  const params = g['params'];
  if (params === null || typeof params !== 'object' || Array.isArray(params)) return { field: 'params', reason: 'must be an object' };
  if (!(generationPlatforms as readonly unknown[]).includes(g['platform'])) {
    return { field: 'platform', reason: `must be one of ${generationPlatforms.join(', ')}` };
  }
  if (g['context'] !== undefined && g['context'] !== null) {
    const contextProblem = textProblem(g, 'context', 100);
    if (contextProblem) return contextProblem;
  }
  const workflowId = callingWorkflowId();
  if (workflowId !== undefined && workflowId !== generationWorkflowId(g['generationId'] as string)) {
    return { field: 'generationId', reason: `must be the one the workflow id names (${workflowId})` };
  }
  return null;
}

/** The field and why its value is not storable text of at most `max` characters, or null. */
function textProblem(g: Record<string, unknown>, field: string, max: number): FieldProblem | null {
  const reason = boundedTextReason(g[field], max);
  return reason === null ? null : { field, reason };
}

/**
 * The id of the workflow this activity runs for: a generation's workflow is `generation:<generationId>`, and
 * its keys and row are the generation id's, so a run under another id would share them with that generation's
 * own run. Undefined outside a worker (the activity called as a plain function, as tests do).
 */
function callingWorkflowId(): string | undefined {
  let context: Context;
  try {
    context = Context.current();
  } catch {
    return undefined;
  }
  return context.info.workflowExecution?.workflowId;
}
