// Tar archives whose bytes depend only on their entries: entries sorted by
// path, one fixed mtime, numeric owners only (no user or group names), no
// atime/ctime and no PAX records beyond what long names need. Two builds
// from the same inputs therefore give the same layer digest.
'use strict';

const tarStream = require('tar-stream');

/**
 * @typedef {object} Entry
 * @property {string} path   relative, '/'-separated, no leading './' or '/'
 * @property {'file'|'directory'|'symlink'} type
 * @property {number} mode   permission bits (e.g. 0o755, 0o1777)
 * @property {number} [uid]  default 0
 * @property {number} [gid]  default 0
 * @property {Buffer} [data]     file contents
 * @property {string} [linkname] symlink target
 */

/** Adds a root-owned 0755 directory entry for every missing parent of every entry. */
function withParents(entries) {
  const byPath = new Map(entries.map((e) => [e.path, e]));
  for (const entry of entries) {
    const parts = entry.path.split('/');
    for (let i = 1; i < parts.length; i += 1) {
      const dir = parts.slice(0, i).join('/');
      if (!byPath.has(dir)) byPath.set(dir, { path: dir, type: 'directory', mode: 0o755 });
    }
  }
  return [...byPath.values()];
}

function compareBytes(a, b) {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Checks an entry list before it is written; the messages name the entry. */
function validate(entries) {
  const seen = new Set();
  for (const entry of entries) {
    if (
      !entry.path ||
      entry.path.startsWith('/') ||
      entry.path.startsWith('./') ||
      entry.path.endsWith('/')
    ) {
      throw new Error(
        `tar entry '${entry.path}': paths are relative, without a leading './' or trailing '/'`,
      );
    }
    if (entry.path.split('/').includes('..'))
      throw new Error(`tar entry '${entry.path}': '..' is not allowed`);
    if (seen.has(entry.path)) throw new Error(`tar entry '${entry.path}' appears twice`);
    seen.add(entry.path);
    if (entry.type === 'file' && !Buffer.isBuffer(entry.data)) {
      throw new Error(`tar entry '${entry.path}': a file needs its contents as a Buffer`);
    }
    if (entry.type === 'symlink' && !entry.linkname)
      throw new Error(`tar entry '${entry.path}': no link target`);
  }
}

/**
 * Writes `entries` (plus their missing parent directories) as an uncompressed
 * tar with every mtime set to `epochSeconds`. Returns the archive's bytes.
 * @param {Entry[]} entries
 * @param {number} epochSeconds
 * @returns {Promise<Buffer>}
 */
function writeTar(entries, epochSeconds) {
  if (!Number.isInteger(epochSeconds) || epochSeconds < 0) {
    throw new Error(
      `SOURCE_DATE_EPOCH '${epochSeconds}': use whole seconds since 1970 (e.g. git log -1 --format=%ct)`,
    );
  }
  validate(entries);
  const all = withParents(entries);
  all.sort((a, b) => compareBytes(a.path, b.path));
  const mtime = new Date(epochSeconds * 1000);
  const pack = tarStream.pack();
  const chunks = [];
  const done = new Promise((resolve, reject) => {
    pack.on('data', (chunk) => chunks.push(chunk));
    pack.on('end', () => resolve(Buffer.concat(chunks)));
    pack.on('error', reject);
  });
  for (const entry of all) {
    const header = {
      // Folders end in '/', as GNU tar and container builders write them.
      name: entry.type === 'directory' ? `${entry.path}/` : entry.path,
      type: entry.type,
      mode: entry.mode,
      uid: entry.uid ?? 0,
      gid: entry.gid ?? 0,
      uname: '',
      gname: '',
      mtime,
    };
    if (entry.type === 'file') pack.entry({ ...header, size: entry.data.length }, entry.data);
    else if (entry.type === 'symlink') pack.entry({ ...header, linkname: entry.linkname });
    else pack.entry(header);
  }
  pack.finalize();
  return done;
}

module.exports = { writeTar, withParents };
