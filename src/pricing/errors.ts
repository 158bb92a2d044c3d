/** Refusals of the pricing rules. Codes are stable: the API maps them to HTTP statuses by name. */
export type PricingErrorCode = 'UnknownFeature' | 'InvalidParams';

export class PricingError extends Error {
  constructor(
    readonly code: PricingErrorCode,
    message: string,
    /** The offending field path (e.g. `params.durationSeconds`) and reason, for the caller to show. */
    readonly details: { field: string; reason: string }[] = [],
  ) {
    super(message);
    this.name = 'PricingError';
  }
}
