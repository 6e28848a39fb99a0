// Signatures of a SavedModel, read from the bytes of saved_model.pb (binary
// protobuf) or saved_model.pbtxt (text format), the way TF Serving sees them:
// the MetaGraph whose tag set is exactly the one asked for ({serve} by
// default), its signature_def map, each TensorInfo's dtype and shape.
import { fromBinary } from '@bufbuild/protobuf';
import { DataType, type SignatureDef, type TensorInfo } from '@catwalk/client/wire';
import { type PlainMessage, type PlainValue, parseTextProto, textProtoToPlain } from '@catwalk/schema';
import {
  type SavedModel,
  SavedModelSchema,
} from './generated/proto/tensorflow/core/protobuf/saved_model_pb.js';

/** One input or output of a signature. */
export interface TensorSpec {
  /** TensorFlow's dtype name, e.g. "DT_FLOAT" (as TF Serving's metadata writes it). */
  readonly dtype: string;
  /** Dimensions, -1 where a size is unknown; null when even the rank is unknown. */
  readonly shape: readonly number[] | null;
  /** The graph tensor behind the alias, e.g. "x:0" ("" for sparse and composite tensors). */
  readonly tensorName: string;
}

export interface SignatureSpec {
  /** e.g. "tensorflow/serving/predict". */
  readonly methodName: string;
  readonly inputs: Readonly<Record<string, TensorSpec>>;
  readonly outputs: Readonly<Record<string, TensorSpec>>;
}

export interface ModelSignatures {
  /** The tag set of the MetaGraph read. */
  readonly tags: readonly string[];
  /** The TensorFlow version that wrote the MetaGraph, when it says. */
  readonly tensorflowVersion: string;
  /** Every signature, by name, in name order. */
  readonly signatures: Readonly<Record<string, SignatureSpec>>;
}

export interface ReadSignaturesOptions {
  /** The MetaGraph's tag set. @default ['serve'] */
  readonly tags?: readonly string[];
  /** The file the bytes came from, for error messages. @default 'saved_model.pb' */
  readonly source?: string;
}

/** A SavedModel that cannot be read, or lacks what was asked for; the message says which file and why. */
export class SavedModelError extends Error {
  override readonly name = 'SavedModelError';
  readonly source: string;
  constructor(source: string, reason: string) {
    super(`${source}: ${reason}`);
    this.source = source;
  }
}

/** Reads the signatures of a SavedModel from the bytes of its saved_model.pb. */
export function readSignatures(bytes: Uint8Array, options: ReadSignaturesOptions = {}): ModelSignatures {
  const source = options.source ?? 'saved_model.pb';
  const tags = options.tags ?? ['serve'];
  let model: SavedModel;
  try {
    // Unknown fields (the graph, the variables' object graph) are skipped, not kept.
    model = fromBinary(SavedModelSchema, bytes, { readUnknownFields: false });
  } catch (error) {
    throw new SavedModelError(
      source,
      `not a SavedModel: the protobuf is truncated or corrupt (${describe(error)}). Export the model again with tf.saved_model.save or SavedModelBuilder.`,
    );
  }
  const graphs = model.metaGraphs.map((graph) => ({
    tags: graph.metaInfoDef?.tags ?? [],
    tensorflowVersion: graph.metaInfoDef?.tensorflowVersion ?? '',
    signatures: graph.signatureDef,
  }));
  const graph = pickGraph(graphs, tags, source);
  const signatures: Record<string, SignatureSpec> = {};
  for (const name of Object.keys(graph.signatures).sort()) {
    signatures[name] = signatureFromProto(graph.signatures[name] as SignatureDef);
  }
  return { tags: [...graph.tags], tensorflowVersion: graph.tensorflowVersion, signatures };
}

/**
 * Reads the signatures from the text of a saved_model.pbtxt, through the
 * project's text-format reader. Text format names enum values, so dtypes
 * come out exactly as written.
 */
export function readSignaturesFromText(text: string, options: ReadSignaturesOptions = {}): ModelSignatures {
  const source = options.source ?? 'saved_model.pbtxt';
  const tags = options.tags ?? ['serve'];
  let plain: PlainMessage;
  try {
    plain = textProtoToPlain(parseTextProto(text, source));
  } catch (error) {
    throw new SavedModelError(source, `not a SavedModel in text format (${describe(error)})`);
  }
  const graphs = messages(plain.meta_graphs).map((graph) => {
    const info = messages(graph.meta_info_def)[0] ?? {};
    const defs: Record<string, PlainMessage> = {};
    for (const entry of messages(graph.signature_def))
      defs[scalar(entry.key)] = messages(entry.value)[0] ?? {};
    return {
      tags: (info.tags ?? []).map(String),
      tensorflowVersion: scalar(info.tensorflow_version),
      signatures: defs,
    };
  });
  const graph = pickGraph(graphs, tags, source);
  const signatures: Record<string, SignatureSpec> = {};
  for (const name of Object.keys(graph.signatures).sort()) {
    const def = graph.signatures[name] as PlainMessage;
    signatures[name] = {
      methodName: scalar(def.method_name),
      inputs: tensorMapFromText(def.inputs),
      outputs: tensorMapFromText(def.outputs),
    };
  }
  return { tags: [...graph.tags], tensorflowVersion: graph.tensorflowVersion, signatures };
}

function pickGraph<S>(
  graphs: ReadonlyArray<{ tags: readonly string[]; tensorflowVersion: string; signatures: S }>,
  tags: readonly string[],
  source: string,
) {
  if (graphs.length === 0) {
    throw new SavedModelError(
      source,
      'not a SavedModel: it holds no MetaGraph (is this a checkpoint or a frozen graph?)',
    );
  }
  // TensorFlow loads the MetaGraph whose tag set equals the requested one.
  const wanted = [...new Set(tags)].sort();
  const graph = graphs.find((g) => sameSet(g.tags, wanted));
  if (graph === undefined) {
    const found = graphs.map((g) => `{${[...g.tags].sort().join(', ')}}`).join(', ');
    throw new SavedModelError(
      source,
      `no MetaGraph tagged {${wanted.join(', ')}} (found ${found}); TF Serving loads the one tagged {serve}: export with tags=[tf.saved_model.SERVING]`,
    );
  }
  return graph;
}

function sameSet(a: readonly string[], sortedUnique: readonly string[]): boolean {
  const set = [...new Set(a)].sort();
  return set.length === sortedUnique.length && set.every((tag, i) => tag === sortedUnique[i]);
}

function signatureFromProto(def: SignatureDef): SignatureSpec {
  return {
    methodName: def.methodName,
    inputs: tensorMap(def.inputs),
    outputs: tensorMap(def.outputs),
  };
}

function tensorMap(infos: { [alias: string]: TensorInfo }): Record<string, TensorSpec> {
  const out: Record<string, TensorSpec> = {};
  for (const alias of Object.keys(infos).sort()) {
    const info = infos[alias] as TensorInfo;
    const shape = info.tensorShape;
    out[alias] = {
      dtype: dtypeName(info.dtype),
      shape: shape === undefined ? [] : shape.unknownRank ? null : shape.dim.map((d) => Number(d.size)),
      tensorName: info.encoding.case === 'name' ? info.encoding.value : '',
    };
  }
  return out;
}

/** TensorFlow's name for a DataType number; numbers this build does not know stay visible. */
export function dtypeName(dtype: number): string {
  const name = DataType[dtype];
  return typeof name === 'string' ? name : `DT_UNKNOWN_${dtype}`;
}

function tensorMapFromText(entries: PlainValue[] | undefined): Record<string, TensorSpec> {
  const byAlias = new Map<string, PlainMessage>();
  for (const entry of messages(entries)) byAlias.set(scalar(entry.key), messages(entry.value)[0] ?? {});
  const out: Record<string, TensorSpec> = {};
  for (const alias of [...byAlias.keys()].sort()) {
    const info = byAlias.get(alias) as PlainMessage;
    const shape = messages(info.tensor_shape)[0];
    const dtype = info.dtype?.[0];
    out[alias] = {
      dtype:
        typeof dtype === 'number' ? dtypeName(dtype) : dtype === undefined ? 'DT_INVALID' : String(dtype),
      shape:
        shape === undefined
          ? []
          : shape.unknown_rank?.[0] === true
            ? null
            : messages(shape.dim).map((d) => Number(scalar(d.size) || 0)),
      tensorName: scalar(info.name),
    };
  }
  return out;
}

function messages(values: PlainValue[] | undefined): PlainMessage[] {
  return (values ?? []).filter((v): v is PlainMessage => typeof v === 'object' && v !== null);
}

function scalar(values: PlainValue[] | undefined): string {
  const v = values?.[0];
  return v === undefined || typeof v === 'object' ? '' : String(v);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
