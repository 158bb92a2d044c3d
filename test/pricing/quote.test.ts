import {
  defaultPriceBook, FEATURES, FEATURE_NAMES, contentTypeMatches, PriceBookSchema, PricingError, quote,
} from '../../src/pricing';

function pricingError(fn: () => unknown): PricingError {
  try {
    fn();
  } catch (error) {
    if (error instanceof PricingError) return error;
    throw error;
  }
  throw new Error('expected a PricingError');
}

describe('quote: image', () => {
  it.each([
    ['1K', 10],
    ['2K', 20],
    ['4K', 30],
  ])('%s costs %i credits (base 10 × resolution multiplier)', (resolution, expectedCredits) => {
    const result = quote('image', { resolution });
    expect(result.totalCredits).toBe(expectedCredits);
    expect(result.priceBookVersion).toBe(defaultPriceBook.version);
    expect(result.feature).toBe('image');
    expect(result.breakdown.map((line) => line.label)).toEqual(['image base', `resolution ${resolution}`]);
  });

  it('rejects an unknown resolution naming the field', () => {
    const error = pricingError(() => quote('image', { resolution: '8K' }));
    expect(error.code).toBe('InvalidParams');
    expect(error.details[0]!.field).toBe('params.resolution');
  });

  it('rejects unknown params keys naming them', () => {
    const error = pricingError(() => quote('image', { resolution: '1K', seed: 4 }));
    expect(error.code).toBe('InvalidParams');
    expect(error.details[0]!.field).toBe('params.seed');
  });
});

describe('quote: video', () => {
  it('charges per second times the model tier', () => {
    expect(quote('video', { durationSeconds: 10, modelTier: 'standard' }).totalCredits).toBe(50);
    expect(quote('video', { durationSeconds: 10, modelTier: 'pro' }).totalCredits).toBe(100);
    const ultra = quote('video', { durationSeconds: 7, modelTier: 'ultra' });
    expect(ultra.totalCredits).toBe(140);
    expect(ultra.breakdown[0]).toMatchObject({ kind: 'per_unit', value: 5, quantity: 7, unit: 'second', subtotalCredits: 35 });
    expect(ultra.breakdown[1]).toMatchObject({ kind: 'multiplier', value: 4, subtotalCredits: 140 });
  });

  it.each([0, -1, 1.5, 61, Number.NaN, '10'])('rejects durationSeconds %p', (durationSeconds) => {
    const error = pricingError(() => quote('video', { durationSeconds, modelTier: 'pro' }));
    expect(error.code).toBe('InvalidParams');
    expect(error.details.map((d) => d.field)).toContain('params.durationSeconds');
  });

  it('rejects a missing model tier', () => {
    const error = pricingError(() => quote('video', { durationSeconds: 5 }));
    expect(error.details.map((d) => d.field)).toEqual(['params.modelTier']);
  });
});

describe('quote: flat features and extras', () => {
  it('training costs 400 flat, with or without an empty params object', () => {
    expect(quote('training', {}).totalCredits).toBe(400);
    expect(quote('training', undefined).totalCredits).toBe(400);
  });

  it('upscale and background removal have prices', () => {
    expect(quote('upscale', { targetResolution: '4K' }).totalCredits).toBe(8);
    expect(quote('background_removal', {}).totalCredits).toBe(2);
  });

  it('unknown feature is UnknownFeature naming the field', () => {
    const error = pricingError(() => quote('hologram', {}));
    expect(error.code).toBe('UnknownFeature');
    expect(error.details[0]!.field).toBe('feature');
  });

  it('a custom book changes the price and the version', () => {
    const book = PriceBookSchema.parse({
      ...defaultPriceBook,
      version: 'test-2',
      features: { ...defaultPriceBook.features, training: { flatCredits: 500 } },
    });
    const result = quote('training', {}, book);
    expect(result).toMatchObject({ priceBookVersion: 'test-2', totalCredits: 500 });
  });

  it('every total is a positive safe integer and every line an integer', () => {
    for (const resolution of ['1K', '2K', '4K']) {
      for (const line of quote('image', { resolution }).breakdown) {
        expect(Number.isInteger(line.value)).toBe(true);
        expect(Number.isSafeInteger(line.subtotalCredits)).toBe(true);
      }
    }
  });

  it('rejects a book with fractional multipliers', () => {
    const bad = structuredClone(defaultPriceBook) as { features: { image: { resolutionMultipliers: Record<string, number> } } };
    bad.features.image.resolutionMultipliers['2K'] = 1.5;
    expect(PriceBookSchema.safeParse(bad).success).toBe(false);
  });
});

describe('feature catalogue', () => {
  it('has deadlines and output content types per feature', () => {
    expect(FEATURES.image.outcomeDeadlineMs).toBe(10 * 60_000);
    expect(FEATURES.video.outcomeDeadlineMs).toBe(30 * 60_000);
    expect(FEATURES.training.outcomeDeadlineMs).toBe(6 * 3_600_000);
    for (const name of FEATURE_NAMES) expect(FEATURES[name].outputContentTypes.length).toBeGreaterThan(0);
  });

  it('matches output content types with wildcards and parameters', () => {
    expect(contentTypeMatches(FEATURES.image.outputContentTypes, 'image/png')).toBe(true);
    expect(contentTypeMatches(FEATURES.image.outputContentTypes, 'IMAGE/JPEG; q=1')).toBe(true);
    expect(contentTypeMatches(FEATURES.image.outputContentTypes, 'image/')).toBe(false);
    expect(contentTypeMatches(FEATURES.image.outputContentTypes, 'video/mp4')).toBe(false);
    expect(contentTypeMatches(FEATURES.video.outputContentTypes, 'video/mp4')).toBe(true);
    expect(contentTypeMatches(FEATURES.training.outputContentTypes, 'application/octet-stream')).toBe(true);
    expect(contentTypeMatches(FEATURES.training.outputContentTypes, 'text/html')).toBe(false);
  });
});
