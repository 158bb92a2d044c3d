import { z } from 'zod';
import { AmountCredits, LotKind, Timestamp } from '../schemas/common';

const Reference = z.string().min(1).max(200);

export const GrantBody = z
  .strictObject({
    kind: LotKind,
    amountCredits: AmountCredits,
    expiresAt: Timestamp.optional().meta({ description: 'Explicit expiry; otherwise from the kind\'s validity policy' }),
    validityDays: z.number().int().min(1).max(3650).optional().meta({ description: 'Overrides the kind\'s validity; not with expiresAt' }),
    bulkPackages: z.number().int().min(1).max(120).optional().meta({ description: 'bulk only: N packages → N months' }),
    periodEnd: Timestamp.optional().meta({ description: 'membership only: end of the billing period' }),
    reason: z.string().min(1).max(500).optional(),
    purchaseId: Reference.optional(),
    promoId: Reference.optional(),
    subscriptionPeriodId: Reference.optional(),
  })
  // The ledger takes the expiry from one input and ignores the rest without a word (expiresAt over all,
  // validityDays over the kind's rule; periodEnd is read for memberships only, bulkPackages for bulk only):
  // an input it would ignore is refused here, naming it, rather than dropped.
  .superRefine((grant, ctx) => {
    const refuse = (field: string, message: string) => ctx.addIssue({ code: 'custom', path: [field], message });
    const override = grant.expiresAt !== undefined ? 'expiresAt' : grant.validityDays !== undefined ? 'validityDays' : null;
    if (grant.expiresAt !== undefined && grant.validityDays !== undefined) {
      refuse('validityDays', 'not allowed with expiresAt, which sets the expiry itself: send one of them');
    }
    if (grant.periodEnd !== undefined) {
      if (grant.kind !== 'membership') refuse('periodEnd', `only a membership grant has a billing period, not ${grant.kind}`);
      else if (override) refuse('periodEnd', `not allowed with ${override}, which sets the expiry instead: send one of them`);
    }
    if (grant.bulkPackages !== undefined) {
      if (grant.kind !== 'bulk') refuse('bulkPackages', `only a bulk grant has packages, not ${grant.kind}`);
      else if (override) refuse('bulkPackages', `not allowed with ${override}, which sets the expiry instead: send one of them`);
    }
  })
  .meta({
    id: 'GrantRequest',
    description: 'The expiry comes from at most one of expiresAt, validityDays, periodEnd (membership only) and '
      + 'bulkPackages (bulk only); without any, from the kind\'s validity policy.',
  });

export const GrantResponse = z
  .object({
    lotId: z.uuid(),
    walletId: z.uuid(),
    kind: LotKind,
    amountCredits: AmountCredits,
    grantedAt: Timestamp,
    expiresAt: Timestamp,
    operationId: z.string(),
  })
  .meta({ id: 'Grant' });
