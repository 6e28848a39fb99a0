#!/usr/bin/env node
// Installs what `npm run test:image` needs beyond npm, from Debian's apt:
// skopeo and umoci (the OCI tools the tests check the archive with), the
// Debian archive keys (the build's private apt verifies packages with them),
// and the util-linux/coreutils tools that run the image (unshare, chroot).
// Must run as root: the tests mount and chroot.
'use strict';

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');

const needs = [
  { command: 'skopeo', pkg: 'skopeo' },
  { command: 'umoci', pkg: 'umoci' },
  { command: 'dpkg-deb', pkg: 'dpkg' },
  { command: 'gzip', pkg: 'gzip' },
  { command: 'unshare', pkg: 'util-linux' },
  { command: 'chroot', pkg: 'coreutils' },
  { file: '/usr/share/keyrings/debian-archive-keyring.gpg', pkg: 'debian-archive-keyring' },
];

const has = (command) => {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

if (process.getuid?.() !== 0) {
  process.stderr.write(
    'test:image runs the image with mount and chroot: run it as root (sudo npm run test:image)\n',
  );
  process.exit(1);
}
const missing = needs.filter((n) => (n.command ? !has(n.command) : !fs.existsSync(n.file))).map((n) => n.pkg);
if (missing.length > 0) {
  process.stderr.write(`test:image: installing ${missing.join(' ')} with apt-get\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
      stdio: 'inherit',
      env,
    });
  } catch {
    process.stderr.write(
      `test:image: could not install ${missing.join(' ')}; install them with apt-get and retry\n`,
    );
    process.exit(1);
  }
}
fs.mkdirSync('reports/node-test', { recursive: true });
