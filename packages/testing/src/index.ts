// @catwalk/testing: an in-process TF-Serving-compatible server for tests.
export type { FakeMethod, RecordedRequest } from './core.js';
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
export { type FailOptions, type FakeServing, type FakeServingOptions, startFakeServing } from './server.js';
