// `@catwalk/schema/names` is the entry for code that only checks names and
// S3 URIs (the registry's every sync): it must not build the spec's TypeBox
// types or its validators, which cost 110-170 ms at start-up.
//
// The heavy packages are observed, not replaced: each jest.doMock factory
// records that the package was asked for and hands back the real module.

import * as fs from 'node:fs';
import * as path from 'node:path';

const packageDir = path.join(__dirname, '..');

function loadedWhile(load: () => void): string[] {
  const loaded: string[] = [];
  jest.isolateModules(() => {
    for (const name of ['@sinclair/typebox', 'ajv', 'yaml']) {
      jest.doMock(name, () => {
        loaded.push(name);
        return jest.requireActual(name);
      });
    }
    load();
  });
  return loaded;
}

describe('@catwalk/schema/names', () => {
  it('is exported by the package, with its types, from the module built out of src/names.ts', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(packageDir, 'package.json'), 'utf8'));
    expect(manifest.exports['./names']).toEqual({ types: './dist/names.d.ts', default: './dist/names.js' });
    // The build compiles src/ into dist/ file for file (tsconfig.build.json: rootDir src, outDir dist).
    const build = JSON.parse(fs.readFileSync(path.join(packageDir, 'tsconfig.build.json'), 'utf8'));
    expect(build.compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist' });
    expect(fs.existsSync(path.join(packageDir, 'src/names.ts'))).toBe(true);
    // The main entry stays as it was for every other consumer.
    expect(manifest.exports['.']).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
    expect(manifest.files).toContain('dist');
  });

  it('loads neither the spec types (TypeBox) nor the validators (ajv) nor the YAML reader', () => {
    let names: typeof import('../src/names') | undefined;
    const loaded = loadedWhile(() => {
      names = require('../src/names');
    });
    expect(loaded).toEqual([]);
    expect(names?.parseS3Uri('s3://models-bucket/team/model')).toEqual({
      location: { bucket: 'models-bucket', prefix: 'team/model' },
    });
    expect(names?.parseS3Uri('s3://Bad_Bucket/x').problem).toMatch(/bucket 'Bad_Bucket'/);
  });

  it('the main entry still builds the spec (the check above would see it)', () => {
    expect(loadedWhile(() => require('../src/index'))).toEqual(expect.arrayContaining(['@sinclair/typebox']));
  });
});
