// Putting one file into S3 with its sha256 as metadata, in bounded memory.
//
// Bodies are Buffers read just in time, never streams: a Buffer lets the SDK
// retry a request by itself, and a ByteBudget caps the bytes read but not yet
// sent across every upload of a push, so memory stays flat whatever the
// files' sizes. Files above the part size go up as a multipart upload whose
// parts are read from disk by offset.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { mapLimit, sha256File } from './hash';
import { type RetryOptions, withRetries } from './retry';

/** A counting semaphore over bytes. */
export class ByteBudget {
  private used = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(readonly limit: number) {}

  async use<T>(bytes: number, fn: () => Promise<T>): Promise<T> {
    const n = Math.min(bytes, this.limit); // one item larger than the budget still runs, alone
    while (this.used + n > this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.used += n;
    try {
      return await fn();
    } finally {
      this.used -= n;
      this.waiting.splice(0).forEach((wake) => {
        wake();
      });
    }
  }
}

export interface UploadTarget {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  /** The file on disk and its size when it was hashed. */
  readonly file: string;
  readonly size: number;
}

export interface UploadSettings {
  readonly partSize: number;
  /** Parts of one file in flight. */
  readonly partConcurrency: number;
  readonly budget: ByteBudget;
  readonly retry: RetryOptions;
  readonly signal?: AbortSignal;
  /** Bytes sent, reported as each request completes. */
  readonly onBytes: (n: number) => void;
}

async function readRange(file: string, start: number, length: number): Promise<Buffer> {
  const handle = await fs.open(file, 'r');
  try {
    const buffer = Buffer.allocUnsafe(length);
    let read = 0;
    while (read < length) {
      const { bytesRead } = await handle.read(buffer, read, length - read, start + read);
      if (bytesRead === 0) throw new Error(`${file} shrank while it was being pushed; push it again`);
      read += bytesRead;
    }
    return buffer;
  } finally {
    await handle.close();
  }
}

/** Uploads a file with its sha256 as metadata and returns that sha256. */
export async function uploadFile(target: UploadTarget, settings: UploadSettings): Promise<string> {
  const { client, bucket, key } = target;
  const send = { ...(settings.signal ? { abortSignal: settings.signal } : {}) };
  const common = { Bucket: bucket, Key: key, ContentType: 'application/octet-stream' };
  if (target.size <= settings.partSize) {
    // One read: the bytes hashed are the bytes sent.
    const sha256 = await withRetries(
      () =>
        settings.budget.use(target.size, async () => {
          const body = await readRange(target.file, 0, target.size);
          const digest = createHash('sha256').update(body).digest('hex');
          await client.send(
            new PutObjectCommand({ ...common, Metadata: { sha256: digest }, Body: body }),
            send,
          );
          return digest;
        }),
      settings.retry,
    );
    settings.onBytes(target.size);
    return sha256;
  }
  // A large file is hashed first (streamed), since S3 metadata is fixed when the upload starts.
  const sha256 = await sha256File(target.file);
  const { UploadId } = await client.send(
    new CreateMultipartUploadCommand({ ...common, Metadata: { sha256 } }),
    send,
  );
  try {
    const parts: Array<{ n: number; start: number; length: number }> = [];
    for (let start = 0, n = 1; start < target.size; start += settings.partSize, n++) {
      parts.push({ n, start, length: Math.min(settings.partSize, target.size - start) });
    }
    const uploaded = await mapLimit(parts, settings.partConcurrency, (part) =>
      withRetries(
        () =>
          settings.budget.use(part.length, async () => {
            const body = await readRange(target.file, part.start, part.length);
            const r = await client.send(
              new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: part.n, Body: body }),
              send,
            );
            settings.onBytes(part.length);
            return { PartNumber: part.n, ETag: r.ETag };
          }),
        settings.retry,
      ),
    );
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId,
        MultipartUpload: { Parts: uploaded },
      }),
      send,
    );
    return sha256;
  } catch (error) {
    // Parts of an unfinished upload are billed until aborted; a rerun starts the file over anyway.
    await client
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId }))
      .catch(() => undefined);
    throw error;
  }
}
