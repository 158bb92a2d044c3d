/**
 * Partial delivery: when a generator delivers less than was quoted (a video shorter than asked for), the
 * user pays for what was delivered and the rest of the hold is released. Never more than the quote.
 */
import type { PriceBook } from './price-book';
import { quote } from './quote';

export interface DeliveredOutputMeasure {
  durationSeconds?: number;
  /** An output named twice (same URL, or same content by its SHA-256) was delivered once. */
  url?: string;
  sha256?: string;
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
  // Summed in whole milliseconds: a float sum such as 0.2 + 2.2 + 0.6 = 3.0000000000000004 would round up
  // to a second that was never delivered.
  const deliveredMs = distinctOutputs(outputs).reduce((sum, o) => sum + Math.round(o.durationSeconds! * 1000), 0);
  const deliveredSeconds = Math.ceil(deliveredMs / 1000);
  if (deliveredSeconds >= askedSeconds) return quotedCredits;
  if (deliveredSeconds === 0) return 0;
  const requoted = quote(feature, { ...params, durationSeconds: deliveredSeconds }, book).totalCredits;
  return Math.min(requoted, quotedCredits);
}

/** The outputs without repeats of an earlier one (its URL, or its content by SHA-256, in any case). */
function distinctOutputs(outputs: readonly DeliveredOutputMeasure[]): DeliveredOutputMeasure[] {
  const urls = new Set<string>();
  const digests = new Set<string>();
  return outputs.filter((o) => {
    const digest = o.sha256?.toLowerCase();
    if ((o.url !== undefined && urls.has(o.url)) || (digest !== undefined && digests.has(digest))) return false;
    if (o.url !== undefined) urls.add(o.url);
    if (digest !== undefined) digests.add(digest);
    return true;
  });
}
