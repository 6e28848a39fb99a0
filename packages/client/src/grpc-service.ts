import {
  type DescMessage,
  type DescService,
  fromBinary,
  type MessageShape,
  toBinary,
} from '@bufbuild/protobuf';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { ModelService } from './generated/proto/tensorflow_serving/apis/model_service_pb.js';
import { PredictionService } from './generated/proto/tensorflow_serving/apis/prediction_service_pb.js';

/** Wraps bytes in a Buffer without copying (grpc-js wants Buffers). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function serializer<D extends DescMessage>(schema: D): (message: MessageShape<D>) => Buffer {
  return (message) => asBuffer(toBinary(schema, message));
}

export function deserializer<D extends DescMessage>(schema: D): (bytes: Buffer) => MessageShape<D> {
  return (bytes) => fromBinary(schema, bytes);
}

/** A grpc-js service definition for a protobuf-es service: full method paths as TF Serving registers them. */
export function grpcServiceDefinition(service: DescService): ServiceDefinition {
  const definition: Record<string, ServiceDefinition[string]> = {};
  for (const method of service.methods) {
    definition[method.localName] = {
      path: `/${service.typeName}/${method.name}`,
      originalName: method.name,
      requestStream: false,
      responseStream: false,
      requestSerialize: serializer(method.input) as (message: unknown) => Buffer,
      requestDeserialize: deserializer(method.input),
      responseSerialize: serializer(method.output),
      responseDeserialize: deserializer(method.output),
    };
  }
  return definition;
}

export const predictionServiceDefinition = grpcServiceDefinition(PredictionService);
export const modelServiceDefinition = grpcServiceDefinition(ModelService);
