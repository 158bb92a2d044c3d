import { defaultPriceBook } from '../../src/pricing';
import { auditClean, createKey, createWallet, expectError, get, post, setupApiTest, type ApiTest } from './helpers';

let t: ApiTest;
beforeAll(async () => {
  t = await setupApiTest();
});
afterEach(async () => auditClean(t));
afterAll(async () => t.close());

describe('POST /v1/quotes', () => {
  it('quotes an image, a video and training with an explained breakdown', async () => {
    const image = await post(t, '/v1/quotes', { feature: 'image', params: { resolution: '4K' } });
    expect(image.status).toBe(200);
    expect(image.body).toEqual({
      priceBookVersion: defaultPriceBook.version,
      feature: 'image',
      totalCredits: 30,
      breakdown: [
        { label: 'image base', kind: 'base', value: 10, subtotalCredits: 10 },
        { label: 'resolution 4K', kind: 'multiplier', value: 3, subtotalCredits: 30 },
      ],
    });
    const video = await post(t, '/v1/quotes', { feature: 'video', params: { durationSeconds: 8, modelTier: 'pro' } });
    expect(video.body.totalCredits).toBe(80);
    expect((await post(t, '/v1/quotes', { feature: 'training' })).body.totalCredits).toBe(400);
  });

  it('a wallet key may quote', async () => {
    const key = await createKey(t, 'wallet', await createWallet(t));
    expect((await post(t, '/v1/quotes', { feature: 'image', params: { resolution: '1K' } }, key)).body.totalCredits).toBe(10);
  });

  it('unknown feature → 400 UnknownFeature naming feature', async () => {
    const res = await post(t, '/v1/quotes', { feature: 'hologram', params: {} });
    expectError(res, 400, 'UnknownFeature');
    expect(res.body.error.details.fields[0].path).toBe('feature');
  });

  it.each([
    [{ feature: 'image', params: { resolution: '16K' } }, 'params.resolution'],
    [{ feature: 'video', params: { durationSeconds: 0, modelTier: 'pro' } }, 'params.durationSeconds'],
    [{ feature: 'video', params: { durationSeconds: 2.5, modelTier: 'pro' } }, 'params.durationSeconds'],
    [{ feature: 'video', params: { durationSeconds: 5, modelTier: 'mega' } }, 'params.modelTier'],
  ])('impossible params %j → 400 InvalidParams naming %s', async (body, field) => {
    const res = await post(t, '/v1/quotes', body);
    expectError(res, 400, 'InvalidParams');
    expect(res.body.error.details.fields.map((f: { path: string }) => f.path)).toEqual([field]);
  });

  it('a body without feature → 400 ValidationError', async () => {
    const res = await post(t, '/v1/quotes', { params: {} });
    expectError(res, 400, 'ValidationError');
    expect(res.body.error.details.fields[0].path).toBe('feature');
  });
});

describe('GET /v1/price-book', () => {
  it('lists every feature with prices, deadline and output content types', async () => {
    const res = await get(t, '/v1/price-book');
    expect(res.status).toBe(200);
    expect(res.body.version).toBe(defaultPriceBook.version);
    const byName = Object.fromEntries(res.body.features.map((f: { feature: string }) => [f.feature, f]));
    expect(byName.image).toMatchObject({
      outcomeDeadlineMs: 600_000, outputContentTypes: ['image/*'],
      prices: { baseCredits: 10, resolutionMultipliers: { '1K': 1, '2K': 2, '4K': 3 } },
    });
    expect(byName.video.outcomeDeadlineMs).toBe(1_800_000);
    expect(byName.training.prices).toEqual({ flatCredits: 400 });
  });
});
