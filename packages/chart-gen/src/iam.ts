// Least-privilege IAM policies for a model: the serving pods may read its
// prefix, the owning team may write it. Nothing else, on nothing else.

import type { ResolvedModel } from '@catwalk/schema';

export interface PolicyDocument {
  readonly Version: '2012-10-17';
  readonly Statement: readonly Record<string, unknown>[];
}

/** ARN partition of a region: China and GovCloud have their own. */
function partition(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

function scope(model: ResolvedModel) {
  const arn = `arn:${partition(model.source.region)}:s3:::${model.source.bucket}`;
  const prefix = model.source.prefix ? `${model.source.prefix}/` : '';
  return { bucketArn: arn, objectsArn: `${arn}/${prefix}*`, listPrefix: `${prefix}*` };
}

/** Listing restricted to the model's prefix: both roles need to see which versions exist. */
function listStatement(model: ResolvedModel): Record<string, unknown> {
  const { bucketArn, listPrefix } = scope(model);
  return {
    Sid: 'ListModelVersions',
    Effect: 'Allow',
    Action: ['s3:ListBucket'],
    Resource: [bucketArn],
    Condition: { StringLike: { 's3:prefix': [listPrefix] } },
  };
}

/** What the serving pods' role needs: list and read the model's own prefix. */
export function servingPolicy(model: ResolvedModel): PolicyDocument {
  const { objectsArn } = scope(model);
  return {
    Version: '2012-10-17',
    Statement: [
      listStatement(model),
      { Sid: 'ReadModelFiles', Effect: 'Allow', Action: ['s3:GetObject'], Resource: [objectsArn] },
    ],
  };
}

/** What the owning team needs to push versions and move releases: write, list and read the prefix. */
export function pushPolicy(model: ResolvedModel): PolicyDocument {
  const { objectsArn } = scope(model);
  return {
    Version: '2012-10-17',
    Statement: [
      listStatement(model),
      {
        Sid: 'WriteModelVersions',
        Effect: 'Allow',
        // Multipart actions let large files upload in parts and clean up after an interrupted push.
        Action: [
          's3:PutObject',
          's3:GetObject',
          's3:DeleteObject',
          's3:AbortMultipartUpload',
          's3:ListMultipartUploadParts',
        ],
        Resource: [objectsArn],
      },
    ],
  };
}
