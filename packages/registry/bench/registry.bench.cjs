#!/usr/bin/env node
// `npm run bench -w @catwalk/registry`: push and sync a generated 200 MiB
// model (200 shards of 512 KiB plus one 100 MiB file) through the embedded
// S3, against `aws s3 cp --recursive`, `aws s3 sync` (Debian's awscli) and
// `rclone copy` (Debian's rclone) of the same folder on the same server;
// the time from push done to version present with a 1 s poll; and the peak
// RSS of push and sync, each run in its own process. The peers are
// installed with apt-get when missing (here only, never for npm test).
const { execFileSync, spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const measureScript = path.join(__dirname, 'measure.cjs');
// Debian's builds, whatever else is on PATH (a Python aws v1 may come first).
const aws = '/usr/bin/aws';
const rclone = '/usr/bin/rclone';

/** Installs the Debian packages of the peers that are missing (the bench runs as root on CI machines). */
function ensurePeers() {
  const missing = [
    [aws, 'awscli'],
    [rclone, 'rclone'],
  ].filter(([binary]) => !fs.existsSync(binary));
  if (missing.length === 0) return;
  const packages = missing.map(([, pkg]) => pkg);
  process.stdout.write(`installing ${packages.join(', ')} (apt-get) to measure against...\n`);
  try {
    execFileSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'] });
    execFileSync('apt-get', ['install', '-y', '-qq', ...packages], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } catch (error) {
    throw new Error(
      `could not install ${packages.join(', ')} with apt-get (${error.message}); install them and run again`,
    );
  }
}
const MiB = 1024 * 1024;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'catwalk-bench-'));
const env = {
  ...process.env,
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
  AWS_REGION: 'us-east-1',
  AWS_DEFAULT_REGION: 'us-east-1',
  AWS_PAGER: '',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

function writeRandom(file, bytes) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, 'w');
  for (let left = bytes; left > 0; left -= 4 * MiB) fs.writeSync(fd, crypto.randomBytes(Math.min(left, 4 * MiB)));
  fs.closeSync(fd);
}

function generateModel(dir) {
  const shards = 200;
  writeRandom(path.join(dir, 'saved_model.pb'), 256 * 1024);
  writeRandom(path.join(dir, 'variables', 'variables.index'), 64 * 1024);
  for (let i = 0; i < shards; i++) {
    const name = `variables.data-${String(i).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}`;
    writeRandom(path.join(dir, 'variables', name), 512 * 1024);
  }
  writeRandom(path.join(dir, 'assets', 'embeddings.bin'), 100 * MiB - 320 * 1024);
  return 200 * MiB;
}

function startS3() {
  const child = spawn(
    process.execPath,
    [path.join(__dirname, '../tools/embedded-s3.cjs'), '--dir', path.join(work, 's3'), '--bucket', 'bench'],
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

function measure(endpoint, operation, ...args) {
  const out = path.join(work, `measure-${crypto.randomUUID()}.json`);
  // Wall-clock of the whole process, start-up included, as for the aws CLI.
  const seconds = timed(() =>
    execFileSync(process.execPath, [measureScript, operation, ...args, endpoint], {
      cwd: work,
      env: { ...env, CATWALK_MEASURE_OUT: out },
      stdio: ['ignore', 'ignore', 'inherit'],
    }),
  );
  return { ...JSON.parse(fs.readFileSync(out, 'utf8')), seconds };
}
const pushWith = (endpoint, dir, uri) => measure(endpoint, 'push', dir, uri);
const syncWith = (endpoint, uri, dest) => measure(endpoint, 'sync', uri, dest);

function timed(fn) {
  const started = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

const awsCli = (endpoint, ...args) =>
  execFileSync(aws, ['--endpoint-url', endpoint, ...args], { env, stdio: ['ignore', 'ignore', 'inherit'] });

/** rclone with a remote named "bench" on the embedded S3, configured through its environment. */
function rcloneCopy(endpoint, from, to) {
  const { AWS_CA_BUNDLE: _unused, ...rest } = env; // rclone refuses to start with it set (LoadCustomCABundleError)
  execFileSync(rclone, ['copy', '-q', '--no-update-modtime', from, to], {
    env: {
      ...rest,
      RCLONE_CONFIG_BENCH_TYPE: 's3',
      RCLONE_CONFIG_BENCH_PROVIDER: 'Other',
      RCLONE_CONFIG_BENCH_ENDPOINT: endpoint,
      RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: 'S3RVER',
      RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: 'S3RVER',
      RCLONE_CONFIG_BENCH_REGION: 'us-east-1',
      RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE: 'true',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

async function waitFor(check, ms) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function timeToPresent(endpoint, modelDir, small) {
  // A sidecar polling every second; then push, and time from push done to the folder appearing.
  const dest = path.join(work, 'ttp');
  const uri = 's3://bench/ttp';
  pushWith(endpoint, small, uri);
  const sidecar = spawn(process.execPath, [measureScript, 'sidecar', uri, dest, endpoint, '1000'], {
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    await waitFor(() => fs.existsSync(path.join(dest, '1')), 20_000);
    const results = [];
    for (const [version, dir] of [
      [2, small],
      [3, modelDir],
    ]) {
      pushWith(endpoint, dir, uri);
      const pushed = Date.now();
      await waitFor(() => fs.existsSync(path.join(dest, String(version))), 60_000);
      results.push((Date.now() - pushed) / 1000);
    }
    return results;
  } finally {
    sidecar.kill('SIGTERM');
  }
}

async function main() {
  ensurePeers();
  const modelDir = path.join(work, 'model');
  const small = path.join(work, 'small');
  process.stdout.write('generating a 200 MiB model (200 x 512 KiB shards + one 100 MiB file)...\n');
  const bytes = generateModel(modelDir);
  const { writeExampleExport } = require(path.join(__dirname, '..', 'dist', 'index.js'));
  await writeExampleExport(small);
  const s3 = await startS3();
  try {
    const mb = bytes / MiB;
    // Warm the server up (its first requests pay for JIT and folder creation), then take the best of
    // `runs` rounds, alternating the tools, so no tool is measured only against a cold server.
    pushWith(s3.endpoint, small, 's3://bench/warm');
    awsCli(s3.endpoint, 's3', 'cp', '--recursive', '--only-show-errors', small, 's3://bench/warm-aws/1/');
    rcloneCopy(s3.endpoint, small, 'bench:bench/warm-rclone/1');
    const runs = Number(process.env.BENCH_RUNS ?? 3);
    const best = { push: Infinity, pushRss: 0, cpUp: Infinity, syncUp: Infinity, rcloneUp: Infinity, sync: Infinity, syncRss: 0, cpDown: Infinity, syncDown: Infinity, rcloneDown: Infinity };
    for (let round = 0; round < runs; round++) {
      const push = pushWith(s3.endpoint, modelDir, `s3://bench/ours-${round}`);
      best.push = Math.min(best.push, push.seconds);
      best.pushRss = Math.max(best.pushRss, push.maxRssMiB);
      best.cpUp = Math.min(best.cpUp, timed(() => awsCli(s3.endpoint, 's3', 'cp', '--recursive', '--only-show-errors', modelDir, `s3://bench/aws-cp-${round}/1/`)));
      best.syncUp = Math.min(best.syncUp, timed(() => awsCli(s3.endpoint, 's3', 'sync', '--only-show-errors', modelDir, `s3://bench/aws-sync-${round}/1/`)));
      best.rcloneUp = Math.min(best.rcloneUp, timed(() => rcloneCopy(s3.endpoint, modelDir, `bench:bench/rclone-${round}/1`)));
      const sync = syncWith(s3.endpoint, `s3://bench/ours-${round}`, path.join(work, `dest-${round}`));
      best.sync = Math.min(best.sync, sync.seconds);
      best.syncRss = Math.max(best.syncRss, sync.maxRssMiB);
      best.cpDown = Math.min(best.cpDown, timed(() => awsCli(s3.endpoint, 's3', 'cp', '--recursive', '--only-show-errors', `s3://bench/aws-cp-${round}/1/`, path.join(work, `dl-cp-${round}`))));
      best.syncDown = Math.min(best.syncDown, timed(() => awsCli(s3.endpoint, 's3', 'sync', '--only-show-errors', `s3://bench/aws-sync-${round}/1/`, path.join(work, `dl-sync-${round}`))));
      best.rcloneDown = Math.min(best.rcloneDown, timed(() => rcloneCopy(s3.endpoint, `bench:bench/rclone-${round}/1`, path.join(work, `dl-rclone-${round}`))));
      for (const dir of [`dest-${round}`, `dl-cp-${round}`, `dl-sync-${round}`, `dl-rclone-${round}`]) fs.rmSync(path.join(work, dir), { recursive: true, force: true });
    }
    const push = { seconds: best.push, maxRssMiB: best.pushRss };
    const sync = { seconds: best.sync, maxRssMiB: best.syncRss };
    const { cpUp, syncUp, rcloneUp, cpDown, syncDown, rcloneDown } = best;
    const [ttpSmall, ttpLarge] = await timeToPresent(s3.endpoint, modelDir, small);

    const rate = (s) => `${(mb / s).toFixed(1)} MiB/s`;
    const row = (name, s, base) =>
      `${name.padEnd(34)} ${s.toFixed(2).padStart(7)} s  ${rate(s).padStart(12)}${base ? `   ratio ${(base / s).toFixed(2)}` : ''}\n`;
    process.stdout.write(
      `\nbest of ${runs} rounds, wall-clock of each command (start-up included)\n` +
        `\nupload of ${mb.toFixed(0)} MiB (${fs.readdirSync(path.join(modelDir, 'variables')).length + 2} files), same s3rver:\n` +
        row('catwalk push', push.seconds) +
        row('aws s3 cp --recursive', cpUp) +
        row('aws s3 sync', syncUp) +
        row('rclone copy', rcloneUp) +
        `  push vs aws s3 cp: ${(cpUp / push.seconds).toFixed(2)}x, vs aws s3 sync: ${(syncUp / push.seconds).toFixed(2)}x, ` +
        `vs rclone copy: ${(rcloneUp / push.seconds).toFixed(2)}x (target >= 1.0)\n` +
        `\ndownload into a folder:\n` +
        row('catwalk sync --once (verified)', sync.seconds) +
        row('aws s3 cp --recursive', cpDown) +
        row('aws s3 sync', syncDown) +
        row('rclone copy', rcloneDown) +
        `  sync vs aws s3 cp: ${(cpDown / sync.seconds).toFixed(2)}x, vs aws s3 sync: ${(syncDown / sync.seconds).toFixed(2)}x, ` +
        `vs rclone copy: ${(rcloneDown / sync.seconds).toFixed(2)}x (target >= 1.0)\n` +
        `\npeak RSS (highest of the rounds): push ${push.maxRssMiB.toFixed(0)} MiB, sync ${sync.maxRssMiB.toFixed(0)} MiB (target < 200 MiB; largest file 100 MiB)\n` +
        `time from push done to version present in dest, --interval 1s: tiny version ${ttpSmall.toFixed(2)} s, ` +
        `200 MiB version ${ttpLarge.toFixed(2)} s (target <= 2 s)\n`,
    );
  } finally {
    s3.child.kill('SIGTERM');
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error) => {
  process.stderr.write(`benchmark failed: ${error.stack}\n`);
  process.exit(1);
});
