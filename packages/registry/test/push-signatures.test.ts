// push records the export's signatures in the version's manifest, so tools
// learn a model's interface from one small JSON object instead of
// downloading the model. Checked against the real embedded S3, reading the
// manifest back with an independent S3 client (MinIO's).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { readSignatures, signatureFingerprint } from '@catwalk/savedmodel';
import {
  findExports,
  InvalidRecordError,
  listVersions,
  type Manifest,
  push,
  recordedSignatures,
  type SignedManifest,
  writeExampleExport,
} from '../src';
import { client, halfPlusTwo, independentS3, type S3Server, startS3, tempDir } from './helpers';
import { freshModel, lookalikeExport } from './push-support';
import { pricingV1, signatureExport, unreadableExport } from './signature-support';

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(() => s3?.stop());

async function storedManifest(key: string): Promise<SignedManifest> {
  return JSON.parse((await independentS3(s3.endpoint).bytes(key)).toString('utf8'));
}

describe('push records signatures', () => {
  it('writes the serving signatures of saved_model.pb into the manifest, as TF Serving reads them', async () => {
    const loc = freshModel('sig-pb');
    const c = client(s3.endpoint);
    const warnings: string[] = [];
    const result = await push({
      client: c,
      location: loc,
      dir: halfPlusTwo,
      onWarning: (m) => warnings.push(m),
    });
    expect(warnings).toEqual([]);
    const expected = readSignatures(fs.readFileSync(path.join(halfPlusTwo, 'saved_model.pb')));
    const stored = await storedManifest(`${loc.prefix}/${result.version}/catwalk-manifest.json`);
    expect(stored.signatures).toEqual({
      source: 'saved_model.pb',
      tags: ['serve'],
      tensorflowVersion: expected.tensorflowVersion,
      fingerprint: signatureFingerprint(expected.signatures),
      signatures: JSON.parse(JSON.stringify(expected.signatures)),
    });
    // The reader the CLI and the release check use agrees, after a listing.
    const [listed] = await listVersions(c, loc);
    expect(recordedSignatures(listed!.manifest!, 'm')?.signatures.serving_default?.inputs.x).toEqual({
      dtype: 'DT_FLOAT',
      shape: [-1, 1],
      tensorName: 'x:0',
    });
  });

  it('reads saved_model.pbtxt when the export is in text format', async () => {
    const loc = freshModel('sig-pbtxt');
    const c = client(s3.endpoint);
    const result = await push({ client: c, location: loc, dir: signatureExport(pricingV1) });
    const stored = await storedManifest(`${loc.prefix}/${result.version}/catwalk-manifest.json`);
    expect(stored.signatures?.source).toBe('saved_model.pbtxt');
    expect(stored.signatures?.signatures.serving_default).toEqual({
      methodName: 'tensorflow/serving/predict',
      inputs: { features: { dtype: 'DT_FLOAT', shape: [-1, 3], tensorName: 'features:0' } },
      outputs: { price: { dtype: 'DT_FLOAT', shape: [-1, 1], tensorName: 'price:0' } },
    });
  });

  it('pushes a SavedModel whose signatures cannot be read, with a warning and no signatures field', async () => {
    const loc = freshModel('sig-unreadable');
    const c = client(s3.endpoint);
    const warnings: string[] = [];
    // saved_model.pb cut short: no longer a whole SavedModel protobuf.
    const dir = unreadableExport();
    const result = await push({ client: c, location: loc, dir, onWarning: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(
      `the signatures of ${dir} cannot be read (saved_model.pb: not a SavedModel`,
    );
    expect(warnings[0]).toContain('release cannot check its inputs and outputs');
    const stored = await storedManifest(`${loc.prefix}/${result.version}/catwalk-manifest.json`);
    expect(stored).not.toHaveProperty('signatures');
    const [listed] = await listVersions(c, loc);
    expect(listed!.state).toBe('complete');
    expect(recordedSignatures(listed!.manifest!, 'm')).toBeUndefined();
  });
});

describe('recordedSignatures', () => {
  const manifest = (signatures: unknown) =>
    ({
      format: 'catwalk.manifest/v1',
      model: 'm',
      version: 1,
      files: [],
      totalBytes: 0,
      fingerprint: '',
      pushedAt: '',
      pushedBy: '',
      pushId: '',
      tool: '',
      ...(signatures === undefined ? {} : { signatures }),
    }) as Manifest;
  const good = {
    source: 'saved_model.pb',
    tags: ['serve'],
    tensorflowVersion: '2.15.0',
    fingerprint: 'sha256:x',
    signatures: {
      serving_default: {
        methodName: 'tensorflow/serving/predict',
        inputs: { x: { dtype: 'DT_FLOAT', shape: [-1, 1], tensorName: 'x:0' } },
        outputs: { y: { dtype: 'DT_FLOAT', shape: null, tensorName: 'y:0' } },
      },
    },
  };

  it('is undefined for a manifest written before signatures were recorded', () => {
    expect(recordedSignatures(manifest(undefined), 's3://b/m/1/catwalk-manifest.json')).toBeUndefined();
    expect(recordedSignatures(manifest(good), 'w')).toEqual(good);
  });

  it('refuses a malformed field, naming it', () => {
    const bad = structuredClone(good) as any;
    bad.signatures.serving_default.inputs.x.shape = ['?'];
    expect(() => recordedSignatures(manifest(bad), 's3://b/m/1/catwalk-manifest.json')).toThrow(
      new InvalidRecordError(
        `s3://b/m/1/catwalk-manifest.json: 'signatures.signatures["serving_default"].inputs["x"].shape' must be a list of whole numbers, or null; the version's manifest is corrupt`,
      ),
    );
    expect(() => recordedSignatures(manifest('yes'), 'w')).toThrow("'signatures' must be an object");
  });
});

describe('test exports', () => {
  it('lookalike exports differ from half_plus_two only inside the graph: their signatures read the same', async () => {
    const pb = (dir: string) => fs.readFileSync(path.join(dir, 'saved_model.pb'));
    const dir = lookalikeExport(5);
    expect(pb(dir).equals(pb(halfPlusTwo))).toBe(false);
    expect(readSignatures(pb(dir))).toEqual(readSignatures(pb(halfPlusTwo)));
  });
});

describe('export folders', () => {
  it('an export in a numbered folder (TF Serving layout) carries its number, in binary and text format', async () => {
    expect(await findExports(halfPlusTwo)).toEqual([{ dir: halfPlusTwo, version: 123 }]);
    const text = path.join(tempDir('catwalk-numbered-'), '00000007');
    fs.cpSync(signatureExport(pricingV1), text, { recursive: true });
    expect(await findExports(text)).toEqual([{ dir: text, version: 7 }]);
  });
});

describe('the example export', () => {
  it('has signatures push can record, so demos push without a warning', async () => {
    const loc = freshModel('sig-example');
    const dir = tempDir('catwalk-example-');
    await writeExampleExport(dir, { seed: 'a' });
    const warnings: string[] = [];
    const result = await push({
      client: client(s3.endpoint),
      location: loc,
      dir,
      onWarning: (m) => warnings.push(m),
    });
    expect(warnings).toEqual([]);
    expect(Object.keys(result.manifest.signatures?.signatures ?? {})).toEqual(['serving_default']);
    // Two seeds, two different exports.
    const other = tempDir('catwalk-example-');
    await writeExampleExport(other, { seed: 'b' });
    const text = (d: string) => fs.readFileSync(path.join(d, 'saved_model.pbtxt'), 'utf8');
    expect(text(dir)).not.toBe(text(other));
  });
});
