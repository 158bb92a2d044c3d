/**
 * Search attributes that let an operator filter generations in the Temporal UI. The worker registers them
 * through the OperatorService at start (see src/temporal/search-attributes.ts); names and types live here so
 * that workflows, the client and the registration agree.
 */
import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';

export const walletIdKey = defineSearchAttributeKey('WalletId', SearchAttributeType.KEYWORD);
export const featureKey = defineSearchAttributeKey('Feature', SearchAttributeType.KEYWORD);
export const platformKey = defineSearchAttributeKey('Platform', SearchAttributeType.KEYWORD);
export const generationStatusKey = defineSearchAttributeKey('GenerationStatus', SearchAttributeType.KEYWORD);

export const customSearchAttributes = [walletIdKey, featureKey, platformKey, generationStatusKey] as const;
