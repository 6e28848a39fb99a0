// The image's files as tar entries: what Debian packages unpack to (read
// from each package's data tar, so modes are the package's whatever user
// builds; minus documentation), the few files their install scripts would have generated,
// and the user the sidecar runs as. Nothing here reads the clock or the
// machine's users; modes come from the packages and owners are always root,
// except the non-root user's home.
'use strict';

const { execFileSync } = require('node:child_process');
const path = require('node:path');
const tarStream = require('tar-stream');

/** The sidecar's user: the uid distroless images use for "nonroot". */
const NONROOT = Object.freeze({ uid: 65532, gid: 65532, name: 'nonroot', home: 'home/nonroot' });

/** Paths dropped from unpacked packages: documentation and debugger helpers no container reads. */
const DROPPED = [
  /^usr\/share\/(man|info|lintian|locale|gdb|gcc)(\/|$)/,
  /^usr\/share\/doc\/[^/]+\/(?!copyright$)/,
];

/** The data tar of a .deb as entries (paths without the leading './'); hard links become regular files. */
async function debEntries(deb) {
  const data = execFileSync('dpkg-deb', ['--fsys-tarfile', deb], { maxBuffer: 1 << 30 });
  const extract = tarStream.extract();
  const entries = [];
  const done = new Promise((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const chunks = [];
      stream.on('data', (chunk) => chunks.push(chunk));
      stream.on('end', () => {
        const rel = header.name.replace(/^\.\//, '').replace(/\/$/, '');
        const mode = header.mode & 0o7777;
        if (!rel) return next();
        if (header.type === 'directory') entries.push({ path: rel, type: 'directory', mode });
        else if (header.type === 'symlink')
          entries.push({ path: rel, type: 'symlink', mode: 0o777, linkname: header.linkname });
        else if (header.type === 'file')
          entries.push({ path: rel, type: 'file', mode, data: Buffer.concat(chunks) });
        else if (header.type === 'link') {
          const target = entries.find((e) => e.path === header.linkname.replace(/^\.\//, ''));
          if (!target) return reject(new Error(`${deb}: hard link ${rel} to a missing ${header.linkname}`));
          entries.push({ ...target, path: rel, mode });
        } else
          return reject(
            new Error(
              `${deb}: ${rel} is a ${header.type}; only files, folders and links can go into the image`,
            ),
          );
        next();
      });
      stream.resume();
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  extract.end(data);
  await done;
  return entries;
}

/**
 * What the packages unpack to, merged in order, minus documentation (each
 * package's copyright file stays). Two packages shipping the same file is an error.
 */
async function entriesFromDebs(debs, { drop = DROPPED } = {}) {
  const merged = new Map();
  for (const deb of debs) {
    for (const entry of await debEntries(deb)) {
      if (drop.some((pattern) => pattern.test(entry.path))) continue;
      const existing = merged.get(entry.path);
      if (existing && (existing.type !== 'directory' || entry.type !== 'directory')) {
        throw new Error(`${entry.path} is in two of the image's packages (the second is ${deb})`);
      }
      merged.set(entry.path, entry);
    }
  }
  const entries = [...merged.values()];
  // Folders emptied by the documentation filter are noise in the image.
  const nonEmpty = new Set();
  for (const e of entries) {
    if (e.type === 'directory') continue;
    for (let p = path.posix.dirname(e.path); p !== '.'; p = path.posix.dirname(p)) nonEmpty.add(p);
  }
  return entries.filter((e) => e.type !== 'directory' || nonEmpty.has(e.path));
}

/**
 * The CA bundle update-ca-certificates would write at install time (it does
 * not run here: packages are unpacked, not installed): every certificate of
 * the ca-certificates package, in name order.
 */
function caBundle(entries) {
  const dir = 'usr/share/ca-certificates/mozilla/';
  const certs = entries.filter((e) => e.type === 'file' && e.path.startsWith(dir) && e.path.endsWith('.crt'));
  if (certs.length === 0)
    throw new Error(`no certificates under /${dir}: is ca-certificates among the image's packages?`);
  certs.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  const pems = certs.map((e) => {
    const text = e.data.toString('utf8');
    return text.endsWith('\n') ? text : `${text}\n`;
  });
  return {
    path: 'etc/ssl/certs/ca-certificates.crt',
    type: 'file',
    mode: 0o644,
    data: Buffer.from(pems.join('')),
  };
}

/**
 * `upper` laid over `lower`: a folder in both takes upper's mode and owner
 * (base-files ships /tmp and /root too); the same file in both is an error.
 */
function overlay(lower, upper) {
  const merged = new Map(lower.map((e) => [e.path, e]));
  for (const entry of upper) {
    const existing = merged.get(entry.path);
    if (existing && (existing.type !== 'directory' || entry.type !== 'directory')) {
      throw new Error(`/${entry.path} comes from a package and from the image's own files: keep one`);
    }
    merged.set(entry.path, entry);
  }
  return [...merged.values()];
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

module.exports = { NONROOT, entriesFromDebs, caBundle, overlay, systemEntries };
