// Exports with the signatures a test needs, written as saved_model.pbtxt
// (TensorFlow's text format of the same SavedModel message, which TF Serving
// loads too), so a test can rename an input or change a dtype without
// TensorFlow.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { halfPlusTwo, tempDir } from './helpers';

/** alias -> [dtype, shape]; a null shape is an unknown rank. */
export type Tensors = Record<string, readonly [string, readonly number[] | null]>;

export interface Sig {
  readonly inputs: Tensors;
  readonly outputs: Tensors;
  /** @default tensorflow/serving/predict */
  readonly method?: string;
}

function tensorText(alias: string, [dtype, shape]: readonly [string, readonly number[] | null]): string {
  const dims = shape === null ? 'unknown_rank: true' : shape.map((size) => `dim { size: ${size} }`).join(' ');
  return `key: ${JSON.stringify(alias)} value { name: ${JSON.stringify(`${alias}:0`)} dtype: ${dtype} tensor_shape { ${dims} } }`;
}

export function savedModelText(signatures: Record<string, Sig>): string {
  const defs = Object.entries(signatures).map(
    ([name, sig]) =>
      `  signature_def {\n    key: ${JSON.stringify(name)}\n    value {\n` +
      Object.entries(sig.inputs)
        .map(([a, t]) => `      inputs { ${tensorText(a, t)} }\n`)
        .join('') +
      Object.entries(sig.outputs)
        .map(([a, t]) => `      outputs { ${tensorText(a, t)} }\n`)
        .join('') +
      `      method_name: ${JSON.stringify(sig.method ?? 'tensorflow/serving/predict')}\n    }\n  }\n`,
  );
  return `saved_model_schema_version: 1\nmeta_graphs {\n  meta_info_def { tags: "serve" tensorflow_version: "2.15.0" }\n${defs.join('')}}\n`;
}

/** An export folder whose saved_model.pbtxt declares these signatures; `extra` files are added as given. */
export function signatureExport(signatures: Record<string, Sig>, extra: Record<string, string> = {}): string {
  const dir = tempDir('catwalk-sig-export-');
  fs.writeFileSync(path.join(dir, 'saved_model.pbtxt'), savedModelText(signatures));
  for (const [rel, text] of Object.entries(extra)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

/** The pricing model of the tests: features in, price out. */
export const pricingV1: Record<string, Sig> = {
  serving_default: {
    inputs: { features: ['DT_FLOAT', [-1, 3]] },
    outputs: { price: ['DT_FLOAT', [-1, 1]] },
  },
};

/** half_plus_two with saved_model.pb cut short: every file is there, but its signatures cannot be read. */
export function unreadableExport(): string {
  const dir = tempDir('catwalk-cut-export-');
  fs.cpSync(halfPlusTwo, dir, { recursive: true });
  const pb = path.join(dir, 'saved_model.pb');
  fs.writeFileSync(pb, fs.readFileSync(pb).subarray(0, 1000));
  return dir;
}
