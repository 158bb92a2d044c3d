import { z } from 'zod';
import { FEATURE_NAMES } from '../../pricing';
import { CreditCount } from '../schemas/common';

export const QuoteBody = z
  .strictObject({
    feature: z.string().min(1).max(100).meta({ description: `One of: ${FEATURE_NAMES.join(', ')}` }),
    params: z.record(z.string(), z.unknown()).optional().meta({
      description: 'Feature parameters, e.g. image {resolution}, video {durationSeconds, modelTier}; validated per feature',
    }),
  })
  .meta({ id: 'QuoteRequest' });

export const BreakdownLineResponse = z
  .object({
    label: z.string(),
    kind: z.enum(['base', 'per_unit', 'multiplier', 'flat']),
    value: z.number().int().positive(),
    quantity: z.number().int().positive().optional(),
    unit: z.string().optional(),
    subtotalCredits: CreditCount,
  })
  .meta({ id: 'QuoteLine' });

export const QuoteResponse = z
  .object({
    priceBookVersion: z.string(),
    feature: z.enum(FEATURE_NAMES),
    totalCredits: CreditCount,
    breakdown: z.array(BreakdownLineResponse),
  })
  .meta({ id: 'Quote' });

export const PriceBookResponse = z
  .object({
    version: z.string(),
    features: z.array(
      z.object({
        feature: z.enum(FEATURE_NAMES),
        description: z.string(),
        outcomeDeadlineMs: z.number().int().positive(),
        outputContentTypes: z.array(z.string()),
        prices: z.record(z.string(), z.unknown()).meta({ description: 'This feature\'s entry of the price book' }),
      }),
    ),
  })
  .meta({ id: 'PriceBook' });
