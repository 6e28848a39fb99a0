// @catwalk/testing: an in-process TF-Serving-compatible server for tests.
export type { FakeMethod, RecordedRequest } from './core.js';
export {
  type Entrypoint,
  exponentialBuckets,
  type InferenceApi,
  LATENCY_BUCKETS_MICROS,
  QUEUING_BUCKETS_MICROS,
} from './metrics.js';
export {
  type ExampleModelOptions,
  type FakeModel,
  type FakeSignature,
  type Features,
  type FeatureValues,
  floatFeature,
  halfPlusThree,
  halfPlusTwo,
  type SignatureMethod,
  type TensorSpecInit,
  type VersionPolicy,
} from './models.js';
export {
  DEFAULT_MONITORING_PATH,
  type FailOptions,
  type FakeServing,
  type FakeServingOptions,
  type MonitoringOptions,
  startFakeServing,
} from './server.js';
export type { LatencyDistribution, TrafficBehaviour } from './traffic.js';
