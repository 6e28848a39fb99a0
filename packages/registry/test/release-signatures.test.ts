// checkReleaseSignatures: the versions about to be served against the one
// labelled stable, from the signatures recorded in their manifests, or, for
// versions pushed before signatures were recorded, from their SavedModel in
// S3 (read once per check, through a proxy that counts the reads).

import { PutObjectCommand } from '@aws-sdk/client-s3';
import {
  BreakingSignatureError,
  checkReleaseSignatures,
  listVersions,
  push,
  recordedSignatures,
} from '../src';
import { startProxy } from './fault-proxy';
import { BUCKET, client, halfPlusTwo, type S3Server, startS3 } from './helpers';
import { freshModel, objectBytes } from './push-support';
import { pricingV1, type Sig, signatureExport, unreadableExport } from './signature-support';

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(() => s3?.stop());

const renamedInput: Record<string, Sig> = {
  serving_default: { inputs: { x: ['DT_FLOAT', [-1, 3]] }, outputs: { price: ['DT_FLOAT', [-1, 1]] } },
};
const doubleOutput: Record<string, Sig> = {
  serving_default: {
    inputs: { features: ['DT_FLOAT', [-1, 3]] },
    outputs: { price: ['DT_DOUBLE', [-1, 1]] },
  },
};
const withExtras: Record<string, Sig> = {
  serving_default: {
    inputs: { features: ['DT_FLOAT', [-1, -1]] },
    outputs: { price: ['DT_FLOAT', [-1, 1]], band: ['DT_STRING', [-1]] },
  },
  explain: { inputs: { features: ['DT_FLOAT', [-1, 3]] }, outputs: { weights: ['DT_FLOAT', [-1, 3]] } },
};

async function pushAll(loc: ReturnType<typeof freshModel>, exports: string[]) {
  const c = client(s3.endpoint);
  for (const dir of exports) await push({ client: c, location: loc, dir });
  return c;
}

/** Rewrites a version's manifest as a push from before signatures were recorded would have written it. */
async function forgetSignatures(loc: ReturnType<typeof freshModel>, version: number) {
  const c = client(s3.endpoint);
  const key = `${loc.prefix}/${version}/catwalk-manifest.json`;
  const { signatures: _, ...old } = JSON.parse((await objectBytes(c, key)).toString('utf8'));
  await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: JSON.stringify(old) }));
}

describe('checkReleaseSignatures', () => {
  it('refuses a renamed input and a changed dtype with a diff and the fix', async () => {
    const loc = freshModel('rel-break');
    const c = await pushAll(loc, [
      signatureExport(pricingV1),
      signatureExport(renamedInput),
      signatureExport(doubleOutput),
    ]);
    const error = await checkReleaseSignatures({ store: c, model: loc, from: 1, to: [2, 3] }).catch(
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(BreakingSignatureError);
    expect((error as Error).message).toBe(
      [
        `version 2 of ${loc.name} would break callers of stable version 1:`,
        '  - serving_default: input features was removed (renamed to x?)',
        '  - serving_default: input x was added, and callers that do not send it will be refused',
        '  signatures (- stable 1, + version 2):',
        '      serving_default (tensorflow/serving/predict)',
        '        inputs:',
        '    -     features: DT_FLOAT [?, 3]',
        '    +     x: DT_FLOAT [?, 3]',
        '        outputs:',
        '          price: DT_FLOAT [?, 1]',
        `version 3 of ${loc.name} would break callers of stable version 1:`,
        '  - serving_default: output price changed dtype from DT_FLOAT to DT_DOUBLE',
        '  signatures (- stable 1, + version 3):',
        '      serving_default (tensorflow/serving/predict)',
        '        inputs:',
        '          features: DT_FLOAT [?, 3]',
        '        outputs:',
        '    -     price: DT_FLOAT [?, 1]',
        '    +     price: DT_DOUBLE [?, 1]',
        'Nothing was changed. If every caller is ready for the new interface, run the command again with ' +
          '--allow-breaking; otherwise push this interface under a new model name and move callers to it.',
      ].join('\n'),
    );
    expect((error as BreakingSignatureError).comparisons.map((x) => x.version)).toEqual([2, 3]);
  });

  it('reports additions as compatible, and lets breaking changes through with allowBreaking', async () => {
    const loc = freshModel('rel-add');
    const c = await pushAll(loc, [signatureExport(pricingV1), signatureExport(withExtras)]);
    const result = await checkReleaseSignatures({ store: c, model: loc, from: 1, to: [1, 2] });
    expect(result.stable).toBe(1);
    expect(result.additions.map((a) => [a.version, a.kind, a.message])).toEqual([
      [2, 'shape-changed', 'serving_default: input features changed shape from [?, 3] to [?, ?]'],
      [2, 'output-added', 'serving_default: output band was added'],
      [2, 'signature-added', 'signature explain was added'],
    ]);
    expect(result.allowed).toEqual([]);

    const back = await checkReleaseSignatures({
      store: c,
      model: loc,
      from: 2,
      to: [1],
      allowBreaking: true,
    });
    expect(back.allowed.map((a) => a.message)).toEqual([
      'serving_default: input features changed shape from [?, ?] to [?, 3] (it no longer accepts every shape it did)',
      'serving_default: output band was removed',
    ]);
  });

  it('checks the signatures a spec lists besides serving_default', async () => {
    const loc = freshModel('rel-listed');
    const explainChanged: Record<string, Sig> = {
      ...withExtras,
      explain: { inputs: { features: ['DT_FLOAT', [-1, 3]] }, outputs: { w: ['DT_FLOAT', [-1, 3]] } },
    };
    const c = await pushAll(loc, [signatureExport(withExtras), signatureExport(explainChanged)]);
    await expect(checkReleaseSignatures({ store: c, model: loc, from: 1, to: [2] })).resolves.toMatchObject({
      allowed: [],
    });
    await expect(
      checkReleaseSignatures({ store: c, model: loc, from: 1, to: [2], signatureNames: ['explain'] }),
    ).rejects.toThrow('explain: output weights was removed');
  });

  it('without a stable version there is nothing to compare', async () => {
    const loc = freshModel('rel-nostable');
    const c = await pushAll(loc, [signatureExport(pricingV1), signatureExport(renamedInput)]);
    await expect(
      checkReleaseSignatures({ store: c, model: loc, from: undefined, to: [1, 2] }),
    ).resolves.toEqual({ compared: [], additions: [], allowed: [], unchecked: [] });
  });

  it('without a stable version, compares with the highest version served now', async () => {
    const loc = freshModel('rel-served');
    const c = await pushAll(loc, [
      signatureExport(pricingV1),
      signatureExport(renamedInput),
      signatureExport(doubleOutput),
    ]);
    // Served: 1 and 2. Version 3 keeps 1's input but changes an output: compared with 2, it renames x back.
    const error = await checkReleaseSignatures({
      store: c,
      model: loc,
      from: undefined,
      served: [2, 1],
      to: [3],
    }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(BreakingSignatureError);
    expect((error as BreakingSignatureError).baseline).toEqual({ version: 2, role: 'served' });
    expect((error as Error).message).toContain(
      `version 3 of ${loc.name} would break callers of served version 2:`,
    );
    expect((error as Error).message).toContain('  signatures (- served 2, + version 3):');
    const allowed = await checkReleaseSignatures({
      store: c,
      model: loc,
      from: undefined,
      served: [1],
      to: [3],
      allowBreaking: true,
    });
    expect(allowed).toMatchObject({ baseline: { version: 1, role: 'served' }, compared: [{ version: 3 }] });
    expect(allowed).not.toHaveProperty('stable');
    expect(allowed.allowed.map((a) => a.message)).toEqual([
      'serving_default: output price changed dtype from DT_FLOAT to DT_DOUBLE',
    ]);
  });

  it('reads the SavedModel of versions pushed before signatures were recorded, once per check', async () => {
    const loc = freshModel('rel-legacy');
    await pushAll(loc, [halfPlusTwo, signatureExport(renamedInput), signatureExport(pricingV1)]);
    await forgetSignatures(loc, 1);
    await forgetSignatures(loc, 3);
    const c = client(s3.endpoint);
    const [v1] = await listVersions(c, loc);
    expect(recordedSignatures(v1!.manifest!, 'm')).toBeUndefined();

    const proxy = await startProxy(s3.endpoint);
    try {
      const through = client(proxy.endpoint);
      const error = await checkReleaseSignatures({ store: through, model: loc, from: 3, to: [1, 2] }).catch(
        (e: Error) => e,
      );
      expect(error).toBeInstanceOf(BreakingSignatureError);
      // half_plus_two (version 1) takes x and returns y: nothing like pricing's features and price.
      expect((error as Error).message).toContain('version 1 of');
      expect((error as Error).message).toContain('serving_default: input features was removed');
      expect((error as Error).message).toContain('version 2 of');
      const reads = (v: number, file: string) =>
        proxy.seen.filter((r) => r.method === 'GET' && r.path === `/${BUCKET}/${loc.prefix}/${v}/${file}`)
          .length;
      expect(reads(3, 'saved_model.pbtxt')).toBe(1);
      expect(reads(1, 'saved_model.pb')).toBe(1);
      expect(reads(2, 'saved_model.pbtxt')).toBe(0); // recorded in its manifest
    } finally {
      await proxy.close();
    }
  });

  it('a legacy version whose SavedModel cannot be read is reported unchecked, not refused', async () => {
    const loc = freshModel('rel-unreadable');
    const c = await pushAll(loc, [signatureExport(pricingV1), unreadableExport()]);
    const result = await checkReleaseSignatures({ store: c, model: loc, from: 1, to: [2] });
    expect(result.compared).toEqual([]);
    expect(result.unchecked).toEqual([
      {
        version: 2,
        reason: expect.stringMatching(
          new RegExp(`^s3://${BUCKET}/${loc.prefix}/2/saved_model\\.pb: not a SavedModel`),
        ),
      },
    ]);
  });
});
