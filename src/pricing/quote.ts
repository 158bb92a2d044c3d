/** quote(): what a generation of a feature with given params costs, and why. Pure. */
import { FEATURES, isFeatureName, type BreakdownLine, type FeatureName } from './features';
import { PricingError } from './errors';
import { defaultPriceBook, type PriceBook } from './price-book';

export interface Quote {
  priceBookVersion: string;
  feature: FeatureName;
  totalCredits: number;
  breakdown: BreakdownLine[];
}

export function quote(feature: string, params: unknown, book: PriceBook = defaultPriceBook): Quote {
  if (!isFeatureName(feature)) {
    throw new PricingError('UnknownFeature', `unknown feature "${feature}"`, [
      { field: 'feature', reason: `must be one of: ${Object.keys(FEATURES).join(', ')}` },
    ]);
  }
  const definition = FEATURES[feature];
  // Features without params accept an omitted params object.
  const parsed = definition.paramsSchema(book).safeParse(params ?? {});
  if (!parsed.success) {
    const details = parsed.error.issues.map((issue) => ({
      field: ['params', ...issue.path.map(String), ...('keys' in issue ? [issue.keys.join(',')] : [])].join('.'),
      reason: issue.message,
    }));
    throw new PricingError('InvalidParams', `invalid params for ${feature}: ${details.map((d) => d.field).join(', ')}`, details);
  }
  const breakdown = definition.price(parsed.data, book);
  const totalCredits = breakdown[breakdown.length - 1]!.subtotalCredits;
  // Books are bounded so this cannot happen with validated books; guard anyway: credits must stay exact.
  if (!Number.isSafeInteger(totalCredits) || totalCredits <= 0) {
    throw new Error(`price of ${feature} is not a positive safe integer: ${totalCredits}`);
  }
  return { priceBookVersion: book.version, feature, totalCredits, breakdown };
}
