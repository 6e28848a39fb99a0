export { type AnalyseOptions, analyseExperiment } from './analyse';
export { type PrometheusOptions, PrometheusQueryError, queryInstant, type VectorSample } from './prometheus';
export { promDuration, type Track, type TrackSelector, trackMatchers, trackQueries } from './queries';
export {
  type Bucket,
  countAbove,
  type ErrorCounts,
  type ExceedanceCounts,
  errorRateScale,
  errorRateTest,
  errorRateTestOverSteps,
  errorRateUpperBound,
  errorRateUpperBoundOverSteps,
  errorRateWithinTest,
  errorRateWithinTestOverSteps,
  exceedanceTest,
  exceedanceTestOverSteps,
  exceedanceWithinTest,
  exceedanceWithinTestOverSteps,
  growthNeeded,
  histogramQuantile,
  type SequentialResult,
  type StepCounts,
} from './sequential';
export {
  ALPHA,
  type AnalysisThresholds,
  type Decision,
  decide,
  decideOverSteps,
  SLOW_SHARE,
  type StepSample,
  type TrackSample,
  type TrackStats,
  trackStats,
  type Verdict,
} from './verdict';
