import * as fs from 'node:fs';
import * as path from 'node:path';

export const repoRoot = path.resolve(__dirname, '../../..');
/** TF Serving's own test data, read-only beside the repository. */
export const tfserving = path.resolve(repoRoot, '../shared/testdata/tfserving');

/** Every folder under the test data that holds a saved_model.pb. */
export function savedModelDirs(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name === 'saved_model.pb') found.push(dir);
    }
  };
  walk(tfserving);
  return found.sort();
}

export function readPb(dir: string): Uint8Array {
  return fs.readFileSync(path.join(dir, 'saved_model.pb'));
}
