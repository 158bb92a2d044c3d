import { z } from 'zod';
import { AmountCredits, LotKind, Timestamp } from '../schemas/common';

const Reference = z.string().min(1).max(200);

export const GrantBody = z
  .strictObject({
    kind: LotKind,
    amountCredits: AmountCredits,
    expiresAt: Timestamp.optional().meta({ description: 'Explicit expiry; otherwise from the kind\'s validity policy' }),
    validityDays: z.number().int().min(1).max(3650).optional(),
    bulkPackages: z.number().int().min(1).max(120).optional().meta({ description: 'bulk: N packages → N months' }),
    periodEnd: Timestamp.optional().meta({ description: 'membership: end of the billing period' }),
    reason: z.string().min(1).max(500).optional(),
    purchaseId: Reference.optional(),
    promoId: Reference.optional(),
    subscriptionPeriodId: Reference.optional(),
  })
  .meta({ id: 'GrantRequest' });

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
