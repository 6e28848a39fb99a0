// A PredictRequest serializer for large tensors. protobuf-es writes nested
// messages into separate buffers and copies them into their parent (once per
// level: map entry, TensorProto, request), so a 4 MB tensor_content is copied
// three times. This writes the same bytes with one copy: everything but the
// tensor contents goes through protobuf-es, and the contents are placed into a
// single buffer sized up front.
import { create, toBinary } from '@bufbuild/protobuf';
import {
  type TensorProto,
  TensorProtoSchema,
} from './generated/proto/tensorflow/core/framework/tensor_pb.js';
import {
  type PredictRequest,
  PredictRequestSchema,
} from './generated/proto/tensorflow_serving/apis/predict_pb.js';

/** Below this many tensor bytes the plain serializer is just as fast. */
const LARGE = 64 * 1024;
const EMPTY = new Uint8Array(0);
const utf8 = new TextEncoder();

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeVarint(buf: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

export function serializePredictRequest(request: PredictRequest): Uint8Array {
  const inputs = Object.entries(request.inputs);
  let large = 0;
  for (const [, t] of inputs) large += t.tensorContent.length;
  if (large < LARGE) return toBinary(PredictRequestSchema, request);

  // Fields 1 (model_spec) come first, as protobuf-es would write them; the
  // inputs map (2) follows, then output_filter (3) and later fields are
  // appended. Protobuf readers accept fields in any order.
  const head = toBinary(PredictRequestSchema, create(PredictRequestSchema, { modelSpec: request.modelSpec }));
  const tail = toBinary(PredictRequestSchema, { ...request, modelSpec: undefined, inputs: {} });
  const entries = inputs.map(([key, tensor]) => {
    const keyBytes = utf8.encode(key);
    const content = tensor.tensorContent;
    const rest = toBinary(TensorProtoSchema, { ...tensor, tensorContent: EMPTY } as TensorProto);
    const tensorSize =
      rest.length + (content.length > 0 ? 1 + varintSize(content.length) + content.length : 0);
    const entrySize =
      1 + varintSize(keyBytes.length) + keyBytes.length + 1 + varintSize(tensorSize) + tensorSize;
    return { keyBytes, content, rest, tensorSize, entrySize };
  });
  let total = head.length + tail.length;
  for (const e of entries) total += 1 + varintSize(e.entrySize) + e.entrySize;

  // Every byte is written below, so skip zero-filling 4 MB.
  const out: Uint8Array = Buffer.allocUnsafe(total);
  out.set(head, 0);
  let pos = head.length;
  for (const e of entries) {
    out[pos++] = 0x12; // inputs = 2, length-delimited
    pos = writeVarint(out, pos, e.entrySize);
    out[pos++] = 0x0a; // map key = 1
    pos = writeVarint(out, pos, e.keyBytes.length);
    out.set(e.keyBytes, pos);
    pos += e.keyBytes.length;
    out[pos++] = 0x12; // map value = 2
    pos = writeVarint(out, pos, e.tensorSize);
    out.set(e.rest, pos);
    pos += e.rest.length;
    if (e.content.length > 0) {
      out[pos++] = 0x22; // tensor_content = 4
      pos = writeVarint(out, pos, e.content.length);
      out.set(e.content, pos);
      pos += e.content.length;
    }
  }
  out.set(tail, pos);
  return out;
}
