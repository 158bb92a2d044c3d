import { z } from 'zod';
import { WalletId } from '../schemas/common';

export const AuditQuery = z.strictObject({ walletId: WalletId.optional() });

export const AuditResponse = z
  .object({
    ok: z.boolean(),
    violations: z.array(
      z.object({
        check: z.string(),
        walletId: z.string().nullable(),
        lotId: z.string().nullable(),
        holdId: z.string().nullable(),
        details: z.record(z.string(), z.unknown()),
      }),
    ),
  })
  .meta({ id: 'AuditResult' });
