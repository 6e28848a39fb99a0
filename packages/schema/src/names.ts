// Naming rules of the systems a spec ends up in: Kubernetes label keys and
// values, S3 buckets and keys, container image references. Each check returns
// the reason a name is refused, or undefined when it is fine.

import { patterns } from './patterns';

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const labelValue = new RegExp(patterns.labelValue);
const labelName = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** Label key: optional DNS-1123 subdomain prefix (<= 253) and '/', then a name of <= 63 characters. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined) {
    if (prefix.length === 0) return 'the prefix before "/" is empty';
    if (prefix.length > 253) return 'the prefix is longer than 253 characters';
    if (!prefix.split('.').every((part) => dns1123Label.test(part) && part.length <= 63)) {
      return `the prefix '${prefix}' is not a DNS subdomain (lowercase letters, digits, '-' and '.')`;
    }
  }
  if (name.length === 0) return 'the name part is empty';
  if (name.length > 63) return 'the name part is longer than 63 characters';
  if (!labelName.test(name)) {
    return "the name part must be letters, digits, '-', '_' or '.', starting and ending with a letter or digit";
  }
  return undefined;
}

export function labelValueProblem(value: string): string | undefined {
  if (value.length > 63) return 'it is longer than 63 characters';
  if (value.length > 0 && !labelValue.test(value)) {
    return "it must be letters, digits, '-', '_' or '.', starting and ending with a letter or digit";
  }
  return undefined;
}

export interface S3Location {
  readonly bucket: string;
  /** Key prefix without leading or trailing '/', possibly empty. */
  readonly prefix: string;
}

/** Splits s3://bucket/prefix, or explains which part is malformed. */
export function parseS3Uri(uri: string): { location?: S3Location; problem?: string } {
  const match = /^s3:\/\/([^/]*)(?:\/(.*))?$/.exec(uri);
  if (!match) return { problem: 'it must start with s3:// followed by the bucket name' };
  const bucket = match[1] ?? '';
  const prefix = (match[2] ?? '').replace(/\/+$/, '');
  const bucketProblem = s3BucketProblem(bucket);
  if (bucketProblem) return { problem: `bucket '${bucket}': ${bucketProblem}` };
  if (prefix.includes('//'))
    return { problem: `the key prefix '${prefix}' contains an empty folder name ('//')` };
  if (prefix.split('/').some((part) => part === '.' || part === '..')) {
    return { problem: `the key prefix '${prefix}' contains '.' or '..' folders` };
  }
  if (/[\\{}^%`[\]"<>~#|]/.test(prefix) || /\p{Cc}/u.test(prefix)) {
    return { problem: `the key prefix '${prefix}' contains characters S3 asks to avoid` };
  }
  if (Buffer.byteLength(prefix, 'utf8') > 900)
    return { problem: 'the key prefix is too long (leave room for file names)' };
  return { location: { bucket, prefix } };
}

/** General-purpose bucket naming rules from the S3 user guide. */
export function s3BucketProblem(bucket: string): string | undefined {
  if (bucket.length === 0) return 'the bucket name is missing';
  if (bucket.length < 3 || bucket.length > 63) return 'bucket names are 3 to 63 characters long';
  if (!/^[a-z0-9.-]+$/.test(bucket)) return "bucket names use only lowercase letters, digits, '.' and '-'";
  if (!/^[a-z0-9].*[a-z0-9]$/.test(bucket)) return 'bucket names start and end with a letter or digit';
  if (bucket.includes('..')) return 'bucket names cannot contain two adjacent periods';
  if (/^\d+\.\d+\.\d+\.\d+$/.test(bucket)) return 'bucket names cannot look like an IP address';
  if (/^(xn--|sthree-|amzn-s3-demo-)/.test(bucket))
    return 'bucket names cannot start with xn--, sthree- or amzn-s3-demo-';
  if (/(-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$/.test(bucket))
    return 'bucket names cannot end with a reserved suffix';
  return undefined;
}

export interface ImageReference {
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
}

/** Splits registry/repo:tag@sha256:digest. The tag is after the last ':' that follows the last '/'. */
export function parseImageReference(image: string): ImageReference {
  const at = image.indexOf('@');
  const digest = at >= 0 ? image.slice(at + 1) : undefined;
  const named = at >= 0 ? image.slice(0, at) : image;
  const lastSlash = named.lastIndexOf('/');
  const colon = named.indexOf(':', lastSlash + 1);
  const repository = colon >= 0 ? named.slice(0, colon) : named;
  const tag = colon >= 0 ? named.slice(colon + 1) : undefined;
  return { repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

export function imageProblem(image: string): { message: string; fix: string } | undefined {
  const ref = parseImageReference(image);
  const example = `${ref.repository || 'tensorflow/serving'}:2.19.0`;
  if (!/^[a-z0-9]+([._-][a-z0-9]+|__)*(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+|__)*)*$/.test(ref.repository)) {
    return {
      message: `'${image}' is not a valid image reference`,
      fix: `write it as repository:tag, e.g. ${example}`,
    };
  }
  if (ref.digest !== undefined && !/^sha256:[a-f0-9]{64}$/.test(ref.digest)) {
    return {
      message: `the digest '${ref.digest}' is not sha256:<64 hex digits>`,
      fix: 'copy the digest from your registry',
    };
  }
  if (ref.tag !== undefined && !/^[\w][\w.-]{0,127}$/.test(ref.tag)) {
    return { message: `the tag '${ref.tag}' is not a valid image tag`, fix: `use a tag like ${example}` };
  }
  if (ref.tag === undefined && ref.digest === undefined) {
    return {
      message: `image '${image}' has no tag, so it means :latest and changes under you`,
      fix: `pin a version: ${example} (or a digest, @sha256:...)`,
    };
  }
  if (ref.tag === 'latest' && ref.digest === undefined) {
    return {
      message: `image '${image}' uses the moving tag 'latest'; pods started on different days would run different servers`,
      fix: `pin a version: ${example} (or a digest, @sha256:...)`,
    };
  }
  return undefined;
}
