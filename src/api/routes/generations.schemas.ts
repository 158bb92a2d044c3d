import { z } from 'zod';
import { decodeGenerationsCursor } from '../../generations/store';
import { failureReasons } from '../../policy/settlement';
import { generationPlatforms } from '../../workflows/generation-contract';
import { CreditCount, queryInteger, Timestamp, Uuid } from '../schemas/common';

const Id = z.string().min(1).max(200);

export const StartGenerationBody = z.strictObject({
  generationId: Id.regex(/^[A-Za-z0-9._:-]+$/, 'letters, digits and . _ : - only'),
  walletId: Uuid,
  userId: Id,
  feature: z.string().min(1).max(100),
  params: z.record(z.string(), z.unknown()).default({}),
  platform: z.enum(generationPlatforms),
  context: z.string().min(1).max(100).optional(),
});

export const GenerationOutputSchema = z.strictObject({
  url: z.string().min(1).max(2048),
  sizeBytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  contentType: z.string().min(1).max(200),
  sha256: z.string().regex(/^[0-9a-f]{64}$/i, 'must be 64 hex characters').optional(),
  width: z.number().int().positive().optional(),
  height: z.number().int().positive().optional(),
  durationSeconds: z.number().nonnegative().optional(),
  blank: z.boolean().optional(),
}).meta({ id: 'GenerationOutput' });

export const OutcomeBody = z.strictObject({
  status: z.enum(['succeeded', 'failed']),
  reason: z.enum(failureReasons).optional(),
  outputs: z.array(GenerationOutputSchema).max(100).optional(),
}).superRefine((outcome, ctx) => {
  if (outcome.status === 'failed' && outcome.reason === undefined) {
    ctx.addIssue({ code: 'custom', path: ['reason'], message: 'required when status is "failed"' });
  }
  if (outcome.status === 'succeeded' && outcome.reason !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['reason'], message: 'only a failure carries a reason' });
  }
});

export const ProgressBody = z.strictObject({
  percent: z.number().min(0).max(100).optional(),
  extendDeadlineMs: z.number().int().positive().max(7 * 24 * 3600 * 1000).optional(),
  message: z.string().max(500).optional(),
});

export const CancelBody = z.strictObject({ reason: z.string().max(500).optional() });

export const GenerationIdParams = z.object({ id: Id });

const OutputProblemSchema = z.object({
  index: z.number().int().nullable(),
  problem: z.enum(['missing', 'zero_bytes', 'wrong_content_type', 'blank']),
  detail: z.string(),
});

export const SettlementResponse = z.object({
  generationId: z.string(),
  walletId: z.uuid(),
  action: z.enum(['capture', 'release']),
  reason: z.string(),
  capturedCredits: CreditCount,
  releasedCredits: CreditCount,
  availableCreditsAfter: CreditCount,
  heldCreditsAfter: CreditCount,
  settledAt: Timestamp,
  outputProblems: z.array(OutputProblemSchema),
}).meta({ id: 'Settlement' });

export const GenerationResponse = z.object({
  generationId: z.string(),
  walletId: z.uuid(),
  userId: z.string(),
  feature: z.string(),
  params: z.record(z.string(), z.unknown()),
  platform: z.enum(generationPlatforms),
  context: z.string().nullable(),
  status: z.enum(['reserved', 'captured', 'partially_captured', 'released', 'rejected']),
  costCredits: CreditCount,
  quote: z.object({
    priceBookVersion: z.string(),
    totalCredits: CreditCount,
    breakdown: z.array(z.unknown()),
    deadlineMs: z.number().int(),
  }),
  settlement: SettlementResponse.nullable(),
  createdAt: Timestamp,
  reservedAt: Timestamp.nullable(),
  settledAt: Timestamp.nullable(),
}).meta({ id: 'Generation' });

export const GenerationPageResponse = z.object({
  generations: z.array(GenerationResponse),
  nextCursor: z.string().nullable(),
});

export const WalletGenerationsQuery = z.strictObject({
  limit: queryInteger(1, 200).default(50),
  /** Read here into the position it names, so the listing gets a position and never decodes again. */
  cursor: z.string().max(500).transform((cursor, ctx) => {
    const position = decodeGenerationsCursor(cursor);
    // A position in year 0000 decodes, but Postgres has no year 0 (its query would fail: a 500). No page
    // ends there, so such a cursor is not one we made.
    if (position && !position.createdAt.startsWith('0000-')) return position;
    ctx.addIssue({ code: 'custom', message: 'must be the nextCursor of a previous page' });
    return z.NEVER;
  }).optional(),
  status: z.enum(['reserved', 'captured', 'partially_captured', 'released', 'rejected']).optional(),
});

export const ProgressResponse = z.object({ generationId: z.string(), accepted: z.literal(true) });
