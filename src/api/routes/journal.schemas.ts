import { z } from 'zod';
import { CreditCount, CreditDelta, queryInteger, Timestamp, Uuid } from '../schemas/common';

export const JOURNAL_KINDS = ['grant', 'hold', 'capture', 'release', 'refund', 'expire', 'revoke', 'adjust'] as const;

export const JournalQuery = z.strictObject({
  cursor: z.string().regex(/^\d{1,18}$/, 'must be the nextCursor of a previous page').optional(),
  limit: queryInteger(1, 500).default(50),
  kind: z.enum(JOURNAL_KINDS).optional(),
  lotId: Uuid.optional(),
  holdId: Uuid.optional(),
  generationId: z.string().min(1).max(200).optional(),
  from: Timestamp.optional().meta({ description: 'Inclusive lower bound on createdAt' }),
  to: Timestamp.optional().meta({ description: 'Exclusive upper bound on createdAt' }),
});

const Ref = z.string().nullable();

export const JournalEntryResponse = z
  .object({
    entryId: z.string(),
    operationId: z.string(),
    kind: z.enum(JOURNAL_KINDS),
    amountCredits: CreditCount,
    lotId: z.uuid(),
    holdId: z.uuid().nullable(),
    deltas: z.object({
      available: CreditDelta, held: CreditDelta, consumed: CreditDelta, expired: CreditDelta, revoked: CreditDelta,
    }),
    generationId: Ref,
    refundRequestId: Ref,
    purchaseId: Ref,
    subscriptionPeriodId: Ref,
    actor: Ref,
    reason: Ref,
    createdAt: Timestamp,
  })
  .meta({ id: 'JournalEntry' });

export const JournalResponse = z
  .object({
    entries: z.array(JournalEntryResponse).meta({ description: 'Newest first' }),
    nextCursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last' }),
  })
  .meta({ id: 'JournalPage' });
