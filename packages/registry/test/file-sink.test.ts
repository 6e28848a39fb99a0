import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HashingFileSink } from '../src/file-sink';
import { tempDir } from './helpers';

const openFds = () => fs.readdirSync('/proc/self/fd').length;

describe('HashingFileSink', () => {
  it('writes every chunk in order, in batches, and reports the size and sha256 of what it received', async () => {
    // Chunk sizes around the batch size: smaller, equal, larger, and a last partial batch.
    const sizes = [1, 7, 4096, 65_536, 300_000, 1, 1_048_576, 2_500_000, 13, 65_535];
    const chunks = sizes.map((n) => randomBytes(n));
    const whole = Buffer.concat(chunks);
    const file = path.join(tempDir(), 'out.bin');
    let counted = 0;
    const sink = new HashingFileSink(file, 1024 * 1024, (n) => {
      counted += n;
    });
    await pipeline(Readable.from(chunks), sink);
    expect(sink.result()).toEqual({
      size: whole.length,
      sha256: createHash('sha256').update(whole).digest('hex'),
    });
    expect(counted).toBe(whole.length);
    expect(fs.readFileSync(file).equals(whole)).toBe(true);
  });

  it('never writes into a file already at the path, and closes its file when the stream fails', async () => {
    const dir = tempDir();
    const existing = path.join(dir, 'there');
    fs.writeFileSync(existing, 'keep me');
    await expect(
      pipeline(Readable.from([Buffer.from('x')]), new HashingFileSink(existing, 1024, () => undefined)),
    ).rejects.toMatchObject({ code: 'EEXIST' });
    expect(fs.readFileSync(existing, 'utf8')).toBe('keep me');

    const before = openFds();
    const failing = new Readable({
      read() {
        this.push(randomBytes(10_000));
        this.destroy(Object.assign(new Error('connection reset'), { code: 'ECONNRESET' }));
      },
    });
    const cut = new HashingFileSink(path.join(dir, 'cut'), 1024, () => undefined);
    const closed = new Promise((resolve) => cut.once('close', resolve));
    await expect(pipeline(failing, cut)).rejects.toThrow('connection reset');
    await closed;
    expect(openFds()).toBe(before);
  });
});

/**
 * Holds every writev's completion until release() is called, so a test can
 * destroy the sink while a write is in the kernel's hands, as an abort or a
 * poll deadline can at any moment.
 */
function holdWrites() {
  const held: Array<() => void> = [];
  let released = false;
  // The module object itself: the sink's namespace import is a copy taken when it is loaded (see loadSink).
  const nodeFs = require('node:fs') as typeof fs;
  const real = nodeFs.writev;
  const spy = jest.spyOn(nodeFs, 'writev').mockImplementation(((
    fd: number,
    buffers: NodeJS.ArrayBufferView[],
    cb: (error: NodeJS.ErrnoException | null, written: number, buffers: NodeJS.ArrayBufferView[]) => void,
  ) => {
    real(fd, buffers, (error, written, b) => {
      const done = () => cb(error, written, b);
      if (released) done();
      else held.push(done);
    });
  }) as unknown as typeof fs.writev);
  const closes = jest.spyOn(nodeFs, 'close');
  return {
    started: () => spy.mock.calls.length > 0,
    release: () => {
      released = true;
      for (const done of held.splice(0)) done();
    },
    closes,
    restore: () => {
      spy.mockRestore();
      closes.mockRestore();
    },
  };
}

/** The sink loaded afresh, so it sees the fs functions as they are now (spied on). */
function loadSink(): typeof HashingFileSink {
  let sink: typeof HashingFileSink | undefined;
  jest.isolateModules(() => {
    sink = (require('../src/file-sink') as typeof import('../src/file-sink')).HashingFileSink;
  });
  return sink!;
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 1000 && !check(); i++) await new Promise((r) => setImmediate(r));
  expect(check()).toBe(true);
};

describe('HashingFileSink destroyed during a write', () => {
  it.each([
    ['a batch write', (s: HashingFileSink, data: Buffer) => s.write(data)],
    ['the last write, in final', (s: HashingFileSink, data: Buffer) => s.end(data)],
  ])('%s: the file is closed only once the write has finished, and nothing throws', async (_what, feed) => {
    const writes = holdWrites();
    try {
      const file = path.join(tempDir(), 'out.bin');
      const sink = new (loadSink())(file, 1024, () => undefined);
      sink.on('error', () => undefined);
      feed(sink, randomBytes(4096));
      await until(writes.started);
      const closed = new Promise<void>((resolve) => sink.once('close', resolve));
      sink.destroy(new Error('poll deadline'));
      // Closing now would hand the fd number to the next file opened while the write still targets it.
      await new Promise((r) => setImmediate(r));
      expect(writes.closes).not.toHaveBeenCalled();
      writes.release();
      await closed;
      expect(writes.closes).toHaveBeenCalledTimes(1);
      expect(fs.statSync(file).size).toBe(4096);
    } finally {
      writes.restore();
    }
  });
});
