// An independent check of AWS Signature Version 4 on a request as it came on
// the wire, written from AWS's description of the algorithm ("Create a
// signed AWS API request", IAM user guide) with node:crypto only, sharing no
// code with the SDK's signer. The embedded S3 (s3rver) does not verify V4
// signatures ("Signature version 4 calculation is unimplemented" in its
// authentication middleware), so a wrong signature would pass unseen there;
// this is what a real S3 would compute.

import { createHash, createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export interface WireRequest {
  readonly method: string;
  /** Path and query exactly as sent (percent-encoded). */
  readonly rawUrl: string;
  readonly headers: IncomingHttpHeaders;
}

export interface SignatureVerdict {
  readonly ok: boolean;
  readonly problem?: string;
  readonly accessKeyId?: string;
  readonly region?: string;
  readonly service?: string;
  readonly signedHeaders?: readonly string[];
}

/** RFC 3986 encoding of everything but the unreserved characters, as SigV4 asks. */
const strictEncode = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

const header = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
};

/** Verifies the Authorization header of `req` against `secretAccessKey` (S3 rules: the path is encoded once). */
export function verifySigV4(req: WireRequest, secretAccessKey: string): SignatureVerdict {
  const auth = header(req.headers, 'authorization') ?? '';
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
      auth,
    );
  if (!m) return { ok: false, problem: `not a SigV4 Authorization header: '${auth}'` };
  const [, accessKeyId, date, region, service, signedList, signature] = m as unknown as string[];
  const signedHeaders = signedList!.split(';');
  const amzDate = header(req.headers, 'x-amz-date') ?? '';
  const base = { accessKeyId, region, service, signedHeaders };
  if (!amzDate.startsWith(date!))
    return { ...base, ok: false, problem: `x-amz-date ${amzDate} is not of ${date}` };
  if (!signedHeaders.includes('host')) return { ...base, ok: false, problem: 'host is not signed' };
  const payloadHash = header(req.headers, 'x-amz-content-sha256');
  if (!payloadHash) return { ...base, ok: false, problem: 'no x-amz-content-sha256 header' };

  const [rawPath, rawQuery = ''] = req.rawUrl.split('?');
  const canonicalUri = rawPath!
    .split('/')
    .map((segment) => strictEncode(decodeURIComponent(segment)))
    .join('/');
  const canonicalQuery = rawQuery
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const [k, v = ''] = pair.split('=');
      return [strictEncode(decodeURIComponent(k!)), strictEncode(decodeURIComponent(v))] as const;
    })
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonicalHeaders = signedHeaders
    .map((name) => `${name}:${(header(req.headers, name) ?? '').trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const canonicalRequest = [
    req.method,
    canonicalUri,
    canonicalQuery,
    canonicalHeaders,
    signedList,
    payloadHash,
  ].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    amzDate,
    scope,
    createHash('sha256').update(canonicalRequest).digest('hex'),
  ].join('\n');
  const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
  const key = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, date!), region!), service!), 'aws4_request');
  const expected = createHmac('sha256', key).update(stringToSign).digest('hex');
  if (expected !== signature) {
    return { ...base, ok: false, problem: `signature mismatch for canonical request:\n${canonicalRequest}` };
  }
  return { ...base, ok: true };
}
