// Where a download lands: a new file, written from network chunks.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { Writable } from 'node:stream';

/**
 * A new file (never one already at the path: flag 'wx') fed from the
 * network. Every chunk goes through sha256 as it arrives, and chunks reach
 * the kernel about `batchBytes` at a time in one writev, as they came: a
 * write per 64 KiB network chunk cost more CPU than the sha256 of the same
 * bytes, and gathering the chunks into one Buffer first copied every byte
 * once more and left a MiB of garbage per write.
 */
export class HashingFileSink extends Writable {
  private readonly hash = createHash('sha256');
  private bytes = 0;
  private held: Buffer[] = [];
  private heldBytes = 0;
  private fd: number | undefined;
  /** A writev is running; afterWrite runs once it has finished. */
  private writing = false;
  private afterWrite: (() => void) | undefined;

  constructor(
    private readonly file: string,
    private readonly batchBytes: number,
    private readonly onBytes: (n: number) => void,
  ) {
    super({ highWaterMark: batchBytes });
  }

  /** Bytes received and their sha256 (hex); call once the stream has finished. */
  result(): { size: number; sha256: string } {
    return { size: this.bytes, sha256: this.hash.digest('hex') };
  }

  override _construct(callback: (error?: Error | null) => void): void {
    fs.open(this.file, 'wx', (error, fd) => {
      if (error) return callback(error);
      this.fd = fd;
      callback();
    });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.onBytes(chunk.length);
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    if (this.heldBytes < this.batchBytes) callback();
    else this.flush(callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.flush((error) => {
      if (error) return callback(error);
      const fd = this.fd;
      // Destroyed while the last write ran: _destroy closes the file once that write is done.
      if (fd === undefined) return callback();
      this.fd = undefined;
      fs.close(fd, (closeError) => callback(closeError));
    });
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const close = () => {
      const fd = this.fd;
      this.fd = undefined;
      if (fd === undefined) callback(error);
      else fs.close(fd, () => callback(error));
    };
    // Never close under a write still running: the fd number could go to the next file opened,
    // and the write's bytes with it.
    if (this.writing) this.afterWrite = close;
    else close();
  }

  private flush(callback: (error?: Error | null) => void): void {
    const chunks = this.held;
    this.held = [];
    this.heldBytes = 0;
    if (this.fd === undefined) {
      callback(chunks.length > 0 ? new Error(`${this.file}: written after it was closed`) : null);
      return;
    }
    this.writing = true;
    writeAll(this.fd, chunks, (error) => {
      this.writing = false;
      const then = this.afterWrite;
      this.afterWrite = undefined;
      then?.();
      callback(error);
    });
  }
}

/** writev until every byte is written: a regular file takes them all unless the disk fills, then what is left goes next. */
function writeAll(fd: number, chunks: Buffer[], callback: (error?: Error | null) => void): void {
  if (chunks.every((chunk) => chunk.length === 0)) {
    callback();
    return;
  }
  fs.writev(fd, chunks, (error, written) => {
    if (error) {
      callback(error);
      return;
    }
    if (written === 0) {
      callback(Object.assign(new Error('writev wrote nothing'), { code: 'EIO' }));
      return;
    }
    const rest: Buffer[] = [];
    let skip = written;
    for (const chunk of chunks) {
      if (skip >= chunk.length) {
        skip -= chunk.length;
        continue;
      }
      rest.push(skip > 0 ? chunk.subarray(skip) : chunk);
      skip = 0;
    }
    writeAll(fd, rest, callback);
  });
}
