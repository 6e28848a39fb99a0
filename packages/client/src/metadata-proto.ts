// Signatures from a gRPC GetModelMetadataResponse (REST's JSON: metadata.ts).
import { anyUnpack } from '@bufbuild/protobuf/wkt';
import { ServerError } from './errors.js';
import { DataType } from './generated/proto/tensorflow/core/framework/types_pb.js';
import type { TensorInfo } from './generated/proto/tensorflow/core/protobuf/meta_graph_pb.js';
import {
  type GetModelMetadataResponse,
  type SignatureDefMap,
  SignatureDefMapSchema,
} from './generated/proto/tensorflow_serving/apis/get_model_metadata_pb.js';
import { type ModelMetadata, mapValues, type Signature, type TensorSpec } from './metadata.js';
import { dtypeFromTfName } from './tensor.js';

/** Reads a gRPC GetModelMetadataResponse (its "signature_def" Any holds a SignatureDefMap). */
export function metadataFromProto(response: GetModelMetadataResponse): ModelMetadata {
  const packed = response.metadata.signature_def;
  const map = packed ? (anyUnpack(packed, SignatureDefMapSchema) as SignatureDefMap | undefined) : undefined;
  if (!map) {
    throw new ServerError('the metadata response has no signature_def entry holding a SignatureDefMap', {
      code: 'DATA_LOSS',
    });
  }
  const signatures: Record<string, Signature> = {};
  for (const [name, def] of Object.entries(map.signatureDef)) {
    signatures[name] = {
      name,
      methodName: def.methodName,
      inputs: mapValues(def.inputs, specFromProto),
      outputs: mapValues(def.outputs, specFromProto),
    };
  }
  const version = response.modelSpec?.versionChoice;
  return {
    model: response.modelSpec?.name ?? '',
    version: version?.case === 'version' ? Number(version.value.value) : 0,
    signatures,
  };
}

function specFromProto(info: TensorInfo): TensorSpec {
  const tfDtype = DataType[info.dtype] ?? `DT_${info.dtype}`;
  return {
    dtype: dtypeFromTfName(tfDtype),
    tfDtype,
    shape: info.tensorShape?.unknownRank
      ? undefined
      : (info.tensorShape?.dim ?? []).map((d) => Number(d.size)),
    tensorName: info.encoding.case === 'name' ? info.encoding.value : '',
  };
}
