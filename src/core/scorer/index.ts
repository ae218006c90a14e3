/** The personal scorer (PIAA): community prior, per-person models, selection, quality, active learning. */
export { RatingStore, packDataset, subsetRatings, type PackedRatings, type Dataset } from './data';
export { averageRanks, pearson, srocc, mse, mae } from './metrics';
export { trainGlobal, emptyGlobal, globalOffset, globalLooPredictions, type GlobalModel, type TrainGlobalOptions } from './global';
export {
  IncrementalFinetune,
  fitFinetuneBatch,
  selectLambda,
  lambdaIsStale,
  predictLinear,
  DEFAULT_LAMBDA_GRID,
  type FinetunePrior,
  type FinetuneOptions,
  type LambdaSelection,
  type LinearModel,
} from './finetune';
export { knnPredict, selectK, DEFAULT_K_GRID, type KnnSelection } from './knn';
export { trainMeta, adapt, zeroMeta, shouldRetrainMeta, mamlCvPredictions, metaQueryMse, type MetaParams, type MetaOptions } from './maml';
export {
  autoSelect,
  pickBest,
  AUTO_MIN_RATINGS,
  METHODS,
  type AutoResult,
  type AutoContext,
  type MethodEvaluation,
  type MethodName,
  type ScorerMethod,
} from './auto';
export { nextToRate, selectByVariance } from './active';
export { qualityFromPredictions, qualityIsStale, QUALITY_EXACT_MAX_N } from './quality';
export {
  trainCommunityModels,
  trainInline,
  trainOffThread,
  type CommunityTrainer,
  type CommunityModels,
  type CommunityJob,
} from './community';
export { ScorerService, type ScorerServiceOptions, type RatingOptions } from './service';
