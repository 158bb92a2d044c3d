import { z } from 'zod';
import { OwnerType, Timestamp } from '../schemas/common';

export const CreateWalletBody = z
  .strictObject({
    ownerType: OwnerType,
    ownerId: z.string().min(1).max(200).meta({ description: 'The user id or organization id that owns the wallet' }),
  })
  .meta({ id: 'CreateWalletRequest' });

export const WalletResponse = z
  .object({
    id: z.uuid(),
    ownerType: OwnerType,
    ownerId: z.string(),
    status: z.enum(['active', 'closed']),
    createdAt: Timestamp,
  })
  .meta({ id: 'Wallet' });
