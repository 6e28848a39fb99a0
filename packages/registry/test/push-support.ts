// Shared by the push-*, release-* and prune-* tests: a fresh model location
// per test, exports that look alike to a quick scan but differ in content,
// and a check that reads every byte of a complete version back from S3.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { listVersions, type ModelLocation } from '../src';
import { BUCKET, halfPlusTwo, tempDir } from './helpers';

let n = 0;
export const freshModel = (tag = 'm'): ModelLocation => {
  n++;
  const name = `${tag}-${process.pid}-${n}`;
  return { bucket: BUCKET, prefix: `team/${name}`, name };
};

/**
 * A copy of half_plus_two whose saved_model.pb has other bytes of the same
 * size, and the same modification times as `like` (when given): the two
 * exports have equal paths, sizes and mtimes, so only their contents tell
 * them apart. The bytes changed are inside the graph (MetaGraphDef field 2),
 * which a signature reader skips by its length: push still reads the same
 * signatures from it.
 */
export function lookalikeExport(seed: number, like?: string): string {
  const dir = tempDir('catwalk-export-');
  fs.cpSync(halfPlusTwo, dir, { recursive: true });
  const pb = path.join(dir, 'saved_model.pb');
  const bytes = fs.readFileSync(pb);
  const graph = graphRange(bytes);
  for (let i = 0; i < 64; i++) {
    const at = graph.start + ((i * 97 + seed * 13) % (graph.end - graph.start));
    bytes[at] = (bytes[at] ?? 0) ^ ((seed % 251) + 1);
  }
  fs.writeFileSync(pb, bytes);
  if (like) {
    for (const f of [
      'saved_model.pb',
      'assets/foo.txt',
      'variables/variables.index',
      'variables/variables.data-00000-of-00001',
    ]) {
      const st = fs.statSync(path.join(like, f));
      fs.utimesSync(path.join(dir, f), st.atime, st.mtime);
    }
  }
  return dir;
}

/** Where the graph_def of the first MetaGraph lies in a saved_model.pb: SavedModel.meta_graphs (2) -> MetaGraphDef.graph_def (2). */
function graphRange(bytes: Uint8Array): { start: number; end: number } {
  const field = (from: number, to: number, number: number) => {
    const reader = new BinaryReader(bytes.subarray(from, to));
    while (reader.pos < reader.len) {
      const [no, type] = reader.tag();
      if (no === number && type === WireType.LengthDelimited) {
        const length = reader.uint32();
        return { start: from + reader.pos, end: from + reader.pos + length };
      }
      reader.skip(type);
    }
    throw new Error(`saved_model.pb has no field ${number} where expected`);
  };
  const metaGraph = field(0, bytes.length, 2);
  return field(metaGraph.start, metaGraph.end, 2);
}

export async function objectBytes(client: S3Client, key: string): Promise<Buffer> {
  const r = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return Buffer.from(await r.Body!.transformToByteArray());
}

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Every complete version whose stored bytes differ from its manifest: "version/path" entries. */
export async function mismatchedFiles(client: S3Client, loc: ModelLocation): Promise<string[]> {
  const bad: string[] = [];
  for (const v of await listVersions(client, loc)) {
    if (v.state !== 'complete') continue;
    for (const f of v.manifest!.files) {
      const bytes = await objectBytes(client, `${loc.prefix}/${v.version}/${f.path}`);
      if (sha256(bytes) !== f.sha256) bad.push(`${v.version}/${f.path}`);
    }
  }
  return bad;
}
