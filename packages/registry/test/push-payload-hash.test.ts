// Push hands the SigV4 signer the sha256 it already computed for each
// single-request upload instead of letting the signer hash the body again.
// The header is what S3 checks the body against, so it must be exactly the
// sha256 of the bytes that arrive, for every object push writes.

import { push } from '../src';
import { client, halfPlusTwo, type S3Server, startS3 } from './helpers';
import { freshModel } from './push-support';
import { recordingProxy } from './recording-proxy';

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(() => s3?.stop());

it('every PUT of a push is signed with the sha256 of the body that arrives', async () => {
  const proxy = await recordingProxy(s3.endpoint);
  try {
    const loc = freshModel('payload-hash');
    const result = await push({ client: client(proxy.endpoint), location: loc, dir: halfPlusTwo });
    expect(result.version).toBeGreaterThan(0);
    const files = proxy.puts.filter((p) => p.rawUrl.includes(`/${result.version}/`));
    expect(files.length).toBeGreaterThanOrEqual(3); // saved_model.pb, variables, manifest
    for (const put of proxy.puts) {
      const signed = put.headers['x-amz-content-sha256'];
      expect({ url: put.rawUrl, signed }).toEqual({ url: put.rawUrl, signed: put.actual });
    }
  } finally {
    await proxy.close();
  }
});
