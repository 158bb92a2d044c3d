import { z } from 'zod';
import { CreditCount, LotKind, Timestamp } from '../schemas/common';

export const LotResponse = z
  .object({
    lotId: z.uuid(),
    kind: LotKind,
    status: z.enum(['active', 'expired', 'revoked']),
    grantedAt: Timestamp,
    expiresAt: Timestamp,
    grantedCredits: CreditCount,
    availableCredits: CreditCount,
    heldCredits: CreditCount,
    consumedCredits: CreditCount,
    expiredCredits: CreditCount,
    revokedCredits: CreditCount,
  })
  .meta({ id: 'Lot' });

export const BalanceResponse = z
  .object({
    walletId: z.uuid(),
    walletStatus: z.enum(['active', 'closed']),
    availableCredits: CreditCount,
    heldCredits: CreditCount,
    nextExpiryAt: Timestamp.nullable(),
    lots: z.array(LotResponse).meta({ description: 'Open lots in consumption order (soonest expiring first)' }),
  })
  .meta({ id: 'Balance' });
