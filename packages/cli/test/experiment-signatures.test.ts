// `catwalk experiment start` checks the canary's signatures against the stable
// version's before it changes anything: a canary that would break stable's
// callers is refused with the diff and the way on, and release.json stays as
// it was. Against the real embedded S3; the refusal comes before any cluster
// is contacted, so none is needed here (the lifecycle itself is tested
// against a control plane in packages/deploy/test/cluster/experiment.test.ts).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { catwalk, type LocalS3, startLocalS3, tempDir } from './run';

process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
process.env.AWS_REGION = 'us-east-1';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

let s3: LocalS3;
let endpoint = '';
const s3Dir = tempDir();
// A kubeconfig with no cluster: nothing here may reach one.
const kubeconfig = path.join(tempDir(), 'kubeconfig');
fs.writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n');

beforeAll(async () => {
  s3 = await startLocalS3(s3Dir);
  endpoint = s3.endpoint;
});

afterAll(async () => {
  await s3?.stop();
  fs.rmSync(s3Dir, { recursive: true, force: true });
});

/** An export whose saved_model.pbtxt has these predict signatures (name → input name). */
function exportWithSignatures(signatures: Record<string, string>): string {
  const dir = tempDir();
  const defs = Object.entries(signatures).map(
    ([name, input]) => `  signature_def {
    key: "${name}"
    value {
      inputs { key: "${input}" value { name: "${input}:0" dtype: DT_FLOAT tensor_shape { dim { size: -1 } dim { size: 3 } } } }
      outputs { key: "price" value { name: "price:0" dtype: DT_FLOAT tensor_shape { dim { size: -1 } dim { size: 1 } } } }
      method_name: "tensorflow/serving/predict"
    }
  }
`,
  );
  fs.writeFileSync(
    path.join(dir, 'saved_model.pbtxt'),
    `meta_graphs {
  meta_info_def { tags: "serve" }
${defs.join('')}}
`,
  );
  return dir;
}

/**
 * A model whose versions 1, 2, ... have these signatures (name to input), 1
 * released as stable, and a spec file serving it (with `serving` extras);
 * release() reads its release record.
 */
async function model(tag: string, versions: Record<string, string>[], serving: object = {}) {
  const uri = `s3://models/team/${tag}-${process.pid}`;
  for (const signatures of versions) {
    const pushed = await catwalk([
      'push',
      exportWithSignatures(signatures),
      '--model',
      uri,
      '--endpoint',
      endpoint,
    ]);
    expect(pushed.code).toBe(0);
  }
  expect(
    (await catwalk(['release', uri, '--serve', '1', '--label', 'stable=1', '--endpoint', endpoint])).code,
  ).toBe(0);
  const spec = path.join(tempDir(), 'pricing.json');
  fs.writeFileSync(
    spec,
    JSON.stringify({
      apiVersion: 'catwalk/v1',
      kind: 'Model',
      metadata: { name: 'pricing', team: 'team' },
      spec: {
        source: { uri, endpoint },
        serving: { versionPolicy: { specific: [1] }, versionLabels: { stable: 1 }, ...serving },
      },
    }),
  );
  const release = async () =>
    JSON.parse((await catwalk(['versions', uri, '--json', '--endpoint', endpoint])).stdout).release;
  return { spec, release };
}

it('a canary that breaks the stable signatures is refused before anything changes, with the way on', async () => {
  const { spec, release } = await model('exp-sig', [
    { serving_default: 'features' },
    { serving_default: 'x' },
  ]);
  const before = await release();

  const refused = await catwalk(['experiment', 'start', spec, '--canary', '2', '--kubeconfig', kubeconfig]);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain('would break callers of stable version 1');
  expect(refused.stderr).toContain('serving_default: input features was removed (renamed to x?)');
  expect(refused.stderr).toContain('--allow-breaking');
  expect(refused.stderr).not.toMatch(/\n\s+at /);
  expect(await release()).toEqual(before);
});

it('checks the signatures the spec lists (serving.signatures), as catwalk release does', async () => {
  // Version 2 keeps serving_default but drops score, which the spec says callers use.
  const { spec, release } = await model(
    'exp-sig-named',
    [{ serving_default: 'features', score: 'features' }, { serving_default: 'features' }],
    { signatures: ['score'] },
  );
  const before = await release();

  // What catwalk release says of serving version 2 alongside stable 1, start must say too.
  const released = await catwalk(['release', spec, '--serve', '1,2', '--endpoint', endpoint]);
  expect(released.code).toBe(1);
  expect(released.stderr).toMatch(/signature score was removed/);

  const refused = await catwalk(['experiment', 'start', spec, '--canary', '2', '--kubeconfig', kubeconfig]);
  expect(refused.stderr).toContain('would break callers of stable version 1');
  expect(refused.stderr).toMatch(/signature score was removed/);
  expect(refused.stderr).toContain('--allow-breaking');
  expect(refused.code).toBe(1);
  expect(await release()).toEqual(before);
});
