import { validateSpecs, validateSpecText, validateSpecValue } from '../src/validate';
import { baseSpec, listFiles, readExample, withField } from './helpers';

describe('bundled examples', () => {
  it('every spec in examples/models is valid, with no warnings', () => {
    const report = validateSpecs(listFiles('models').map(readExample));
    expect(report.diagnostics).toEqual([]);
    expect(report.valid).toBe(true);
    expect(report.results.map((r) => r.model?.name)).toEqual(['fraud-check', 'image-tagger', 'pricing']);
  });

  const invalid = listFiles('invalid');
  it('examples/invalid holds one file per class of error', () => {
    expect(invalid.length).toBeGreaterThanOrEqual(20);
  });

  it.each(invalid)('%s fails with the error its header names, pointing at a line, with a fix', (file) => {
    const source = readExample(file);
    const expected = /^# expect: (\S+)$/m.exec(source.text)?.[1];
    expect(expected).toBeDefined();
    const result = validateSpecText(source);
    expect(result.model).toBeUndefined();
    const errors = result.diagnostics.filter((d) => d.severity === 'error');
    expect(errors.map((d) => d.code)).toContain(expected);
    for (const error of errors) {
      expect(error.file).toBe(file);
      expect(error.line).toBeGreaterThan(0);
      expect(error.column).toBeGreaterThan(0);
      expect(error.fix).toBeTruthy();
    }
  });

  it('the two files of examples/invalid/duplicate-names are each valid but collide together', () => {
    const files = listFiles('invalid/duplicate-names').map(readExample);
    for (const file of files) expect(validateSpecText(file).diagnostics).toEqual([]);
    const report = validateSpecs(files);
    expect(report.valid).toBe(false);
    const duplicates = report.diagnostics.filter((d) => d.code === 'duplicate-name');
    expect(duplicates.map((d) => d.file)).toEqual(files.map((f) => f.file));
    expect(duplicates[0]!.message).toContain(
      "model name 'recommender' is also used by invalid/duplicate-names/b.yaml",
    );
    expect(duplicates[0]!.message).toContain('/v1/models/recommender');
    expect(duplicates[0]!.line).toBe(7);
  });
});

describe('messages', () => {
  it('names the field, the line and column, the problem and the fix for a label on an unserved version', () => {
    const result = validateSpecText(readExample('invalid/label-not-served.yaml'));
    expect(result.diagnostics).toEqual([
      {
        severity: 'error',
        code: 'label-not-served',
        file: 'invalid/label-not-served.yaml',
        path: 'spec.serving.versionLabels.canary',
        line: 13,
        column: 41,
        message: "label 'canary' points to version 7, which versionPolicy {specific: [3, 4]} never serves",
        fix: "point 'canary' at one of 3, 4, or add 7 to spec.serving.versionPolicy.specific",
      },
    ]);
  });

  it('suggests the closest field for a misspelt one and points at the key', () => {
    const [d] = validateSpecText(readExample('invalid/unknown-field.yaml')).diagnostics;
    expect(d).toMatchObject({
      code: 'unknown-field',
      path: 'spec.scaling.minReplica',
      line: 12,
      column: 5,
      fix: "did you mean 'minReplicas'?",
    });
  });

  it('tells where a field belongs when it is in the wrong section', () => {
    const result = validateSpecValue(
      withField(baseSpec(), 'spec.traffic', { expectedPeakRps: 10, replicaRps: 5, maxReplicas: 4 }),
    );
    expect(result.diagnostics[0]).toMatchObject({
      code: 'unknown-field',
      fix: "'maxReplicas' belongs under spec.scaling",
    });
  });

  it('lists allowed fields when nothing is close', () => {
    const result = validateSpecValue(withField(baseSpec(), 'spec.endpoint', { zzzzzzzz: 1 }));
    expect(result.diagnostics[0]!.fix).toBe('allowed here: host, grpc, ingressClassName, group, scheme, tls');
  });

  it('reports every problem at once, across structure and semantics', () => {
    let spec = withField(baseSpec(), 'metadata.name', 'Bad_Name');
    spec = withField(spec, 'spec.serving', {
      image: 'tensorflow/serving',
      versionPolicy: { specific: [1] },
      versionLabels: { stable: 2 },
    });
    spec = withField(spec, 'spec.scaling', { minReplicas: 5, maxReplicas: 3, replicas: 4 });
    const codes = validateSpecValue(spec)
      .diagnostics.map((d) => d.code)
      .sort();
    expect(codes).toEqual([
      'bad-format',
      'image-not-pinned',
      'label-not-served',
      'replicas-order',
      'unknown-field',
    ]);
  });

  it('does not repeat a semantic complaint about a field that already failed its type check', () => {
    const spec = withField(baseSpec(), 'spec.resources', { memory: 'lots', modelSizeBytes: '1Gi' });
    const codes = validateSpecValue(spec).diagnostics.map((d) => d.code);
    expect(codes).toEqual(['bad-format']);
  });

  it('explains quoted numbers and booleans', () => {
    const spec = withField(withField(baseSpec(), 'spec.serving', { pollSeconds: '10' }), 'spec.endpoint', {
      grpc: 'yes',
    });
    const fixes = validateSpecValue(spec).diagnostics.map((d) => d.fix);
    expect(fixes).toEqual(['write true or false without quotes', 'write the number without quotes: 10']);
  });
});

describe('reading files', () => {
  it('reads JSON specs with positions', () => {
    const spec = withField(baseSpec(), 'spec.scaling', { minReplicas: 1 });
    const result = validateSpecText({ file: 'demo.json', text: JSON.stringify(spec, null, 2) });
    expect(result.diagnostics[0]).toMatchObject({ code: 'single-replica', line: 13, column: 22 });
  });

  it('refuses a file with two documents, an empty file and a scalar', () => {
    const text = '---\napiVersion: catwalk/v1\n---\nkind: Model\n';
    expect(validateSpecText({ file: 'two.yaml', text }).diagnostics[0]).toMatchObject({
      code: 'multiple-documents',
      line: 3,
    });
    expect(validateSpecText({ file: 'empty.yaml', text: '# nothing\n' }).diagnostics[0]!.code).toBe(
      'empty-file',
    );
    expect(validateSpecText({ file: 's.yaml', text: 'hello\n' }).diagnostics[0]).toMatchObject({
      code: 'wrong-type',
      message: 'expected a mapping, found the string "hello"',
    });
  });

  it('reports YAML syntax errors with their position', () => {
    const result = validateSpecText(readExample('invalid/yaml-syntax.yaml'));
    expect(result.diagnostics[0]).toMatchObject({ code: 'yaml-syntax', line: 13 });
  });

  it('keeps YAML 1.2 scalars: `on` and `no` are strings, not booleans', () => {
    const text =
      'apiVersion: catwalk/v1\nkind: Model\nmetadata: { name: demo, team: search }\nspec:\n  source: { uri: "s3://catwalk-models/a/b" }\n  endpoint: { grpc: on }\n';
    expect(validateSpecText({ file: 'x.yaml', text }).diagnostics[0]).toMatchObject({
      code: 'wrong-type',
      path: 'spec.endpoint.grpc',
    });
  });
});

describe('text that is not Unicode', () => {
  it('refuses a lone surrogate written as a JSON escape, naming the field', () => {
    const text = JSON.stringify(withField(baseSpec(), 'metadata.description', 'x')).replace(
      '"x"',
      '"\\ud800x"',
    );
    const [d] = validateSpecText({ file: 'a.json', text }).diagnostics;
    expect(d).toMatchObject({ code: 'invalid-unicode', path: 'metadata.description', line: 1 });
  });
});

describe('cross-file checks', () => {
  it('warns when two models share an S3 folder', () => {
    const a = { file: 'a.json', text: JSON.stringify(baseSpec()) };
    const b = { file: 'b.json', text: JSON.stringify(withField(baseSpec(), 'metadata.name', 'other')) };
    const report = validateSpecs([a, b]);
    expect(report.valid).toBe(true);
    expect(report.diagnostics.map((d) => [d.file, d.code, d.severity])).toEqual([
      ['a.json', 'duplicate-source', 'warning'],
      ['b.json', 'duplicate-source', 'warning'],
    ]);
  });
});

describe('type errors without a field description', () => {
  it('suggests quoting a label value YAML read as a number', () => {
    const [d] = validateSpecValue(withField(baseSpec(), 'metadata.labels', { tier: 1 })).diagnostics;
    expect(d).toMatchObject({
      code: 'wrong-type',
      path: 'metadata.labels.tier',
      fix: 'quote it so YAML reads it as text: "1"',
    });
  });
});
