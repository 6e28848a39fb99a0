// The pure parts of the image build: deterministic tar and OCI layout files.
// No network, no root.
'use strict';

const assert = require('node:assert/strict');
const { describe, it } = require('node:test');
const tarStream = require('tar-stream');
const { writeTar } = require('../lib/deterministic-tar.cjs');
const { imageForArch, layoutFiles, sha256 } = require('../lib/oci.cjs');

function readTar(bytes) {
  const extract = tarStream.extract();
  const headers = [];
  return new Promise((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      headers.push(header);
      stream.on('end', next);
      stream.resume();
    });
    extract.on('finish', () => resolve(headers));
    extract.on('error', reject);
    extract.end(bytes);
  });
}

const file = (path, text, mode = 0o644) => ({ path, type: 'file', mode, data: Buffer.from(text) });

describe('deterministic tar', () => {
  it('gives the same bytes whatever the order of the entries', async () => {
    const entries = [
      file('usr/bin/b', 'b', 0o755),
      file('etc/a', 'a'),
      { path: 'lib', type: 'symlink', mode: 0o777, linkname: 'usr/lib' },
    ];
    const one = await writeTar(entries, 1_700_000_000);
    const other = await writeTar([...entries].reverse(), 1_700_000_000);
    assert.equal(sha256(one), sha256(other));
    assert.notEqual(
      sha256(one),
      sha256(await writeTar(entries, 1_700_000_001)),
      'the mtime is part of the bytes',
    );
  });

  it('sorts entries, adds missing parents, and writes one mtime and numeric root owners', async () => {
    const headers = await readTar(await writeTar([file('usr/share/x', 'x'), file('etc/a', 'a')], 86_400));
    assert.deepEqual(
      headers.map((h) => `${h.type} ${h.name}`),
      ['directory etc/', 'file etc/a', 'directory usr/', 'directory usr/share/', 'file usr/share/x'],
    );
    for (const h of headers) {
      assert.equal(h.mtime.getTime(), 86_400_000);
      assert.deepEqual([h.uid, h.gid, h.uname, h.gname], [0, 0, '', '']);
    }
  });

  it('keeps modes and non-root owners given explicitly, and long paths whole', async () => {
    const long = `a/${'b'.repeat(120)}/${'c'.repeat(120)}`;
    const headers = await readTar(
      await writeTar(
        [
          { path: 'tmp', type: 'directory', mode: 0o1777 },
          { path: 'home/nonroot', type: 'directory', mode: 0o700, uid: 65532, gid: 65532 },
          file(long, 'deep'),
        ],
        0,
      ),
    );
    const byName = Object.fromEntries(headers.map((h) => [h.name.replace(/\/$/, ''), h]));
    assert.equal(byName.tmp.mode, 0o1777);
    assert.deepEqual([byName['home/nonroot'].uid, byName['home/nonroot'].mode], [65532, 0o700]);
    assert.ok(byName[long], 'a path over 100 bytes survives');
  });

  it('refuses entries that would escape or clash, naming them', () => {
    assert.throws(() => writeTar([file('../etc/passwd', 'x')], 0), /'\.\.\/etc\/passwd'/);
    assert.throws(() => writeTar([file('/etc/passwd', 'x')], 0), /paths are relative/);
    assert.throws(() => writeTar([file('etc/a', 'x'), file('etc/a', 'y')], 0), /'etc\/a' appears twice/);
    assert.throws(() => writeTar([file('etc/a', 'x')], -1), /SOURCE_DATE_EPOCH/);
  });
});

describe('OCI layout', () => {
  const layers = [{ tar: Buffer.from('not really a tar, but bytes'), createdBy: 'test' }];
  const runtime = { User: '65532:65532', Entrypoint: ['/bin/true'] };
  const build = (arch) =>
    imageForArch({ arch, layers, runtime, created: '2026-01-01T00:00:00Z', labels: {} });

  it('names one manifest directly and several through an image index', () => {
    const amd64 = build('amd64');
    const single = JSON.parse(layoutFiles([amd64], '1.0.0').find((f) => f.path === 'index.json').data);
    assert.equal(single.manifests.length, 1);
    assert.equal(single.manifests[0].digest, amd64.manifest.descriptor.digest);
    assert.equal(single.manifests[0].annotations['org.opencontainers.image.ref.name'], '1.0.0');

    const files = layoutFiles([amd64, build('arm64')], '1.0.0');
    const top = JSON.parse(files.find((f) => f.path === 'index.json').data).manifests[0];
    assert.equal(top.mediaType, 'application/vnd.oci.image.index.v1+json');
    const index = JSON.parse(files.find((f) => f.path === `blobs/sha256/${top.digest.slice(7)}`).data);
    assert.deepEqual(
      index.manifests.map((m) => m.platform),
      [
        { architecture: 'amd64', os: 'linux' },
        { architecture: 'arm64', os: 'linux', variant: 'v8' },
      ],
    );
  });

  it('stores every blob under its own digest, once', () => {
    const files = layoutFiles([build('amd64'), build('arm64')], '1.0.0');
    const blobs = files.filter((f) => f.path.startsWith('blobs/'));
    for (const blob of blobs) assert.equal(`blobs/sha256/${sha256(blob.data).slice(7)}`, blob.path);
    assert.equal(new Set(blobs.map((b) => b.path)).size, blobs.length);
    // Both architectures share the layer bytes here: stored once.
    const config = JSON.parse(blobs.find((b) => b.data.includes('"rootfs"')).data);
    assert.equal(config.rootfs.diff_ids[0], sha256(layers[0].tar));
  });
});
