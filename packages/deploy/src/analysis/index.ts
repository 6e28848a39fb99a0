export { type AnalyseOptions, analyseExperiment } from './analyse';
export { type PrometheusOptions, PrometheusQueryError, queryInstant, type VectorSample } from './prometheus';
export { promDuration, type Track, type TrackSelector, trackMatchers, trackQueries } from './queries';
export {
  type Bucket,
  countAbove,
  type ErrorCounts,
  errorRateScale,
  errorRateTest,
  errorRateUpperBound,
  errorRateWithinTest,
  exceedanceTest,
  exceedanceWithinTest,
  growthNeeded,
  histogramQuantile,
  type SequentialResult,
} from './sequential';
export {
  ALPHA,
  type AnalysisThresholds,
  type Decision,
  decide,
  SLOW_SHARE,
  type TrackSample,
  type TrackStats,
  trackStats,
  type Verdict,
} from './verdict';
