// The sync sidecar image, built by tools/image/build.cjs and run here from
// its own root filesystem (read-only, as the chart runs it) against the
// embedded S3. Needs root, skopeo, umoci, dpkg-deb and the network to the
// npm registry and Debian's archive on a cold cache: run it with
// `npm run test:image`, which installs the tools first.
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after, before, describe, it } = require('node:test');
const YAML = require('yaml');
const h = require('./harness.cjs');

const BUCKET = 'catwalk-models';
const SOURCE = `s3://${BUCKET}/marketplace/pricing`;
const inputs = JSON.parse(fs.readFileSync(path.join(h.root, 'tools/image/inputs.json'), 'utf8'));
const tag = JSON.parse(fs.readFileSync(path.join(h.root, 'packages/registry/package.json'), 'utf8')).version;
// The image built first is the host's architecture (it has to run here); the other one is only inspected.
const hostArch = { x64: 'amd64', arm64: 'arm64' }[process.arch];
const otherArch = hostArch === 'amd64' ? 'arm64' : 'amd64';
const ELF = {
  amd64: { machine: 0x3e, loader: 'lib64/ld-linux-x86-64.so.2' },
  arm64: { machine: 0xb7, loader: 'lib/ld-linux-aarch64.so.1' },
};
const sha256 = (file) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** Asserts two archives hold the same host-architecture image; if not, names the layers that differ. */
function assertSameImage(digestA, digestB, archiveA, archiveB) {
  if (digestA === digestB) return;
  const [one, other] = [archiveA, archiveB].map((a) => h.inspect(a, { config: true, arch: hostArch }));
  const differing = one.rootfs.diff_ids
    .map((id, i) => (id === other.rootfs.diff_ids[i] ? null : one.history[i]?.created_by))
    .filter(Boolean);
  assert.fail(
    `${digestA} != ${digestB}; differing layers: ${differing.join('; ') || 'none (the config differs)'}`,
  );
}

describe('sync sidecar image', () => {
  let work;
  let first;
  let image;
  let rootfs;
  let s3;
  let s3Env;

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'catwalk-image-test-'));
    fs.chmodSync(work, 0o755); // mounted at /work for the image's non-root user
    first = await h.buildImage(path.join(work, 'a.oci.tar'));
    image = h.inspect(first.archive, { config: true });
    rootfs = h.unpack(first.archive, tag, path.join(work, 'a'));
    s3 = await h.startS3(path.join(work, 's3'), BUCKET);
    s3Env = {
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      CATWALK_USER: 'image-test',
    };
  });

  after(() => {
    s3?.child.kill('SIGTERM');
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  /** The image's own catwalk CLI, as its user, with the test's files at /work (read-only). */
  async function catwalk(...args) {
    const result = await h.runContainer(rootfs, image, {
      args,
      env: s3Env,
      mounts: [{ host: work, target: '/work', readOnly: true }],
    });
    assert.equal(result.code, 0, `catwalk ${args.join(' ')} failed:\n${result.output}`);
    return result.output;
  }

  /** The pricing chart rendered by the real helm, pointed at the embedded S3. */
  function renderChart() {
    const text = execFileSync(
      path.join(h.root, 'tools/bin/helm'),
      [
        'template',
        'image-test',
        path.join(h.root, 'charts/pricing'),
        '--set',
        `sync.source=${SOURCE}`,
        '--set',
        `sync.endpoint=${s3.endpoint}`,
        '--set',
        'sync.intervalSeconds=1',
      ],
      { encoding: 'utf8' },
    );
    const docs = YAML.parseAllDocuments(text)
      .map((d) => d.toJS())
      .filter(Boolean);
    const deployment = docs.find((d) => d.kind === 'Deployment' && d.spec.template.spec.initContainers);
    const configMap = docs.find((d) => d.kind === 'ConfigMap' && d.data?.['models.config']);
    assert.ok(
      deployment && configMap,
      'the pricing chart renders a Deployment with init containers and a ConfigMap',
    );
    const pod = deployment.spec.template.spec;
    const init = pod.initContainers.find((c) => c.name === 'model-sync-init');
    const sidecar = pod.containers.find((c) => c.name === 'model-sync');
    // What the kubelet runs a container as: its securityContext, else the pod's, else the image's USER.
    const userOf = (c) => {
      const uid = c.securityContext?.runAsUser ?? pod.securityContext?.runAsUser;
      const gid = c.securityContext?.runAsGroup ?? pod.securityContext?.runAsGroup;
      const [imageUid, imageGid] = image.config.User.split(':');
      return `${uid ?? imageUid}:${gid ?? imageGid}`;
    };
    const envOf = (c) =>
      Object.fromEntries((c.env ?? []).filter((e) => 'value' in e).map((e) => [e.name, e.value]));
    const configDir = path.join(work, 'configmap');
    fs.mkdirSync(configDir, { recursive: true });
    for (const [name, data] of Object.entries(configMap.data))
      fs.writeFileSync(path.join(configDir, name), data);
    return {
      init: { args: init.args, env: envOf(init), user: userOf(init) },
      sidecar: { args: sidecar.args, env: envOf(sidecar), user: userOf(sidecar) },
      configDir,
    };
  }

  it('gives the same digest when built twice from the same inputs', async () => {
    // Compressing again rather than reusing the first build's cached layers: gzip's output is part of the digest.
    const second = await h.buildImage(path.join(work, 'b.oci.tar'), ['--no-layer-cache']);
    assertSameImage(second.digest, first.digest, second.archive, first.archive);
    assert.equal(sha256(second.archive), sha256(first.archive), 'the archives are byte for byte the same');
  });

  it(`is a valid OCI image for linux/${hostArch} running the CLI as uid 65532`, () => {
    const manifest = h.inspect(first.archive, { raw: true });
    assert.equal(manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(manifest.config.mediaType, 'application/vnd.oci.image.config.v1+json');
    assert.deepEqual(
      manifest.layers.map((l) => l.mediaType),
      Array(3).fill('application/vnd.oci.image.layer.v1.tar+gzip'),
    );
    assert.equal(image.os, 'linux');
    assert.equal(image.architecture, hostArch);
    assert.ok(fs.existsSync(path.join(rootfs, ELF[hostArch].loader)), 'the dynamic loader node asks for');
    assert.equal(image.rootfs.diff_ids.length, 3);
    assert.equal(image.config.User, '65532:65532');
    assert.ok(
      image.config.Env.includes('HOME=/home/nonroot'),
      'HOME is set for users without a passwd entry',
    );
    assert.deepEqual(image.config.Entrypoint, ['/usr/local/bin/node', '/app/catwalk.cjs']);
    assert.equal(image.config.Labels['org.opencontainers.image.version'], tag);
    assert.equal(first.reference, `ghcr.io/catwalk-dev/model-sync:${tag}`);
  });

  it('holds root-owned files only (the non-root home aside), no setuid or world-writable files, a sticky /tmp', () => {
    const problems = [];
    const walk = (rel) => {
      for (const name of fs.readdirSync(path.join(rootfs, rel))) {
        const child = path.posix.join(rel, name);
        const stat = fs.lstatSync(path.join(rootfs, child));
        const expectedOwner = child === 'home/nonroot' ? 65532 : 0;
        if (stat.uid !== expectedOwner || stat.gid !== expectedOwner)
          problems.push(`${child} owned by ${stat.uid}:${stat.gid}`);
        if (!stat.isSymbolicLink() && stat.mode & 0o6000) problems.push(`${child} is setuid/setgid`);
        if (!stat.isSymbolicLink() && stat.mode & 0o002 && child !== 'tmp')
          problems.push(`${child} is world-writable`);
        if (stat.isDirectory()) walk(child);
      }
    };
    walk('');
    assert.deepEqual(problems, []);
    assert.equal(fs.statSync(path.join(rootfs, 'tmp')).mode & 0o7777, 0o1777);
    assert.match(fs.readFileSync(path.join(rootfs, 'etc/passwd'), 'utf8'), /^nonroot:x:65532:65532:/m);
    const bundle = fs.readFileSync(path.join(rootfs, 'etc/ssl/certs/ca-certificates.crt'), 'utf8');
    assert.ok(
      (bundle.match(/BEGIN CERTIFICATE/g) ?? []).length > 100,
      'the CA bundle holds the Mozilla roots',
    );
    assert.ok(
      fs.existsSync(path.join(rootfs, 'var/lib/dpkg/status.d/libc6')),
      'scanners find the Debian packages',
    );
    for (const shell of ['bin/sh', 'usr/bin/sh', 'bin/bash', 'usr/bin/apt-get']) {
      assert.ok(!fs.existsSync(path.join(rootfs, shell)), `no /${shell} in the image`);
    }
    const notices = fs.readFileSync(path.join(rootfs, 'app/THIRD_PARTY_NOTICES.txt'), 'utf8');
    for (const pkg of ['@aws-sdk/client-s3@', 'pino@', 'prom-client@', 'commander@']) {
      assert.ok(notices.includes(pkg), `the notices name ${pkg} and its licence`);
    }
  });

  it("runs the image's own node, the pinned version, under chroot as uid 65532", async () => {
    const result = await h.runContainer(rootfs, image, {
      entrypoint: ['/usr/local/bin/node'],
      args: [
        '-e',
        'console.log(JSON.stringify({ node: process.versions.node, uid: process.getuid(), user: require("os").userInfo().username }))',
      ],
    });
    assert.equal(result.code, 0, result.output);
    assert.deepEqual(JSON.parse(result.output), { node: inputs.node.version, uid: 65532, user: 'nonroot' });
  });

  it('loads every command of the bundled CLI (no module is missing at run time)', async () => {
    const help = await catwalk('--help');
    const commands = [...help.split('Commands:')[1].matchAll(/^ {2}([a-z-]+)/gm)]
      .map((m) => m[1])
      .filter((c) => c !== 'help');
    assert.ok(commands.includes('sync') && commands.length >= 5, `commands found: ${commands.join(', ')}`);
    for (const command of commands) await catwalk(command, '--help');
    assert.equal((await catwalk('--version')).trim(), tag);
  });

  it("runs the chart's init container: sync --once fills /models with the verified version and models.config", async () => {
    for (const version of ['3', '4']) h.writeExport(path.join(work, `export-${version}`), `v${version}`);
    await catwalk('push', '/work/export-3', '--model', SOURCE, '--version', '3');
    await catwalk('push', '/work/export-4', '--model', SOURCE, '--version', '4');
    await catwalk('release', SOURCE, '--serve', '3,4', '--label', 'stable=3', '--label', 'canary=4');

    const chart = renderChart();
    assert.ok(chart.init.args.includes('--once'));
    const models = path.join(work, 'models');
    fs.mkdirSync(models);
    fs.chmodSync(models, 0o777); // as the kubelet creates an emptyDir, for whichever user the pod runs as
    assert.notEqual(chart.init.user.split(':')[0], '0', 'the chart runs the sidecar as a non-root user');
    const result = await h.runContainer(rootfs, image, {
      user: chart.init.user,
      args: chart.init.args,
      env: { ...chart.init.env, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' },
      mounts: [
        { host: models, target: '/models' },
        { host: chart.configDir, target: '/etc/catwalk', readOnly: true },
      ],
    });
    assert.equal(result.code, 0, `init container failed:\n${result.output}`);
    // The main pods follow the stable label (3); the canary's version stays out of their folder.
    assert.deepEqual(fs.readdirSync(path.join(models, 'pricing')).sort(), ['3']);
    for (const file of [
      'saved_model.pb',
      'variables/variables.index',
      'variables/variables.data-00000-of-00001',
    ]) {
      assert.equal(
        sha256(path.join(models, 'pricing/3', file)),
        sha256(path.join(work, 'export-3', file)),
        file,
      );
    }
    const config = fs.readFileSync(path.join(models, 'models.config'), 'utf8');
    assert.match(config, /base_path: "\/models\/pricing"/);
    assert.match(config, /versions: 3/);
    assert.doesNotMatch(config, /versions: 4/);
  });

  it('talks to S3 as a user the image does not know (a pod runAsUser other than 65532)', async () => {
    // Without HOME in the image, os.homedir() throws for a uid missing from /etc/passwd and every
    // AWS SDK call fails with "uv_os_homedir returned ENOENT".
    const result = await h.runContainer(rootfs, image, {
      user: '4242:4242',
      args: ['versions', SOURCE, '--json'],
      env: s3Env,
    });
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /"version":\s*3/);
  });

  it("runs the chart's sync sidecar: ready on its port, metrics, follows a new release, stops on SIGTERM", async () => {
    const chart = renderChart();
    const models = path.join(work, 'models');
    assert.ok(fs.existsSync(path.join(models, 'pricing/3')), 'the init container test ran first');
    const port = await h.freePort();
    const args = chart.sidecar.args.map((a) => (a.startsWith('--port=') ? `--port=${port}` : a));
    assert.ok(args.includes(`--port=${port}`), `the chart passes --port: ${args.join(' ')}`);
    const container = h.startContainer(rootfs, image, {
      user: chart.sidecar.user,
      args,
      env: { ...chart.sidecar.env, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' },
      mounts: [
        { host: models, target: '/models' },
        { host: chart.configDir, target: '/etc/catwalk', readOnly: true },
      ],
    });
    try {
      const base = `http://127.0.0.1:${port}`;
      await h.waitFor('/readyz to answer 200', async () => (await fetch(`${base}/readyz`)).status === 200);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      assert.match(metrics, /^catwalk_/m, 'the sidecar exports its own metrics');
      assert.match(
        metrics,
        /^process_cpu_user_seconds_total/m,
        "prom-client's default metrics work in the bundle",
      );

      await catwalk('release', SOURCE, '--serve', '3,4', '--label', 'stable=4', '--label', 'canary=');
      await h.waitFor(
        'the sidecar to sync version 4',
        () =>
          fs.existsSync(path.join(models, 'pricing/4/saved_model.pb')) &&
          /versions: 4/.test(fs.readFileSync(path.join(models, 'models.config'), 'utf8')),
      );
      container.child.kill('SIGTERM');
      const exit = await Promise.race([
        container.exited,
        h.waitFor('the sidecar to stop', () => false, 20_000).catch((error) => ({ error })),
      ]);
      assert.equal(
        exit.code,
        0,
        `the sidecar did not stop cleanly on SIGTERM:\n${exit.output ?? exit.error}`,
      );
    } finally {
      if (container.child.exitCode === null) container.child.kill('SIGKILL');
    }
  });

  it('builds amd64 and arm64 into one index whose manifests are the single-arch images', async () => {
    const multi = await h.buildImage(path.join(work, 'multi.oci.tar'), [
      '--arch',
      'amd64',
      '--arch',
      'arm64',
    ]);
    const index = h.inspect(multi.archive, { raw: true });
    assert.equal(index.mediaType, 'application/vnd.oci.image.index.v1+json');
    assert.deepEqual(
      index.manifests.map(
        (m) =>
          `${m.platform.os}/${m.platform.architecture}${m.platform.variant ? `/${m.platform.variant}` : ''}`,
      ),
      ['linux/amd64', 'linux/arm64/v8'],
    );
    assertSameImage(multi.manifests[hostArch], first.digest, multi.archive, first.archive);
    assert.deepEqual(
      index.manifests.map((m) => m.digest),
      [multi.manifests.amd64, multi.manifests.arm64],
    );
    // The other architecture's image cannot run here; its node must at least be an ELF binary for it.
    const layout = path.join(work, `${otherArch}-layout`);
    execFileSync('skopeo', [
      '--override-arch',
      otherArch,
      'copy',
      '--quiet',
      `oci-archive:${multi.archive}`,
      `oci:${layout}:${tag}`,
    ]);
    const otherRoot = path.join(work, `${otherArch}-bundle`);
    execFileSync('umoci', ['unpack', '--image', `${layout}:${tag}`, otherRoot], { stdio: 'ignore' });
    const elf = fs.readFileSync(path.join(otherRoot, 'rootfs/usr/local/bin/node')).subarray(0, 20);
    assert.equal(elf.subarray(0, 4).toString('latin1'), '\x7fELF');
    assert.equal(elf.readUInt16LE(18), ELF[otherArch].machine, `e_machine is ${otherArch}'s`);
    assert.ok(
      fs.existsSync(path.join(otherRoot, 'rootfs', ELF[otherArch].loader)),
      `${otherArch}'s dynamic loader is there`,
    );
  });
});
