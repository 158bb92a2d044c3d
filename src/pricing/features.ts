/**
 * The feature catalogue: for each billable feature, its parameters, how its price is computed from the
 * price book, how long the generator has to report an outcome, and which content types its outputs may have.
 * The generation workflow uses the deadline and content types; the API and quotes use the rest.
 */
import { z } from 'zod';
import { MODEL_TIERS, RESOLUTIONS, UPSCALE_TARGETS, type PriceBook } from './price-book';

export interface BreakdownLine {
  label: string;
  kind: 'base' | 'per_unit' | 'multiplier' | 'flat';
  /** Credits for base/per_unit/flat lines; the factor for multiplier lines. */
  value: number;
  /** For per_unit lines: how many units were charged. */
  quantity?: number;
  unit?: string;
  /** Running total after applying this line. */
  subtotalCredits: number;
}

export interface FeatureDefinition {
  name: string;
  description: string;
  outcomeDeadlineMs: number;
  /** Exact types or `type/*` wildcards an output may have; anything else is a corrupted output. */
  outputContentTypes: readonly string[];
  /** Built from the book because some bounds (e.g. maximum video length) are prices-book settings. */
  paramsSchema(book: PriceBook): z.ZodType;
  price(params: unknown, book: PriceBook): BreakdownLine[];
}

const MINUTE_MS = 60_000;

const image: FeatureDefinition = {
  name: 'image',
  description: 'One generated image; resolution multiplies the base cost.',
  outcomeDeadlineMs: 10 * MINUTE_MS,
  outputContentTypes: ['image/*'],
  paramsSchema: () => z.strictObject({ resolution: z.enum(RESOLUTIONS) }),
  price(params, book) {
    const { resolution } = params as { resolution: (typeof RESOLUTIONS)[number] };
    const { baseCredits, resolutionMultipliers } = book.features.image;
    const factor = resolutionMultipliers[resolution];
    return [
      { label: 'image base', kind: 'base', value: baseCredits, subtotalCredits: baseCredits },
      { label: `resolution ${resolution}`, kind: 'multiplier', value: factor, subtotalCredits: baseCredits * factor },
    ];
  },
};

const video: FeatureDefinition = {
  name: 'video',
  description: 'One generated video; credits per second of duration, multiplied by the model tier.',
  outcomeDeadlineMs: 30 * MINUTE_MS,
  outputContentTypes: ['video/*'],
  paramsSchema: (book) =>
    z.strictObject({
      durationSeconds: z.number().int().min(1).max(book.features.video.maxDurationSeconds),
      modelTier: z.enum(MODEL_TIERS),
    }),
  price(params, book) {
    const { durationSeconds, modelTier } = params as { durationSeconds: number; modelTier: (typeof MODEL_TIERS)[number] };
    const { creditsPerSecond, tierMultipliers } = book.features.video;
    const durationCredits = creditsPerSecond * durationSeconds;
    const factor = tierMultipliers[modelTier];
    return [
      {
        label: 'video per second', kind: 'per_unit', value: creditsPerSecond,
        quantity: durationSeconds, unit: 'second', subtotalCredits: durationCredits,
      },
      { label: `model tier ${modelTier}`, kind: 'multiplier', value: factor, subtotalCredits: durationCredits * factor },
    ];
  },
};

const training: FeatureDefinition = {
  name: 'training',
  description: 'Training a custom model; a flat price.',
  outcomeDeadlineMs: 6 * 60 * MINUTE_MS,
  outputContentTypes: ['application/octet-stream', 'application/zip'],
  paramsSchema: () => z.strictObject({}),
  price(_params, book) {
    const { flatCredits } = book.features.training;
    return [{ label: 'model training', kind: 'flat', value: flatCredits, subtotalCredits: flatCredits }];
  },
};

const upscale: FeatureDefinition = {
  name: 'upscale',
  description: 'Upscaling an existing image to a target resolution.',
  outcomeDeadlineMs: 10 * MINUTE_MS,
  outputContentTypes: ['image/*'],
  paramsSchema: () => z.strictObject({ targetResolution: z.enum(UPSCALE_TARGETS) }),
  price(params, book) {
    const { targetResolution } = params as { targetResolution: (typeof UPSCALE_TARGETS)[number] };
    const { baseCredits, targetMultipliers } = book.features.upscale;
    const factor = targetMultipliers[targetResolution];
    return [
      { label: 'upscale base', kind: 'base', value: baseCredits, subtotalCredits: baseCredits },
      { label: `target ${targetResolution}`, kind: 'multiplier', value: factor, subtotalCredits: baseCredits * factor },
    ];
  },
};

const backgroundRemoval: FeatureDefinition = {
  name: 'background_removal',
  description: 'Removing the background of one image; a flat price.',
  outcomeDeadlineMs: 10 * MINUTE_MS,
  outputContentTypes: ['image/png', 'image/webp'],
  paramsSchema: () => z.strictObject({}),
  price(_params, book) {
    const { flatCredits } = book.features.background_removal;
    return [{ label: 'background removal', kind: 'flat', value: flatCredits, subtotalCredits: flatCredits }];
  },
};

export const FEATURE_NAMES = ['image', 'video', 'training', 'upscale', 'background_removal'] as const;
export type FeatureName = (typeof FEATURE_NAMES)[number];

export const FEATURES: Readonly<Record<FeatureName, FeatureDefinition>> = Object.freeze({
  image, video, training, upscale, background_removal: backgroundRemoval,
});

export function isFeatureName(name: string): name is FeatureName {
  return (FEATURE_NAMES as readonly string[]).includes(name);
}

/** True when `contentType` (parameters ignored) is one of `allowed` (exact types or `type/*` families). */
export function contentTypeMatches(allowed: readonly string[], contentType: string): boolean {
  const mediaType = contentType.split(';')[0]!.trim().toLowerCase();
  return allowed.some((pattern) =>
    pattern.endsWith('/*') ? mediaType.startsWith(pattern.slice(0, -1)) && mediaType.length > pattern.length - 1
      : mediaType === pattern,
  );
}
