/** Quotes and the price book: pure reads of src/pricing, open to every authenticated role. */
import { defaultPriceBook, FEATURE_NAMES, FEATURES, quote } from '../../pricing';
import { ANY_ROLE } from '../auth/roles';
import { defineRoute } from '../route';
import { PriceBookResponse, QuoteBody, QuoteResponse } from './pricing.schemas';

export const quoteRoute = defineRoute({
  method: 'post',
  path: '/v1/quotes',
  summary: 'Price a generation: total credits and an explained breakdown',
  tag: 'pricing',
  access: ANY_ROLE,
  body: QuoteBody,
  successStatus: 200,
  response: QuoteResponse,
  async handler({ body, deps }) {
    return quote(body.feature, body.params, deps.priceBook ?? defaultPriceBook);
  },
});

export const priceBookRoute = defineRoute({
  method: 'get',
  path: '/v1/price-book',
  summary: 'The current price book with each feature\'s deadline and output content types',
  tag: 'pricing',
  access: ANY_ROLE,
  successStatus: 200,
  response: PriceBookResponse,
  async handler({ deps }) {
    const book = deps.priceBook ?? defaultPriceBook;
    return {
      version: book.version,
      features: FEATURE_NAMES.map((name) => ({
        feature: name,
        description: FEATURES[name].description,
        outcomeDeadlineMs: FEATURES[name].outcomeDeadlineMs,
        outputContentTypes: [...FEATURES[name].outputContentTypes],
        prices: { ...book.features[name] },
      })),
    };
  },
});
