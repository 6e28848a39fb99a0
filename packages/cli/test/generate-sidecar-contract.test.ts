// The generated chart and the real sync sidecar agree: the init containers'
// arguments and environment, exactly as `helm template` renders them, run
// `catwalk sync --once` against the embedded S3. A release without the labels
// the chart's tracks follow still fills both tracks (the spec's policy); a
// labelled release gives each track its own version.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { halfPlusTwo, startFakeServing } from '@catwalk/testing';
import { parseAllDocuments } from 'yaml';
import { catwalk, type LocalS3, repoRoot, startLocalS3, tempDir } from './run';

process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const tfserving = path.resolve(repoRoot, '../shared/testdata/tfserving');
const helmBin = path.join(repoRoot, 'tools', 'bin', 'helm');
const uri = 's3://models/team/pricing';
let s3: LocalS3;
let endpoint = '';
const s3Dir = tempDir();
const saved = { region: process.env.AWS_REGION, endpoint: process.env.AWS_ENDPOINT_URL_S3 };

beforeAll(async () => {
  s3 = await startLocalS3(s3Dir);
  endpoint = s3.endpoint;
});

afterAll(async () => {
  process.env.AWS_REGION = saved.region;
  if (saved.endpoint === undefined) delete process.env.AWS_ENDPOINT_URL_S3;
  else process.env.AWS_ENDPOINT_URL_S3 = saved.endpoint;
  await s3?.stop();
  fs.rmSync(s3Dir, { recursive: true, force: true });
});

/** The pricing chart, generated and rendered by the real helm for this bucket, during an A/B test at weight 0. */
async function render(source = uri, set: string[] = []): Promise<any[]> {
  const out = tempDir();
  const generated = await catwalk(['generate', 'examples/models/pricing.yaml', '--out', out]);
  expect(generated.code).toBe(0);
  const result = spawnSync(
    helmBin,
    [
      'template',
      'pricing',
      path.join(out, 'pricing'),
      '--set',
      `sync.source=${source}`,
      '--set',
      `sync.endpoint=${endpoint}`,
      '--set',
      'experiment.weights.stable=100',
      '--set',
      'experiment.weights.canary=0',
      ...set.flatMap((v) => ['--set', v]),
    ],
    { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: tempDir() } },
  );
  expect(result.stderr).toBe('');
  return parseAllDocuments(result.stdout)
    .map((d) => d.toJS())
    .filter(Boolean);
}

/** Runs a track's init container as the pod would: its args and env, with the pod's paths moved to a temp folder. */
async function runInit(objects: any[], deployment: string) {
  const pod = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === deployment).spec.template
    .spec;
  const init = pod.initContainers.find((c: any) => c.name === 'model-sync-init');
  const root = tempDir();
  fs.mkdirSync(path.join(root, 'etc-catwalk'));
  const config = objects.find((o) => o.kind === 'ConfigMap');
  for (const [name, text] of Object.entries<string>(config.data)) {
    fs.writeFileSync(path.join(root, 'etc-catwalk', name), text);
  }
  const args = init.args.map((a: string) =>
    a.replace('=/models/', `=${root}/models/`).replace('=/etc/catwalk/', `=${root}/etc-catwalk/`),
  );
  for (const { name, value } of init.env) process.env[name] = value;
  const result = await catwalk(args);
  return {
    ...result,
    args: init.args as string[],
    versions: () => fs.readdirSync(path.join(root, 'models', 'pricing')).sort(),
  };
}

describe('chart and sidecar', () => {
  it('a release without labels: both tracks fill with the spec policy and say so; labelled: one version each', async () => {
    const objects = await render();
    // The pricing spec serves versions 3 and 4.
    const exportDir = path.join(tfserving, 'saved_model_half_plus_two_2_versions');
    for (const [folder, version] of [
      ['00000123', '3'],
      ['00000124', '4'],
    ]) {
      const pushed = await catwalk([
        'push',
        path.join(exportDir, folder!),
        '--model',
        uri,
        '--version',
        version!,
        '--force',
        '--endpoint',
        endpoint,
      ]);
      expect({ version, code: pushed.code, stderr: pushed.stderr }).toMatchObject({ version, code: 0 });
    }
    // A release that serves both and names no label: what the chart's tracks follow is missing.
    const bare = await catwalk(['release', uri, '--serve', '3,4', '--endpoint', endpoint]);
    expect({ code: bare.code, stderr: bare.stderr }).toEqual({ code: 0, stderr: '' });

    const main = await runInit(objects, 'pricing');
    expect(main.args).toContain('--track=stable');
    expect(main.code).toBe(0);
    // The sidecar says it serves the spec's policy because the label is missing.
    expect(main.stdout).toContain("has no 'stable' label");
    expect(main.versions()).toEqual(['3', '4']);
    const canary = await runInit(objects, 'pricing-canary');
    expect(canary.args).toContain('--track=canary');
    expect(canary.code).toBe(0);

    const labelled = await catwalk([
      'release',
      uri,
      '--serve',
      '3,4',
      '--label',
      'stable=3',
      '--label',
      'canary=4',
      '--endpoint',
      endpoint,
    ]);
    expect(labelled.code).toBe(0);
    expect((await runInit(objects, 'pricing')).versions()).toEqual(['3']);
    expect((await runInit(objects, 'pricing-canary')).versions()).toEqual(['4']);
  });

  it("the main sidecar, as rendered with the chart's ports, is Ready only while TF Serving has a version AVAILABLE", async () => {
    // TF Serving itself cannot run here: @catwalk/testing's fake answers its model status API.
    const serving = await startFakeServing({
      models: [halfPlusTwo({ name: 'pricing', versions: [3] })],
      grpc: false,
    });
    const source = 's3://models/team/pricing-ready';
    const exportDir = path.join(tfserving, 'saved_model_half_plus_two_2_versions', '00000123');
    expect(
      (await catwalk(['push', exportDir, '--model', source, '--version', '3', '--endpoint', endpoint])).code,
    ).toBe(0);
    const released = await catwalk([
      'release',
      source,
      '--serve',
      '3',
      '--label',
      'stable=3',
      '--endpoint',
      endpoint,
    ]);
    expect(released.code).toBe(0);
    const syncPort = await freePort();
    const objects = await render(source, [
      `service.httpPort=${new URL(serving.restUrl).port}`,
      `sync.port=${syncPort}`,
    ]);
    const pod = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'pricing').spec.template
      .spec;
    const sidecar = pod.containers.find((c: any) => c.name === 'model-sync');
    expect(sidecar.readinessProbe.httpGet).toEqual({ path: '/ready/serving', port: 'sync-metrics' });
    const root = tempDir();
    fs.mkdirSync(path.join(root, 'etc-catwalk'));
    for (const [name, text] of Object.entries<string>(objects.find((o) => o.kind === 'ConfigMap').data)) {
      fs.writeFileSync(path.join(root, 'etc-catwalk', name), text);
    }
    const args = sidecar.args.map((a: string) =>
      a.replace('=/models/', `=${root}/models/`).replace('=/etc/catwalk/', `=${root}/etc-catwalk/`),
    );
    const env = Object.fromEntries(sidecar.env.map((e: any) => [e.name, e.value]));
    const child = spawn(process.execPath, [path.join(repoRoot, 'packages/cli/bin/catwalk.js'), ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const get = async (route: string) => {
      const res = await fetch(`http://127.0.0.1:${syncPort}${route}`);
      return { status: res.status, body: await res.json().catch(() => null) };
    };
    try {
      // The sidecar answers once it has synced; poll within a bound instead of sleeping.
      let health = { status: 0 };
      for (let i = 0; i < 200 && health.status !== 200; i++) {
        health = await get('/healthz').catch(() => ({ status: 0, body: null }));
        if (health.status !== 200) await new Promise((r) => setTimeout(r, 50));
      }
      expect(health.status).toBe(200);
      serving.setVersionState('pricing', 3, 'LOADING');
      expect(await get('/ready/serving')).toMatchObject({ status: 503, body: { ready: false } });
      serving.setVersionState('pricing', 3, 'AVAILABLE');
      expect(await get('/ready/serving')).toMatchObject({
        status: 200,
        body: { ready: true, versions: [{ version: 3, state: 'AVAILABLE' }] },
      });
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      await serving.close();
    }
  });
});

/** A port nothing listens on right now (the OS picks it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
