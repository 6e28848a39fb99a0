// OCI image layout (image-spec v1.1): blobs addressed by SHA-256, image
// configs and manifests per architecture, an image index when there are
// several, all serialised the same way every time (fixed key order, no
// whitespace) so equal inputs give equal digests.
'use strict';

const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const MEDIA = Object.freeze({
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  config: 'application/vnd.oci.image.config.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
});

const sha256 = (bytes) => `sha256:${crypto.createHash('sha256').update(bytes).digest('hex')}`;

/** A content-addressed blob and the descriptor that points to it. */
function blob(mediaType, bytes, extra = {}) {
  return { bytes, descriptor: { mediaType, digest: sha256(bytes), size: bytes.length, ...extra } };
}

const json = (value) => Buffer.from(JSON.stringify(value));

/**
 * GNU gzip with -n (no name, no timestamp): its output for given bytes has not
 * changed in decades, unlike zlib builds that vary with CPU features, so the
 * compressed layer digest is the same on every build machine.
 */
function gzip(bytes) {
  return execFileSync('gzip', ['-n', '-6', '-c'], { input: bytes, maxBuffer: 1 << 30 });
}

/**
 * gzip through a cache keyed by the uncompressed digest (the output is a
 * function of the input, and compressing the Node binary is most of a
 * build's time). `cacheDir` undefined: always compress. A cached blob whose
 * digest no longer matches its record is ignored and rewritten.
 */
function gzipCached(bytes, cacheDir, { read = true } = {}) {
  if (!cacheDir) return gzip(bytes);
  const key = sha256(bytes).slice('sha256:'.length);
  const file = path.join(cacheDir, `${key}.tar.gz`);
  const record = `${file}.sha256`;
  if (read && fs.existsSync(file) && fs.existsSync(record)) {
    const cached = fs.readFileSync(file);
    if (sha256(cached) === fs.readFileSync(record, 'utf8').trim()) return cached;
  }
  const compressed = gzip(bytes);
  fs.mkdirSync(cacheDir, { recursive: true });
  fs.writeFileSync(file, compressed);
  fs.writeFileSync(record, sha256(compressed));
  return compressed;
}

const platformOf = (arch) =>
  arch === 'arm64'
    ? { architecture: 'arm64', os: 'linux', variant: 'v8' }
    : { architecture: arch, os: 'linux' };

/**
 * One architecture's image: layers (uncompressed tar buffers, in order), the
 * runtime config, and history lines describing each layer. layerCache:
 * { dir, read } for compressed layers (see gzipCached).
 * @returns {{ blobs: Array<{bytes: Buffer, descriptor: object}>, manifest: {bytes: Buffer, descriptor: object} }}
 */
function imageForArch({ arch, layers, runtime, created, labels, layerCache }) {
  const layerBlobs = layers.map((layer) =>
    blob(MEDIA.layer, gzipCached(layer.tar, layerCache?.dir, layerCache)),
  );
  const config = {
    created,
    ...platformOf(arch),
    config: { ...runtime, Labels: labels },
    rootfs: { type: 'layers', diff_ids: layers.map((layer) => sha256(layer.tar)) },
    history: layers.map((layer) => ({ created, created_by: layer.createdBy })),
  };
  const configBlob = blob(MEDIA.config, json(config));
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA.manifest,
    config: configBlob.descriptor,
    layers: layerBlobs.map((b) => b.descriptor),
    annotations: { 'org.opencontainers.image.created': created },
  };
  const manifestBlob = blob(MEDIA.manifest, json(manifest), { platform: platformOf(arch) });
  return { blobs: [...layerBlobs, configBlob, manifestBlob], manifest: manifestBlob };
}

/**
 * The files of an OCI layout holding `images` under the name `tag`: one
 * manifest when there is one architecture, else an image index of them all.
 * @returns {Array<{path: string, type: 'file', mode: number, data: Buffer}>}
 */
function layoutFiles(images, tag) {
  const blobs = images.flatMap((image) => image.blobs);
  let top;
  if (images.length === 1) {
    top = images[0].manifest.descriptor;
  } else {
    const index = {
      schemaVersion: 2,
      mediaType: MEDIA.index,
      manifests: images.map((image) => image.manifest.descriptor),
    };
    const indexBlob = blob(MEDIA.index, json(index));
    blobs.push(indexBlob);
    top = indexBlob.descriptor;
  }
  const named = { ...top, annotations: { 'org.opencontainers.image.ref.name': tag } };
  const file = (path, data) => ({ path, type: 'file', mode: 0o644, data });
  const unique = new Map(blobs.map((b) => [b.descriptor.digest, b.bytes]));
  return [
    file('oci-layout', json({ imageLayoutVersion: '1.0.0' })),
    file('index.json', json({ schemaVersion: 2, mediaType: MEDIA.index, manifests: [named] })),
    ...[...unique].map(([digest, bytes]) => file(`blobs/sha256/${digest.slice('sha256:'.length)}`, bytes)),
  ];
}

module.exports = { MEDIA, imageForArch, layoutFiles, sha256, platformOf };
