import * as fs from 'node:fs';
import * as path from 'node:path';

export const repoRoot = path.resolve(__dirname, '../../..');
export const examplesDir = path.join(repoRoot, 'examples');
export const tfServingTestdata = path.resolve(repoRoot, '../shared/testdata/tfserving');

/** The smallest valid spec; tests change one thing at a time. */
export function baseSpec(): Record<string, any> {
  return {
    apiVersion: 'catwalk/v1',
    kind: 'Model',
    metadata: { name: 'demo', team: 'search' },
    spec: { source: { uri: 's3://catwalk-models/search/demo' } },
  };
}

/** A copy of `value` with `path` set (intermediate mappings created). */
export function withField(value: Record<string, any>, path: string, field: unknown): Record<string, any> {
  const copy = structuredClone(value);
  const parts = path.split('.');
  let node = copy;
  for (const part of parts.slice(0, -1)) {
    node[part] ??= {};
    node = node[part];
  }
  node[parts[parts.length - 1]!] = field;
  return copy;
}

export function readExample(relative: string): { file: string; text: string } {
  return { file: relative, text: fs.readFileSync(path.join(examplesDir, relative), 'utf8') };
}

export function listFiles(dir: string, ext = '.yaml'): string[] {
  return fs
    .readdirSync(path.join(examplesDir, dir))
    .filter((f) => f.endsWith(ext))
    .sort()
    .map((f) => `${dir}/${f}`);
}
