// Putting one file into S3 with its sha256 as metadata, in bounded memory.
//
// Bodies are Buffers read just in time, never streams: a Buffer can be sent
// again on a retry, and one ByteBudget caps the bytes read but not yet sent
// across every upload of a push, together with the sent buffers it keeps for
// reuse, so memory stays flat whatever the files' sizes. Files up to the part size go up in one PUT sent beside the SDK
// (s3-direct.ts: the client's endpoint, credentials, signer and retry strategy,
// without its per-request stack); larger files as an SDK multipart upload
// whose parts are read from disk by offset.
//
// Retries: one layer, the S3 client's (maxAttempts per request, with the
// retry quota across requests). Each part is read from disk once and that
// same buffer is what every attempt sends and what is hashed, so the sha256
// recorded is the sha256 of the bytes sent.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { ExportChangedError } from './errors';
import { mapLimit, sha256File } from './hash';
import { headObject } from './s3';
import { putObject } from './s3-direct';

/** Read buffers are allocated in multiples of this, so files of nearly the same size share them. */
const BUFFER_GRAIN = 64 * 1024;

/**
 * A counting semaphore over the bytes of read buffers, first come first
 * served, that also keeps the buffers: one whose bytes were sent is kept for
 * the next read of the same rounded size instead of left to the garbage
 * collector (V8 frees large Buffers only when it gets round to it, and a
 * 200 MiB push had up to 80 MiB of sent buffers waiting there at its peak,
 * over the 32 MiB it meant to hold). Kept buffers count against the same
 * limit as the ones in use: a read that finds no kept buffer of its size
 * drops kept ones of other sizes to make room, so what the budget holds,
 * in use and kept, never exceeds `limit` (one item larger than the limit
 * aside: it runs alone).
 */
export class ByteBudget {
  private inUse = 0;
  private spareBytes = 0;
  private readonly spare = new Map<number, Buffer[]>();
  private readonly waiting: Array<{ rounded: number; bytes: number; wake: (buffer: Buffer) => void }> = [];
  constructor(readonly limit: number) {}

  /** Bytes held now: in buffers handed to running calls, and in buffers kept for reuse. */
  get held(): { readonly inUse: number; readonly spare: number } {
    return { inUse: this.inUse, spare: this.spareBytes };
  }

  /**
   * Runs `fn` with a buffer of `size` bytes (contents undefined) once the budget has room for it.
   * When `fn` resolves, its request has completed and nothing refers to the buffer any more, so
   * it is kept for reuse; when `fn` throws, it is left to the garbage collector.
   */
  async use<T>(size: number, fn: (buffer: Buffer) => Promise<T>): Promise<T> {
    const rounded = Math.max(BUFFER_GRAIN, Math.ceil(size / BUFFER_GRAIN) * BUFFER_GRAIN);
    const bytes = Math.min(rounded, this.limit);
    // Strictly in order of arrival: the parts of a file are hashed in order, so a later part
    // holding budget while an earlier one waits for it would never finish.
    const whole =
      this.waiting.length > 0 || this.inUse + bytes > this.limit
        ? await new Promise<Buffer>((wake) => this.waiting.push({ rounded, bytes, wake }))
        : this.reserve(rounded, bytes);
    let sent = false;
    try {
      const result = await fn(whole.subarray(0, size));
      sent = true;
      return result;
    } finally {
      this.inUse -= bytes;
      if (sent && rounded <= this.limit) {
        const list = this.spare.get(rounded) ?? [];
        list.push(whole);
        this.spare.set(rounded, list);
        this.spareBytes += rounded;
      }
      this.admit();
    }
  }

  /** Counts `bytes` in use and returns a buffer for them: a kept one of that size, else a new one. */
  private reserve(rounded: number, bytes: number): Buffer {
    this.inUse += bytes;
    const kept = this.spare.get(rounded)?.pop();
    if (kept) this.spareBytes -= rounded;
    // Kept buffers of other sizes make room for this one, oldest size first.
    for (const [size, list] of this.spare) {
      while (list.length > 0 && this.inUse + this.spareBytes > this.limit) {
        list.pop();
        this.spareBytes -= size;
      }
      if (list.length === 0) this.spare.delete(size);
      if (this.inUse + this.spareBytes <= this.limit) break;
    }
    return kept ?? Buffer.allocUnsafeSlow(rounded);
  }

  private admit(): void {
    while (this.waiting.length > 0 && this.inUse + this.waiting[0]!.bytes <= this.limit) {
      const next = this.waiting.shift()!;
      next.wake(this.reserve(next.rounded, next.bytes));
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
  readonly signal?: AbortSignal;
  /** Bytes sent, reported as each request completes. */
  readonly onBytes: (n: number) => void;
  /** A multipart upload was opened or finished (completed or aborted): the push records open ones in its claim. */
  readonly onMultipart?: (event: 'open' | 'closed', uploadId: string) => void;
}

/** Fills `buffer` with the file's bytes from `start`. */
async function readInto(file: string, start: number, buffer: Buffer): Promise<Buffer> {
  const handle = await fs.open(file, 'r');
  try {
    let read = 0;
    while (read < buffer.length) {
      const { bytesRead } = await handle.read(buffer, read, buffer.length - read, start + read);
      if (bytesRead === 0) throw new Error(`${file} shrank while it was being pushed; push it again`);
      read += bytesRead;
    }
    return buffer;
  } finally {
    await handle.close();
  }
}

/** Aborts multipart uploads another push left open; returns what could not be aborted. */
export async function abortUploads(
  client: S3Client,
  bucket: string,
  uploads: ReadonlyArray<{ readonly key: string; readonly uploadId: string }>,
): Promise<string[]> {
  const failed: string[] = [];
  for (const u of uploads) {
    await client
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.key, UploadId: u.uploadId }))
      .catch((error: Error) => failed.push(`${u.key} (${error.name}: ${error.message})`));
  }
  return failed;
}

/** Uploads a file with its sha256 as metadata and returns that sha256: the sha256 of the bytes sent. */
export async function uploadFile(target: UploadTarget, settings: UploadSettings): Promise<string> {
  const { client, bucket, key } = target;
  const send = { ...(settings.signal ? { abortSignal: settings.signal } : {}) };
  const common = { Bucket: bucket, Key: key, ContentType: 'application/octet-stream' };
  if (target.size <= settings.partSize) {
    // One read: the bytes hashed are the bytes sent.
    const sha256 = await settings.budget.use(target.size, async (buffer) => {
      const body = await readInto(target.file, 0, buffer);
      const digest = createHash('sha256').update(body).digest('hex');
      // Beside the SDK (s3-direct.ts), signed with the sha256 just computed: the signer does not hash the body
      // again, and S3 checks the body against it.
      await putObject(
        client,
        bucket,
        key,
        body,
        { sha256: digest, contentType: common.ContentType, metadata: { sha256: digest } },
        settings.signal,
      );
      // Answered, so the server has every byte and the socket no longer reads from the buffer: the budget keeps it.
      return digest;
    });
    settings.onBytes(target.size);
    return sha256;
  }
  // S3 metadata is fixed when a multipart upload starts, so a large file is hashed first (streamed);
  // the parts are hashed again, in order, as they are sent, and the two must agree.
  const announced = await sha256File(target.file);
  const { UploadId } = await client.send(
    new CreateMultipartUploadCommand({ ...common, Metadata: { sha256: announced } }),
    send,
  );
  settings.onMultipart?.('open', UploadId!);
  try {
    const parts: Array<{ n: number; start: number; length: number }> = [];
    for (let start = 0, n = 1; start < target.size; start += settings.partSize, n++) {
      parts.push({ n, start, length: Math.min(settings.partSize, target.size - start) });
    }
    const sent = createHash('sha256');
    // marks[i] settles once parts 1..i+1 went into the hash, in order.
    const marks = parts.map(() => {
      let done: () => void = () => undefined;
      const promise = new Promise<void>((resolve) => {
        done = resolve;
      });
      return { promise, done };
    });
    const uploaded = await mapLimit(parts, settings.partConcurrency, (part) =>
      settings.budget.use(part.length, async (buffer) => {
        let body: Buffer;
        try {
          body = await readInto(target.file, part.start, buffer);
          if (part.n > 1) await marks[part.n - 2]!.promise;
          sent.update(body);
        } finally {
          marks[part.n - 1]!.done(); // on failure too, so later parts never wait for ever
        }
        const r = await client.send(
          new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: part.n, Body: body }),
          send,
        );
        settings.onBytes(part.length);
        return { PartNumber: part.n, ETag: r.ETag };
      }),
    );
    if (sent.digest('hex') !== announced) {
      throw new ExportChangedError(
        `${target.file} changed while it was being pushed (the bytes sent differ from the bytes hashed when ` +
          'the push started); nothing was completed. Push again once the export is finished.',
      );
    }
    try {
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
      // A retry after a lost answer finds the upload gone (NoSuchUpload): the object there may be ours.
      const there = await headObject(client, bucket, key).catch(() => undefined);
      if (!(there && there.size === target.size && there.metadata.sha256 === announced)) throw error;
    }
    settings.onMultipart?.('closed', UploadId!);
    return announced;
  } catch (error) {
    // Parts of an unfinished upload are billed until aborted; a rerun starts the file over anyway.
    await client
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId }))
      .then(() => settings.onMultipart?.('closed', UploadId!))
      .catch(() => undefined);
    throw error;
  }
}
