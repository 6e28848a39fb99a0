// A tiny SavedModel-shaped folder for demos and tests that must not depend
// on TensorFlow: saved_model.pb, variables/variables.index and one data
// shard, with deterministic bytes. It passes Catwalk's SavedModel checks but
// is NOT a loadable TensorFlow model (the .pb holds no MetaGraph).

import * as fs from 'node:fs/promises';
import * as path from 'node:path';

export interface ExampleExportOptions {
  /** Changes the bytes, so two calls can make two different versions. @default 'v1' */
  readonly seed?: string;
}

export async function writeExampleExport(dir: string, options: ExampleExportOptions = {}): Promise<string[]> {
  const seed = options.seed ?? 'v1';
  const files: Record<string, string> = {
    'saved_model.pb': `catwalk example export ${seed}: not a real MetaGraph, for registry demos only\n`,
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
