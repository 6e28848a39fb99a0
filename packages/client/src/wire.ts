// @catwalk/client/wire: wire-level building blocks for @catwalk/testing and
// for callers who need the raw TF Serving messages: protobuf schemas, grpc-js
// service definitions, the tensor codec and the REST JSON dialect.
// Unstable: it follows TF Serving's protos and the SDK's internals, and may
// change in any release.

export { decodeTensor, encodeTensor } from './codec.js';
export { ERROR_CODES, HTTP_STATUS_BY_CODE } from './errors.js';
export type { components as RestSchemas, paths as RestPaths } from './generated/openapi.js';
export * from './generated/proto/tensorflow/core/example/example_pb.js';
export * from './generated/proto/tensorflow/core/example/feature_pb.js';
export * from './generated/proto/tensorflow/core/framework/tensor_pb.js';
export * from './generated/proto/tensorflow/core/framework/tensor_shape_pb.js';
export * from './generated/proto/tensorflow/core/framework/types_pb.js';
export * from './generated/proto/tensorflow/core/protobuf/error_codes_pb.js';
export * from './generated/proto/tensorflow/core/protobuf/meta_graph_pb.js';
export * from './generated/proto/tensorflow_serving/apis/classification_pb.js';
export * from './generated/proto/tensorflow_serving/apis/get_model_metadata_pb.js';
export * from './generated/proto/tensorflow_serving/apis/get_model_status_pb.js';
export * from './generated/proto/tensorflow_serving/apis/inference_pb.js';
export * from './generated/proto/tensorflow_serving/apis/input_pb.js';
export * from './generated/proto/tensorflow_serving/apis/model_management_pb.js';
export * from './generated/proto/tensorflow_serving/apis/model_pb.js';
export * from './generated/proto/tensorflow_serving/apis/model_service_pb.js';
export * from './generated/proto/tensorflow_serving/apis/predict_pb.js';
export * from './generated/proto/tensorflow_serving/apis/prediction_service_pb.js';
export * from './generated/proto/tensorflow_serving/apis/regression_pb.js';
export * from './generated/proto/tensorflow_serving/apis/status_pb.js';
export * from './generated/proto/tensorflow_serving/config/model_server_config_pb.js';
export {
  grpcServiceDefinition,
  modelServiceDefinition,
  predictionServiceDefinition,
} from './grpc-service.js';
export { formatFloat, isB64, isPlainObject, parseJson } from './json.js';
export { jsonToTensor, tensorRowToJson, tensorToJson } from './json-tensor.js';
export { parseMetadataJson } from './metadata.js';
export { metadataFromProto } from './metadata-proto.js';
export { encodePredictRequest } from './predict-wire.js';
