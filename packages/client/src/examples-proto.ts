// tf.train.Example protos for the gRPC transport (REST writes JSON: examples.ts).
import { create } from '@bufbuild/protobuf';
import type { ExampleInput, FeatureValue } from './examples.js';
import { typedFeature } from './examples.js';
import { type Example, ExampleSchema } from './generated/proto/tensorflow/core/example/example_pb.js';
import { type Feature, FeatureSchema } from './generated/proto/tensorflow/core/example/feature_pb.js';

const utf8 = new TextEncoder();

export function featureToProto(name: string, value: FeatureValue): Feature {
  const f = typedFeature(name, value);
  switch (f.kind) {
    case 'float':
      return create(FeatureSchema, { kind: { case: 'floatList', value: { value: [...f.values] } } });
    case 'int64':
      return create(FeatureSchema, { kind: { case: 'int64List', value: { value: [...f.values] } } });
    default:
      return create(FeatureSchema, {
        kind: {
          case: 'bytesList',
          value: { value: f.values.map((v) => (typeof v === 'string' ? utf8.encode(v) : v)) },
        },
      });
  }
}

export function exampleToProto(example: ExampleInput): Example {
  const feature: Record<string, Feature> = {};
  for (const [name, value] of Object.entries(example)) feature[name] = featureToProto(name, value);
  return create(ExampleSchema, { features: { feature } });
}
