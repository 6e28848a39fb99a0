#!/usr/bin/env node
// Builds the local control plane (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler, kwok) from their Go modules into a cache outside the
// repository, keyed by the Kubernetes release, and does nothing when the
// binaries for the pinned versions are already there.
//
//   node tools/cluster/build.cjs            build what is missing, print the bin dir
//   node tools/cluster/build.cjs --print    print the bin dir only (no build)
//
// CATWALK_CLUSTER_CACHE moves the cache (default ~/.cache/catwalk/cluster).
// CATWALK_GO_PARALLEL sets `go build -p` (default 2; the build runs niced so
// it does not starve tests running beside it).
'use strict';

const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const MODULE_DIR = __dirname;
const KWOK_VERSION = 'v0.8.0';
const COMPONENTS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok', 'kwok-stages.yaml'];
/**
 * kwok's own "fast" lifecycle stages (the ones kwokctl uses): nodes become
 * Ready and renew their leases, pods become Ready at once, complete and go
 * away on deletion. Taken from the kwok module as downloaded, not copied.
 */
const KWOK_STAGES = [
  'node/fast/node-initialize.yaml',
  'node/heartbeat-with-lease/node-heartbeat-with-lease.yaml',
  'pod/fast/pod-ready.yaml',
  'pod/fast/pod-complete.yaml',
  'pod/fast/pod-delete.yaml',
];

function writeKwokStages(root, pins, bin) {
  const stageDir = path.join(root, 'gomod', 'sigs.k8s.io', `kwok@${pins.kwok}`, 'kustomize', 'stage');
  const text = KWOK_STAGES.map((file) => fs.readFileSync(path.join(stageDir, file), 'utf8').trim()).join('\n---\n');
  fs.writeFileSync(path.join(bin, 'kwok-stages.yaml'), `${text}\n`);
}

function readPins() {
  const gomod = fs.readFileSync(path.join(MODULE_DIR, 'go.mod'), 'utf8');
  const k8s = /^\s*k8s\.io\/kubernetes (v\d+\.\d+\.\d+)\s*$/m.exec(gomod);
  const etcd = /^\s*go\.etcd\.io\/etcd\/server\/v3 (v\d+\.\d+\.\d+)\s*$/m.exec(gomod);
  if (!k8s || !etcd) throw new Error(`tools/cluster/go.mod must require k8s.io/kubernetes and go.etcd.io/etcd/server/v3 at a release`);
  return { kubernetes: k8s[1], etcd: etcd[1], kwok: KWOK_VERSION };
}

function cacheRoot() {
  return process.env.CATWALK_CLUSTER_CACHE || path.join(os.homedir(), '.cache', 'catwalk', 'cluster');
}

/** Where the binaries of the pinned release live; stable for a given go.mod/go.sum. */
function layout() {
  const pins = readPins();
  const root = cacheRoot();
  const dir = path.join(root, pins.kubernetes);
  return { pins, root, dir, bin: path.join(dir, 'bin'), stamp: path.join(dir, 'build.json') };
}

function fingerprint(pins) {
  const hash = crypto.createHash('sha256');
  for (const file of ['go.mod', 'go.sum']) hash.update(fs.readFileSync(path.join(MODULE_DIR, file)));
  hash.update(JSON.stringify(pins));
  return hash.digest('hex').slice(0, 16);
}

function isBuilt() {
  const { pins, bin, stamp } = layout();
  if (!fs.existsSync(stamp)) return false;
  const recorded = JSON.parse(fs.readFileSync(stamp, 'utf8'));
  return recorded.fingerprint === fingerprint(pins) && COMPONENTS.every((c) => fs.existsSync(path.join(bin, c)));
}

/** go on PATH, else the official tarball's usual place. */
function goBinary() {
  const onPath = spawnSync('go', ['version'], { stdio: 'ignore' });
  if (!onPath.error) return 'go';
  return fs.existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go';
}

function run(args, opts) {
  const started = Date.now();
  // nice keeps a cold build from starving whatever else runs on the machine.
  const result = spawnSync('nice', ['-n', '15', goBinary(), ...args], { stdio: ['ignore', 'inherit', 'inherit'], ...opts });
  if (result.error) throw new Error(`could not run go (${result.error.message}); install Go 1.26 or newer`);
  if (result.status !== 0) throw new Error(`go ${args.join(' ')} failed with exit code ${result.status}`);
  return (Date.now() - started) / 1000;
}

function build({ log = (line) => process.stderr.write(`${line}\n`) } = {}) {
  const { pins, root, dir, bin, stamp } = layout();
  if (isBuilt()) return bin;
  if (fs.existsSync(stamp) && !fs.existsSync(path.join(bin, 'kwok-stages.yaml')) && fs.existsSync(path.join(bin, 'kwok'))) {
    writeKwokStages(root, pins, bin);
    if (isBuilt()) return bin;
  }
  fs.mkdirSync(bin, { recursive: true });
  const parallel = process.env.CATWALK_GO_PARALLEL || '2';
  const env = {
    ...process.env,
    GOMODCACHE: path.join(root, 'gomod'),
    GOCACHE: path.join(root, 'gocache'),
    GOFLAGS: `-mod=mod -p=${parallel}`,
    CGO_ENABLED: '0',
  };
  const [major, minor] = pins.kubernetes.slice(1).split('.');
  // Without these the servers report v0.0.0-master and helm's kubeVersion checks fail.
  const versionFlags = ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']
    .flatMap((pkg) => [`-X ${pkg}.gitVersion=${pins.kubernetes}`, `-X ${pkg}.gitMajor=${major}`, `-X ${pkg}.gitMinor=${minor}`, `-X ${pkg}.gitTreeState=clean`])
    .join(' ');
  const timings = {};
  const started = Date.now();
  log(`building Kubernetes ${pins.kubernetes} and etcd ${pins.etcd} into ${bin} (cold builds take a while)`);
  timings.kubernetes = run(
    ['build', '-trimpath', '-ldflags', `-s -w ${versionFlags}`, '-o', `${bin}${path.sep}`,
      'k8s.io/kubernetes/cmd/kube-apiserver', 'k8s.io/kubernetes/cmd/kube-controller-manager', 'k8s.io/kubernetes/cmd/kube-scheduler'],
    { cwd: MODULE_DIR, env },
  );
  timings.etcd = run(['build', '-trimpath', '-ldflags', '-s -w', '-o', path.join(bin, 'etcd'), 'go.etcd.io/etcd/server/v3'], { cwd: MODULE_DIR, env });
  log(`building kwok ${pins.kwok}`);
  // kwok has its own dependency graph (an older client-go); `go install pkg@version`
  // builds it from its own go.mod, verified against the checksum database.
  timings.kwok = run(['install', '-trimpath', '-ldflags', '-s -w', `sigs.k8s.io/kwok/cmd/kwok@${pins.kwok}`], {
    cwd: dir,
    env: { ...env, GOFLAGS: `-p=${parallel}`, GOBIN: bin },
  });
  writeKwokStages(root, pins, bin);
  const record = {
    fingerprint: fingerprint(pins),
    pins,
    seconds: { ...timings, total: (Date.now() - started) / 1000 },
    go: spawnSync(goBinary(), ['version'], { encoding: 'utf8' }).stdout.trim(),
    builtAt: new Date().toISOString(),
  };
  fs.writeFileSync(stamp, `${JSON.stringify(record, null, 2)}\n`);
  log(`built in ${record.seconds.total.toFixed(0)} s`);
  return bin;
}

module.exports = { build, isBuilt, layout, COMPONENTS };

if (require.main === module) {
  try {
    if (process.argv.includes('--print')) console.log(layout().bin);
    else console.log(build());
  } catch (error) {
    console.error(`cluster build: ${error.message}`);
    process.exit(1);
  }
}
