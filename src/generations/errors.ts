/** Refusals of the generation service, with stable codes the HTTP layer maps to statuses in one place. */
export const GENERATION_ERROR_CODES = [
  'InsufficientCredits',
  'WalletNotFound',
  'WalletClosed',
  'InvalidGenerationRequest',
  'GenerationNotFound',
  'GenerationConflict',
  'OutcomeConflict',
  'InvalidOutcome',
  'AlreadySettled',
] as const;
export type GenerationErrorCode = (typeof GENERATION_ERROR_CODES)[number];

export class GenerationError extends Error {
  constructor(
    readonly code: GenerationErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'GenerationError';
  }
}

export function isGenerationErrorCode(code: string): code is GenerationErrorCode {
  return (GENERATION_ERROR_CODES as readonly string[]).includes(code);
}
