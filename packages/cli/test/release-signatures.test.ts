// The CLI's side of signature safety, run as a user runs it against the real
// embedded S3: push records signatures, `versions --signatures` shows them,
// `release` refuses a version that breaks the stable version's callers and
// says how to go on, `--allow-breaking` lets it through, and rollback (the
// emergency path) is never held up by it.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '@catwalk/registry';
import { catwalk, type LocalS3, repoRoot, startLocalS3, tempDir } from './run';

process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
process.env.AWS_REGION = 'us-east-1';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const tfserving = path.resolve(repoRoot, '../shared/testdata/tfserving');
let s3: LocalS3;
let endpoint = '';
const s3Dir = tempDir();

beforeAll(async () => {
  s3 = await startLocalS3(s3Dir);
  endpoint = s3.endpoint;
});

afterAll(async () => {
  await s3?.stop();
  fs.rmSync(s3Dir, { recursive: true, force: true });
});

const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at /);

type Tensors = Record<string, [string, number[]]>;
/** An export whose saved_model.pbtxt has one predict signature, serving_default. */
function exportWith(inputs: Tensors, outputs: Tensors): string {
  const tensor = (alias: string, [dtype, shape]: [string, number[]]) =>
    `key: "${alias}" value { name: "${alias}:0" dtype: ${dtype} tensor_shape { ${shape.map((d) => `dim { size: ${d} }`).join(' ')} } }`;
  const dir = tempDir();
  fs.writeFileSync(
    path.join(dir, 'saved_model.pbtxt'),
    `meta_graphs {
  meta_info_def { tags: "serve" }
  signature_def {
    key: "serving_default"
    value {
${Object.entries(inputs)
  .map(([a, t]) => `      inputs { ${tensor(a, t)} }\n`)
  .join('')}${Object.entries(outputs)
  .map(([a, t]) => `      outputs { ${tensor(a, t)} }\n`)
  .join('')}      method_name: "tensorflow/serving/predict"
    }
  }
}
`,
  );
  return dir;
}

const v1 = () => exportWith({ features: ['DT_FLOAT', [-1, 3]] }, { price: ['DT_FLOAT', [-1, 1]] });
const renamed = () => exportWith({ x: ['DT_FLOAT', [-1, 3]] }, { price: ['DT_FLOAT', [-1, 1]] });
const extended = () =>
  exportWith(
    { features: ['DT_FLOAT', [-1, 3]] },
    { price: ['DT_FLOAT', [-1, 1]], band: ['DT_STRING', [-1]] },
  );

let n = 0;
const freshUri = () => `s3://models/team/sig-${process.pid}-${++n}`;

async function pushAll(uri: string, dirs: string[]) {
  for (const dir of dirs) {
    const r = await catwalk(['push', dir, '--model', uri, '--endpoint', endpoint]);
    expect(r).toMatchObject({ code: 0, stderr: expect.not.stringContaining('warning') });
  }
}

describe('signatures on the command line', () => {
  it('versions --signatures shows what push recorded, as a table and as JSON', async () => {
    const uri = freshUri();
    await pushAll(uri, [path.join(tfserving, 'saved_model_half_plus_two_cpu/00000123'), extended()]);
    const table = await catwalk(['versions', uri, '--signatures', '--endpoint', endpoint]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/│ version │ signature +│ method +│ inputs +│ outputs +│/);
    expect(table.stdout).toMatch(
      /│ 123 +│ serving_default +│ tensorflow\/serving\/predict +│ x: DT_FLOAT \[\?, 1\] +│ y: DT_FLOAT \[\?, 1\] +│/,
    );
    expect(table.stdout).toMatch(/│ 123 +│ classify_x_to_y +│ tensorflow\/serving\/classify +│/);
    // Two outputs: one line each in the cell.
    expect(table.stdout).toMatch(
      /│ 124 +│ serving_default +│ tensorflow\/serving\/predict +│ features: DT_FLOAT \[\?, 3\] +│ band: DT_STRING \[\?\] +│/,
    );
    expect(table.stdout).toMatch(/│ +│ +│ +│ +│ price: DT_FLOAT \[\?, 1\] +│/);

    const json = JSON.parse(
      (await catwalk(['versions', uri, '--signatures', '--json', '--endpoint', endpoint])).stdout,
    );
    expect(json.versions[1].signatures.signatures.serving_default.outputs.band).toEqual({
      dtype: 'DT_STRING',
      shape: [-1],
      tensorName: 'band:0',
    });
    expect(json.versions[0].signatures.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    // Without the flag the JSON stays as it was.
    const plain = JSON.parse((await catwalk(['versions', uri, '--json', '--endpoint', endpoint])).stdout);
    expect(plain.versions[0]).not.toHaveProperty('signatures');
  });

  it('release refuses a renamed input with the diff and the fix; --allow-breaking lets it through', async () => {
    const uri = freshUri();
    await pushAll(uri, [v1(), renamed()]);
    const s3 = ['--endpoint', endpoint];
    expect((await catwalk(['release', uri, '--serve', '1', '--label', 'stable=1', ...s3])).code).toBe(0);

    const refused = await catwalk(['release', uri, '--serve', '1,2', '--label', 'canary=2', ...s3]);
    expect(refused.code).toBe(1);
    noStack(refused.stderr);
    expect(refused.stderr).toContain('version 2 of');
    expect(refused.stderr).toContain('would break callers of stable version 1:');
    expect(refused.stderr).toContain('serving_default: input features was removed (renamed to x?)');
    expect(refused.stderr).toMatch(/-\s+features: DT_FLOAT \[\?, 3\]\n\s+\+\s+x: DT_FLOAT \[\?, 3\]/);
    expect(refused.stderr).toContain('run the command again with --allow-breaking');
    expect(refused.stderr).toContain('push this interface under a new model name');
    // Nothing was written.
    const after = JSON.parse((await catwalk(['versions', uri, '--json', ...s3])).stdout);
    expect(after.release).toMatchObject({ generation: 1, serve: [1], labels: { stable: 1 } });

    const allowed = await catwalk([
      'release',
      uri,
      '--serve',
      '1,2',
      '--label',
      'canary=2',
      '--allow-breaking',
      ...s3,
    ]);
    expect(allowed.code).toBe(0);
    expect(allowed.stdout).toContain('generation 2: serve 1,2, canary=2 stable=1');
    expect(allowed.stderr).toContain(
      'warning: version 2 breaks callers (--allow-breaking): serving_default: input features was removed (renamed to x?)',
    );

    // Moving stable onto the breaking version is refused the same way.
    const promote = await catwalk(['release', uri, '--label', 'stable=2', ...s3]);
    expect(promote.code).toBe(1);
    expect(promote.stderr).toContain('would break callers of stable version 1');
  });

  it('reports additions as compatible and releases', async () => {
    const uri = freshUri();
    await pushAll(uri, [v1(), extended()]);
    const s3 = ['--endpoint', endpoint];
    await catwalk(['release', uri, '--serve', '1', '--label', 'stable=1', ...s3]);
    const r = await catwalk(['release', uri, '--serve', '1,2', '--label', 'stable=2', ...s3]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain(
      'compatible with the signatures of stable version 1:\n  version 2: serving_default: output band was added\n',
    );
  });

  it('a first release checks what it serves against the version it labels stable', async () => {
    const uri = freshUri();
    await pushAll(uri, [v1(), renamed()]);
    const r = await catwalk([
      'release',
      uri,
      '--serve',
      '1,2',
      '--label',
      'stable=1',
      '--endpoint',
      endpoint,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('version 2 of');
  });

  it('checks versions pushed before signatures were recorded by reading their SavedModel', async () => {
    const uri = freshUri();
    await pushAll(uri, [v1(), renamed()]);
    // Both manifests as an older catwalk wrote them: no signatures field.
    const client = createS3Client({ endpoint });
    const prefix = uri.slice('s3://models/'.length);
    for (const v of [1, 2]) {
      const key = `${prefix}/${v}/catwalk-manifest.json`;
      const got = await client.send(new GetObjectCommand({ Bucket: 'models', Key: key }));
      const { signatures: _, ...old } = JSON.parse(await got.Body!.transformToString());
      await client.send(new PutObjectCommand({ Bucket: 'models', Key: key, Body: JSON.stringify(old) }));
    }
    const listed = await catwalk(['versions', uri, '--signatures', '--endpoint', endpoint]);
    expect(listed.stdout).toContain('not recorded (pushed before signatures were');
    await catwalk(['release', uri, '--serve', '1', '--label', 'stable=1', '--endpoint', endpoint]);
    const r = await catwalk(['release', uri, '--serve', '1,2', '--endpoint', endpoint]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('serving_default: input features was removed (renamed to x?)');

    // A version whose SavedModel was damaged in S3 (same size, so it still lists as complete) cannot be
    // checked: a warning names it, and the release goes on (--no-verify: the damage itself is not the point).
    const pbtxt = `${prefix}/2/saved_model.pbtxt`;
    const stored = await client.send(new GetObjectCommand({ Bucket: 'models', Key: pbtxt }));
    const size = (await stored.Body!.transformToByteArray()).length;
    await client.send(new PutObjectCommand({ Bucket: 'models', Key: pbtxt, Body: '#'.repeat(size) }));
    const unchecked = await catwalk([
      'release',
      uri,
      '--serve',
      '1,2',
      '--no-verify',
      '--endpoint',
      endpoint,
    ]);
    expect(unchecked.code).toBe(0);
    expect(unchecked.stderr).toContain(
      `warning: the signatures of version 2 were not checked against stable version 1: s3://models/${pbtxt}: its sha256 is `,
    );
  });

  it('with no version labelled stable, a newly served version is checked against the highest one served', async () => {
    const uri = freshUri();
    const doubled = () => exportWith({ features: ['DT_DOUBLE', [-1, 3]] }, { price: ['DT_FLOAT', [-1, 1]] });
    await pushAll(uri, [v1(), doubled(), extended()]);
    const s3 = ['--endpoint', endpoint];
    expect((await catwalk(['release', uri, '--serve', '1', ...s3])).code).toBe(0);
    const refused = await catwalk(['release', uri, '--serve', '2', ...s3]);
    expect(refused.code).toBe(1);
    noStack(refused.stderr);
    expect(refused.stderr).toContain('version 2 of');
    expect(refused.stderr).toContain('would break callers of served version 1:');
    expect(refused.stderr).toContain(
      'serving_default: input features changed dtype from DT_FLOAT to DT_DOUBLE',
    );
    expect(refused.stderr).toContain('signatures (- served 1, + version 2):');
    expect(refused.stderr).toContain('--allow-breaking');
    let listed = JSON.parse((await catwalk(['versions', uri, '--json', ...s3])).stdout);
    expect(listed.release).toMatchObject({ generation: 1, serve: [1] });

    const allowed = await catwalk(['release', uri, '--serve', '1,2', '--allow-breaking', ...s3]);
    expect(allowed.code).toBe(0);
    expect(allowed.stderr).toContain(
      'warning: version 2 breaks callers (--allow-breaking): serving_default: input features changed dtype',
    );
    // Served now: 1 and 2. Version 3 (compatible with 1) is compared with 2, what an unpinned request reaches.
    const third = await catwalk(['release', uri, '--serve', '3', ...s3]);
    expect(third.code).toBe(1);
    expect(third.stderr).toContain('would break callers of served version 2:');
    expect(third.stderr).toContain('input features changed dtype from DT_DOUBLE to DT_FLOAT');
    listed = JSON.parse((await catwalk(['versions', uri, '--json', ...s3])).stdout);
    expect(listed.release).toMatchObject({ generation: 2, serve: [1, 2] });
  });

  it('after the stable label is removed, what is served is still protected', async () => {
    const uri = freshUri();
    const doubled = () => exportWith({ features: ['DT_DOUBLE', [-1, 3]] }, { price: ['DT_FLOAT', [-1, 1]] });
    await pushAll(uri, [v1(), doubled(), extended()]);
    const s3 = ['--endpoint', endpoint];
    expect((await catwalk(['release', uri, '--serve', '1', '--label', 'stable=1', ...s3])).code).toBe(0);
    expect((await catwalk(['release', uri, '--label', 'stable=', ...s3])).code).toBe(0);
    const refused = await catwalk(['release', uri, '--serve', '2', ...s3]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('would break callers of served version 1:');
    // A compatible version is released, and the addition is reported against the served version.
    const added = await catwalk(['release', uri, '--serve', '3', ...s3]);
    expect(added).toMatchObject({ code: 0, stderr: '' });
    expect(added.stdout).toContain(
      'compatible with the signatures of served version 1:\n  version 3: serving_default: output band was added\n',
    );
  });

  it('a spec that lists a signature (spec.serving.signatures) has release check it like serving_default', async () => {
    const uri = freshUri();
    const tensor = (alias: string, dims: number[]) =>
      `key: "${alias}" value { name: "${alias}:0" dtype: DT_FLOAT tensor_shape { ${dims.map((d) => `dim { size: ${d} }`).join(' ')} } }`;
    const withExplain = (output: string) => {
      const dir = tempDir();
      const signature = (name: string, out: string) =>
        `  signature_def { key: "${name}" value { inputs { ${tensor('features', [-1, 3])} } outputs { ${tensor(out, [-1, 1])} } method_name: "tensorflow/serving/predict" } }\n`;
      fs.writeFileSync(
        path.join(dir, 'saved_model.pbtxt'),
        `meta_graphs {\n  meta_info_def { tags: "serve" }\n${signature('serving_default', 'price')}${signature('explain', output)}}\n`,
      );
      return dir;
    };
    await pushAll(uri, [withExplain('weights'), withExplain('w')]);
    const dir = tempDir();
    const spec = (signatures: string) =>
      [
        'apiVersion: catwalk/v1',
        'kind: Model',
        'metadata: { name: pricing, team: search }',
        'spec:',
        `  source: { uri: "${uri}", endpoint: "${endpoint}" }`,
        `  serving: { versionPolicy: { specific: [1, 2] }${signatures} }`,
        '',
      ].join('\n');
    fs.writeFileSync(path.join(dir, 'listed.yaml'), spec(', signatures: [explain]'));
    fs.writeFileSync(path.join(dir, 'plain.yaml'), spec(''));
    const release = (file: string, ...args: string[]) =>
      catwalk(['release', path.join(dir, file), ...args, '--endpoint', endpoint]);
    expect((await release('listed.yaml', '--serve', '1', '--label', 'stable=1')).code).toBe(0);

    const refused = await release('listed.yaml', '--serve', '1,2');
    expect(refused.code).toBe(1);
    noStack(refused.stderr);
    expect(refused.stderr).toContain('would break callers of stable version 1:');
    expect(refused.stderr).toContain('explain: output weights was removed');
    expect(refused.stderr).toContain('--allow-breaking');
    // The same release through a spec that does not list explain only checks serving_default.
    const unlisted = await release('plain.yaml', '--serve', '1,2');
    expect(unlisted).toMatchObject({ code: 0, stderr: '' });
  });

  it('rollback is not held up by an interface change', async () => {
    const uri = freshUri();
    await pushAll(uri, [v1(), renamed()]);
    const s3 = ['--endpoint', endpoint];
    await catwalk(['release', uri, '--serve', '1', '--label', 'stable=1', ...s3]);
    expect(
      (await catwalk(['release', uri, '--serve', '2', '--label', 'stable=2', '--allow-breaking', ...s3]))
        .code,
    ).toBe(0);
    const back = await catwalk(['rollback', uri, ...s3]);
    expect(back).toMatchObject({ code: 0, stderr: '' });
    expect(back.stdout).toContain('rolled');
  });
});
