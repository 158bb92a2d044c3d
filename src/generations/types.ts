import type { GenerationPlatform, GenerationQuote, OutcomeReport, Settlement } from '../workflows/generation-contract';

export type GenerationRecordStatus = 'reserved' | 'captured' | 'partially_captured' | 'released' | 'rejected';

export interface GenerationRecord {
  generationId: string;
  walletId: string;
  userId: string;
  feature: string;
  params: Record<string, unknown>;
  platform: GenerationPlatform;
  context: string | null;
  status: GenerationRecordStatus;
  priceBookVersion: string;
  costCredits: number;
  quote: GenerationQuote;
  holdId: string | null;
  outcome: OutcomeReport | null;
  settlement: Settlement | null;
  failureReason: string | null;
  rejection: { code: string; message: string; shortfallCredits?: number } | null;
  createdAt: Date;
  reservedAt: Date | null;
  settledAt: Date | null;
  updatedAt: Date;
}
