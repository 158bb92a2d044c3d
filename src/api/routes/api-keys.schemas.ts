import { z } from 'zod';
import { ROLES } from '../auth/roles';
import { Timestamp, Uuid, WalletId } from '../schemas/common';

export const CreateApiKeyBody = z
  .strictObject({
    role: z.enum(ROLES),
    walletId: WalletId.optional().meta({ description: 'Required iff role is wallet' }),
    label: z.string().min(1).max(200).refine((label) => !label.startsWith('seed:'), 'must not start with "seed:" (reserved for seeded keys)').optional(),
  })
  .superRefine((body, ctx) => {
    if (body.role === 'wallet' && body.walletId === undefined) {
      ctx.addIssue({ code: 'custom', path: ['walletId'], message: 'required when role is wallet' });
    }
    if (body.role !== 'wallet' && body.walletId !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['walletId'], message: 'allowed only when role is wallet' });
    }
  })
  .meta({ id: 'CreateApiKeyRequest' });

export const ApiKeyResponse = z
  .object({
    id: z.uuid(),
    key: z.string().nullable().meta({
      description: 'The secret, shown once. Null on an idempotent replay: it is stored only hashed.',
    }),
    role: z.enum(ROLES),
    walletId: z.uuid().nullable(),
    label: z.string().nullable(),
    createdAt: Timestamp,
  })
  .meta({ id: 'ApiKey' });

export const ApiKeyIdParams = z.object({ id: Uuid });

export const RevokedApiKeyResponse = z.object({ id: z.uuid(), revokedAt: Timestamp }).meta({ id: 'RevokedApiKey' });
