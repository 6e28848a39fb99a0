// The image's files as tar entries: what Debian packages unpack to (minus
// documentation), the few files their install scripts would have generated,
// and the user the sidecar runs as. Nothing here reads the clock or the
// machine's users; modes come from the packages and owners are always root,
// except the non-root user's home.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

/** The sidecar's user: the uid distroless images use for "nonroot". */
const NONROOT = Object.freeze({ uid: 65532, gid: 65532, name: 'nonroot', home: 'home/nonroot' });

/** Paths dropped from unpacked packages: documentation and debugger helpers no container reads. */
const DROPPED = [
  /^usr\/share\/(man|info|lintian|locale|gdb|gcc)(\/|$)/,
  /^usr\/share\/doc\/[^/]+\/(?!copyright$)/,
];

/**
 * Every file, directory and symlink under `dir` (e.g. the output of dpkg-deb -x)
 * as entries rooted at the image's /. Hard links become regular files.
 */
function entriesFromDirectory(dir, { drop = DROPPED } = {}) {
  const entries = [];
  const walk = (relative) => {
    for (const name of fs.readdirSync(path.join(dir, relative)).sort()) {
      const rel = relative ? `${relative}/${name}` : name;
      if (drop.some((pattern) => pattern.test(rel))) continue;
      const full = path.join(dir, rel);
      const stat = fs.lstatSync(full);
      const mode = stat.mode & 0o7777;
      if (stat.isSymbolicLink())
        entries.push({ path: rel, type: 'symlink', mode: 0o777, linkname: fs.readlinkSync(full) });
      else if (stat.isDirectory()) {
        entries.push({ path: rel, type: 'directory', mode });
        walk(rel);
      } else if (stat.isFile()) entries.push({ path: rel, type: 'file', mode, data: fs.readFileSync(full) });
      else throw new Error(`${full}: only files, folders and symlinks can go into the image`);
    }
  };
  walk('');
  // Folders emptied by the documentation filter are noise in the image.
  const nonEmpty = new Set();
  for (const e of entries)
    if (e.type !== 'directory')
      for (let p = path.posix.dirname(e.path); p !== '.'; p = path.posix.dirname(p)) nonEmpty.add(p);
  return entries.filter((e) => e.type !== 'directory' || nonEmpty.has(e.path));
}

/**
 * The CA bundle update-ca-certificates would write at install time (it does
 * not run here: packages are unpacked, not installed): every certificate of
 * the ca-certificates package, in name order.
 */
function caBundle(unpackedRoot) {
  const dir = path.join(unpackedRoot, 'usr/share/ca-certificates/mozilla');
  if (!fs.existsSync(dir)) throw new Error(`${dir}: missing; is ca-certificates among the image's packages?`);
  const names = fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.crt'))
    .sort();
  if (names.length === 0) throw new Error(`${dir}: holds no certificates`);
  const pems = names.map((n) => {
    const text = fs.readFileSync(path.join(dir, n), 'utf8');
    return text.endsWith('\n') ? text : `${text}\n`;
  });
  return {
    path: 'etc/ssl/certs/ca-certificates.crt',
    type: 'file',
    mode: 0o644,
    data: Buffer.from(pems.join('')),
  };
}

/** /etc/passwd, /etc/group, /etc/nsswitch.conf, a writable /tmp and the non-root user's home. */
function systemEntries() {
  const file = (p, text) => ({ path: p, type: 'file', mode: 0o644, data: Buffer.from(text) });
  return [
    file(
      'etc/passwd',
      `root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n${NONROOT.name}:x:${NONROOT.uid}:${NONROOT.gid}:${NONROOT.name}:/${NONROOT.home}:/sbin/nologin\n`,
    ),
    file('etc/group', `root:x:0:\nnogroup:x:65534:\n${NONROOT.name}:x:${NONROOT.gid}:\n`),
    // glibc's default without this file also asks NIS; say plainly: files, then DNS.
    file('etc/nsswitch.conf', 'passwd: files\ngroup: files\nhosts: files dns\n'),
    { path: 'tmp', type: 'directory', mode: 0o1777 },
    { path: 'root', type: 'directory', mode: 0o700 },
    { path: NONROOT.home, type: 'directory', mode: 0o700, uid: NONROOT.uid, gid: NONROOT.gid },
  ];
}

module.exports = { NONROOT, entriesFromDirectory, caBundle, systemEntries };
