export { PricingError, type PricingErrorCode } from './errors';
export {
  defaultPriceBook, PriceBookSchema, RESOLUTIONS, MODEL_TIERS, UPSCALE_TARGETS,
  type PriceBook, type Resolution, type ModelTier, type UpscaleTarget,
} from './price-book';
export {
  FEATURES, FEATURE_NAMES, isFeatureName, contentTypeMatches,
  type FeatureDefinition, type FeatureName, type BreakdownLine,
} from './features';
export { quote, type Quote } from './quote';
