// push with warm-up requests: each request is checked against the signature
// it calls before anything is written, then the version gets
// assets.extra/tf_serving_warmup_requests. The stored file is read back with
// an independent S3 client (MinIO's) and its TFRecord framing checked with an
// independent CRC32C (@aws-crypto/crc32c).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { Crc32c } from '@aws-crypto/crc32c';
import { buildWarmupFile, readSignatures, readWarmupFile, WARMUP_FILE } from '@catwalk/savedmodel';
import { InvalidWarmupError, listVersions, push } from '../src';
import { client, halfPlusTwo, independentS3, type S3Server, startS3, tempDir } from './helpers';
import { freshModel } from './push-support';
import { unreadableExport } from './signature-support';

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(() => s3?.stop());

const crc = (bytes: Uint8Array) => new Crc32c().update(bytes).digest() >>> 0;
const masked = (c: number) => ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;

/** TFRecord records, each CRC checked with the independent implementation. */
function framedRecords(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at < bytes.length) {
    const length = Number(bytes.readBigUInt64LE(at));
    expect(bytes.readUInt32LE(at + 8)).toBe(masked(crc(bytes.subarray(at, at + 8))));
    const data = bytes.subarray(at + 12, at + 12 + length);
    expect(bytes.readUInt32LE(at + 12 + length)).toBe(masked(crc(data)));
    out.push(data);
    at += 16 + length;
  }
  return out;
}

describe('push --warmup', () => {
  it('writes the requests into the version as TF Serving reads them', async () => {
    const loc = freshModel('warmup');
    const c = client(s3.endpoint);
    const result = await push({
      client: c,
      location: loc,
      dir: halfPlusTwo,
      warmup: { requests: [{ x: [[1], [2]] }, { x: [[5]] }], source: 'warmup.json' },
    });
    const entry = result.manifest.files.find((f) => f.path === WARMUP_FILE);
    expect(entry).toBeDefined();
    // The export folder itself is left alone.
    expect(fs.existsSync(path.join(halfPlusTwo, WARMUP_FILE))).toBe(false);

    const stored = await independentS3(s3.endpoint).bytes(`${loc.prefix}/${result.version}/${WARMUP_FILE}`);
    expect(stored.length).toBe(entry!.size);
    expect(framedRecords(stored)).toHaveLength(2);
    const logs = readWarmupFile(stored);
    const requests = logs.map((log) =>
      log.logType.case === 'predictLog' ? log.logType.value.request : undefined,
    );
    expect(requests.map((r) => r?.modelSpec?.name)).toEqual([loc.name, loc.name]);
    expect(requests.map((r) => r?.modelSpec?.signatureName)).toEqual(['serving_default', 'serving_default']);
    expect(requests.map((r) => r?.inputs.x?.floatVal)).toEqual([[1, 2], [5]]);
    expect(requests.map((r) => r?.inputs.x?.tensorShape?.dim.map((d) => Number(d.size)))).toEqual([
      [2, 1],
      [1, 1],
    ]);
    const [listed] = await listVersions(c, loc);
    expect(listed!.state).toBe('complete');
  });

  it('refuses requests that do not fit the signature, naming the request and input, before writing anything', async () => {
    const loc = freshModel('warmup-bad');
    const c = client(s3.endpoint);
    const attempt = (requests: unknown, signatureName?: string) =>
      push({
        client: c,
        location: loc,
        dir: halfPlusTwo,
        warmup: { requests, source: 'warmup.json', ...(signatureName ? { signatureName } : {}) },
      }).catch((e: Error) => e);
    const cases: Array<[unknown, string | undefined, string]> = [
      [
        [{ x: [[1]] }, { features: [[1]] }],
        undefined,
        'warmup.json: request 1: serving_default has no input features; its inputs are x',
      ],
      [
        [{ x: [[1]] }, { x: [['one']] }],
        undefined,
        'warmup.json: request 1: input x: value 0 ("one") is not a number (DT_FLOAT)',
      ],
      [
        [{ x: [[1, 2]] }],
        undefined,
        "warmup.json: request 0: input x: shape [1, 2] does not fit the signature's [?, 1]",
      ],
      [{ x: [[1]] }, undefined, 'warmup.json: expected a JSON list of requests'],
      [Array.from({ length: 1001 }, () => ({ x: [[1]] })), undefined, 'TF Serving replays at most 1000'],
      [[{ x: [[1]] }], 'nope', 'warmup.json: the model has no signature nope; its signatures are '],
      [[{ x: [[1]] }], 'classify_x_to_y', 'warm-up records are written for predict signatures'],
    ];
    for (const [requests, signatureName, message] of cases) {
      const error = await attempt(requests, signatureName);
      expect(error).toBeInstanceOf(InvalidWarmupError);
      expect((error as Error).message).toContain(message);
    }
    expect(await independentS3(s3.endpoint).keys(`${loc.prefix}/`)).toEqual([]);
  });

  it('refuses an export that already holds a warm-up file, and one whose signatures cannot be read', async () => {
    const loc = freshModel('warmup-refused');
    const c = client(s3.endpoint);
    const dir = tempDir('catwalk-export-');
    fs.cpSync(halfPlusTwo, dir, { recursive: true });
    fs.mkdirSync(path.join(dir, 'assets.extra'));
    fs.writeFileSync(path.join(dir, WARMUP_FILE), 'old');
    const held = await push({ client: c, location: loc, dir, warmup: { requests: [{ x: [[1]] }] } }).catch(
      (e: Error) => e,
    );
    expect((held as Error).message).toBe(
      `${dir} already holds ${WARMUP_FILE}; remove it from the export or push without --warmup`,
    );
    const unreadable = await push({
      client: c,
      location: loc,
      dir: unreadableExport(),
      warmup: { requests: [{ x: [[1]] }], source: 'w.json' },
    }).catch((e: Error) => e);
    expect(unreadable).toBeInstanceOf(InvalidWarmupError);
    expect((unreadable as Error).message).toMatch(
      /^w\.json: the requests cannot be checked, because the export's signatures cannot be read \(saved_model\.pb: not a SavedModel/,
    );
    expect(await independentS3(s3.endpoint).keys(`${loc.prefix}/`)).toEqual([]);
  });
});

// TF Serving fails to load a version whose warm-up file it cannot replay: one that came with the export
// is checked too, so a cut or corrupt file stops the push instead of every pod's load.
describe('a warm-up file that comes with the export', () => {
  const exportWithWarmup = (bytes: Uint8Array) => {
    const dir = tempDir('catwalk-export-');
    fs.cpSync(halfPlusTwo, dir, { recursive: true });
    fs.mkdirSync(path.join(dir, 'assets.extra'));
    fs.writeFileSync(path.join(dir, WARMUP_FILE), bytes);
    return dir;
  };
  const good = buildWarmupFile({
    model: 'half_plus_two',
    signature: readSignatures(fs.readFileSync(path.join(halfPlusTwo, 'saved_model.pb'))).signatures
      .serving_default!,
    requests: [{ x: [[1]] }, { x: [[2]] }],
  });

  it('is pushed as it is when TF Serving can replay it', async () => {
    const loc = freshModel('warmup-own');
    const result = await push({ client: client(s3.endpoint), location: loc, dir: exportWithWarmup(good) });
    expect(result.manifest.files.map((f) => f.path)).toContain(WARMUP_FILE);
  });

  it('is refused, naming the record, when it is cut short or names an input the signature lacks', async () => {
    const loc = freshModel('warmup-own-bad');
    const c = client(s3.endpoint);
    const cut = exportWithWarmup(good.subarray(0, good.length - 3));
    const error = await push({ client: c, location: loc, dir: cut }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(InvalidWarmupError);
    expect((error as Error).message).toBe(
      `${path.join(cut, WARMUP_FILE)}: record 1 is truncated; TF Serving would fail to load the version. Write it again (catwalk push --warmup) or remove it`,
    );
    const features = buildWarmupFile({
      model: 'm',
      signature: {
        methodName: 'tensorflow/serving/predict',
        inputs: { features: { dtype: 'DT_FLOAT', shape: [-1, 1], tensorName: 'f:0' } },
        outputs: {},
      },
      requests: [{ features: [[1]] }],
    });
    const wrong = exportWithWarmup(features);
    const named = await push({ client: c, location: loc, dir: wrong }).catch((e: Error) => e);
    expect((named as Error).message).toBe(
      `${path.join(wrong, WARMUP_FILE)}: record 0 calls serving_default with input features, which it does not take (its inputs are x); TF Serving would fail to load the version. Write it again (catwalk push --warmup) or remove it`,
    );
    expect(await independentS3(s3.endpoint).keys(`${loc.prefix}/`)).toEqual([]);
  });
});
