// Putting one file into S3 with its sha256 as metadata, in bounded memory.
//
// Bodies are Buffers read just in time, never streams: a Buffer lets the SDK
// retry a request by itself, and a ByteBudget caps the bytes read but not yet
// sent across every upload of a push, so memory stays flat whatever the
// files' sizes. Files above the part size go up as a multipart upload whose
// parts are read from disk by offset.

import * as fs from 'node:fs/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { mapLimit } from './hash';
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
  readonly sha256: string;
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

export async function uploadFile(target: UploadTarget, settings: UploadSettings): Promise<void> {
  const { client, bucket, key } = target;
  const send = { ...(settings.signal ? { abortSignal: settings.signal } : {}) };
  const common = {
    Bucket: bucket,
    Key: key,
    Metadata: { sha256: target.sha256 },
    ContentType: 'application/octet-stream',
  };
  if (target.size <= settings.partSize) {
    await withRetries(
      () =>
        settings.budget.use(target.size, async () => {
          const body = await readRange(target.file, 0, target.size);
          await client.send(new PutObjectCommand({ ...common, Body: body }), send);
        }),
      settings.retry,
    );
    settings.onBytes(target.size);
    return;
  }
  const { UploadId } = await client.send(new CreateMultipartUploadCommand(common), send);
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
  } catch (error) {
    // Parts of an unfinished upload are billed until aborted; a rerun starts the file over anyway.
    await client
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId }))
      .catch(() => undefined);
    throw error;
  }
}
