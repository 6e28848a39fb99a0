// A tiny SavedModel-shaped folder for demos and tests that must not depend
// on TensorFlow: saved_model.pbtxt (the text format of saved_model.pb, with
// one predict signature, serving_default: x float [?, 1] -> y float [?, 1],
// so push records signatures), variables/variables.index and one data shard,
// with deterministic bytes. It passes Catwalk's SavedModel checks but is NOT
// a loadable TensorFlow model (the MetaGraph holds no graph).

import * as fs from 'node:fs/promises';
import * as path from 'node:path';

export interface ExampleExportOptions {
  /** Changes the bytes, so two calls can make two different versions. @default 'v1' */
  readonly seed?: string;
}

export async function writeExampleExport(dir: string, options: ExampleExportOptions = {}): Promise<string[]> {
  const seed = options.seed ?? 'v1';
  const files: Record<string, string> = {
    'saved_model.pbtxt': savedModelText(seed),
    'variables/variables.index': `index ${seed}\n`,
    'variables/variables.data-00000-of-00001': `weights ${seed} `.repeat(64),
    'assets/vocab.txt': 'cheap\nfair\npricey\n',
  };
  for (const [rel, contents] of Object.entries(files)) {
    const file = path.join(dir, ...rel.split('/'));
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, contents);
  }
  return Object.keys(files).sort();
}

function savedModelText(seed: string): string {
  const tensor = (name: string) =>
    `value { name: "${name}:0" dtype: DT_FLOAT tensor_shape { dim { size: -1 } dim { size: 1 } } }`;
  return [
    `# catwalk example export ${seed}: signatures only, no graph; for registry demos`,
    'saved_model_schema_version: 1',
    'meta_graphs {',
    '  meta_info_def { tags: "serve" }',
    '  signature_def {',
    '    key: "serving_default"',
    '    value {',
    `      inputs { key: "x" ${tensor('x')} }`,
    `      outputs { key: "y" ${tensor('y')} }`,
    '      method_name: "tensorflow/serving/predict"',
    '    }',
    '  }',
    '}',
    '',
  ].join('\n');
}
