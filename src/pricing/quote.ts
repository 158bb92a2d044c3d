/** quote(): what a generation of a feature with given params costs, and why. Pure. */
import type { z } from 'zod';
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
  const parsed = paramsSchemaOf(feature, book).safeParse(params ?? {});
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

/**
 * A feature's params schema for a book, built once: constructing a zod schema costs far more than using it,
 * and every generation is quoted two or three times (the API's check, the reservation, a partial delivery).
 * Books are immutable values, so a schema stays valid for as long as its book lives.
 */
const schemasByBook = new WeakMap<PriceBook, Map<FeatureName, z.ZodType>>();

function paramsSchemaOf(feature: FeatureName, book: PriceBook): z.ZodType {
  let schemas = schemasByBook.get(book);
  if (!schemas) {
    schemas = new Map();
    schemasByBook.set(book, schemas);
  }
  let schema = schemas.get(feature);
  if (!schema) {
    schema = FEATURES[feature].paramsSchema(book);
    schemas.set(feature, schema);
  }
  return schema;
}
