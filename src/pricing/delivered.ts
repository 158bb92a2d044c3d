/**
 * Partial delivery: when a generator delivers less than was quoted (a video shorter than asked for), the
 * user pays for what was delivered and the rest of the hold is released. Never more than the quote.
 */
import type { PriceBook } from './price-book';
import { quote } from './quote';

export interface DeliveredOutputMeasure {
  durationSeconds?: number;
}

export function deliveredCredits(
  feature: string,
  params: Record<string, unknown>,
  outputs: readonly DeliveredOutputMeasure[],
  quotedCredits: number,
  book: PriceBook,
): number {
  if (feature !== 'video') return quotedCredits;
  const askedSeconds = Number(params.durationSeconds);
  // Only a generator that reports every output's duration can claim a short delivery.
  if (outputs.length === 0 || outputs.some((o) => typeof o.durationSeconds !== 'number' || !(o.durationSeconds >= 0))) {
    return quotedCredits;
  }
  const deliveredSeconds = Math.ceil(outputs.reduce((sum, o) => sum + o.durationSeconds!, 0));
  if (deliveredSeconds >= askedSeconds) return quotedCredits;
  if (deliveredSeconds === 0) return 0;
  const requoted = quote(feature, { ...params, durationSeconds: deliveredSeconds }, book).totalCredits;
  return Math.min(requoted, quotedCredits);
}
