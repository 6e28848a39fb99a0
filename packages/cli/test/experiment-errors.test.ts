// `catwalk experiment` when what it talks to fails: a dead Prometheus, an
// unreachable Kubernetes API server. Each is one line naming the part, the
// flag and the fix, never a stack trace, never an S3 error it is not, and
// release.json stays as it was. Against the real embedded S3 and the real
// helm; the dead servers are loopback ports nothing listens on.

import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { catwalk, type LocalS3, startLocalS3, tempDir } from './run';

process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
process.env.AWS_REGION = 'us-east-1';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

let s3: LocalS3;
let endpoint = '';
const s3Dir = tempDir();

/** A loopback port that nothing listens on. */
async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  s3 = await startLocalS3(s3Dir);
  endpoint = s3.endpoint;
});

afterAll(async () => {
  await s3?.stop();
  fs.rmSync(s3Dir, { recursive: true, force: true });
});

function anExport(): string {
  const dir = tempDir();
  fs.writeFileSync(
    path.join(dir, 'saved_model.pbtxt'),
    `meta_graphs {
  meta_info_def { tags: "serve" }
  signature_def {
    key: "serving_default"
    value {
      inputs { key: "x" value { name: "x:0" dtype: DT_FLOAT tensor_shape { dim { size: -1 } dim { size: 3 } } } }
      outputs { key: "y" value { name: "y:0" dtype: DT_FLOAT tensor_shape { dim { size: -1 } dim { size: 1 } } } }
      method_name: "tensorflow/serving/predict"
    }
  }
}
`,
  );
  return dir;
}

/** A model with versions 1 (stable) and 2, and its spec file. */
async function model(tag: string) {
  const uri = `s3://models/team/${tag}-${process.pid}`;
  for (let i = 0; i < 2; i++) {
    expect((await catwalk(['push', anExport(), '--model', uri, '--endpoint', endpoint])).code).toBe(0);
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
        serving: { versionPolicy: { specific: [1] }, versionLabels: { stable: 1 } },
      },
    }),
  );
  const release = async () =>
    JSON.parse((await catwalk(['versions', uri, '--json', '--endpoint', endpoint])).stdout).release;
  return { spec, release };
}

/** A kubeconfig whose API server is a loopback port nothing listens on. */
async function deadCluster(): Promise<string> {
  const file = path.join(tempDir(), 'kubeconfig');
  fs.writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters: [{name: dead, cluster: {server: "https://127.0.0.1:' +
        (await deadPort()) +
        '", insecure-skip-tls-verify: true}}]',
      'users: [{name: dead, user: {token: x}}]',
      'contexts: [{name: dead, context: {cluster: dead, user: dead, namespace: models}}]',
      'current-context: dead',
      '',
    ].join('\n'),
  );
  return file;
}

const noStack = (stderr: string) => {
  expect(stderr).not.toMatch(/internal error/);
  expect(stderr).not.toMatch(/\n\s+at /);
};

it('a start whose --analysis Prometheus is down is refused before anything is written, naming the flag', async () => {
  const { spec, release } = await model('exp-prom');
  const before = await release();
  const url = `http://127.0.0.1:${await deadPort()}`;
  const r = await catwalk([
    'experiment',
    'start',
    spec,
    '--canary',
    '2',
    '--analysis',
    `prometheus=${url}`,
    '--kubeconfig',
    await deadCluster(),
  ]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(
    new RegExp(`--analysis prometheus=${url}: .*ECONNREFUSED.*check the URL .* or start without --analysis`),
  );
  noStack(r.stderr);
  expect(r.stderr).not.toMatch(/S3:/);
  expect(await release()).toEqual(before);
});

it('an API server that cannot be reached is named as the cluster, not as S3, with no stack', async () => {
  const { spec, release } = await model('exp-kube');
  const before = await release();
  const r = await catwalk([
    'experiment',
    'start',
    spec,
    '--canary',
    '2',
    '--kubeconfig',
    await deadCluster(),
  ]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/^catwalk: pricing: the Kubernetes cluster .*127\.0\.0\.1.*--kubeconfig/m);
  noStack(r.stderr);
  expect(r.stderr).not.toMatch(/S3:/);
  expect(await release()).toEqual(before);
});

it('status with an API server that cannot be reached names the cluster, not S3', async () => {
  const { spec } = await model('exp-status');
  const r = await catwalk(['experiment', 'status', spec, '--kubeconfig', await deadCluster()]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/^catwalk: pricing: the Kubernetes cluster .*127\.0\.0\.1.*--kubeconfig/m);
  noStack(r.stderr);
  expect(r.stderr).not.toMatch(/S3:/);
});
