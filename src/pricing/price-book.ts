/**
 * The price book: every number that decides what a generation costs, versioned as one unit so a quote can
 * say which prices it used and a change of prices is a new version rather than a silent edit.
 * Only integers: credits are never fractional, and multipliers are whole so totals stay exact.
 */
import { z } from 'zod';

export const RESOLUTIONS = ['1K', '2K', '4K'] as const;
export type Resolution = (typeof RESOLUTIONS)[number];

export const MODEL_TIERS = ['standard', 'pro', 'ultra'] as const;
export type ModelTier = (typeof MODEL_TIERS)[number];

export const UPSCALE_TARGETS = ['2K', '4K'] as const;
export type UpscaleTarget = (typeof UPSCALE_TARGETS)[number];

const credits = z.number().int().positive().max(1_000_000);
const multiplier = z.number().int().positive().max(100);

export const PriceBookSchema = z.object({
  version: z.string().min(1),
  features: z.object({
    image: z.object({
      baseCredits: credits,
      resolutionMultipliers: z.object({ '1K': multiplier, '2K': multiplier, '4K': multiplier }),
    }),
    video: z.object({
      creditsPerSecond: credits,
      maxDurationSeconds: z.number().int().positive().max(3600),
      tierMultipliers: z.object({ standard: multiplier, pro: multiplier, ultra: multiplier }),
    }),
    training: z.object({ flatCredits: credits }),
    upscale: z.object({
      baseCredits: credits,
      targetMultipliers: z.object({ '2K': multiplier, '4K': multiplier }),
    }),
    background_removal: z.object({ flatCredits: credits }),
  }),
});

export type PriceBook = z.infer<typeof PriceBookSchema>;

/**
 * Defaults seeded from the billing help page: 2K costs 2×, 4K 3×; video by duration and model tier;
 * training 400 flat. Base costs (image 10, video 5/s) and tiers (standard ×1, pro ×2, ultra ×4) are our choice.
 */
export const defaultPriceBook: PriceBook = Object.freeze(
  PriceBookSchema.parse({
    version: '2026-11-01',
    features: {
      image: { baseCredits: 10, resolutionMultipliers: { '1K': 1, '2K': 2, '4K': 3 } },
      video: { creditsPerSecond: 5, maxDurationSeconds: 60, tierMultipliers: { standard: 1, pro: 2, ultra: 4 } },
      training: { flatCredits: 400 },
      upscale: { baseCredits: 4, targetMultipliers: { '2K': 1, '4K': 2 } },
      background_removal: { flatCredits: 2 },
    },
  }),
);
