// The model registry and the sync sidecar on an embedded S3 (s3rver with
// conditional writes, on a free loopback port, in a temp folder): push a
// tiny example export as two versions, release one, sync it into a local
// folder as the sidecar would, roll back, and show the folder and the live
// models.config after each step.
//
// The example export is written by @catwalk/registry's writeExampleExport:
// SavedModel-shaped (it passes our checks), not a loadable TensorFlow model.
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '../..');
const catwalk = path.join(root, 'packages', 'cli', 'bin', 'catwalk.js');
const { writeExampleExport } = require(path.join(root, 'packages', 'registry', 'dist', 'index.js'));

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'catwalk-demo-'));
const env = {
  ...process.env,
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
  AWS_REGION: 'us-east-1',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  CATWALK_USER: 'demo',
};

function startS3() {
  const child = spawn(
    process.execPath,
    [
      path.join(root, 'packages/registry/tools/embedded-s3.cjs'),
      '--dir',
      path.join(work, 's3'),
      '--bucket',
      'catwalk-models',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('\n')) resolve({ child, endpoint: JSON.parse(out.split('\n')[0]).endpoint });
    });
    child.once('exit', (code) => reject(new Error(`embedded S3 exited with ${code}`)));
  });
}

function show(title, dest, config) {
  process.stdout.write(`\n-- ${title}\n${path.relative(work, dest)}/\n`);
  const walk = (dir, indent) => {
    for (const name of fs.readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      const isDir = fs.statSync(full).isDirectory();
      process.stdout.write(`${indent}${name}${isDir ? '/' : ''}\n`);
      if (isDir && indent.length < 4) walk(full, `${indent}  `);
    }
  };
  if (fs.existsSync(dest)) walk(dest, '  ');
  if (config && fs.existsSync(config)) {
    process.stdout.write(`${path.relative(work, config)}:\n${fs.readFileSync(config, 'utf8')}`);
  }
}

async function main() {
  const s3 = await startS3();
  try {
    const cli = (...args) => {
      process.stdout.write(`\n$ catwalk ${args.join(' ')}\n`);
      execFileSync(process.execPath, [catwalk, ...args, '--endpoint', s3.endpoint], {
        cwd: work,
        env,
        stdio: 'inherit',
      });
    };
    // A spec for the demo model, and the models.config the chart would mount as the sidecar's template.
    fs.writeFileSync(
      path.join(work, 'tiny.yaml'),
      [
        'apiVersion: catwalk/v1',
        'kind: Model',
        'metadata: { name: tiny, team: demo }',
        'spec:',
        '  source: { uri: s3://catwalk-models/demo/tiny }',
        '  serving: { versionPolicy: { latest: 1 } }',
        '',
      ].join('\n'),
    );
    execFileSync(process.execPath, [catwalk, 'render', 'tiny.yaml', '--out', 'rendered'], {
      cwd: work,
      env,
      stdio: 'ignore',
    });
    await writeExampleExport(path.join(work, 'export-a'), { seed: 'a' });
    await writeExampleExport(path.join(work, 'export-b'), { seed: 'b' });
    const dest = path.join(work, 'models', 'tiny');
    const config = path.join(work, 'models', 'models.config');
    const sync = () =>
      cli(
        'sync',
        '--source',
        'tiny.yaml',
        '--dest',
        'models/tiny',
        '--once',
        '--log-level',
        'warn',
        '--config-template',
        'rendered/tiny/models.config',
        '--config-out',
        'models/models.config',
      );

    cli('push', 'export-a', '--model', 'tiny.yaml');
    cli('push', 'export-b', '--model', 'tiny.yaml');
    cli('versions', 'tiny.yaml');
    cli('release', 'tiny.yaml', '--serve', '2', '--label', 'stable=2');
    sync();
    show('after release of version 2 and a sync', dest, config);
    cli('rollback', 'tiny.yaml');
    sync();
    show('after rollback and a sync: version 1 is back, version 2 is gone', dest, config);
    cli('versions', 'tiny.yaml');
  } finally {
    s3.child.kill('SIGTERM');
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error) => {
  process.stderr.write(`registry demo failed: ${error.message}\n`);
  process.exit(1);
});
